// Checkpoints: a whole folder per step, written under a temporary name and renamed into place, then
// `latest.json` is replaced atomically to point at it. A run killed at any moment resumes from the
// newest complete checkpoint; older ones are pruned only after the new one is in place.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../io/atomic.ts';
import { readJson } from '../io/jsonl.ts';
import { readSafetensors, writeSafetensors, type TensorToWrite } from '../io/safetensors.ts';
import { Qwen2ForCausalLM } from '../nn/qwen2.ts';

export interface CheckpointContents<State> {
  /** The trained model; null when training never changes it (LoRA: the adapters are in `tensors`). */
  model: Qwen2ForCausalLM | null;
  /** Extra tensors (optimizer moments, probe weights), saved exactly in F32. */
  tensors: Map<string, TensorToWrite>;
  /** Everything else needed to continue exactly: step, sampler and RNG states, schedule position. */
  state: State;
  /** Copy this folder's tokenizer files into the checkpoint's model, so it is usable on its own. */
  tokenizerDir?: string;
}

interface LatestPointer {
  step: number;
  dir: string;
}

const KEEP = 2;

function checkpointsRoot(runDir: string): string {
  return join(runDir, 'checkpoints');
}

export function saveCheckpoint<State>(
  runDir: string,
  step: number,
  contents: CheckpointContents<State>,
): void {
  const root = checkpointsRoot(runDir);
  mkdirSync(root, { recursive: true });
  const name = `step-${String(step).padStart(7, '0')}`;
  const temp = join(root, `.${name}.${process.pid}.tmp`);
  rmSync(temp, { recursive: true, force: true });
  mkdirSync(temp, { recursive: true });
  contents.model?.saveToDir(join(temp, 'model'), { dtype: 'F32', tokenizerDir: contents.tokenizerDir });
  writeSafetensors(join(temp, 'tensors.safetensors'), contents.tensors, { dtype: 'F32' });
  writeJsonAtomic(join(temp, 'state.json'), { step, state: contents.state });
  const final = join(root, name);
  rmSync(final, { recursive: true, force: true });
  renameSync(temp, final);
  writeJsonAtomic(join(root, 'latest.json'), { step, dir: name } satisfies LatestPointer);
  const older = readdirSync(root)
    .filter((entry) => /^step-\d+$/.test(entry) && entry !== name)
    .sort();
  for (const entry of older.slice(0, Math.max(0, older.length - (KEEP - 1)))) {
    rmSync(join(root, entry), { recursive: true, force: true });
  }
}

export interface LoadedCheckpoint<State> {
  step: number;
  /** Null when the checkpoint was saved without a model. */
  model: Qwen2ForCausalLM | null;
  tensors: Map<string, Float32Array>;
  state: State;
}

export function hasCheckpoint(runDir: string): boolean {
  return existsSync(join(checkpointsRoot(runDir), 'latest.json'));
}

export function loadCheckpoint<State>(runDir: string): LoadedCheckpoint<State> {
  const pointerPath = join(checkpointsRoot(runDir), 'latest.json');
  if (!existsSync(pointerPath))
    throw new Error(`${runDir}: no checkpoint to resume from (${pointerPath} missing)`);
  const pointer = readJson<LatestPointer>(pointerPath);
  const dir = join(checkpointsRoot(runDir), pointer.dir);
  const saved = readJson<{ step: number; state: State }>(join(dir, 'state.json'));
  const model = existsSync(join(dir, 'model')) ? Qwen2ForCausalLM.fromPretrained(join(dir, 'model')) : null;
  const tensors = new Map(
    [...readSafetensors(join(dir, 'tensors.safetensors'))].map(([k, v]) => [k, v.data]),
  );
  return { step: saved.step, model, tensors, state: saved.state };
}
