// A tiny world and a tiny random Qwen2 model on its tokenizer, written to a temp folder, for the suites' tests.
import { join } from 'node:path';
import { generateWorld, loadWorld, writeWorld, type World } from '../../../src/data/world.ts';
import { resolveWorldConfig } from '../../../src/data/world-config.ts';
import { parseModelConfig } from '../../../src/io/config.ts';
import { loadTokenizer, type RlcpTokenizer } from '../../../src/io/tokenizer.ts';
import { Qwen2ForCausalLM } from '../../../src/nn/qwen2.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

export interface TinySetup {
  root: string;
  worldDir: string;
  modelDir: string;
  world: World;
  tokenizer: RlcpTokenizer;
  model: Qwen2ForCausalLM;
}

export const TINY_WORLD = {
  countries: 6,
  citiesPerCountry: 3,
  people: 5,
  forgetFacts: 4,
  logic: { train: 40, test: 8 },
  rag: { train: 30, test: 8, counterfactual: 8 },
  multihop: { train: 16, test: 8 },
};

export function tinyModel(tokenizer: RlcpTokenizer, seed: number, layers = 2): Qwen2ForCausalLM {
  const config = parseModelConfig({
    model_type: 'qwen2',
    vocab_size: tokenizer.vocabSize,
    hidden_size: 32,
    intermediate_size: 48,
    num_hidden_layers: layers,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 2048,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    tie_word_embeddings: true,
    initializer_range: 0.1,
    eos_token_id: tokenizer.eosTokenId,
    pad_token_id: tokenizer.padTokenId,
  });
  return Qwen2ForCausalLM.initRandom(config, seed);
}

export async function tinySetup(): Promise<TinySetup> {
  const root = tempDir('rlcp-eval-suites-');
  const worldDir = join(root, 'world');
  writeWorld(worldDir, generateWorld(5, resolveWorldConfig(TINY_WORLD)));
  const world = loadWorld(worldDir);
  const tokenizer = await loadTokenizer(worldDir);
  const model = tinyModel(tokenizer, 1);
  const modelDir = join(root, 'model');
  model.saveToDir(modelDir, { tokenizerDir: worldDir });
  return { root, worldDir, modelDir, world, tokenizer, model };
}
