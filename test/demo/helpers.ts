// A tiny world with a tiny random base model and a differently seeded "oracle" on its tokenizer, for the
// demo tests (they check the pipeline's mechanics and files, not forgetting).
import { join } from 'node:path';
import { generateWorld, writeWorld } from '../../src/data/world.ts';
import { resolveWorldConfig } from '../../src/data/world-config.ts';
import { loadTokenizer } from '../../src/io/tokenizer.ts';
import { Qwen2ForCausalLM } from '../../src/nn/qwen2.ts';
import { worldModelConfig } from '../../src/train/world-model.ts';
import { DEFAULT_PATHS, type DemoOptions } from '../../src/demo/plan.ts';
import { tempDir } from '../helpers/temp-dir.ts';

export interface DemoFixture {
  root: string;
  worldDir: string;
  modelDir: string;
  oracleDir: string;
  outRoot: string;
}

export async function demoFixture(): Promise<DemoFixture> {
  const root = tempDir('rlcp-demo-');
  const worldDir = join(root, 'world');
  const config = resolveWorldConfig({
    countries: 6,
    citiesPerCountry: 3,
    people: 5,
    forgetFacts: 4,
    logic: { train: 40, test: 8 },
    rag: { train: 30, test: 8, counterfactual: 6 },
    multihop: { train: 10, test: 6 },
  });
  writeWorld(worldDir, generateWorld(3, config));
  const tokenizer = await loadTokenizer(worldDir);
  const modelConfig = worldModelConfig(
    { hidden: 16, layers: 3, heads: 2, kvHeads: 1, intermediate: 24 },
    tokenizer,
  );
  const modelDir = join(root, 'base');
  const oracleDir = join(root, 'oracle');
  Qwen2ForCausalLM.initRandom(modelConfig, 5).saveToDir(modelDir, { dtype: 'F32', tokenizerDir: worldDir });
  Qwen2ForCausalLM.initRandom(modelConfig, 6).saveToDir(oracleDir, { dtype: 'F32', tokenizerDir: worldDir });
  return { root, worldDir, modelDir, oracleDir, outRoot: join(root, 'runs') };
}

/** Demo options over the fixture with a few steps per method. */
export function tinyOptions(fx: DemoFixture, patch: Partial<DemoOptions> = {}): DemoOptions {
  return {
    model: fx.modelDir,
    world: fx.worldDir,
    oracle: fx.oracleDir,
    config: null,
    regenConfig: DEFAULT_PATHS.regenConfig,
    outRoot: fx.outRoot,
    seed: 3,
    fast: true,
    rlcpSteps: 3,
    regenSteps: 2,
    baselineSteps: 1,
    relearnSteps: 2,
    baselines: ['unlikelihood', 'ga', 'graddiff', 'npo', 'rag'],
    baselineProbes: 'auto',
    progress: false,
    ...patch,
  };
}
