import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { MetricsLog } from '../../src/train/run-dir.ts';
import { dataFromWorld } from '../../src/unlearn/data.ts';
import { metabolize } from '../../src/unlearn/trainer.ts';
import type { UnlearnConfig } from '../../src/unlearn/config.ts';
import { tinyConfig, tinyFixture, weights } from './helpers.ts';

const fx = await tinyFixture();
after(() => rmSync(fx.root, { recursive: true, force: true }));

function dataFor(config: UnlearnConfig) {
  return dataFromWorld(fx.world, {
    ragVariants: config.anchors.rag.variants,
    ragCounterfactual: config.anchors.rag.counterfactualFraction,
    seed: config.seed,
  });
}

function run(name: string, config: UnlearnConfig, extra: { resume?: boolean; stopAfterStep?: number } = {}) {
  return metabolize({
    model: fx.freshModel(),
    tokenizer: fx.tokenizer,
    data: dataFor(config),
    config,
    runDir: join(fx.root, name),
    progress: false,
    ...extra,
  });
}

function assertSameWeights(a: Map<string, Float32Array>, b: Map<string, Float32Array>) {
  assert.deepEqual([...a.keys()], [...b.keys()]);
  for (const [name, w] of a) assert.deepEqual(b.get(name), w, name);
}

test('RLCP writes every metric, changes the model, and a run stopped at a checkpoint resumes exactly', () => {
  const config = tinyConfig();
  const whole = run('whole', config);
  assert.equal(whole.stepsRun, 4);
  const records = new MetricsLog(join(fx.root, 'whole')).read();
  const evals = records.filter((r) => 'forget_recall_heldout' in r);
  assert.deepEqual(
    evals.map((r) => r.step),
    [0, 2, 4],
  );
  const last = evals.at(-1)!;
  for (const key of [
    'step',
    'lambda',
    'loss_adversary',
    'loss_probe',
    'loss_logic_lm',
    'loss_logic_kl',
    'loss_retain_lm',
    'loss_rag_lm',
    'loss_total',
    'probe_accuracy',
    'forget_recall_heldout',
    'forget_rank_heldout',
    'retain_recall',
    'rag_accuracy',
    'logic_accuracy',
    'kl',
    'grad_norm',
  ]) {
    assert.equal(typeof last[key], 'number', `${key} missing from ${JSON.stringify(last)}`);
  }
  const start = weights(fx.freshModel());
  const end = weights(whole.model);
  assert.ok(
    [...end].some(([k, w]) => w.some((v, i) => v !== start.get(k)![i])),
    'training should change weights',
  );

  const stopped = run('stopped', config, { stopAfterStep: 3 });
  assert.equal(stopped.lastStep, 3);
  const resumed = run('stopped', config, { resume: true });
  assert.equal(resumed.stepsRun, 1);
  assertSameWeights(weights(whole.model), weights(resumed.model));
  const strip = (rs: Record<string, unknown>[]) => rs.map((r) => JSON.stringify(r));
  assert.deepEqual(strip(new MetricsLog(join(fx.root, 'stopped')).read()), strip(records));
});

test('precomputed and per-step reference logits train the same model', () => {
  const a = run(
    'ref-pre',
    tinyConfig({ anchors: { reference: 'precompute' }, eval: { every: 0, atStart: false } }),
  );
  const b = run(
    'ref-step',
    tinyConfig({ anchors: { reference: 'per-step' }, eval: { every: 0, atStart: false } }),
  );
  assert.equal(a.referenceMode, 'precompute');
  assert.equal(b.referenceMode, 'per-step');
  const wa = weights(a.model);
  for (const [name, w] of weights(b.model)) {
    const other = wa.get(name)!;
    let diff = 0;
    for (let i = 0; i < w.length; i++) diff = Math.max(diff, Math.abs(w[i]! - other[i]!));
    assert.ok(diff < 1e-5, `${name}: ${diff}`);
  }
});

test('a layer range trains only those layers; LoRA leaves the base tensors alone and resumes exactly', () => {
  const layered = run(
    'layers',
    tinyConfig({ params: { mode: 'layers', layers: [1, 1] }, eval: { every: 0, atStart: false } }),
  );
  const start = weights(fx.freshModel());
  for (const [name, w] of weights(layered.model)) {
    const changed = w.some((v, i) => v !== start.get(name)![i]);
    assert.equal(changed, name.startsWith('model.layers.1.'), name);
  }
  const loraConfig = tinyConfig({
    params: { mode: 'lora', loraRank: 2, layers: [1, 2] },
    eval: { every: 0, atStart: false },
  });
  const whole = run('lora', loraConfig);
  for (const [name, w] of weights(whole.model)) {
    const changed = w.some((v, i) => v !== start.get(name)![i]);
    const adapted = /^model\.layers\.[12]\.(self_attn|mlp)\.[a-z_]+_proj\.weight$/.test(name);
    assert.equal(changed, adapted, name);
  }
  run('lora-stopped', loraConfig, { stopAfterStep: 2 });
  // The base never changes under LoRA, so a checkpoint holds the adapters and optimizer, not the model.
  const checkpoint = join(fx.root, 'lora-stopped', 'checkpoints', 'step-0000002');
  assert.ok(existsSync(join(checkpoint, 'tensors.safetensors')));
  assert.ok(!existsSync(join(checkpoint, 'model')));
  const resumed = run('lora-stopped', loraConfig, { resume: true });
  assertSameWeights(weights(whole.model), weights(resumed.model));
});
