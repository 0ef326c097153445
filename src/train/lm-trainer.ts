// The plain causal-LM trainer behind `rlcp train` and `rlcp pretrain` (and the relearning attack):
// seeded batches, optax-style optimizer, progress bar, metrics.jsonl, atomic checkpoints, exact resume.
import { join } from 'node:path';
import { ProgressBar } from '../cli/progress.ts';
import type { Qwen2ForCausalLM } from '../nn/qwen2.ts';
import {
  chain,
  clipByGlobalNorm,
  adamw,
  scaleByLearningRate,
  warmupCosineSchedule,
} from '../tensor/optim.ts';
import {
  collate,
  encodeRecord,
  EpochSampler,
  type EncodedExample,
  type TextEncoder,
  type TrainRecord,
} from './batches.ts';
import { hasCheckpoint, loadCheckpoint, saveCheckpoint } from './checkpoint.ts';
import { scale } from '../tensor/ops/elementwise.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { MetricsLog } from './run-dir.ts';
import type { SamplerState } from './batches.ts';

export interface LmTrainConfig {
  steps: number;
  batchSize: number;
  lr: number;
  warmupSteps: number;
  /** The cosine schedule decays to lr × minLrRatio. */
  minLrRatio: number;
  weightDecay: number;
  clipNorm: number;
  maxLength: number;
  /**
   * Length grouping: each batch is cut from a window of this many batches sorted by length (less padding);
   * 0 (the default) draws batches uniformly. Grouping makes batches homogeneous — in a mixed data set, one
   * source per batch — which slowed every skill of the world model (scripts/experiments/reading/README.md).
   */
  lengthGroupBatches: number;
  seed: number;
  checkpointEvery: number;
  logEvery: number;
}

export const DEFAULT_LM_TRAIN_CONFIG: LmTrainConfig = {
  steps: 1000,
  batchSize: 16,
  lr: 1e-3,
  warmupSteps: 50,
  minLrRatio: 0.1,
  weightDecay: 0.01,
  clipNorm: 1.0,
  maxLength: 256,
  lengthGroupBatches: 0,
  seed: 0,
  checkpointEvery: 200,
  logEvery: 10,
};

interface TrainerState {
  sampler: SamplerState;
  optimizerStep: number;
}

export interface TrainResult {
  model: Qwen2ForCausalLM;
  finalLoss: number;
  stepsRun: number;
}

/**
 * Trains `model` on `records` for `config.steps` steps, writing metrics and checkpoints into `runDir`.
 * With `resume`, the model, optimizer and sampler come from the newest checkpoint in `runDir` and
 * the run continues exactly where it stopped (same batches, same updates).
 */
export function trainCausalLm(options: {
  model: Qwen2ForCausalLM;
  records: readonly TrainRecord[];
  tokenizer: TextEncoder;
  config: LmTrainConfig;
  runDir: string;
  resume?: boolean;
  label?: string;
  /** Tokenizer files copied into every checkpoint's model folder. */
  tokenizerDir?: string;
  /** Called after every checkpoint-worthy step for extra evaluation (e.g. recall); merged into metrics. */
  onLog?: (step: number, model: Qwen2ForCausalLM) => Record<string, number>;
}): TrainResult {
  const { tokenizer, config, runDir } = options;
  if (!Number.isInteger(config.lengthGroupBatches) || config.lengthGroupBatches < 0) {
    throw new Error(
      `length grouping (--length-group) must be a whole number of batches ≥ 0, got ${config.lengthGroupBatches}`,
    );
  }
  const examples: EncodedExample[] = options.records.map((r) => encodeRecord(tokenizer, r, config.maxLength));
  const sampler = new EpochSampler(
    examples.length,
    config.seed,
    config.lengthGroupBatches > 0
      ? {
          lengths: examples.map((e) => e.ids.length),
          batchSize: config.batchSize,
          groupBatches: config.lengthGroupBatches,
        }
      : undefined,
  );
  const tokensPerBatch = config.batchSize * meanTrainedTokens(examples);
  const schedule = warmupCosineSchedule({
    peak: config.lr,
    warmupSteps: Math.min(config.warmupSteps, config.steps),
    totalSteps: config.steps,
    end: config.lr * config.minLrRatio,
  });
  const optimizer = chain(
    clipByGlobalNorm(config.clipNorm),
    adamw({ weightDecay: config.weightDecay }),
    scaleByLearningRate(schedule),
  );
  const metrics = new MetricsLog(runDir);
  let model = options.model;
  let startStep = 0;
  if (options.resume && hasCheckpoint(runDir)) {
    const checkpoint = loadCheckpoint<TrainerState>(runDir);
    if (!checkpoint.model)
      throw new Error(`${runDir}: the checkpoint of step ${checkpoint.step} has no model`);
    model = checkpoint.model;
    startStep = checkpoint.step;
    sampler.setState(checkpoint.state.sampler);
    optimizer.loadState({ step: checkpoint.state.optimizerStep, tensors: checkpoint.tensors });
    metrics.truncateAfter(startStep);
  }
  const params = model.trainableParameters();
  const progress = new ProgressBar({ label: options.label ?? 'train', total: config.steps, unit: 'tok' });
  progress.tick(startStep);
  let lossSum = 0;
  let lossCount = 0;
  let finalLoss = Number.NaN;
  for (let step = startStep + 1; step <= config.steps; step++) {
    const batch = collate(
      sampler.next(config.batchSize).map((i) => examples[i]!),
      tokenizer.padTokenId,
    );
    const { loss } = model.forward(batch.ids, {
      batch: batch.batch,
      seq: batch.seq,
      attentionMask: batch.attentionMask,
      labels: batch.labels,
    });
    const lossValue = loss!.item();
    if (!Number.isFinite(lossValue)) {
      throw new Error(
        `loss became ${lossValue} at step ${step}; the last checkpoint in ${join(runDir, 'checkpoints')} is intact (try a lower --lr)`,
      );
    }
    tokenWeightedLoss(loss!, batch.trainedTokens, tokensPerBatch).backward({ releaseActivations: true });
    const update = optimizer.step(params);
    lossSum += lossValue;
    lossCount++;
    finalLoss = lossValue;
    progress.tick(1, batch.trainedTokens, { loss: lossValue, lr: schedule(step - 1) });
    if (step % config.logEvery === 0 || step === config.steps) {
      const extra = options.onLog?.(step, model) ?? {};
      metrics.append({
        step,
        loss: lossSum / lossCount,
        lr: schedule(step - 1),
        grad_norm: update.gradNorm,
        ...extra,
      });
      lossSum = 0;
      lossCount = 0;
    }
    if (step % config.checkpointEvery === 0 || step === config.steps) {
      const saved = optimizer.state();
      const tensors = new Map(
        [...saved.tensors].map(([name, data]) => [name, { data, shape: [data.length] }]),
      );
      saveCheckpoint<TrainerState>(runDir, step, {
        model,
        tensors,
        state: { sampler: sampler.getState(), optimizerStep: saved.step },
        tokenizerDir: options.tokenizerDir,
      });
    }
  }
  progress.finish();
  return { model, finalLoss, stepsRun: config.steps - startStep };
}

/** Mean number of trained (labelled) tokens per example. */
export function meanTrainedTokens(examples: readonly EncodedExample[]): number {
  let total = 0;
  for (const e of examples) for (const t of e.trained) total += t;
  return total / Math.max(1, examples.length);
}

/**
 * The objective a batch contributes: its mean token loss scaled by its trained tokens over the dataset's
 * average per batch, i.e. (sum of token losses) / constant, so every trained token weighs the same
 * whichever batch it lands in. A plain per-batch mean gives a token in a batch of short completions
 * (length grouping makes such batches) several times the weight of one among long completions: trained
 * that way, the world model put 79 % on the 30 % direct-answer style's first token and 20 % on the 70 %
 * chain-of-thought one. The logged loss stays the per-token mean.
 */
export function tokenWeightedLoss(meanLoss: Tensor, trainedTokens: number, tokensPerBatch: number): Tensor {
  return scale(meanLoss, trainedTokens / tokensPerBatch);
}
