// SimNPO (Fan et al. 2024, "Simplicity prevails"): NPO without the reference model, on the length-normalised
// log-likelihood with a margin γ, plus RLCP's anchor streams (as NPO here):
//   L = −(2/β) · mean_s log σ(−(β/|y_s|) · log π_θ(y_s|x_s) − γ) = (2/β) · mean_s softplus(β·ℓ_s + γ),
// ℓ_s = (1/|y_s|) Σ_t log π_θ(y_t | x, y_<t). OpenUnlearning writes the margin as β·δ (γ = β·δ).
import { Tensor } from '../../tensor/tensor.ts';
import { addScalar, exp, log, mean, mul, scale } from '../../tensor/ops.ts';
import { sequenceSums, targetLogProbs } from '../losses.ts';
import type { UnlearnMethod } from './types.ts';

/** The SimNPO loss over answer-token logits [N, V]; rows belong to sequences `owner[r]` in 0..count−1. */
export function simnpoLoss(
  logits: Tensor,
  targets: Int32Array,
  owner: Int32Array,
  count: number,
  beta: number,
  gamma: number,
): Tensor {
  const lengths = new Float32Array(count);
  for (const s of owner) lengths[s]! += 1;
  if (lengths.some((n) => n === 0)) throw new Error('simnpoLoss: a sequence has no answer rows');
  const logp = sequenceSums(targetLogProbs(logits, targets), owner, count);
  const perToken = mul(
    logp,
    Tensor.from(
      lengths.map((n) => 1 / n),
      [count],
    ),
  );
  // softplus(x) = log(1 + e^x); x = β·ℓ + γ falls as the answer is unlearned.
  return scale(mean(log(addScalar(exp(addScalar(scale(perToken, beta), gamma)), 1))), 2 / beta);
}

export const simnpo: UnlearnMethod = {
  overlay: { fact: { lambda: 0, generic: 0 } },
  forgetTerm: ({ config }) => ({
    logits: true,
    loss(out, { picked, answer }, addMetric) {
      const { beta, gamma } = config.simnpo;
      const loss = simnpoLoss(out.logits!, answer.rowTargets, answer.rowOwner, picked.length, beta, gamma);
      addMetric('loss_forget', loss.item());
      return scale(loss, config.fact.forgetWeight);
    },
  }),
};
