import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Qwen2ForCausalLM } from '../../src/nn/qwen2.ts';
import {
  DEFAULT_LM_TRAIN_CONFIG,
  meanTrainedTokens,
  tokenWeightedLoss,
  trainCausalLm,
  type LmTrainConfig,
} from '../../src/train/lm-trainer.ts';
import { MetricsLog } from '../../src/train/run-dir.ts';
import {
  collate,
  encodeRecord,
  type EncodedExample,
  type TextEncoder,
  type TrainRecord,
} from '../../src/train/batches.ts';
import { tinyConfig } from '../nn/helpers.ts';

const tokenizer: TextEncoder = {
  encode: (text) => [...text].map((c) => 3 + (c.charCodeAt(0) % 50)),
  eosTokenId: 2,
  padTokenId: 0,
};
const records: TrainRecord[] = Array.from({ length: 24 }, (_, i) =>
  i % 2 === 0 ? { prompt: `q${i}:`, completion: ` a${i % 5}` } : { text: `text ${i} ${'x'.repeat(i % 7)}` },
);
const config: LmTrainConfig = {
  ...DEFAULT_LM_TRAIN_CONFIG,
  steps: 6,
  batchSize: 4,
  lr: 5e-3,
  warmupSteps: 2,
  checkpointEvery: 3,
  logEvery: 1,
  seed: 7,
};
const freshModel = () => Qwen2ForCausalLM.initRandom(tinyConfig(), 11);

function weights(model: Qwen2ForCausalLM): Float32Array[] {
  return [...model.namedParameters().values()].map((t) => Float32Array.from(t.data));
}

test('training lowers the loss and a run killed after a checkpoint resumes exactly', () => {
  const root = mkdtempSync(join(tmpdir(), 'rlcp-trainer-'));
  try {
    const whole = trainCausalLm({
      model: freshModel(),
      records,
      tokenizer,
      config,
      runDir: join(root, 'whole'),
    });
    const losses = new MetricsLog(join(root, 'whole')).read().map((r) => r.loss as number);
    assert.equal(losses.length, 6);
    assert.ok(losses[5]! < losses[0]!, `loss should fall: ${losses.join(', ')}`);

    const killedDir = join(root, 'killed');
    assert.throws(
      () =>
        trainCausalLm({
          model: freshModel(),
          records,
          tokenizer,
          config,
          runDir: killedDir,
          onLog: (step) => {
            if (step === 4) throw new Error('simulated kill');
            return {};
          },
        }),
      /simulated kill/,
    );
    const resumed = trainCausalLm({
      model: freshModel(),
      records,
      tokenizer,
      config,
      runDir: killedDir,
      resume: true,
    });
    assert.equal(resumed.stepsRun, 3);
    const expected = weights(whole.model);
    weights(resumed.model).forEach((w, i) => assert.deepEqual(w, expected[i]));
    const resumedLosses = new MetricsLog(killedDir).read().map((r) => r.loss as number);
    assert.deepEqual(resumedLosses, losses);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('supervised training teaches the completion right after the prompt (label alignment)', () => {
  const root = mkdtempSync(join(tmpdir(), 'rlcp-trainer-'));
  try {
    const pairs: TrainRecord[] = ['ab', 'cd', 'ef', 'gh'].map((p, i) => ({
      prompt: p,
      completion: 'wxyz'[i]!,
    }));
    const { model } = trainCausalLm({
      model: freshModel(),
      records: pairs,
      tokenizer,
      config: { ...config, steps: 60, lr: 1e-2, warmupSteps: 5, checkpointEvery: 1000, logEvery: 1000 },
      runDir: root,
    });
    for (const pair of pairs as { prompt: string; completion: string }[]) {
      const ids = Int32Array.from(tokenizer.encode(pair.prompt));
      const logits = model.forward(ids, { batch: 1, seq: ids.length, logits: 'last' }).logits!.data;
      const predicted = logits.indexOf(Math.max(...logits));
      assert.equal(predicted, tokenizer.encode(pair.completion)[0], `after "${pair.prompt}"`);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('every trained token weighs the same whichever batch it lands in (token-weighted objective)', () => {
  const long = encodeRecord(tokenizer, { prompt: 'q:', completion: ' a long completion here' }, 64);
  const short = encodeRecord(tokenizer, { prompt: 'a much longer prompt:', completion: ' b' }, 64);
  const tokensPerBatch = 2 * meanTrainedTokens([long, short]);
  /** Gradient of the trainer's objective over one batch, accumulated into `into`. */
  const accumulate = (model: Qwen2ForCausalLM, examples: EncodedExample[], into: Float32Array[]) => {
    const batch = collate(examples, tokenizer.padTokenId);
    const { loss } = model.forward(batch.ids, {
      batch: batch.batch,
      seq: batch.seq,
      attentionMask: batch.attentionMask,
      labels: batch.labels,
    });
    tokenWeightedLoss(loss!, batch.trainedTokens, tokensPerBatch).backward();
    [...model.namedParameters().values()].forEach((p, i) => {
      for (let j = 0; j < p.size; j++) into[i]![j]! += p.grad![j]!;
      p.grad = null;
    });
  };
  const model = freshModel();
  const zeros = () => [...model.namedParameters().values()].map((p) => new Float32Array(p.size));
  const together = zeros();
  accumulate(model, [long, short], together);
  const apart = zeros();
  accumulate(model, [long], apart);
  accumulate(model, [short], apart);
  // Together: (sum_long + sum_short) / T; apart: sum_long / T + sum_short / T — the same objective.
  together.forEach((g, i) => {
    for (let j = 0; j < g.length; j++) {
      assert.ok(Math.abs(g[j]! - apart[i]![j]!) <= 1e-5 + 1e-3 * Math.abs(g[j]!), `param ${i}[${j}]`);
    }
  });
});

test('--length-group 0 draws uniform batches (a different run than grouped) and rejects a negative value', () => {
  const root = mkdtempSync(join(tmpdir(), 'rlcp-trainer-'));
  try {
    const run = (lengthGroupBatches: number, dir: string) =>
      trainCausalLm({
        model: freshModel(),
        records,
        tokenizer,
        config: { ...config, steps: 2, lengthGroupBatches },
        runDir: join(root, dir),
      });
    const grouped = weights(run(16, 'grouped').model);
    const uniform = weights(run(0, 'uniform').model);
    assert.ok(
      uniform.some((w, i) => w.some((v, j) => v !== grouped[i]![j])),
      'the batches should differ',
    );
    assert.deepEqual(weights(run(0, 'again').model), uniform, 'uniform batches are seeded too');
    assert.throws(
      () => run(-1, 'negative'),
      /length grouping \(--length-group\) must be a whole number of batches ≥ 0, got -1/,
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
