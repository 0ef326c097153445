// The tamper battery (issue 18): does the forgetting survive what a user or an attacker does next?
//   relearning — fine-tune on one half of the forget facts, follow the other half (several splits);
//   benign fine-tuning — train on retain facts and logic only: does anything come back by itself?
//   quantization — round the weights to int8 / int4: do recall, rank or a fresh probe come back?
//   forget quality — the per-fact true-answer scores against the oracle's (two-sample KS, TOFU's test).
// Every model gets the same battery on the same items; `compareToOracle` reads a method's battery against
// the oracle's (the model that never saw the forget facts), which is what "forgotten" has to look like.
import type { World } from '../../data/world.ts';
import { quantizeModel, type QuantBits } from '../../nn/quantize.ts';
import type { Qwen2ForCausalLM } from '../../nn/qwen2.ts';
import { evaluateProbe, majorityClass, trainProbe } from '../probes.ts';
import { ksTwoSample, pairedSignFlipTest } from '../stats.ts';
import { Inference, type EvalTokenizer } from './inference.ts';
import type { FactItem, FactSuites } from './items.ts';
import { evaluateFactItems, type FactItemResult } from './recall.ts';
import { cloneModel, fineTune, relearnAttack, relearnSplits, type RelearnSplit } from './relearn.ts';

export interface TamperOptions {
  /** Relearning splits of the forget facts into trained / evaluated halves (≥ 1; default 3). */
  splits: number;
  /** Relearning steps (default 100); curves are measured every `every` steps. */
  relearnSteps: number;
  every: number;
  /** The step whose ranks decide the headline test against the oracle (default 30). */
  checkpoint: number;
  /** Benign fine-tuning steps on retain facts and logic (default 50). */
  benignSteps: number;
  /** Constant AdamW rate and batch of every fine-tuning here (defaults 3e-4, 8). */
  lr: number;
  batchSize: number;
  quantBits: QuantBits[];
  /** Seeds the shuffled splits, the fine-tuning batches and the probes. */
  seed: number;
}

export const DEFAULT_TAMPER_OPTIONS: TamperOptions = {
  splits: 3,
  relearnSteps: 100,
  every: 5,
  checkpoint: 30,
  benignSteps: 50,
  lr: 3e-4,
  batchSize: 8,
  quantBits: [8, 4],
  seed: 0,
};

/** Held-out forget recall after a tamper, with the project's chance tests (recall.ts). */
export interface ForgetCheck {
  accuracy: number;
  mean_rank: number;
  chance_rank: number;
  /** One-sided exact binomial p of the greedy hits against 1/K. */
  p_above_chance: number;
  /** Two-sided p that the mean rank equals chance. */
  rank_p: number;
  /** Neither test finds the facts: p_above_chance ≥ 0.05 and no significantly better-than-chance rank. */
  at_chance: boolean;
  /** Retain recall on the same model (held-out templates, evenly spaced subset): did the tamper work? */
  retain_recall: number;
}

export interface QuantCheck extends ForgetCheck {
  bits: QuantBits;
  /** Fresh cross-entity linear probes on the quantized model, one per layer 1..L. */
  probe_layers: { layer: number; accuracy: number; majority: number }[];
  probe_max_accuracy: number | null;
}

export interface TamperSplitCurve {
  train_facts: string[];
  eval_facts: string[];
  accuracy: number[];
  mean_rank: number[];
  /** Per evaluated item (held-out templates), per measured step. */
  item_ranks: number[][];
}

export interface TamperModelResult {
  id: string;
  seconds: number;
  relearn: {
    steps: number[];
    splits: TamperSplitCurve[];
    /** Means over the splits at each step. */
    accuracy: number[];
    mean_rank: number[];
  };
  benign: ForgetCheck & { steps: number; final_loss: number };
  quantization: QuantCheck[];
  /** Per forget fact: mean log-probability of the true answer among the candidates, over its prompts. */
  truth: { fact_ids: string[]; scores: number[] };
}

export function checkTamperOptions(options: TamperOptions): void {
  const positive = (value: number, what: string) => {
    if (!(Number.isInteger(value) && value >= 1))
      throw new Error(`tamper: ${what} must be a positive integer, got ${value}`);
  };
  positive(options.splits, 'the number of relearning splits');
  positive(options.relearnSteps, 'relearning steps');
  positive(options.every, 'the relearning measuring interval');
  positive(options.benignSteps, 'benign fine-tuning steps');
  positive(options.batchSize, 'the fine-tuning batch');
  positive(options.checkpoint, 'the checkpoint step');
  if (options.checkpoint > options.relearnSteps || options.checkpoint % options.every !== 0)
    throw new Error(
      `tamper: the checkpoint step ${options.checkpoint} must be a measured step (a multiple of ${options.every}, at most ${options.relearnSteps})`,
    );
  if (!(options.lr > 0 && Number.isFinite(options.lr)))
    throw new Error(`tamper: lr must be positive, got ${options.lr}`);
  if (options.quantBits.length === 0)
    throw new Error('tamper: name at least one quantization width (4 or 8)');
  for (const bits of options.quantBits)
    if (bits !== 4 && bits !== 8)
      throw new Error(`tamper: quantization width must be 4 or 8 bits, got ${bits}`);
}

/** Evenly spaced items (the retain check needs a trend, not the 700 items of a full suite). */
function evenly<T>(items: readonly T[], count: number): T[] {
  if (items.length <= count) return [...items];
  return Array.from({ length: count }, (_, i) => items[Math.floor((i * items.length) / count)]!);
}

const RETAIN_CHECK_ITEMS = 105;

function forgetCheck(
  model: Qwen2ForCausalLM,
  tokenizer: EvalTokenizer,
  suites: FactSuites,
  label: string,
): ForgetCheck {
  const inference = new Inference(model, tokenizer, { progress: false });
  const forget = evaluateFactItems(inference, suites.forgetHeldout, `${label} forget`).summary;
  const relation = forget.relations.find((r) => r.relation === suites.forgetRelation) ?? forget.relations[0]!;
  const retainItems = evenly(suites.retainHeldout, RETAIN_CHECK_ITEMS);
  const retain =
    retainItems.length > 0
      ? evaluateFactItems(inference, retainItems, `${label} retain`).summary.accuracy
      : Number.NaN;
  return {
    accuracy: forget.accuracy,
    mean_rank: relation.mean_rank,
    chance_rank: relation.chance_rank,
    p_above_chance: relation.p_above_chance,
    rank_p: relation.rank_p,
    at_chance:
      relation.p_above_chance >= 0.05 &&
      !(relation.rank_p < 0.05 && relation.mean_rank < relation.chance_rank),
    retain_recall: retain,
  };
}

/**
 * Fresh cross-entity linear probes (trained on the forget relation's retain subjects, tested on every
 * forget prompt) at layers 1..L. No control task: the question is only whether decoding comes back.
 */
function probeCheck(model: Qwen2ForCausalLM, tokenizer: EvalTokenizer, suites: FactSuites, seed: number) {
  const retain = suites.retainTrain.filter((i) => i.relation === suites.forgetRelation);
  if (retain.length === 0) return [];
  const forget: FactItem[] = [...suites.forgetTrain, ...suites.forgetHeldout];
  const states = new Inference(model, tokenizer, { progress: false }).lastTokenHiddenStates(
    [...retain, ...forget].map((i) => i.prompt),
    'tamper probes',
  );
  const label = (items: readonly FactItem[]) =>
    Int32Array.from(items, (i) => suites.forgetCandidates.indexOf(i.answer));
  const trainY = label(retain);
  const testY = label(forget);
  const majority = majorityClass(trainY, suites.forgetCandidates.length);
  const majorityShare = testY.filter((y) => y === majority).length / testY.length;
  return Array.from({ length: model.config.numHiddenLayers }, (_, i) => {
    const layer = i + 1;
    const layerStates = states[layer]!;
    const probe = trainProbe(
      'linear',
      layerStates.slice(0, retain.length),
      trainY,
      suites.forgetCandidates.length,
      { seed },
    );
    const accuracy = evaluateProbe(probe, layerStates.slice(retain.length), testY).accuracy;
    return { layer, accuracy, majority: majorityShare };
  });
}

function truthScores(model: Qwen2ForCausalLM, tokenizer: EvalTokenizer, suites: FactSuites, label: string) {
  const inference = new Inference(model, tokenizer, { progress: false });
  const results: FactItemResult[] = evaluateFactItems(
    inference,
    [...suites.forgetTrain, ...suites.forgetHeldout],
    `${label} truth`,
  ).items;
  const byFact = new Map<string, number[]>();
  for (const r of results) {
    const list = byFact.get(r.fact_id) ?? [];
    // The floor keeps a probability that underflowed to 0 finite (it is then simply the lowest score).
    list.push(Math.log(Math.max(r.prob_among_candidates, 1e-30)));
    byFact.set(r.fact_id, list);
  }
  const fact_ids = [...byFact.keys()];
  return {
    fact_ids,
    scores: fact_ids.map((f) => byFact.get(f)!.reduce((a, b) => a + b, 0) / byFact.get(f)!.length),
  };
}

function benignRecords(suites: FactSuites, world: World | null) {
  const retain = suites.retainTrain.map((i) => ({ prompt: i.prompt, completion: ` ${i.answer}` }));
  const logic = (world?.logicTrain ?? []).map((r) => ({ prompt: r.prompt, completion: r.completion }));
  if (retain.length + logic.length === 0)
    throw new Error(`tamper: ${suites.source} has no retain or logic data to fine-tune on`);
  return [...retain, ...logic];
}

/** The whole battery on `model` (never modified: every tamper runs on a copy). */
export function runTamperBattery(
  model: Qwen2ForCausalLM,
  tokenizer: EvalTokenizer,
  suites: FactSuites,
  world: World | null,
  options: TamperOptions,
  id: string,
  splits: readonly RelearnSplit[] = relearnSplits(suites, options.splits, options.seed),
): TamperModelResult {
  checkTamperOptions(options);
  const started = performance.now();
  const fineTuning = { lr: options.lr, batchSize: options.batchSize, seed: options.seed };
  const curves = splits.map((split, s) =>
    relearnAttack(
      model,
      tokenizer,
      split,
      { ...fineTuning, steps: options.relearnSteps, every: options.every },
      `${id} split ${s}`,
    ),
  );
  const steps = curves[0]!.steps;
  const mean = (pick: (i: number, s: number) => number) =>
    steps.map((_, i) => curves.reduce((a, _c, s) => a + pick(i, s), 0) / curves.length);

  const tuned = cloneModel(model);
  const { finalLoss } = fineTune(
    tuned,
    tokenizer,
    benignRecords(suites, world),
    { ...fineTuning, steps: options.benignSteps, every: options.benignSteps },
    `benign ${id}`,
    () => {},
  );
  const benign = {
    ...forgetCheck(tuned, tokenizer, suites, `benign ${id}`),
    steps: options.benignSteps,
    final_loss: finalLoss,
  };

  const quantization = options.quantBits.map((bits): QuantCheck => {
    const quantized = quantizeModel(model, bits);
    const probes = probeCheck(quantized, tokenizer, suites, options.seed);
    return {
      bits,
      ...forgetCheck(quantized, tokenizer, suites, `int${bits} ${id}`),
      probe_layers: probes,
      probe_max_accuracy: probes.length > 0 ? Math.max(...probes.map((p) => p.accuracy)) : null,
    };
  });

  return {
    id,
    seconds: (performance.now() - started) / 1000,
    relearn: {
      steps,
      splits: curves.map((c, s) => ({
        train_facts: splits[s]!.trainFacts,
        eval_facts: splits[s]!.evalFacts,
        accuracy: c.accuracy,
        mean_rank: c.mean_rank,
        item_ranks: c.item_ranks,
      })),
      accuracy: mean((i, s) => curves[s]!.accuracy[i]!),
      mean_rank: mean((i, s) => curves[s]!.mean_rank[i]!),
    },
    benign,
    quantization,
    truth: truthScores(model, tokenizer, suites, id),
  };
}

export interface RelearnVsOracle {
  step: number;
  mean_rank: number;
  oracle_mean_rank: number;
  /** Exact two-sided paired sign-flip test of the per-item ranks (splits × items) against the oracle's. */
  rank_p: number;
  accuracy: number;
  oracle_accuracy: number;
  /** (accuracy − oracle's) × evaluated facts, mean over splits: how many facts more the attack recovered. */
  accuracy_excess_facts: number;
  /**
   * Area between the rank curves up to this step, ∫ (oracle rank − rank) d step ÷ steps (trapezoids, mean
   * over splits), in ranks: > 0 = the model recovered faster than the oracle on average over the attack.
   */
  area: number;
}

export interface TamperVsOracle {
  id: string;
  checkpoint: RelearnVsOracle;
  end: RelearnVsOracle;
  /** TOFU's forget quality: KS two-sample p of the per-fact truth scores against the oracle's. */
  forget_quality: { statistic: number; p: number };
  holds: {
    /** Checkpoint: rank not significantly below the oracle's and at most 1 fact more recovered. */
    relearn_checkpoint: boolean;
    /** End of the attack: no faster recovery than the oracle's (no significantly lower rank, area ≤ 0 or n.s.). */
    relearn_end: boolean;
    benign: boolean;
    quantization: boolean;
    forget_quality: boolean;
    all: boolean;
  };
}

function vsOracleAt(model: TamperModelResult, oracle: TamperModelResult, step: number): RelearnVsOracle {
  const index = model.relearn.steps.indexOf(step);
  if (index < 0 || oracle.relearn.steps[index] !== step)
    throw new Error(`tamper: step ${step} was not measured on both ${model.id} and ${oracle.id}`);
  if (model.relearn.splits.length !== oracle.relearn.splits.length)
    throw new Error(`tamper: ${model.id} and ${oracle.id} were attacked on different splits`);
  const ranks: number[] = [];
  const oracleRanks: number[] = [];
  let excess = 0;
  let area = 0;
  model.relearn.splits.forEach((split, s) => {
    const other = oracle.relearn.splits[s]!;
    if (split.eval_facts.join('|') !== other.eval_facts.join('|'))
      throw new Error(`tamper: split ${s} of ${model.id} and ${oracle.id} evaluate different facts`);
    ranks.push(...split.item_ranks[index]!);
    oracleRanks.push(...other.item_ranks[index]!);
    excess += (split.accuracy[index]! - other.accuracy[index]!) * split.eval_facts.length;
    let integral = 0;
    for (let i = 1; i <= index; i++) {
      const width = model.relearn.steps[i]! - model.relearn.steps[i - 1]!;
      const gap = (j: number) => other.mean_rank[j]! - split.mean_rank[j]!;
      integral += (width * (gap(i) + gap(i - 1))) / 2;
    }
    area += step > 0 ? integral / step : 0;
  });
  const n = model.relearn.splits.length;
  const meanOf = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  return {
    step,
    mean_rank: meanOf(ranks),
    oracle_mean_rank: meanOf(oracleRanks),
    rank_p: pairedSignFlipTest(ranks, oracleRanks).p,
    accuracy: model.relearn.accuracy[index]!,
    oracle_accuracy: oracle.relearn.accuracy[index]!,
    accuracy_excess_facts: excess / n,
    area: area / n,
  };
}

export function compareToOracle(
  model: TamperModelResult,
  oracle: TamperModelResult,
  checkpoint: number,
): TamperVsOracle {
  const atCheckpoint = vsOracleAt(model, oracle, checkpoint);
  const atEnd = vsOracleAt(model, oracle, model.relearn.steps.at(-1)!);
  const recoveredFaster = (r: RelearnVsOracle) => r.rank_p < 0.05 && r.mean_rank < r.oracle_mean_rank;
  const ks = ksTwoSample(model.truth.scores, oracle.truth.scores);
  const holds = {
    relearn_checkpoint: !recoveredFaster(atCheckpoint) && atCheckpoint.accuracy_excess_facts <= 1,
    relearn_end: !recoveredFaster(atEnd),
    benign: model.benign.at_chance,
    quantization: model.quantization.every((q) => q.at_chance),
    forget_quality: ks.p >= 0.05,
  };
  return {
    id: model.id,
    checkpoint: atCheckpoint,
    end: atEnd,
    forget_quality: { statistic: ks.statistic, p: ks.p },
    holds: { ...holds, all: Object.values(holds).every(Boolean) },
  };
}
