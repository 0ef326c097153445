// Shared helpers of the src/nn tests.
import { parseModelConfig, type Qwen2Config } from '../../src/io/config.ts';

/** max|a − b| / max|b| over the selected rows (all rows when none are given); rows have `width` values. */
export function relativeError(
  actual: Float32Array,
  expected: Float32Array,
  width = expected.length,
  rows?: number[],
): number {
  if (actual.length !== expected.length) {
    throw new Error(`relativeError: lengths differ (${actual.length} vs ${expected.length})`);
  }
  const selected = rows ?? Array.from({ length: expected.length / width }, (_, r) => r);
  let diff = 0;
  let scale = 0;
  for (const r of selected) {
    for (let i = r * width; i < (r + 1) * width; i++) {
      diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
      scale = Math.max(scale, Math.abs(expected[i]!));
    }
  }
  if (scale === 0) throw new Error('relativeError: the expected values are all zero');
  return diff / scale;
}

/** A tiny Qwen2 config (GQA 2:1, untied) for fast tests. */
export function tinyConfig(overrides: Record<string, unknown> = {}): Qwen2Config {
  return parseModelConfig({
    model_type: 'qwen2',
    vocab_size: 61,
    hidden_size: 32,
    intermediate_size: 48,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 256,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    tie_word_embeddings: false,
    // Larger than HF's 0.02 so random models have peaked, input-dependent predictions.
    initializer_range: 0.3,
    eos_token_id: 2,
    ...overrides,
  });
}
