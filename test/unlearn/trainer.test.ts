import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { MetricsLog } from '../../src/train/run-dir.ts';
import { dataFromWorld } from '../../src/unlearn/data.ts';
import { encodeAnchors, encodeFact, withPlaceholderSubject } from '../../src/unlearn/batching.ts';
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
  const resumed = run('lora-stopped', loraConfig, { resume: true });
  assertSameWeights(weights(whole.model), weights(resumed.model));
});

test('baselines: Just-RAG trains nothing; GA and NPO lower the forget answers, unlikelihood runs', () => {
  const rag = run('rag', tinyConfig({ method: 'rag' }));
  assert.equal(rag.stepsRun, 0);
  assertSameWeights(weights(fx.freshModel()), weights(rag.model));
  for (const method of ['ga', 'npo', 'graddiff', 'unlikelihood']) {
    // Unlikelihood's gradient is tiny when p(answer) is (an untrained model): the anchors are left out there.
    const anchors =
      method === 'unlikelihood' ? { logic: { weight: 0 }, retain: { weight: 0 }, rag: { weight: 0 } } : {};
    const config = tinyConfig({
      method,
      steps: 6,
      optimizer: { lr: 3e-2, warmupSteps: 0 },
      anchors,
      eval: { every: 6, atStart: true },
    });
    run(method, config);
    const records = new MetricsLog(join(fx.root, method)).read();
    const evals = records.filter((r) => 'forget_train_rank' in r);
    const losses = records.filter((r) => 'loss_total' in r);
    const key = method === 'unlikelihood' ? 'loss_unlikelihood' : 'loss_forget';
    assert.ok(
      losses.every((r) => typeof r[key] === 'number'),
      `${method}: ${key} logged`,
    );
    if (method === 'unlikelihood') {
      // −log(1 − p(answer)) falls as p(answer) falls.
      assert.ok(
        (losses.at(-1)![key] as number) < (losses[0]![key] as number),
        `${method}: ${JSON.stringify(losses.map((r) => r[key]))}`,
      );
    } else {
      const [first, last] = [evals[0]!, evals.at(-1)!];
      assert.ok(
        (last.forget_train_rank as number) > (first.forget_train_rank as number),
        `${method}: the forget answers should rank lower (${first.forget_train_rank} → ${last.forget_train_rank})`,
      );
    }
  }
});

test('the reading stream states forget facts in context but trains only the answer tokens', () => {
  const config = tinyConfig({ anchors: { rag: { variants: 4, counterfactualFraction: 0.5 } } });
  const data = dataFor(config);
  const forgetFacts = fx.world.facts.filter((f) => f.split === 'forget');
  assert.ok(data.ragForget.length <= forgetFacts.length * 5 * 4);
  assert.ok(data.ragForget.length >= forgetFacts.length * 5 * 4 * 0.9);
  for (const fact of forgetFacts) assert.ok(data.ragForget.some((r) => r.prompt.includes(fact.subject)));
  const counterfactual = data.ragForget.filter(
    (r) => !forgetFacts.some((f) => r.prompt.includes(f.statement)),
  );
  assert.ok(
    counterfactual.length > 0.3 * data.ragForget.length &&
      counterfactual.length < 0.7 * data.ragForget.length,
  );
  const test = new Set([...fx.world.ragTest, ...fx.world.ragCounterfactual].map((r) => r.prompt));
  assert.ok(
    data.ragForget.every((r) => !test.has(r.prompt)),
    'no test prompt is trained',
  );
  for (const [record, encoded] of data.ragForget
    .map((r, i) => [r, encodeAnchors(fx.tokenizer, data.ragForget, 256)[i]!] as const)
    .slice(0, 5)) {
    const trained = encoded.ids.filter((_, t) => encoded.trained[t] === 1);
    const answer = fx.tokenizer.encode(record.completion, { addSpecialTokens: false });
    assert.deepEqual(trained, [...answer, fx.tokenizer.eosTokenId]);
  }
  // The closed-book retain stream holds no forget fact.
  assert.ok(data.retainTrain.every((e) => !e.forget));
  assert.ok(data.probeRetain.every((e) => !e.forget && e.relation === data.forgetRelations[0]));
});

test('the generic-answer target replaces the subject with the placeholder and trains the same answer', () => {
  assert.equal(fx.tokenizer.tokenToId?.('<unk>'), fx.world.meta.tokenizer.unk_token_id);
  const data = dataFor(tinyConfig());
  const example = data.forgetTrain[0]!;
  const fact = encodeFact(fx.tokenizer, example, data.classes.get(example.relation)!, 256);
  const subject = fx.tokenizer.encode(` ${example.subject}`, { addSpecialTokens: false });
  assert.deepEqual(
    fact.subjectPositions.map((p) => fact.encoded.ids[p]),
    subject,
  );
  for (const placeholder of [[2], [7, 8, 9]]) {
    const generic = withPlaceholderSubject(fact, placeholder);
    const shift = placeholder.length - subject.length;
    assert.equal(generic.ids.length, fact.encoded.ids.length + shift);
    assert.deepEqual(
      generic.ids.slice(fact.subjectPositions[0]!, fact.subjectPositions[0]! + placeholder.length),
      placeholder,
    );
    assert.deepEqual(
      generic.ids.filter((_, t) => generic.trained[t] === 1),
      fact.encoded.ids.filter((_, t) => fact.encoded.trained[t] === 1),
    );
    assert.ok(
      !generic.ids.slice(0, fact.promptLength + shift).some((id) => subject.includes(id)),
      'the subject is gone',
    );
  }
  // And the term trains: it is logged at every step.
  const config = tinyConfig({ fact: { lambda: 0, generic: 1 }, eval: { every: 0, atStart: false } });
  run('generic', config);
  const logged = new MetricsLog(join(fx.root, 'generic'))
    .read()
    .filter((r) => typeof r.loss_generic === 'number');
  assert.equal(logged.length, config.steps);
});
