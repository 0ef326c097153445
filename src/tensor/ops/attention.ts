// Scaled dot-product attention with grouped-query heads, causal and padding masks, fused backward.
//
// Query head h uses key/value head floor(h / G), G = Hq / Hkv (Hugging Face repeat_kv). Viewing q
// [B, Hq, T, Dh] as [B·Hkv, G·T, Dh] makes both products plain batched GEMMs with no copies of k or
// v: scores [B·Hkv, G·T, S] = q kᵀ, out = P v.
import { emptyTensor, giveGrad, record, tracksGrad } from '../tensor.ts';
import type { Tensor } from '../tensor.ts';
import { allocUninit, release } from '../pool.ts';
import { formatShape } from '../shape.ts';
import { gemm } from '../kernels/gemm.ts';
import { nativeKernels } from '../kernels/native.ts';

export interface AttentionOptions {
  /** Query t sees keys s <= t + queryOffset. */
  causal: boolean;
  /** [B*S], 1 = real token, 0 = padding (never attended to). */
  keyMask?: Uint8Array;
  /** Position of the first query among the keys (KV cache: S - T). Default 0. */
  queryOffset?: number;
}

/**
 * softmax(q kᵀ / sqrt(Dh) + masks) v for q [B, Hq, T, Dh], k and v [B, Hkv, S, Dh]; returns
 * [B, Hq, T, Dh].
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions): Tensor {
  if (q.shape.length !== 4 || k.shape.length !== 4 || v.shape.length !== 4) {
    throw new Error(
      `attention: expected rank-4 q, k, v, got ${formatShape(q.shape)}, ${formatShape(k.shape)}, ${formatShape(v.shape)}`,
    );
  }
  const [batch, qHeads, seq, headDim] = q.shape as [number, number, number, number];
  const [kBatch, kvHeads, keys, kDim] = k.shape as [number, number, number, number];
  if (kBatch !== batch || kDim !== headDim || v.shape.some((d, i) => d !== k.shape[i])) {
    throw new Error(
      `attention: q ${formatShape(q.shape)}, k ${formatShape(k.shape)}, v ${formatShape(v.shape)} do not fit together`,
    );
  }
  if (qHeads % kvHeads !== 0)
    throw new Error(`attention: ${qHeads} query heads are not a multiple of ${kvHeads} kv heads`);
  if (opts.keyMask && opts.keyMask.length !== batch * keys) {
    throw new Error(`attention: keyMask has ${opts.keyMask.length} entries, expected B*S = ${batch * keys}`);
  }
  const groups = qHeads / kvHeads;
  const scale = 1 / Math.sqrt(headDim);
  const bh = batch * kvHeads;
  const qDims = [bh, groups * seq, headDim];
  const kDims = [bh, keys, headDim];
  const pDims = [bh, groups * seq, keys];
  const probs = allocUninit(bh * groups * seq * keys);
  gemm(q.data, qDims, k.data, kDims, { transB: true, alpha: scale }, probs);
  nativeKernels().attentionProbs(
    probs,
    batch,
    qHeads,
    seq,
    keys,
    opts.causal,
    opts.queryOffset ?? 0,
    opts.keyMask ?? null,
  );
  const out = emptyTensor(q.shape);
  gemm(probs, pDims, v.data, kDims, {}, out.data);
  if (!tracksGrad(q, k, v)) {
    release(probs);
    return out;
  }
  record(
    out,
    [q, k, v],
    (g) => {
      if (v.requiresGrad) {
        const gv = allocUninit(v.size);
        gemm(probs, pDims, g, qDims, { transA: true }, gv); // Pᵀ dO, summed over the G query heads
        giveGrad(v, gv);
      }
      if (!q.requiresGrad && !k.requiresGrad) return;
      const dScores = allocUninit(probs.length);
      gemm(g, qDims, v.data, kDims, { transB: true }, dScores); // dP = dO vᵀ
      // Softmax backward: dS = P ∘ (dP − rowsum(dP ∘ P)); masked entries have P = 0.
      nativeKernels().softmaxBackwardRows(dScores, probs, keys);
      if (q.requiresGrad) {
        const gq = allocUninit(q.size);
        gemm(dScores, pDims, k.data, kDims, { alpha: scale }, gq);
        giveGrad(q, gq);
      }
      if (k.requiresGrad) {
        const gk = allocUninit(k.size);
        gemm(dScores, pDims, q.data, qDims, { transA: true, alpha: scale }, gk);
        giveGrad(k, gk);
      }
      release(dScores);
    },
    [probs],
  );
  return out;
}
