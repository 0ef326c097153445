// Behavioural suites: closed-book fact recall with the true answer's rank among the relation's candidates,
// reading with the fact in context (RAG) and against it (counterfactual RAG), logic word problems with the
// chain-of-thought rate, and multi-hop questions. Answers are greedy generations matched with format.ts.
import { answersMatch } from '../../data/format.ts';
import type { LogicRecord, MultihopRecord, RagRecord } from '../../data/schema.ts';
import type { World } from '../../data/world.ts';
import type { Qwen2ForCausalLM } from '../../nn/qwen2.ts';
import { hasChainOfThought } from '../gsm8k.ts';
import { binomialTailUpper, rankSummary, wilsonInterval, type Interval } from '../stats.ts';
import { Inference, midRank, type EvalTokenizer, type GeneratedText } from './inference.ts';
import { factSuitesFromWorld, type FactItem } from './items.ts';

/** Generation of every suite stops at the end of the answer line (format.ts) or at EOS. */
export const ANSWER_STOP = ['\n'];

export interface FactItemResult {
  id: string;
  fact_id: string;
  relation: string;
  subject: string;
  template: string;
  template_split: 'train' | 'heldout';
  prompt: string;
  generated: string;
  answer: string;
  /** The greedy generation matches the answer (or an alias) after normalisation. */
  correct: boolean;
  /** Rank of the answer among the K candidates by log p(" " + candidate | prompt); ties share mid ranks. */
  rank: number;
  K: number;
  /** p(" " + answer | prompt) over the whole vocabulary (product over its tokens). */
  prob: number;
  /** The answer's probability renormalised over the candidates. */
  prob_among_candidates: number;
  top_candidate: string;
  generated_tokens: number;
}

export interface RelationRecall {
  relation: string;
  n: number;
  K: number;
  /** Greedy-generation accuracy. */
  accuracy: number;
  /** One-sided exact binomial p-value of `accuracy` against chance 1/K. */
  p_above_chance: number;
  /** Share of items whose answer is the top-scored candidate. */
  top_candidate_accuracy: number;
  mean_rank: number;
  chance_rank: number;
  /** Two-sided p-value that the mean rank equals chance under uniform random ranks. */
  rank_p: number;
  rank_test: 'exact' | 'normal';
  /** Mean rank significantly worse than chance (p < 0.05): still encoded, pushed down. */
  inverted: boolean;
  mean_prob: number;
  mean_prob_among_candidates: number;
}

export interface FactSplitSummary {
  n: number;
  accuracy: number;
  accuracy_ci95: Interval;
  mean_generated_tokens: number;
  relations: RelationRecall[];
}

/** Greedy answers and candidate ranks for fact questions. */
export function evaluateFactItems(
  inference: Inference,
  items: readonly FactItem[],
  label: string,
): { items: FactItemResult[]; summary: FactSplitSummary } {
  if (items.length === 0) throw new Error(`${label}: no items to evaluate`);
  const prompts = items.map((item) => item.prompt);
  const maxNewTokens =
    inference.longestAnswerTokens(items.flatMap((item) => [...item.candidates, ...item.aliases])) + 2;
  const generated = inference.generate(prompts, {
    maxNewTokens,
    stopStrings: ANSWER_STOP,
    label,
    firstTokenIds: items.map((item) => inference.firstTokenIds(item.candidates)),
  });
  const scores = inference.candidateLogProbs(
    prompts,
    items.map((item) => item.candidates),
    label,
    generated.map((g) => g.firstTokenLogProbs),
  );
  const results = items.map((item, i): FactItemResult => {
    const text = generated[i]!.text;
    const itemScores = scores[i]!;
    const trueIndex = item.candidates.indexOf(item.answer);
    if (trueIndex < 0)
      throw new Error(`item ${item.id}: the answer "${item.answer}" is not among its candidates`);
    let best = 0;
    itemScores.forEach((s, j) => {
      if (s > itemScores[best]!) best = j;
    });
    const maxScore = itemScores[best]!;
    const candidateMass = itemScores.reduce((a, s) => a + Math.exp(s - maxScore), 0);
    return {
      id: item.id,
      fact_id: item.fact_id,
      relation: item.relation,
      subject: item.subject,
      template: item.template,
      template_split: item.template_split,
      prompt: item.prompt,
      generated: text,
      answer: item.answer,
      correct: [item.answer, ...item.aliases].some((a) => answersMatch(text, a)),
      rank: midRank(itemScores, trueIndex),
      K: item.candidates.length,
      prob: Math.exp(itemScores[trueIndex]!),
      prob_among_candidates: Math.exp(itemScores[trueIndex]! - maxScore) / candidateMass,
      top_candidate: item.candidates[best]!,
      generated_tokens: generated[i]!.tokens,
    };
  });
  return { items: results, summary: summarizeFactResults(results) };
}

export function summarizeFactResults(results: readonly FactItemResult[]): FactSplitSummary {
  const hits = results.filter((r) => r.correct).length;
  const byRelation = new Map<string, FactItemResult[]>();
  for (const r of results) byRelation.set(r.relation, [...(byRelation.get(r.relation) ?? []), r]);
  const relations = [...byRelation].map(([relation, list]) => relationRecall(relation, list));
  return {
    n: results.length,
    accuracy: hits / results.length,
    accuracy_ci95: wilsonInterval(hits, results.length),
    mean_generated_tokens: mean(results.map((r) => r.generated_tokens)),
    relations,
  };
}

function relationRecall(relation: string, list: readonly FactItemResult[]): RelationRecall {
  const K = list[0]!.K;
  const mixed = list.find((r) => r.K !== K);
  if (mixed) throw new Error(`relation "${relation}": items have ${K} and ${mixed.K} candidates`);
  const ranks = rankSummary(
    list.map((r) => r.rank),
    K,
  );
  const hits = list.filter((r) => r.correct).length;
  return {
    relation,
    n: list.length,
    K,
    accuracy: hits / list.length,
    p_above_chance: binomialTailUpper(hits, list.length, 1 / K),
    top_candidate_accuracy: ranks.accuracy,
    mean_rank: ranks.mean_rank,
    chance_rank: ranks.chance_rank,
    rank_p: ranks.p_two_sided,
    rank_test: ranks.method,
    inverted: ranks.inverted,
    mean_prob: mean(list.map((r) => r.prob)),
    mean_prob_among_candidates: mean(list.map((r) => r.prob_among_candidates)),
  };
}

export interface RagItemResult {
  id: string;
  fact_id: string;
  forget: boolean;
  counterfactual: boolean;
  prompt: string;
  generated: string;
  /** The object the context states. */
  answer: string;
  true_object: string;
  /** The generation matches the context's object. */
  correct: boolean;
  /** The generation matches the world's object (differs from `correct` only when counterfactual). */
  says_true_object: boolean;
}

export interface RagSummary {
  n: number;
  accuracy: number;
  accuracy_ci95: Interval;
  forget_n: number;
  forget_accuracy: number | null;
  retain_n: number;
  retain_accuracy: number | null;
  /** Share answering the world's object instead of the context's (counterfactual items only). */
  true_object_rate: number | null;
}

/** Reading tasks: does the answer follow the context? */
export function evaluateRag(
  inference: Inference,
  records: readonly RagRecord[],
  label: string,
): { items: RagItemResult[]; summary: RagSummary } {
  if (records.length === 0) throw new Error(`${label}: no items to evaluate`);
  const maxNewTokens = inference.longestAnswerTokens(records.flatMap((r) => r.candidates)) + 2;
  const generated = inference.generate(
    records.map((r) => r.prompt),
    { maxNewTokens, stopStrings: ANSWER_STOP, label },
  );
  const items = records.map((r, i): RagItemResult => {
    const text = generated[i]!.text;
    return {
      id: r.id,
      fact_id: r.fact_id,
      forget: r.forget,
      counterfactual: r.counterfactual,
      prompt: r.prompt,
      generated: text,
      answer: r.answer,
      true_object: r.true_object,
      correct: answersMatch(text, r.answer),
      says_true_object: answersMatch(text, r.true_object),
    };
  });
  const hits = items.filter((r) => r.correct).length;
  const forget = items.filter((r) => r.forget);
  const retain = items.filter((r) => !r.forget);
  const counterfactual = items.filter((r) => r.counterfactual);
  return {
    items,
    summary: {
      n: items.length,
      accuracy: hits / items.length,
      accuracy_ci95: wilsonInterval(hits, items.length),
      forget_n: forget.length,
      forget_accuracy: share(forget, (r) => r.correct),
      retain_n: retain.length,
      retain_accuracy: share(retain, (r) => r.correct),
      true_object_rate: share(counterfactual, (r) => r.says_true_object),
    },
  };
}

export interface LogicItemResult {
  id: string;
  prompt: string;
  generated: string;
  answer: string;
  correct: boolean;
  /** The response shows a computation before its answer (gsm8k.ts `hasChainOfThought`). */
  cot: boolean;
  /** Style of the reference solution in the data. */
  reference_style: 'cot' | 'direct';
  generated_tokens: number;
}

export interface LogicSummary {
  n: number;
  accuracy: number;
  accuracy_ci95: Interval;
  /** Share of responses that chose the chain-of-thought style. */
  cot_rate: number;
  /** Share of reference solutions written chain-of-thought (what the training data did). */
  reference_cot_rate: number;
  accuracy_cot: number | null;
  accuracy_direct: number | null;
  /** Mean generated tokens per response (EOS not counted). */
  mean_tokens: number;
}

/**
 * Greedy free-form answers to `records`' prompts, allowed twice the longest reference completion's tokens
 * (at least 16).
 */
function generateFreeForm(
  inference: Inference,
  records: readonly { prompt: string; completion: string }[],
  label: string,
): GeneratedText[] {
  const longest = inference.longestAnswerTokens(records.map((r) => r.completion.trimStart()));
  return inference.generate(
    records.map((r) => r.prompt),
    { maxNewTokens: Math.max(16, 2 * longest), stopStrings: ANSWER_STOP, label },
  );
}

export function evaluateLogic(
  inference: Inference,
  records: readonly LogicRecord[],
  label: string,
): { items: LogicItemResult[]; summary: LogicSummary } {
  if (records.length === 0) throw new Error(`${label}: no items to evaluate`);
  const generated = generateFreeForm(inference, records, label);
  const items = records.map((r, i): LogicItemResult => ({
    id: r.id,
    prompt: r.prompt,
    generated: generated[i]!.text,
    answer: r.answer,
    correct: answersMatch(generated[i]!.text, r.answer),
    cot: hasChainOfThought(generated[i]!.text),
    reference_style: r.style,
    generated_tokens: generated[i]!.tokens,
  }));
  const hits = items.filter((r) => r.correct).length;
  return {
    items,
    summary: {
      n: items.length,
      accuracy: hits / items.length,
      accuracy_ci95: wilsonInterval(hits, items.length),
      cot_rate: items.filter((r) => r.cot).length / items.length,
      reference_cot_rate: records.filter((r) => r.style === 'cot').length / records.length,
      accuracy_cot: share(
        items.filter((r) => r.cot),
        (r) => r.correct,
      ),
      accuracy_direct: share(
        items.filter((r) => !r.cot),
        (r) => r.correct,
      ),
      mean_tokens: mean(items.map((r) => r.generated_tokens)),
    },
  };
}

export interface MultihopItemResult {
  id: string;
  hop: 'currency' | 'price';
  subject: string;
  forget: boolean;
  prompt: string;
  generated: string;
  answer: string;
  correct: boolean;
  generated_tokens: number;
}

export interface MultihopSummary {
  n: number;
  accuracy: number;
  accuracy_ci95: Interval;
  forget_accuracy: number | null;
  retain_accuracy: number | null;
  currency_accuracy: number | null;
  price_accuracy: number | null;
}

export function evaluateMultihop(
  inference: Inference,
  records: readonly MultihopRecord[],
  label: string,
): { items: MultihopItemResult[]; summary: MultihopSummary } {
  if (records.length === 0) throw new Error(`${label}: no items to evaluate`);
  const generated = generateFreeForm(inference, records, label);
  const items = records.map((r, i): MultihopItemResult => ({
    id: r.id,
    hop: r.hop,
    subject: r.subject,
    forget: r.forget,
    prompt: r.prompt,
    generated: generated[i]!.text,
    answer: r.answer,
    correct: answersMatch(generated[i]!.text, r.answer),
    generated_tokens: generated[i]!.tokens,
  }));
  const hits = items.filter((r) => r.correct).length;
  const correct = (r: MultihopItemResult) => r.correct;
  return {
    items,
    summary: {
      n: items.length,
      accuracy: hits / items.length,
      accuracy_ci95: wilsonInterval(hits, items.length),
      forget_accuracy: share(
        items.filter((r) => r.forget),
        correct,
      ),
      retain_accuracy: share(
        items.filter((r) => !r.forget),
        correct,
      ),
      currency_accuracy: share(
        items.filter((r) => r.hop === 'currency'),
        correct,
      ),
      price_accuracy: share(
        items.filter((r) => r.hop === 'price'),
        correct,
      ),
    },
  };
}

// ---- cheap measurements for use inside training loops ----

export interface FastRecall {
  n: number;
  /**
   * Share of items whose answer is the top-scored candidate: greedy decoding restricted to the relation's
   * single-token candidates, read from one forward pass. It can differ from free generation, which may
   * also produce a non-candidate; `evaluateModel` reports both.
   */
  recall: number;
  mean_rank: number;
  chance_rank: number;
  /** Two-sided p-value that the mean rank equals chance. */
  rank_p: number;
  inverted: boolean;
}

export interface FastRecallOptions {
  /** Prompts per forward pass (default 64). */
  batchSize?: number;
}

function fastRecall(
  model: Qwen2ForCausalLM,
  tokenizer: EvalTokenizer,
  items: readonly FactItem[],
  options: FastRecallOptions,
): FastRecall {
  if (items.length === 0) throw new Error('fast recall: no items');
  const inference = new Inference(model, tokenizer, { batchSize: options.batchSize ?? 64, progress: false });
  const ids = items.map((item) => {
    const single = inference.singleTokenIds(item.candidates);
    if (!single) {
      throw new Error(
        `item ${item.id}: some candidate of "${item.relation}" is several tokens; the in-training recall needs ` +
          'single-token candidates (use evaluateModel)',
      );
    }
    return single;
  });
  const scores = inference.firstTokenLogProbs(
    items.map((item) => item.prompt),
    ids,
    'recall',
  );
  const ranks = items.map((item, i) => midRank(scores[i]!, item.candidates.indexOf(item.answer)));
  // Relations with different K are pooled for the mean rank; the test runs per relation's K only when
  // every item shares one K (the forget relation always does).
  const K = items[0]!.candidates.length;
  const sameK = items.every((item) => item.candidates.length === K);
  const summary = sameK ? rankSummary(ranks, K) : null;
  return {
    n: items.length,
    recall: ranks.filter((r) => r === 1).length / items.length,
    mean_rank: mean(ranks),
    chance_rank: sameK ? (K + 1) / 2 : mean(items.map((item) => (item.candidates.length + 1) / 2)),
    rank_p: summary ? summary.p_two_sided : Number.NaN,
    inverted: summary ? summary.inverted : false,
  };
}

/** Held-out-template recall and rank of the forget facts, cheap enough to run every few training steps. */
export function forgetHeldoutRecallAndRank(
  model: Qwen2ForCausalLM,
  world: World,
  tokenizer: EvalTokenizer,
  options: FastRecallOptions = {},
): FastRecall {
  return fastRecall(model, tokenizer, factSuitesFromWorld(world).forgetHeldout, options);
}

/**
 * Recall of retain facts on training templates (top candidate, one forward pass); with `limit`, an evenly
 * spaced subset of that many items (every relation keeps its share).
 */
export function retainRecall(
  model: Qwen2ForCausalLM,
  world: World,
  tokenizer: EvalTokenizer,
  limit?: number,
  options: FastRecallOptions = {},
): FastRecall {
  const all = factSuitesFromWorld(world).retainTrain;
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1)) {
    throw new Error(`retainRecall: limit must be a positive integer, got ${limit}`);
  }
  const n = Math.min(limit ?? all.length, all.length);
  const items = Array.from({ length: n }, (_, i) => all[Math.floor((i * all.length) / n)]!);
  return fastRecall(model, tokenizer, items, options);
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

function share<T>(items: readonly T[], pick: (item: T) => boolean): number | null {
  return items.length === 0 ? null : items.filter(pick).length / items.length;
}
