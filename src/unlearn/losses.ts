// Forget-side losses on answer-token logits [N, V] (rows = the answer tokens + EOS of each forget prompt):
// gradient ascent, unlikelihood, NPO; and the helpers they share.
import { Tensor } from '../tensor/tensor.ts';
import {
  addScalar,
  crossEntropy,
  exp,
  log,
  logSoftmax,
  matmul,
  mean,
  mul,
  neg,
  reshape,
  scale,
  sub,
  sum,
} from '../tensor/ops.ts';

/** log p(target) of every row: [N]. */
export function targetLogProbs(logits: Tensor, targets: Int32Array): Tensor {
  const [n, v] = logits.shape as [number, number];
  const onehot = new Float32Array(n * v);
  for (let r = 0; r < n; r++) onehot[r * v + targets[r]!] = 1;
  return sum(mul(logSoftmax(logits), Tensor.from(onehot, [n, v])), -1);
}

/** Gradient ascent: minus the mean cross-entropy of the answer tokens. */
export function gradientAscentLoss(logits: Tensor, targets: Int32Array): Tensor {
  return neg(crossEntropy(logits, targets));
}

/** Unlikelihood (Welleck et al.): mean over answer tokens of −log(1 − p(target)). */
export function unlikelihoodLoss(logits: Tensor, targets: Int32Array): Tensor {
  const p = exp(targetLogProbs(logits, targets));
  // 1 − p, floored so the log stays finite when p → 1.
  return neg(mean(log(addScalar(neg(p), 1 + 1e-6))));
}

/** Per-sequence sums of per-row values: rows belong to sequences `owner[r]` in 0..count−1. Returns [count]. */
export function sequenceSums(values: Tensor, owner: Int32Array, count: number): Tensor {
  const n = owner.length;
  const m = new Float32Array(count * n);
  for (let r = 0; r < n; r++) m[owner[r]! * n + r] = 1;
  return reshape(matmul(Tensor.from(m, [count, n]), reshape(values, [n, 1])), [count]);
}

/**
 * NPO (Zhang et al. 2024): (2/β) · mean_s log(1 + (π_θ(y_s|x_s) / π_ref(y_s|x_s))^β)
 * = −(2/β) · mean log σ(−β · (log π_θ − log π_ref)), over whole answers (sums of token log-probs).
 */
export function npoLoss(
  logits: Tensor,
  targets: Int32Array,
  owner: Int32Array,
  refLogProbs: Float64Array,
  beta: number,
): Tensor {
  const count = refLogProbs.length;
  const logp = sequenceSums(targetLogProbs(logits, targets), owner, count);
  const ref = Tensor.from(Float32Array.from(refLogProbs), [count]);
  const ratio = scale(sub(logp, ref), beta);
  // softplus(x) = log(1 + e^x); x = β·(log π_θ − log π_ref) starts at 0 and falls as the answer is unlearned.
  return scale(mean(log(addScalar(exp(ratio), 1))), 2 / beta);
}

/** Per-sequence sums of log p(target) under given logits, as plain numbers (e.g. the reference's). */
export function sequenceLogProbs(
  logits: Float32Array,
  vocab: number,
  targets: Int32Array,
  owner: Int32Array,
  count: number,
): Float64Array {
  const out = new Float64Array(count);
  for (let r = 0; r < targets.length; r++) {
    const row = logits.subarray(r * vocab, (r + 1) * vocab);
    let max = -Infinity;
    for (let j = 0; j < vocab; j++) if (row[j]! > max) max = row[j]!;
    let s = 0;
    for (let j = 0; j < vocab; j++) s += Math.exp(row[j]! - max);
    out[owner[r]!] += row[targets[r]!]! - max - Math.log(s);
  }
  return out;
}
