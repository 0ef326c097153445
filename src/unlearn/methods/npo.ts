// NPO (Zhang et al. 2024) on the forget answers, with RLCP's anchors (LM + β·KL). It needs
// log π_ref(answer | prompt) of every forget example, computed once from the frozen reference.
import { noGrad } from '../../tensor/tensor.ts';
import { scale } from '../../tensor/ops.ts';
import { collateRows } from '../batching.ts';
import { forgetRows } from '../features.ts';
import { npoLoss, sequenceLogProbs } from '../losses.ts';
import type { UnlearnMethod } from './types.ts';

export const npo: UnlearnMethod = {
  overlay: { fact: { lambda: 0, generic: 0 } },
  forgetTerm({ config, reference, tokenizer, forget }) {
    const V = reference.config.vocabSize;
    const refLogProbs = new Float64Array(forget.length);
    noGrad(() => {
      for (let i = 0; i < forget.length; i += 32) {
        const chunk = forget.slice(i, i + 32);
        const b = forgetRows(
          collateRows(
            chunk.map((f) => f.encoded),
            tokenizer.padTokenId,
          ),
          tokenizer.eosTokenId,
        );
        const logits = reference.forward(b.ids, {
          batch: b.batch,
          seq: b.seq,
          attentionMask: b.attentionMask,
          logits: b.rows,
        }).logits!;
        refLogProbs.set(sequenceLogProbs(logits.data, V, b.rowTargets, b.rowOwner, chunk.length), i);
      }
    });
    return {
      logits: true,
      loss(out, { picked, answer }, addMetric) {
        const refSums = Float64Array.from(picked, (i) => refLogProbs[i]!);
        const loss = npoLoss(out.logits!, answer.rowTargets, answer.rowOwner, refSums, config.fact.npoBeta);
        addMetric('loss_forget', loss.item());
        return scale(loss, config.fact.forgetWeight);
      },
    };
  },
};
