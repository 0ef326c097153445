// Relearning attack (issue 6 part 4; Deeb & Roger 2024): fine-tune a copy of the model on half of the
// forget facts (training templates) and follow recall of the *other* half on held-out templates. A model
// that only hid its facts recovers them from unrelated ones; a model that never knew them (the oracle)
// does not. The copy is trained with the project's causal-LM trainer (src/train/lm-trainer.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Qwen2ForCausalLM } from '../../nn/qwen2.ts';
import { Rng } from '../../data/rng.ts';
import { Tensor } from '../../tensor/tensor.ts';
import { DEFAULT_LM_TRAIN_CONFIG, trainCausalLm } from '../../train/lm-trainer.ts';
import { Inference, type EvalTokenizer } from './inference.ts';
import type { FactItem, FactSuites } from './items.ts';
import { evaluateFactItems } from './recall.ts';

export interface RelearnOptions {
  /** Fine-tuning steps (default 30). */
  steps: number;
  /** Recall is measured at step 0 and every this many steps (default 5), and at the last step. */
  every: number;
  /** Constant learning rate of AdamW (default 3e-4). */
  lr: number;
  /** Records per step (default 8). */
  batchSize: number;
  seed: number;
}

export const DEFAULT_RELEARN_OPTIONS: RelearnOptions = {
  steps: 30,
  every: 5,
  lr: 3e-4,
  batchSize: 8,
  seed: 0,
};

export interface RelearnSplit {
  /** Facts fine-tuned on (training templates). */
  trainFacts: string[];
  /** Facts whose held-out templates are measured. */
  evalFacts: string[];
  trainItems: FactItem[];
  evalItems: FactItem[];
}

/**
 * The split that fine-tunes on `trainFacts` and measures `evalFacts`. Refused: a fact in both halves (the
 * attack would measure what it trained on), an empty half, or a fact that is not a forget fact.
 */
export function makeRelearnSplit(
  suites: FactSuites,
  trainFacts: readonly string[],
  evalFacts: readonly string[],
): RelearnSplit {
  const known = new Set(suites.forgetTrain.map((item) => item.fact_id));
  if (trainFacts.length === 0 || evalFacts.length === 0)
    throw new Error(
      `relearning split: ${trainFacts.length} facts to train on and ${evalFacts.length} to evaluate; both halves need facts`,
    );
  for (const [half, list] of [
    ['trained', trainFacts],
    ['evaluated', evalFacts],
  ] as const) {
    const unknown = list.filter((f) => !known.has(f));
    if (unknown.length > 0)
      throw new Error(
        `relearning split: ${half} fact(s) ${unknown.join(', ')} are not forget facts of ${suites.source}`,
      );
    if (new Set(list).size !== list.length)
      throw new Error(`relearning split: the ${half} half lists a fact twice`);
  }
  const both = trainFacts.filter((f) => evalFacts.includes(f));
  if (both.length > 0)
    throw new Error(
      `relearning split: fact(s) ${both.join(', ')} are in both the trained and the evaluated half`,
    );
  const evalItems = suites.forgetHeldout.filter((item) => evalFacts.includes(item.fact_id));
  if (evalItems.length === 0)
    throw new Error(`${suites.source}: the evaluated half of the forget facts has no held-out template`);
  return {
    trainFacts: [...trainFacts],
    evalFacts: [...evalFacts],
    trainItems: suites.forgetTrain.filter((item) => trainFacts.includes(item.fact_id)),
    evalItems,
  };
}

function forgetFactIds(suites: FactSuites): string[] {
  const facts = [...new Set(suites.forgetTrain.map((item) => item.fact_id))];
  if (facts.length < 2)
    throw new Error(`relearning needs at least 2 forget facts, ${suites.source} has ${facts.length}`);
  return facts;
}

/** Alternating halves of the forget facts (in their order of appearance): even positions are trained on. */
export function relearnSplit(suites: FactSuites): RelearnSplit {
  const facts = forgetFactIds(suites);
  return makeRelearnSplit(
    suites,
    facts.filter((_, i) => i % 2 === 0),
    facts.filter((_, i) => i % 2 === 1),
  );
}

/**
 * `count` different splits: the alternating one first, then seeded shuffles cut into the same half sizes
 * (a shuffle that repeats an earlier split is drawn again), so every fact is measured in some split.
 */
export function relearnSplits(suites: FactSuites, count: number, seed: number): RelearnSplit[] {
  if (!(Number.isInteger(count) && count >= 1))
    throw new Error(`relearning splits must be a positive integer, got ${count}`);
  const facts = forgetFactIds(suites);
  const first = relearnSplit(suites);
  const splits = [first];
  const seen = new Set([[...first.evalFacts].sort().join('|')]);
  const rng = new Rng(seed);
  for (let tries = 0; splits.length < count; tries++) {
    if (tries > 1000)
      throw new Error(`${suites.source}: ${facts.length} forget facts do not make ${count} different splits`);
    const order = rng.shuffle(facts);
    const trainFacts = order.slice(0, first.trainFacts.length);
    const evalFacts = order.slice(first.trainFacts.length);
    const key = [...evalFacts].sort().join('|');
    if (seen.has(key)) continue;
    seen.add(key);
    // Keep the facts' order of appearance inside each half, as the alternating split does.
    splits.push(
      makeRelearnSplit(
        suites,
        facts.filter((f) => trainFacts.includes(f)),
        facts.filter((f) => evalFacts.includes(f)),
      ),
    );
  }
  return splits;
}

export interface RelearnCurve {
  id: string;
  steps: number[];
  /** Greedy held-out recall of the evaluated half at each step. */
  accuracy: number[];
  mean_rank: number[];
  /** Rank of every evaluated item (split.evalItems order) at each measured step, for paired tests. */
  item_ranks: number[][];
  final_loss: number;
}

/** A trainable deep copy, so the attack never changes the evaluated model. */
export function cloneModel(model: Qwen2ForCausalLM): Qwen2ForCausalLM {
  const params = new Map(
    [...model.namedParameters()].map(([name, t]) => [name, Tensor.param(t.data.slice(), t.shape)]),
  );
  const copy = new Qwen2ForCausalLM(model.config, params);
  // Erasers (LEACE) are part of the model: an attacker fine-tunes the weights around them.
  copy.setErasers(model.residualErasers());
  return copy;
}

export interface FineTuneOptions {
  steps: number;
  lr: number;
  batchSize: number;
  seed: number;
  /** onLog is called every this many steps and at the last one. */
  every: number;
}

/**
 * Fine-tunes `model` in place on prompt/completion `records` with AdamW at a constant rate (an attacker
 * or a downstream user has no reason to warm up or decay), calling `onLog(step)` every `every` steps.
 */
export function fineTune(
  model: Qwen2ForCausalLM,
  tokenizer: EvalTokenizer,
  records: readonly { prompt: string; completion: string }[],
  options: FineTuneOptions,
  label: string,
  onLog: (step: number) => void,
): { finalLoss: number } {
  const { steps, every } = options;
  if (!(Number.isInteger(steps) && steps >= 1))
    throw new Error(`${label}: steps must be a positive integer, got ${steps}`);
  if (!(Number.isInteger(every) && every >= 1))
    throw new Error(`${label}: the measuring interval must be a positive integer, got ${every}`);
  const eos = tokenizer.eosTokenId;
  if (eos === null) throw new Error(`${label} needs a tokenizer with an eos_token (tokenizer_config.json)`);
  const runDir = mkdtempSync(join(tmpdir(), 'rlcp-finetune-'));
  try {
    const result = trainCausalLm({
      model,
      records,
      tokenizer: {
        encode: (text, o) => tokenizer.encode(text, o),
        eosTokenId: eos,
        padTokenId: tokenizer.padTokenId ?? eos,
      },
      config: {
        ...DEFAULT_LM_TRAIN_CONFIG,
        steps,
        batchSize: options.batchSize,
        lr: options.lr,
        warmupSteps: 0,
        minLrRatio: 1,
        weightDecay: 0,
        seed: options.seed,
        logEvery: every,
        checkpointEvery: steps,
      },
      runDir,
      label,
      onLog: (step) => {
        onLog(step);
        return {};
      },
    });
    return { finalLoss: result.finalLoss };
  } finally {
    rmSync(runDir, { recursive: true, force: true });
  }
}

/**
 * Runs the attack on a copy of `model`; `id` names the curve (e.g. "model", "oracle"). The rate is
 * constant, so the first k steps of a longer attack are exactly a k-step attack.
 */
export function relearnAttack(
  model: Qwen2ForCausalLM,
  tokenizer: EvalTokenizer,
  split: RelearnSplit,
  options: RelearnOptions,
  id: string,
): RelearnCurve {
  const copy = cloneModel(model);
  const inference = new Inference(copy, tokenizer, { progress: false });
  const curve: RelearnCurve = {
    id,
    steps: [],
    accuracy: [],
    mean_rank: [],
    item_ranks: [],
    final_loss: Number.NaN,
  };
  const measure = (step: number) => {
    const { items, summary } = evaluateFactItems(inference, split.evalItems, `relearn ${id}`);
    curve.steps.push(step);
    curve.accuracy.push(summary.accuracy);
    curve.mean_rank.push(summary.relations[0]!.mean_rank);
    curve.item_ranks.push(items.map((item) => item.rank));
  };
  // Refused before any work: an attack of zero steps would report the untouched model as robust.
  if (!(Number.isInteger(options.steps) && options.steps >= 1))
    throw new Error(`relearning steps must be a positive integer, got ${options.steps}`);
  measure(0);
  const records = split.trainItems.map((item) => ({ prompt: item.prompt, completion: ` ${item.answer}` }));
  curve.final_loss = fineTune(copy, tokenizer, records, options, `relearn ${id}`, measure).finalLoss;
  return curve;
}
