import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Qwen2ForCausalLM } from '../../../src/nn/qwen2.ts';
import { MetricsLog } from '../../../src/train/run-dir.ts';
import { resolveConfig } from '../../../src/unlearn/config.ts';
import { collateRows, encodeAnchors } from '../../../src/unlearn/batching.ts';
import { dataFromWorld, type UnlearnData } from '../../../src/unlearn/data.ts';
import { klDiv } from '../../../src/tensor/ops.ts';
import { Tensor } from '../../../src/tensor/tensor.ts';
import {
  interpolateRowsTowardInit,
  interpolateTowardInit,
  loadLogicTeacher,
  noisedPredicate,
  subjectKlRowMask,
  subjectTokenIds,
} from '../../../src/unlearn/methods/regen.ts';
import { metabolize } from '../../../src/unlearn/trainer.ts';
import { tinyConfig, tinyFixture, weights } from '../helpers.ts';

const fx = await tinyFixture();
after(() => rmSync(fx.root, { recursive: true, force: true }));

test('the interpolation toward a fresh init is the model at α = 0, the init at α = 1, linear between', () => {
  const start = weights(fx.freshModel());
  const init = weights(Qwen2ForCausalLM.initRandom(fx.freshModel().config, 77));
  const at = (alpha: number) => {
    const model = fx.freshModel();
    interpolateTowardInit(model, alpha, 77);
    return weights(model);
  };
  assert.deepEqual(at(0), start);
  assert.deepEqual(at(1), init);
  for (const [name, w] of at(0.3)) {
    const a = start.get(name)!;
    const b = init.get(name)!;
    w.forEach((v, i) => assert.ok(Math.abs(v - (0.7 * a[i]! + 0.3 * b[i]!)) <= 1e-6, name));
  }
  assert.throws(() => interpolateTowardInit(fx.freshModel(), 1.5, 0), /regen\.alpha must be in \[0, 1\]/);
});

test('regen noises every weight and keeps the unnoised starting model as the teacher', () => {
  const data = dataFromWorld(fx.world, { ragVariants: 1, ragCounterfactual: 1, seed: 0 });
  const run = (name: string, alpha: number, mode: 'all' | 'lora' = 'all') => {
    const config = tinyConfig({
      method: 'regen',
      steps: 3,
      regen: { alpha },
      params: { mode },
      optimizer: { lr: 1e-2, warmupSteps: 0 },
      eval: { every: 0, atStart: false },
    });
    const model = fx.freshModel();
    const runDir = join(fx.root, name);
    const result = metabolize({ model, tokenizer: fx.tokenizer, data, config, runDir, progress: false });
    const records = new MetricsLog(runDir).read();
    return { result, records, firstKl: Number(records.find((r) => 'loss_retain_kl' in r)!.loss_retain_kl) };
  };
  const before = weights(fx.freshModel());
  const noised = run('regen', 0.5);
  for (const [name, w] of weights(noised.result.model))
    assert.ok(
      w.some((v, i) => v !== before.get(name)![i]),
      `${name} changed`,
    );
  assert.ok(!noised.records.some((r) => 'loss_adversary' in r || 'loss_generic' in r), 'no forget term');
  // The first step's KL is measured before any update: 0 when nothing was noised, > 0 after the noise.
  assert.equal(run('regen-0', 0).firstKl, 0);
  assert.ok(noised.firstKl > 1e-4, `KL to the teacher after the noise: ${noised.firstKl}`);
  assert.throws(() => run('regen-lora', 0.5, 'lora'), /params\.mode: regen trains every parameter/);
});

test('regen.alpha is validated by name', () => {
  const bad = (value: unknown) => () =>
    resolveConfig([{ patch: { method: 'regen', regen: { alpha: value } }, source: 'c.json' }]);
  assert.throws(bad(1.5), /c\.json: "regen\.alpha": must be in \[0, 1\], got 1\.5/);
  assert.throws(bad('half'), /c\.json: "regen\.alpha": must be a number/);
  assert.throws(
    () => resolveConfig([{ patch: { regen: { beta: 1 } }, source: 'c.json' }]),
    /c\.json: unknown config key "regen\.beta"/,
  );
  assert.equal(resolveConfig([{ patch: { method: 'regen' }, source: 'c.json' }]).regen.alpha, 0.5);
  assert.throws(
    () => resolveConfig([{ patch: { regen: { noise: 'embeddings' } }, source: 'c.json' }]),
    /c\.json: "regen\.noise": must be one of "all", "blocks", "mlp", "attention", got "embeddings"/,
  );
  assert.throws(
    () => resolveConfig([{ patch: { regen: { layers: [2, 1] } }, source: 'c.json' }]),
    /c\.json: "regen\.layers": must be null or \[first, last\]/,
  );
});

test('regen.noise and regen.layers choose the noised weights; the rest keep the starting values', () => {
  const start = weights(fx.freshModel());
  const init = weights(Qwen2ForCausalLM.initRandom(fx.freshModel().config, 9));
  const all = [...start.keys()];
  type Noise = 'all' | 'blocks' | 'mlp' | 'attention';
  const selected = (noise: Noise, layers: [number, number] | null) => {
    const noised = noisedPredicate({ noise, layers }, 3);
    const model = fx.freshModel();
    interpolateTowardInit(model, 0.5, 9, noised);
    for (const [name, w] of weights(model)) {
      const a = start.get(name)!;
      const b = init.get(name)!;
      const want = noised(name) ? (i: number) => 0.5 * a[i]! + 0.5 * b[i]! : (i: number) => a[i]!;
      w.forEach((v, i) => assert.ok(Math.abs(v - want(i)) <= 1e-6, `${noise} ${name}`));
    }
    return all.filter(noised);
  };
  assert.deepEqual(selected('all', null), all);
  const blocks = selected('blocks', null);
  assert.deepEqual(
    blocks,
    all.filter((n) => /^model\.layers\.\d+\.(self_attn|mlp)\.\w+_proj\./.test(n)),
  );
  assert.ok(blocks.length > 0 && !blocks.some((n) => /embed|norm/.test(n)), 'no embedding or norm');
  assert.deepEqual(
    selected('mlp', [1, 2]),
    all.filter((n) => /^model\.layers\.[12]\.mlp\.(gate|up|down)_proj\./.test(n)),
  );
  assert.deepEqual(
    selected('attention', [0, 0]),
    all.filter((n) => /^model\.layers\.0\.self_attn\.[qkvo]_proj\./.test(n)),
  );
  assert.throws(
    () => noisedPredicate({ noise: 'mlp', layers: [1, 3] }, 3),
    /regen\.layers: layer 3 does not exist \(the model has 0\.\.2\)/,
  );
  assert.throws(
    () => noisedPredicate({ noise: 'all', layers: [0, 1] }, 3),
    /regen\.layers: with regen\.noise "all" .* choose regen\.noise "blocks", "mlp" or "attention"/,
  );
});

test('a regen.layers range outside the model is refused before training', () => {
  const data = dataFromWorld(fx.world, { ragVariants: 1, ragCounterfactual: 1, seed: 0 });
  const config = tinyConfig({
    method: 'regen',
    steps: 1,
    regen: { alpha: 0.5, noise: 'mlp', layers: [0, 5] },
    eval: { every: 0, atStart: false },
  });
  assert.throws(
    () =>
      metabolize({
        model: fx.freshModel(),
        tokenizer: fx.tokenizer,
        data,
        config,
        runDir: join(fx.root, 'regen-bad-layers'),
        progress: false,
      }),
    /regen\.layers: layer 5 does not exist \(the model has 0\.\.2\)/,
  );
});

test('regen.logicTeacher replaces the teacher of the logic stream only, precomputed or per step', () => {
  const data = dataFromWorld(fx.world, { ragVariants: 1, ragCounterfactual: 1, seed: 0 });
  const otherDir = join(fx.root, 'other-teacher');
  const start = fx.freshModel();
  Qwen2ForCausalLM.initRandom(start.config, 21).saveToDir(otherDir, {
    dtype: 'F32',
    tokenizerDir: fx.worldDir,
  });
  const firstKl = (name: string, logicTeacher: string | null, reference: 'precompute' | 'per-step') => {
    const config = tinyConfig({
      method: 'regen',
      steps: 1,
      regen: { alpha: 0, logicTeacher },
      anchors: { reference },
      eval: { every: 0, atStart: false },
    });
    const runDir = join(fx.root, name);
    metabolize({ model: fx.freshModel(), tokenizer: fx.tokenizer, data, config, runDir, progress: false });
    const first = new MetricsLog(runDir).read().find((r) => 'loss_logic_kl' in r)!;
    return { logic: Number(first.loss_logic_kl), retain: Number(first.loss_retain_kl) };
  };
  // At α = 0 the student is the starting model: its KL to itself is 0, to another model's logits not.
  assert.deepEqual(firstKl('t-none', null, 'precompute'), { logic: 0, retain: 0 });
  assert.deepEqual(firstKl('t-self', fx.modelDir, 'precompute'), { logic: 0, retain: 0 });
  const other = firstKl('t-other', otherDir, 'precompute');
  assert.ok(other.logic > 1e-3, `KL to another teacher: ${other.logic}`);
  assert.equal(other.retain, 0, 'the retain stream keeps the starting model as its teacher');
  const perStep = firstKl('t-other-step', otherDir, 'per-step');
  assert.ok(
    Math.abs(perStep.logic - other.logic) <= 1e-5 * other.logic,
    `${perStep.logic} vs ${other.logic}`,
  );
  assert.equal(perStep.retain, 0);
});

test('a bad regen.logicTeacher is refused by name', () => {
  const bad = (value: unknown) => () =>
    resolveConfig([{ patch: { method: 'regen', regen: { logicTeacher: value } }, source: 'c.json' }]);
  assert.throws(bad(3), /c\.json: "regen\.logicTeacher": must be null or a model folder path, got 3/);
  assert.throws(bad(' '), /"regen\.logicTeacher": must be null or a model folder path/);
  assert.equal(resolveConfig([{ patch: { method: 'regen' }, source: 'c.json' }]).regen.logicTeacher, null);
  const reference = fx.freshModel();
  assert.throws(
    () => loadLogicTeacher(join(fx.root, 'nowhere'), reference),
    /regen\.logicTeacher: .*nowhere is not a model folder \(no config\.json\)/,
  );
  const wideDir = join(fx.root, 'wide-vocab');
  Qwen2ForCausalLM.initRandom(
    { ...reference.config, vocabSize: reference.config.vocabSize + 3 },
    1,
  ).saveToDir(wideDir, { dtype: 'F32' });
  assert.throws(
    () => loadLogicTeacher(wideDir, reference),
    /regen\.logicTeacher: .*wide-vocab has a vocabulary of \d+ tokens, the model \d+/,
  );
});

test('regen.subjectAlpha moves only the forget subjects’ embedding rows toward the fresh init', () => {
  const data = dataFromWorld(fx.world, { ragVariants: 1, ragCounterfactual: 1, seed: 0 });
  const ids = subjectTokenIds(data.forgetTrain, fx.tokenizer);
  assert.equal(ids.length, new Set(data.forgetTrain.map((f) => f.subject)).size);
  const name = 'model.embed_tokens.weight';
  const start = weights(fx.freshModel()).get(name)!;
  const init = weights(Qwen2ForCausalLM.initRandom(fx.freshModel().config, 77)).get(name)!;
  const model = fx.freshModel();
  interpolateRowsTowardInit(model, 1, init, ids);
  const after = weights(model);
  const h = model.config.hiddenSize;
  const moved = new Set(ids);
  const w = after.get(name)!;
  for (let row = 0; row < w.length / h; row++)
    for (let i = row * h; i < (row + 1) * h; i++)
      assert.equal(w[i], moved.has(row) ? init[i] : start[i], `row ${row}`);
  for (const [other, values] of weights(fx.freshModel()))
    if (other !== name) assert.deepEqual(after.get(other), values, other);
  // A subject of several tokens would share its rows with other words: refused by name.
  assert.throws(
    () => subjectTokenIds([{ subject: 'Zzq9' }], fx.tokenizer),
    /regen\.subjectAlpha \/ subjectSoftLabels \/ softLabelsAfterSubject \/ subjectOutputSoftLabels \/ freezeSubjectRows: the forget subject "Zzq9" is \d+ tokens/,
  );
});

/** A one-step regen run (α 0.5) with `regen` overrides on `data`: its first metrics row with the retain KL. */
function firstRetainStep(name: string, data: UnlearnData, regen: Record<string, boolean>) {
  const runDir = join(fx.root, name);
  metabolize({
    model: fx.freshModel(),
    tokenizer: fx.tokenizer,
    data,
    config: oneStepConfig(regen),
    runDir,
    progress: false,
  });
  return new MetricsLog(runDir).read().find((r) => 'loss_retain_kl' in r)!;
}
const oneStepConfig = (regen: Record<string, boolean>) =>
  tinyConfig({
    method: 'regen',
    seed: 0,
    steps: 1,
    regen: { alpha: 0.5, ...regen },
    optimizer: { lr: 1e-2, warmupSteps: 0 },
    eval: { every: 0, atStart: false },
  });
/** That run's first step by hand: the noised student's and the unnoised teacher's logits on `record`. */
function firstStepLogits(record: { prompt: string; completion: string }) {
  const c = oneStepConfig({});
  const student = fx.freshModel();
  interpolateTowardInit(
    student,
    0.5,
    c.seed + 0x52474e,
    noisedPredicate(c.regen, student.config.numHiddenLayers),
  );
  const b = collateRows(encodeAnchors(fx.tokenizer, [record], c.maxLength), fx.tokenizer.padTokenId);
  const forward = (m: Qwen2ForCausalLM) =>
    m.forward(b.ids, { batch: b.batch, seq: b.seq, attentionMask: b.attentionMask, logits: b.rows }).logits!;
  return { b, teacher: forward(fx.freshModel()), logits: forward(student) };
}

test('regen.subjectSoftLabels false: anchor rows whose target is a forget subject train without the KL term', () => {
  const data = dataFromWorld(fx.world, { ragVariants: 1, ragCounterfactual: 1, seed: 0 });
  const [subjectId] = subjectTokenIds(data.forgetTrain.slice(0, 1), fx.tokenizer);
  const subject = data.forgetTrain[0]!.subject;
  // Every retain record answers with a forget subject: its rows are that subject's token, then EOS.
  const record = { prompt: 'Q: Where was someone born?\nA:', completion: ` ${subject}` };
  const only = {
    ...data,
    retainTrain: [{ ...data.retainTrain[0]!, prompt: record.prompt, answer: subject }],
  };
  const firstStep = (soft: boolean) =>
    firstRetainStep(`soft-labels-${soft}`, only, { subjectSoftLabels: soft });
  // The expected KL, by hand: the noised student against the unnoised teacher on that record.
  const { b, teacher, logits } = firstStepLogits(record);
  assert.deepEqual([...b.rowTargets], [subjectId, fx.tokenizer.eosTokenId]);
  const klOf = (mask?: number[]) => klDiv(teacher, logits, mask && Uint8Array.from(mask)).item();
  const soft = firstStep(true);
  const hard = firstStep(false);
  assert.equal(hard.loss_retain_lm, soft.loss_retain_lm);
  assert.ok(Math.abs(Number(soft.loss_retain_kl) - klOf()) < 1e-5, `${soft.loss_retain_kl} vs ${klOf()}`);
  assert.ok(
    Math.abs(Number(hard.loss_retain_kl) - klOf([0, 1])) < 1e-5,
    `${hard.loss_retain_kl} vs ${klOf([0, 1])}`,
  );
  assert.ok(Math.abs(klOf() - klOf([0, 1])) > 1e-4, 'the subject row must carry KL for the test to tell');
});

test('subjectKlRowMask drops the KL on rows that predict a subject, and on rows after one', () => {
  const s = 7; // the subject's token
  const full = (ids: number[]) => ({ ids, trained: ids.map(() => 1) });
  // Example 0 mentions the subject at t = 1; example 1 never does (its padding is the subject's id, which
  // must not count).
  const b = collateRows([full([1, s, 2, 3]), full([4, 5])], s);
  assert.deepEqual([...b.rowTargets], [s, 2, 3, 5]);
  const mask = (onSubject: boolean, afterSubject: boolean) => [
    ...subjectKlRowMask(new Set([s]), { onSubject, afterSubject })(b),
  ];
  assert.deepEqual(mask(true, false), [0, 1, 1, 1]);
  assert.deepEqual(mask(false, true), [1, 0, 0, 1]);
  assert.deepEqual(mask(true, true), [0, 0, 0, 1]);
  assert.deepEqual(mask(false, false), [1, 1, 1, 1]);
});

test('regen.subjectOutputSoftLabels false: the teacher gives the forget subjects’ tokens probability 0', () => {
  const data = dataFromWorld(fx.world, { ragVariants: 1, ragCounterfactual: 1, seed: 0 });
  const subjects = subjectTokenIds(data.forgetTrain, fx.tokenizer);
  const record = { prompt: 'Q: Where was someone born?\nA:', completion: ` ${data.retainTrain[0]!.answer}` };
  const only = { ...data, retainTrain: [{ ...data.retainTrain[0]!, prompt: record.prompt }] };
  const firstStep = (soft: boolean) =>
    firstRetainStep(`output-soft-labels-${soft}`, only, { subjectOutputSoftLabels: soft });
  const { b, teacher, logits } = firstStepLogits(record);
  const vocab = teacher.shape[teacher.shape.length - 1]!;
  const dropped = Tensor.from(Float32Array.from(teacher.data), teacher.shape);
  for (let r = 0; r < b.rows.length; r++) for (const t of subjects) dropped.data[r * vocab + t] = -1e9;
  const expected = klDiv(dropped, logits).item();
  const hard = firstStep(false);
  const soft = firstStep(true);
  assert.ok(Math.abs(Number(hard.loss_retain_kl) - expected) < 1e-5, `${hard.loss_retain_kl} vs ${expected}`);
  assert.ok(Number.isFinite(expected));
  assert.ok(
    Math.abs(Number(soft.loss_retain_kl) - expected) > 1e-4,
    'dropping the columns must change the KL',
  );
});

test('regen.freezeSubjectRows keeps the forget subjects’ rows at the fresh init while the rest trains', () => {
  const data = dataFromWorld(fx.world, { ragVariants: 1, ragCounterfactual: 1, seed: 0 });
  const ids = subjectTokenIds(data.forgetTrain, fx.tokenizer);
  const run = (name: string, freeze: boolean, weightDecay = 0) =>
    metabolize({
      model: fx.freshModel(),
      tokenizer: fx.tokenizer,
      data,
      config: tinyConfig({
        method: 'regen',
        seed: 0,
        steps: 3,
        regen: { alpha: 0.5, noise: 'blocks', subjectAlpha: 1, freezeSubjectRows: freeze },
        optimizer: { lr: 1e-2, warmupSteps: 0, weightDecay },
        eval: { every: 0, atStart: false },
      }),
      runDir: join(fx.root, name),
      progress: false,
    }).model;
  const name = 'model.embed_tokens.weight';
  const init = interpolateTowardInit(fx.freshModel(), 0, 0 + 0x52474e);
  const h = fx.freshModel().config.hiddenSize;
  const row = (w: Float32Array, r: number) => [...w.subarray(r * h, (r + 1) * h)];
  const frozen = weights(run('frozen', true)).get(name)!;
  const free = weights(run('free', false)).get(name)!;
  const start = weights(fx.freshModel()).get(name)!;
  for (const r of ids) {
    assert.deepEqual(row(frozen, r), row(init, r), `subject row ${r} stays at the fresh init`);
    assert.notDeepEqual(row(free, r), row(init, r), `without freezing, subject row ${r} trains`);
  }
  const other = [...Array(start.length / h).keys()].find((r) => !ids.includes(r) && r > 3)!;
  assert.notDeepEqual(row(frozen, other), row(start, other), 'other rows still train');
  assert.throws(() => run('decay', true, 0.01), /regen\.freezeSubjectRows: optimizer\.weightDecay must be 0/);
});
