// Shared fixtures of the unlearn tests: a tiny world written to a temp folder and a tiny Qwen2 on its
// tokenizer (untrained: the tests check mechanics, not forgetting).
import { join } from 'node:path';
import { generateWorld, loadWorld, writeWorld, type World } from '../../src/data/world.ts';
import { resolveWorldConfig } from '../../src/data/world-config.ts';
import { loadTokenizer } from '../../src/io/tokenizer.ts';
import { Qwen2ForCausalLM } from '../../src/nn/qwen2.ts';
import { worldModelConfig } from '../../src/train/world-model.ts';
import { resolveConfig, type UnlearnConfig } from '../../src/unlearn/config.ts';
import { unlearnTokenizer } from '../../src/unlearn/run.ts';
import type { UnlearnTokenizer } from '../../src/unlearn/trainer.ts';
import { tempDir } from '../helpers/temp-dir.ts';

export interface Fixture {
  root: string;
  worldDir: string;
  modelDir: string;
  world: World;
  tokenizer: UnlearnTokenizer;
  freshModel(): Qwen2ForCausalLM;
}

export async function tinyFixture(): Promise<Fixture> {
  const root = tempDir('rlcp-unlearn-');
  const worldDir = join(root, 'world');
  const config = resolveWorldConfig({
    countries: 6,
    citiesPerCountry: 3,
    people: 5,
    forgetFacts: 4,
    logic: { train: 40, test: 10 },
    rag: { train: 30, test: 10, counterfactual: 8 },
    multihop: { train: 10, test: 6 },
  });
  writeWorld(worldDir, generateWorld(3, config));
  const raw = await loadTokenizer(worldDir);
  const modelConfig = worldModelConfig(
    { hidden: 16, layers: 3, heads: 2, kvHeads: 1, intermediate: 24 },
    raw,
  );
  const modelDir = join(root, 'model');
  Qwen2ForCausalLM.initRandom(modelConfig, 5).saveToDir(modelDir, { dtype: 'F32', tokenizerDir: worldDir });
  return {
    root,
    worldDir,
    modelDir,
    world: loadWorld(worldDir),
    tokenizer: unlearnTokenizer(raw),
    freshModel: () => Qwen2ForCausalLM.fromPretrained(modelDir),
  };
}

/** A small, fast configuration over the defaults (overrides are nested patches). */
export function tinyConfig(...patches: Record<string, unknown>[]): UnlearnConfig {
  const base = {
    steps: 4,
    checkpointEvery: 2,
    logEvery: 1,
    fact: { batchSize: 4, probeBatchSize: 4, reinitEvery: 2 },
    anchors: {
      logic: { batchSize: 2 },
      retain: { batchSize: 2 },
      rag: { batchSize: 2, variants: 1 },
    },
    eval: { every: 2, retainLimit: 8, ragLimit: 6, logicLimit: 2, klItems: 3, batchSize: 8 },
  };
  return resolveConfig([base, ...patches].map((patch, i) => ({ patch, source: `test patch ${i}` })));
}

export function weights(model: Qwen2ForCausalLM): Map<string, Float32Array> {
  return new Map([...model.namedParameters()].map(([k, t]) => [k, Float32Array.from(t.data)]));
}
