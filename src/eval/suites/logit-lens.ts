// Logit lens (issue 6 part 3): the final RMSNorm and lm_head applied to every layer's last-prompt-token
// hidden state; is the answer's first token already among the top k of the vocabulary at that layer?
import type { Qwen2ForCausalLM } from '../../nn/qwen2.ts';
import { linear, rmsNorm } from '../../tensor/ops.ts';
import { noGrad, Tensor } from '../../tensor/tensor.ts';
import { midRank } from './inference.ts';

export interface LensItem {
  id: string;
  template_split: 'train' | 'heldout';
  answer: string;
  /** First token of " " + answer. */
  answerToken: number;
  /** First token of " " + each candidate (the answer's at `answerIndex`). */
  candidateTokens: readonly number[];
  answerIndex: number;
}

export interface LensItemResult {
  id: string;
  template_split: 'train' | 'heldout';
  answer: string;
  /** Per layer 0..L: the answer token's rank in the vocabulary and among the candidates' first tokens. */
  layers: { layer: number; vocab_rank: number; candidate_rank: number }[];
}

export interface LensLayer {
  layer: number;
  n: number;
  /** Share of items whose answer token is the lens's top token / among its top 5. */
  top1: number;
  top5: number;
  top1_heldout: number | null;
  top5_heldout: number | null;
  mean_candidate_rank: number;
}

/** The lens: `states[layer][row]` for layers 0..L, rows aligned with `items`. */
export function logitLens(
  model: Qwen2ForCausalLM,
  states: readonly (readonly Float32Array[])[],
  items: readonly LensItem[],
  vocabLimit: number,
): { items: LensItemResult[]; layers: LensLayer[] } {
  const cfg = model.config;
  const params = model.namedParameters();
  const norm = params.get('model.norm.weight')!;
  const head = params.get('lm_head.weight') ?? params.get('model.embed_tokens.weight')!;
  const V = cfg.vocabSize;
  const H = cfg.hiddenSize;
  const n = items.length;
  const results: LensItemResult[] = items.map((item) => ({
    id: item.id,
    template_split: item.template_split,
    answer: item.answer,
    layers: [],
  }));
  const layers: LensLayer[] = [];
  states.forEach((rows, layer) => {
    if (rows.length !== n)
      throw new Error(`logit lens: layer ${layer} has ${rows.length} rows for ${n} items`);
    const flat = new Float32Array(n * H);
    rows.forEach((row, i) => flat.set(row, i * H));
    const logits = noGrad(() => {
      const x = Tensor.from(flat, [n, H]);
      // hidden_states[L] already passed the final norm (HF convention); earlier layers get it here.
      return linear(layer === cfg.numHiddenLayers ? x : rmsNorm(x, norm, cfg.rmsNormEps), head).data;
    });
    let top1 = 0;
    let top5 = 0;
    let heldout = 0;
    let top1Heldout = 0;
    let top5Heldout = 0;
    let candidateRankSum = 0;
    items.forEach((item, i) => {
      const row = logits.subarray(i * V, i * V + vocabLimit);
      const own = row[item.answerToken]!;
      let above = 0;
      for (let t = 0; t < row.length; t++) if (row[t]! > own) above++;
      const vocabRank = above + 1;
      const candidateRank = midRank(
        item.candidateTokens.map((t) => row[t]!),
        item.answerIndex,
      );
      results[i]!.layers.push({ layer, vocab_rank: vocabRank, candidate_rank: candidateRank });
      if (vocabRank === 1) top1++;
      if (vocabRank <= 5) top5++;
      if (item.template_split === 'heldout') {
        heldout++;
        if (vocabRank === 1) top1Heldout++;
        if (vocabRank <= 5) top5Heldout++;
      }
      candidateRankSum += candidateRank;
    });
    layers.push({
      layer,
      n,
      top1: top1 / n,
      top5: top5 / n,
      top1_heldout: heldout === 0 ? null : top1Heldout / heldout,
      top5_heldout: heldout === 0 ? null : top5Heldout / heldout,
      mean_candidate_rank: candidateRankSum / n,
    });
  });
  return { items: results, layers };
}
