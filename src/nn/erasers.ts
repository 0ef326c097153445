// Residual-stream erasers: fixed affine maps r(x) = x − P·(x − μ) applied to chosen hidden states of a
// Qwen2 model (LEACE, src/unlearn/methods/leace.ts). Hugging Face's Qwen2 format has no place for such a
// map, so a model folder stores them beside its weights:
//   leace.safetensors  F32 tensors "eraser.<h>.mean" [D] and "eraser.<h>.projection" [D, D] (row-major P)
//                      for each hidden-state index h (0 = embeddings … L = final-norm output)
//   leace.json         {"format": "rlcp-residual-erasers", "version": 1, "hidden_size", "hidden_states",
//                       "map": "...", and what the method recorded about the fit}
// rlcp's loader (Qwen2ForCausalLM.fromPretrained) applies them; other Qwen2 loaders ignore both files and
// get the unerased model.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../io/atomic.ts';
import { readJson } from '../io/jsonl.ts';
import { readSafetensors, writeSafetensors } from '../io/safetensors.ts';

export const ERASER_WEIGHTS = 'leace.safetensors';
export const ERASER_DESCRIPTION = 'leace.json';

export interface ResidualEraser {
  /** Hidden-state index the map is applied to (0 = embeddings … L = final-norm output). */
  hiddenState: number;
  /** μ [D]. */
  mean: Float32Array;
  /** P [D, D], row-major. */
  projection: Float32Array;
}

const NAME = /^eraser\.(\d+)\.(mean|projection)$/;

/** Writes the erasers into a model folder (or removes stale eraser files when there are none). */
export function writeErasers(
  dir: string,
  erasers: readonly ResidualEraser[],
  hiddenSize: number,
  description: Record<string, unknown> = {},
): void {
  if (erasers.length === 0) {
    for (const file of [ERASER_WEIGHTS, ERASER_DESCRIPTION]) rmSync(join(dir, file), { force: true });
    return;
  }
  const tensors = new Map<string, { data: Float32Array; shape: number[] }>();
  for (const e of erasers) {
    tensors.set(`eraser.${e.hiddenState}.mean`, { data: e.mean, shape: [hiddenSize] });
    tensors.set(`eraser.${e.hiddenState}.projection`, {
      data: e.projection,
      shape: [hiddenSize, hiddenSize],
    });
  }
  writeSafetensors(join(dir, ERASER_WEIGHTS), tensors);
  writeJsonAtomic(join(dir, ERASER_DESCRIPTION), {
    format: 'rlcp-residual-erasers',
    version: 1,
    hidden_size: hiddenSize,
    hidden_states: erasers.map((e) => e.hiddenState),
    map: 'h ← h − P·(h − mean) at each listed hidden state (0 = embeddings … L = final-norm output), every position',
    ...description,
  });
}

/** The erasers of a model folder ([] when it has none), checked against the model's shape. */
export function readErasers(dir: string, hiddenSize: number, numLayers: number): ResidualEraser[] {
  const path = join(dir, ERASER_WEIGHTS);
  if (!existsSync(path)) return [];
  const descriptionPath = join(dir, ERASER_DESCRIPTION);
  if (existsSync(descriptionPath)) {
    const d = readJson<{ format?: unknown; hidden_size?: unknown }>(descriptionPath);
    if (d.format !== 'rlcp-residual-erasers')
      throw new Error(
        `${descriptionPath}: "format" must be "rlcp-residual-erasers", got ${JSON.stringify(d.format)}`,
      );
    if (d.hidden_size !== hiddenSize)
      throw new Error(
        `${descriptionPath}: "hidden_size" is ${JSON.stringify(d.hidden_size)} but the model's hidden size is ${hiddenSize}`,
      );
  }
  const byState = new Map<number, Partial<ResidualEraser>>();
  for (const [name, t] of readSafetensors(path)) {
    const m = NAME.exec(name);
    if (!m) throw new Error(`${path}: tensor "${name}" is not "eraser.<hidden state>.mean" or ".projection"`);
    const state = Number(m[1]);
    if (state > numLayers)
      throw new Error(
        `${path}: tensor "${name}": hidden state ${state} does not exist (the model has 0..${numLayers})`,
      );
    const expected = m[2] === 'mean' ? [hiddenSize] : [hiddenSize, hiddenSize];
    if (t.shape.length !== expected.length || t.shape.some((s, i) => s !== expected[i]))
      throw new Error(
        `${path}: tensor "${name}" has shape [${t.shape.join(', ')}] but the model's hidden size ${hiddenSize} needs [${expected.join(', ')}]`,
      );
    const entry = byState.get(state) ?? { hiddenState: state };
    if (m[2] === 'mean') entry.mean = t.data;
    else entry.projection = t.data;
    byState.set(state, entry);
  }
  return [...byState.values()]
    .map((e) => {
      if (!e.mean || !e.projection)
        throw new Error(
          `${path}: hidden state ${e.hiddenState} needs both "eraser.${e.hiddenState}.mean" and ".projection"`,
        );
      return e as ResidualEraser;
    })
    .sort((a, b) => a.hiddenState - b.hiddenState);
}
