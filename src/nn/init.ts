// Random initialisation as Hugging Face's Qwen2PreTrainedModel._init_weights: every linear and embedding
// weight ~ normal(0, initializer_range), biases 0, RMSNorm weights 1.
import { Tensor } from '../tensor/tensor.ts';
import { Rng, fillNormal } from '../tensor/random.ts';
import type { Qwen2Config } from '../io/config.ts';

/** HF's default initializer_range (Qwen2Config and LlamaConfig). */
export const DEFAULT_INITIALIZER_RANGE = 0.02;

export function initializerRange(config: Qwen2Config): number {
  const value = config.extra.initializer_range ?? DEFAULT_INITIALIZER_RANGE;
  if (!(typeof value === 'number' && Number.isFinite(value) && value >= 0)) {
    throw new Error(`initializer_range must be a non-negative number, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Fresh parameters (requiresGrad) for the given HF names and shapes; the same seed gives the same weights. */
export function initQwen2Parameters(
  config: Qwen2Config,
  shapes: Map<string, number[]>,
  seed: number,
): Map<string, Tensor> {
  const std = initializerRange(config);
  const rng = new Rng(seed);
  const params = new Map<string, Tensor>();
  for (const [name, shape] of shapes) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (name.endsWith('norm.weight')) data.fill(1);
    else if (name.endsWith('.weight')) fillNormal(rng, data, std);
    // biases stay 0
    params.set(name, Tensor.param(data, shape));
  }
  return params;
}
