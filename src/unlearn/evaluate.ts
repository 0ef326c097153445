// The evaluation run inside training (every `eval.every` steps, into metrics.jsonl) and by `rlcp compare`:
// forget recall and the true answer's rank among the candidates on held-out and training templates, with
// the rank test against chance; retain recall; reading accuracy with facts in context; logic accuracy by
// greedy generation; KL(reference ‖ model) on held-out logic answers.
import { answersMatch } from '../data/format.ts';
import { rankSummary } from '../eval/stats.ts';
import { generate, leftPad, scoreContinuations } from '../nn/generate.ts';
import type { Qwen2ForCausalLM } from '../nn/qwen2.ts';
import { Tensor, noGrad } from '../tensor/tensor.ts';
import { klDiv } from '../tensor/ops.ts';
import { collateRows, encodeAnchors, type RowBatch } from './batching.ts';
import { evenSubset, type UnlearnData } from './data.ts';

export interface EvalTokenizer {
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  decode(ids: number[], options?: { skipSpecialTokens?: boolean }): string;
  readonly eosTokenId: number;
  readonly padTokenId: number;
}

export interface RankItem {
  prompt: string;
  answer: string;
  candidates: readonly string[];
}

/** Rank of `scores[trueIndex]` among scores, 1 = best, ties sharing the mean of their ranks. */
export function midRank(scores: ArrayLike<number>, trueIndex: number): number {
  const own = scores[trueIndex]!;
  let above = 0;
  let ties = 0;
  for (let i = 0; i < scores.length; i++) {
    if (i === trueIndex) continue;
    if (scores[i]! > own) above++;
    else if (scores[i] === own) ties++;
  }
  return 1 + above + ties / 2;
}

/**
 * Rank of each item's answer among its candidates by the model's log-probability of " candidate" after
 * the prompt: one forward per batch when every candidate is one token, else full continuation scoring.
 */
export function rankAnswers(
  model: Qwen2ForCausalLM,
  tokenizer: EvalTokenizer,
  items: readonly RankItem[],
  batchSize: number,
): number[] {
  const candidateIds = new Map<string, number[]>();
  const idsOf = (c: string) => {
    let ids = candidateIds.get(c);
    if (!ids) {
      ids = tokenizer.encode(` ${c}`, { addSpecialTokens: false });
      candidateIds.set(c, ids);
    }
    return ids;
  };
  const single = items.every((item) => item.candidates.every((c) => idsOf(c).length === 1));
  const prompts = items.map((item) => tokenizer.encode(item.prompt, { addSpecialTokens: false }));
  const ranks = new Array<number>(items.length);
  if (single) {
    const vocab = model.config.vocabSize;
    noGrad(() => {
      for (let first = 0; first < items.length; first += batchSize) {
        const chunk = prompts.slice(first, first + batchSize);
        const { ids, mask, seq } = leftPad(chunk, tokenizer.padTokenId);
        const logits = model.forward(ids, {
          batch: chunk.length,
          seq,
          attentionMask: mask,
          logits: 'last',
        }).logits!;
        chunk.forEach((_, b) => {
          const item = items[first + b]!;
          const row = logits.data.subarray(b * vocab, (b + 1) * vocab);
          const scores = item.candidates.map((c) => row[idsOf(c)[0]!]!);
          ranks[first + b] = midRank(scores, item.candidates.indexOf(item.answer));
        });
      }
    });
    return ranks;
  }
  const pairsPrompt: number[][] = [];
  const pairsCont: number[][] = [];
  items.forEach((item, i) => {
    for (const c of item.candidates) {
      pairsPrompt.push(prompts[i]!);
      pairsCont.push(idsOf(c));
    }
  });
  const scores = scoreContinuations(model, pairsPrompt, pairsCont, {
    batchSize,
    padTokenId: tokenizer.padTokenId,
  });
  let at = 0;
  items.forEach((item, i) => {
    const own = scores.slice(at, at + item.candidates.length);
    at += item.candidates.length;
    ranks[i] = midRank(own, item.candidates.indexOf(item.answer));
  });
  return ranks;
}

function rankStats(prefix: string, ranks: number[], items: readonly RankItem[]): Record<string, number> {
  const K = items[0]!.candidates.length;
  const sameK = items.every((item) => item.candidates.length === K);
  const recall = ranks.filter((r) => r === 1).length / ranks.length;
  const out: Record<string, number> = {
    [`${prefix}_recall`]: recall,
    [`${prefix}_rank`]: ranks.reduce((a, b) => a + b, 0) / ranks.length,
  };
  if (sameK) {
    const s = rankSummary(ranks, K);
    out[`${prefix}_rank_chance`] = s.chance_rank;
    out[`${prefix}_rank_p`] = s.p_two_sided;
    out[`${prefix}_p_above_chance`] = s.p_above_chance;
  }
  return out;
}

/** Logic items' reference logits over their answer rows, for the `kl` metric. */
export interface KlProbe {
  batches: RowBatch[];
  refLogits: Float32Array[];
}

export function prepareKlProbe(
  reference: Qwen2ForCausalLM,
  tokenizer: EvalTokenizer,
  data: UnlearnData,
  count: number,
  batchSize: number,
  maxLength: number,
): KlProbe | null {
  const items = evenSubset(data.logicEval, count);
  if (items.length === 0) return null;
  const encoded = encodeAnchors(tokenizer, items, maxLength);
  const batches: RowBatch[] = [];
  for (let i = 0; i < encoded.length; i += batchSize)
    batches.push(collateRows(encoded.slice(i, i + batchSize), tokenizer.padTokenId));
  const refLogits = noGrad(() =>
    batches.map((b) =>
      Float32Array.from(
        reference.forward(b.ids, {
          batch: b.batch,
          seq: b.seq,
          attentionMask: b.attentionMask,
          logits: b.rows,
        }).logits!.data,
      ),
    ),
  );
  return { batches, refLogits };
}

export interface EvalSets {
  forgetHeldout: RankItem[];
  forgetTrain: RankItem[];
  retainTrain: RankItem[];
  retainHeldout: RankItem[];
  rag: (RankItem & { forget: boolean })[];
  logic: { prompt: string; answer: string; completion: string }[];
}

export function evalSets(
  data: UnlearnData,
  limits: { retainLimit: number; ragLimit: number; logicLimit: number },
): EvalSets {
  return {
    forgetHeldout: data.forgetHeldout,
    forgetTrain: data.forgetTrain,
    retainTrain: evenSubset(data.retainTrain, limits.retainLimit),
    retainHeldout: evenSubset(data.retainHeldout, limits.retainLimit),
    rag: evenSubset(data.ragEval, limits.ragLimit),
    logic: evenSubset(data.logicEval, limits.logicLimit),
  };
}

/** Every in-training metric (keys as in metrics.jsonl). */
export function evaluateDuringTraining(
  model: Qwen2ForCausalLM,
  tokenizer: EvalTokenizer,
  sets: EvalSets,
  klProbe: KlProbe | null,
  batchSize: number,
): Record<string, number> {
  const out: Record<string, number> = {};
  const rankOf = (items: readonly RankItem[]) => rankAnswers(model, tokenizer, items, batchSize);
  Object.assign(out, rankStats('forget_heldout', rankOf(sets.forgetHeldout), sets.forgetHeldout));
  Object.assign(out, rankStats('forget_train', rankOf(sets.forgetTrain), sets.forgetTrain));
  // The key names.
  out.forget_recall_heldout = out.forget_heldout_recall!;
  out.forget_rank_heldout = out.forget_heldout_rank!;
  if (sets.retainTrain.length > 0) {
    const ranks = rankOf(sets.retainTrain);
    out.retain_recall = ranks.filter((r) => r === 1).length / ranks.length;
  }
  if (sets.retainHeldout.length > 0) {
    const ranks = rankOf(sets.retainHeldout);
    out.retain_recall_heldout = ranks.filter((r) => r === 1).length / ranks.length;
  }
  if (sets.rag.length > 0) {
    const ranks = rankOf(sets.rag);
    const hit = (pick: (i: number) => boolean) => {
      const chosen = ranks.filter((_, i) => pick(i));
      return chosen.length === 0 ? Number.NaN : chosen.filter((r) => r === 1).length / chosen.length;
    };
    out.rag_accuracy = hit(() => true);
    out.rag_forget_accuracy = hit((i) => sets.rag[i]!.forget);
    out.rag_retain_accuracy = hit((i) => !sets.rag[i]!.forget);
  }
  if (sets.logic.length > 0) out.logic_accuracy = logicAccuracy(model, tokenizer, sets.logic, batchSize);
  if (klProbe) out.kl = meanKl(model, klProbe);
  return out;
}

export function logicAccuracy(
  model: Qwen2ForCausalLM,
  tokenizer: EvalTokenizer,
  items: readonly { prompt: string; answer: string; completion: string }[],
  batchSize: number,
): number {
  const longest = Math.max(
    ...items.map((i) => tokenizer.encode(i.completion, { addSpecialTokens: false }).length),
  );
  let correct = 0;
  for (let first = 0; first < items.length; first += batchSize) {
    const chunk = items.slice(first, first + batchSize);
    const results = generate(
      model,
      chunk.map((i) => tokenizer.encode(i.prompt, { addSpecialTokens: false })),
      {
        maxNewTokens: longest + 2,
        eosTokenIds: [tokenizer.eosTokenId],
        stopStrings: ['\n'],
        decoder: tokenizer,
        padTokenId: tokenizer.padTokenId,
      },
    );
    results.forEach((r, j) => {
      if (answersMatch(r.text ?? '', chunk[j]!.answer)) correct++;
    });
  }
  return correct / items.length;
}

function meanKl(model: Qwen2ForCausalLM, probe: KlProbe): number {
  return noGrad(() => {
    let total = 0;
    let rows = 0;
    probe.batches.forEach((b, i) => {
      const logits = model.forward(b.ids, {
        batch: b.batch,
        seq: b.seq,
        attentionMask: b.attentionMask,
        logits: b.rows,
      }).logits!;
      const ref = Tensor.from(probe.refLogits[i]!, logits.shape);
      total += klDiv(ref, logits).item() * b.rows.length;
      rows += b.rows.length;
    });
    return total / rows;
  });
}
