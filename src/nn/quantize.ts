// Weight quantization as a tamper test (issue 18): round-to-nearest with one absmax scale per output
// channel, the cheapest post-training quantization a user of an unlearned checkpoint might apply. The
// weights are quantized and de-quantized ("fake quantization") so the rest of the stack runs unchanged;
// a model that only hid its facts behind small weight differences can lose the hiding to rounding.
import { Tensor } from '../tensor/tensor.ts';
import { PROJECTION_WEIGHT, Qwen2ForCausalLM } from './qwen2.ts';

export const QUANT_BITS = [8, 4] as const;
export type QuantBits = (typeof QUANT_BITS)[number];

export function checkQuantBits(bits: number): QuantBits {
  if (!(QUANT_BITS as readonly number[]).includes(bits))
    throw new Error(`quantization width must be 4 or 8 bits, got ${bits}`);
  return bits as QuantBits;
}

/**
 * Symmetric round-to-nearest of a row-major [rows, cols] matrix, one scale per row (the output channel
 * in Hugging Face's [out, in] layout): scale = max|w| / (2^(bits−1) − 1), w ≈ scale · clamp(round(w / scale)).
 */
export function quantizeRows(data: Float32Array, rows: number, cols: number, bits: number): Float32Array {
  checkQuantBits(bits);
  if (data.length !== rows * cols)
    throw new Error(`quantizeRows: ${data.length} values do not fill [${rows}, ${cols}]`);
  const levels = 2 ** (bits - 1) - 1;
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) {
    let absmax = 0;
    for (let c = 0; c < cols; c++) absmax = Math.max(absmax, Math.abs(data[r * cols + c]!));
    if (absmax === 0) continue;
    const scale = absmax / levels;
    for (let c = 0; c < cols; c++) {
      const q = Math.max(-levels, Math.min(levels, Math.round(data[r * cols + c]! / scale)));
      out[r * cols + c] = q * scale;
    }
  }
  return out;
}

/**
 * A copy of `model` whose attention and MLP projection weights are quantized to `bits` (embeddings, the
 * tied or untied head, norms and biases stay in full precision, as in common int8/int4 linear-layer
 * schemes). Residual erasers are kept.
 */
export function quantizeModel(model: Qwen2ForCausalLM, bits: number): Qwen2ForCausalLM {
  checkQuantBits(bits);
  const params = new Map<string, Tensor>();
  for (const [name, t] of model.namedParameters()) {
    const data =
      PROJECTION_WEIGHT.test(name) && t.shape.length === 2
        ? quantizeRows(t.data, t.shape[0]!, t.shape[1]!, bits)
        : t.data.slice();
    params.set(name, Tensor.param(data, t.shape));
  }
  const copy = new Qwen2ForCausalLM(model.config, params);
  copy.setErasers(model.residualErasers());
  return copy;
}
