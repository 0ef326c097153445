// Gradient ascent (GA) and GradDiff: minus the forget answers' mean cross-entropy. GA trains nothing else;
// GradDiff adds the anchor streams' LM loss (the usual definition: NLL, no KL).
import { scale } from '../../tensor/ops.ts';
import { gradientAscentLoss } from '../losses.ts';
import type { ForgetTerm, UnlearnMethod } from './types.ts';

function gradientAscentTerm(weight: number): ForgetTerm {
  return {
    logits: true,
    loss(out, { answer }, addMetric) {
      const ga = gradientAscentLoss(out.logits!, answer.rowTargets);
      addMetric('loss_forget', ga.item());
      return scale(ga, weight);
    },
  };
}

export const ga: UnlearnMethod = {
  overlay: {
    fact: { lambda: 0, generic: 0 },
    anchors: { beta: 0, logic: { weight: 0 }, retain: { weight: 0 }, rag: { weight: 0 } },
  },
  forgetTerm: ({ config }) => gradientAscentTerm(config.fact.forgetWeight),
};

export const graddiff: UnlearnMethod = {
  overlay: { fact: { lambda: 0, generic: 0 }, anchors: { beta: 0 } },
  forgetTerm: ({ config }) => gradientAscentTerm(config.fact.forgetWeight),
};
