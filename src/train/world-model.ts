// The shape of the small Qwen2 model pretrained on a world: Qwen2's architecture (q/k/v bias, GQA,
// RMSNorm, RoPE, SwiGLU, tied embeddings) at a size two CPU cores train in minutes.
import { parseModelConfig, type Qwen2Config } from '../io/config.ts';
import type { RlcpTokenizer } from '../io/tokenizer.ts';
import { DEFAULT_LM_TRAIN_CONFIG, type LmTrainConfig } from './lm-trainer.ts';

export interface WorldModelShape {
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  intermediate: number;
}

export const DEFAULT_WORLD_MODEL: WorldModelShape = {
  hidden: 128,
  layers: 4,
  heads: 4,
  kvHeads: 2,
  intermediate: 384,
};

/**
 * `rlcp pretrain`'s defaults: the first stage of the shipped models/world-base (and world-oracle) recipe;
 * the second stage is an `rlcp train` run (the model cards hold both commands).
 */
export const DEFAULT_PRETRAIN_CONFIG: LmTrainConfig = {
  ...DEFAULT_LM_TRAIN_CONFIG,
  steps: 1500,
  batchSize: 64,
  lr: 3e-3,
  warmupSteps: 100,
  seed: 1,
  checkpointEvery: 250,
  logEvery: 50,
};

export function worldModelConfig(shape: WorldModelShape, tokenizer: RlcpTokenizer): Qwen2Config {
  return parseModelConfig({
    architectures: ['Qwen2ForCausalLM'],
    model_type: 'qwen2',
    vocab_size: tokenizer.vocabSize,
    hidden_size: shape.hidden,
    intermediate_size: shape.intermediate,
    num_hidden_layers: shape.layers,
    num_attention_heads: shape.heads,
    num_key_value_heads: shape.kvHeads,
    max_position_embeddings: 512,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    tie_word_embeddings: true,
    hidden_act: 'silu',
    initializer_range: 0.02,
    bos_token_id: null,
    eos_token_id: tokenizer.eosTokenId,
    pad_token_id: tokenizer.padTokenId,
    torch_dtype: 'float32',
  });
}
