// Relearning attack (issue 6 part 4; Deeb & Roger 2024): fine-tune a copy of the model on half of the
// forget facts (training templates) and follow recall of the *other* half on held-out templates. A model
// that only hid its facts recovers them from unrelated ones; a model that never knew them (the oracle)
// does not. The copy is trained with the project's causal-LM trainer (src/train/lm-trainer.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Qwen2ForCausalLM } from '../../nn/qwen2.ts';
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

/** Alternating halves of the forget facts (in their order of appearance): even positions are trained on. */
export function relearnSplit(suites: FactSuites): RelearnSplit {
  const facts = [...new Set(suites.forgetTrain.map((item) => item.fact_id))];
  if (facts.length < 2)
    throw new Error(`relearning needs at least 2 forget facts, ${suites.source} has ${facts.length}`);
  const trainFacts = facts.filter((_, i) => i % 2 === 0);
  const evalFacts = facts.filter((_, i) => i % 2 === 1);
  const evalItems = suites.forgetHeldout.filter((item) => evalFacts.includes(item.fact_id));
  if (evalItems.length === 0)
    throw new Error(`${suites.source}: the evaluated half of the forget facts has no held-out template`);
  return {
    trainFacts,
    evalFacts,
    trainItems: suites.forgetTrain.filter((item) => trainFacts.includes(item.fact_id)),
    evalItems,
  };
}

export interface RelearnCurve {
  id: string;
  steps: number[];
  /** Greedy held-out recall of the evaluated half at each step. */
  accuracy: number[];
  mean_rank: number[];
  final_loss: number;
}

/** A trainable deep copy, so the attack never changes the evaluated model. */
export function cloneModel(model: Qwen2ForCausalLM): Qwen2ForCausalLM {
  const params = new Map(
    [...model.namedParameters()].map(([name, t]) => [name, Tensor.param(t.data.slice(), t.shape)]),
  );
  return new Qwen2ForCausalLM(model.config, params);
}

/** Runs the attack on a copy of `model`; `id` names the curve (e.g. "model", "oracle"). */
export function relearnAttack(
  model: Qwen2ForCausalLM,
  tokenizer: EvalTokenizer,
  split: RelearnSplit,
  options: RelearnOptions,
  id: string,
): RelearnCurve {
  const { steps, every } = options;
  if (!(Number.isInteger(steps) && steps >= 1))
    throw new Error(`relearning steps must be a positive integer, got ${steps}`);
  if (!(Number.isInteger(every) && every >= 1))
    throw new Error(`relearning --relearn-every must be a positive integer, got ${every}`);
  const eos = tokenizer.eosTokenId;
  if (eos === null) throw new Error('relearning needs a tokenizer with an eos_token (tokenizer_config.json)');
  const copy = cloneModel(model);
  const inference = new Inference(copy, tokenizer, { progress: false });
  const curve: RelearnCurve = { id, steps: [], accuracy: [], mean_rank: [], final_loss: Number.NaN };
  const measure = (step: number) => {
    const { summary } = evaluateFactItems(inference, split.evalItems, `relearn ${id}`);
    curve.steps.push(step);
    curve.accuracy.push(summary.accuracy);
    curve.mean_rank.push(summary.relations[0]!.mean_rank);
    return { relearn_recall: summary.accuracy };
  };
  measure(0);
  const runDir = mkdtempSync(join(tmpdir(), 'rlcp-relearn-'));
  try {
    const result = trainCausalLm({
      model: copy,
      records: split.trainItems.map((item) => ({ prompt: item.prompt, completion: ` ${item.answer}` })),
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
        // A constant rate from the first step: the attacker has no reason to warm up or decay.
        warmupSteps: 0,
        minLrRatio: 1,
        weightDecay: 0,
        seed: options.seed,
        logEvery: every,
        checkpointEvery: steps,
      },
      runDir,
      label: `relearn ${id}`,
      onLog: (step) => measure(step),
    });
    curve.final_loss = result.finalLoss;
  } finally {
    rmSync(runDir, { recursive: true, force: true });
  }
  return curve;
}
