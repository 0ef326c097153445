// Test material for the model half of the RAM: a small generated world and a tiny random Qwen2 model
// that uses the world's tokenizer.
import { join } from 'node:path';
import { generateWorld, loadWorld, writeWorld, type World } from '../../src/data/world.ts';
import { resolveWorldConfig } from '../../src/data/world-config.ts';
import { loadTokenizer } from '../../src/io/tokenizer.ts';
import { Qwen2ForCausalLM } from '../../src/nn/qwen2.ts';
import { worldModelConfig } from '../../src/train/world-model.ts';

/** 6 countries (K = 6), 4 forget facts: 20 training-template and 12 held-out-template questions. */
export function writeSmallWorld(dir: string, seed = 3): World {
  const config = resolveWorldConfig({
    countries: 6,
    citiesPerCountry: 3,
    people: 5,
    forgetFacts: 4,
    logic: { train: 50, test: 10 },
    rag: { train: 40, test: 10, counterfactual: 8 },
    multihop: { train: 20, test: 10 },
  });
  writeWorld(dir, generateWorld(seed, config));
  return loadWorld(dir);
}

/**
 * A randomly initialised 2-layer Qwen2 model with the world's tokenizer, saved to `dir`
 * (with tokenizer.json unless `withTokenizer` is false, like a training checkpoint).
 */
export async function writeTinyModel(
  dir: string,
  worldDir: string,
  options: { seed?: number; withTokenizer?: boolean } = {},
): Promise<string> {
  const tokenizer = await loadTokenizer(worldDir);
  const config = worldModelConfig(
    { hidden: 32, layers: 2, heads: 4, kvHeads: 2, intermediate: 48 },
    tokenizer,
  );
  const model = Qwen2ForCausalLM.initRandom(config, options.seed ?? 5);
  model.saveToDir(dir, options.withTokenizer === false ? {} : { tokenizerDir: worldDir });
  return dir;
}

export function factsPath(world: World): string {
  return join(world.dir, 'facts.jsonl');
}
