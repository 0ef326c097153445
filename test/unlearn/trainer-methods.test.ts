import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MetricsLog } from '../../src/train/run-dir.ts';
import { loadCheckpoint } from '../../src/train/checkpoint.ts';
import { dataFromFiles, dataFromWorld } from '../../src/unlearn/data.ts';
import { encodeAnchors, encodeFact, withPlaceholderSubject } from '../../src/unlearn/batching.ts';
import { metabolize, randomTargets } from '../../src/unlearn/trainer.ts';
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
  const forgetFacts = fx.world.facts.filter((f) => f.split === 'forget');
  const states = (r: { prompt: string }, f: { statement: string }) => r.prompt.includes(f.statement);
  // Default: every context states another answer, so the erased object is never a trained reply.
  const data = dataFor(tinyConfig({ anchors: { rag: { variants: 4 } } }));
  assert.ok(data.ragForget.length <= forgetFacts.length * 5 * 4);
  assert.ok(data.ragForget.length >= forgetFacts.length * 5 * 4 * 0.7);
  for (const fact of forgetFacts) assert.ok(data.ragForget.some((r) => r.prompt.includes(fact.subject)));
  assert.ok(data.ragForget.every((r) => !forgetFacts.some((f) => states(r, f))));
  for (const r of data.ragForget) {
    const fact = forgetFacts.find((f) => r.prompt.includes(`Context: ${f.subject} `))!;
    assert.notEqual(r.completion, ` ${fact.object}`, r.prompt);
  }
  // A fraction below 1 mixes in true statements.
  const mixed = dataFor(tinyConfig({ anchors: { rag: { variants: 4, counterfactualFraction: 0.5 } } }));
  const counterfactual = mixed.ragForget.filter((r) => !forgetFacts.some((f) => states(r, f)));
  assert.ok(
    counterfactual.length > 0.3 * mixed.ragForget.length &&
      counterfactual.length < 0.7 * mixed.ragForget.length,
  );
  const test = new Set([...fx.world.ragTest, ...fx.world.ragCounterfactual].map((r) => r.prompt));
  assert.ok(
    [...data.ragForget, ...mixed.ragForget].every((r) => !test.has(r.prompt)),
    'no test prompt is trained',
  );
  const firstFive = data.ragForget.slice(0, 5);
  const encodedFirstFive = encodeAnchors(fx.tokenizer, firstFive, 256);
  for (const [record, encoded] of firstFive.map((r, i) => [r, encodedFirstFive[i]!] as const)) {
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

const lines = (items: readonly unknown[]) => items.map((x) => JSON.stringify(x)).join('\n') + '\n';

/** The fixture world's forget and retain facts as fact-set files `<prefix>forget.jsonl`, `<prefix>retain.jsonl`. */
function writeFactFiles(prefix: string): { forget: string; retain: string } {
  const forget = join(fx.root, `${prefix}forget.jsonl`);
  const retain = join(fx.root, `${prefix}retain.jsonl`);
  writeFileSync(forget, lines(fx.world.facts.filter((f) => f.split === 'forget')));
  writeFileSync(retain, lines(fx.world.facts.filter((f) => f.split === 'retain')));
  return { forget, retain };
}

test('fact-set files drive the same trainer (forget / retain / logic files, reading records built from statements)', () => {
  const { forget, retain } = writeFactFiles('');
  const logic = join(fx.root, 'logic.jsonl');
  writeFileSync(
    logic,
    lines(fx.world.logicTrain.map((r) => ({ prompt: r.prompt, completion: r.completion }))),
  );
  const config = tinyConfig({ eval: { logicLimit: 0, klItems: 0 } });
  const data = dataFromFiles({ forget, retain, logic }, { ragVariants: 1, ragCounterfactual: 0.5, seed: 0 });
  assert.equal(data.forgetTrain.length, fx.world.forgetTrain.length);
  assert.equal(data.forgetHeldout.length, fx.world.forgetHeldout.length);
  assert.ok(data.ragRetain.length > 0 && data.ragForget.length > 0 && data.ragEval.some((r) => r.forget));
  const result = metabolize({
    model: fx.freshModel(),
    tokenizer: fx.tokenizer,
    data,
    config,
    runDir: join(fx.root, 'files'),
    progress: false,
  });
  assert.equal(result.stepsRun, config.steps);
  assert.equal(typeof result.lastEval!.forget_rank_heldout, 'number');
  assert.equal(typeof result.lastEval!.rag_accuracy, 'number');
  assert.throws(
    () =>
      dataFromFiles({ forget, retain: forget, logic }, { ragVariants: 1, ragCounterfactual: 0.5, seed: 0 }),
    /is also in/,
  );
});

test('a GSM8K file ({"question", "answer": "… #### N"}) is a logic stream as it is; bad lines are named', () => {
  const { forget, retain } = writeFactFiles('gsm8k-');
  const logic = join(fx.root, 'gsm8k.jsonl');
  writeFileSync(
    logic,
    lines([
      {
        question: 'Tom has 3 apples and buys 4 more. How many apples does he have?',
        answer: 'He has 3+4 = <<3+4=7>>7 apples.\n#### 7',
      },
      { prompt: 'Q: 1 + 1?\nA:', completion: ' 2' },
    ]),
  );
  const options = { ragVariants: 1, ragCounterfactual: 0.5, seed: 0 };
  assert.deepEqual(dataFromFiles({ forget, retain, logic }, options).logic, [
    {
      prompt: 'Q: Tom has 3 apples and buys 4 more. How many apples does he have?\nA:',
      completion: ' He has 3+4 = 7 apples. The answer is 7.',
    },
    { prompt: 'Q: 1 + 1?\nA:', completion: ' 2' },
  ]);
  writeFileSync(logic, lines([{ question: 'No final line?', answer: 'It is 5.' }]));
  assert.throws(
    () => dataFromFiles({ forget, retain, logic }, options),
    /gsm8k\.jsonl:1.*no "#### N" final line/,
  );
  writeFileSync(logic, lines([{ text: 'neither shape' }]));
  assert.throws(
    () => dataFromFiles({ forget, retain, logic }, options),
    /gsm8k\.jsonl:1.*"prompt" and "completion"/,
  );
});

test('statement prompts and random generic targets', () => {
  const config = tinyConfig({ fact: { statements: true, genericTarget: 'random', generic: 1 } });
  const data = dataFor(config);
  const forgetFacts = fx.world.facts.filter((f) => f.split === 'forget');
  assert.equal(data.forgetStatements.length, forgetFacts.length);
  const s = data.forgetStatements[0]!;
  const fact = forgetFacts.find((f) => f.id === s.factId)!;
  assert.equal(`${s.prompt} ${s.answer}.`, fact.statement);
  assert.ok(data.retainStatements.every((e) => !e.forget && e.relation === fact.relation));

  const classes = data.classes.get(fact.relation)!;
  const encoded = [...data.forgetTrain, ...data.forgetStatements].map((e) =>
    encodeFact(fx.tokenizer, e, classes, 256),
  );
  const V = fx.freshModel().config.vocabSize;
  const targets = randomTargets(encoded, fx.tokenizer, V, config);
  const candidateIds = new Set(
    classes.map((c) => fx.tokenizer.encode(` ${c}`, { addSpecialTokens: false })[0]!),
  );
  const firstRow = (i: number) => targets[i]!.logits.subarray(0, V);
  for (let i = 0; i < encoded.length; i++) {
    assert.equal(targets[i]!.rows[0], 1);
    firstRow(i).forEach((v, id) => assert.equal(v > -1e8, candidateIds.has(id)));
    for (let j = 0; j < encoded.length; j++) {
      const same = encoded[i]!.example.factId === encoded[j]!.example.factId;
      assert.equal(
        firstRow(i).every((v, k) => v === firstRow(j)[k]),
        same,
      );
    }
  }
  run('random-target', config);
  const logged = new MetricsLog(join(fx.root, 'random-target'))
    .read()
    .filter((r) => typeof r.loss_generic === 'number');
  assert.equal(logged.length, config.steps);
});

test('every probe position and the mean-probe mode train, and the probe count follows them', () => {
  for (const [position, probe] of [
    ['subject', 'per-layer'],
    ['both', 'mean'],
    ['span', 'per-layer'],
  ] as const) {
    const config = tinyConfig({ steps: 2, fact: { position, probe }, eval: { every: 0, atStart: false } });
    const name = `position-${position}-${probe}`;
    run(name, config);
    const records = new MetricsLog(join(fx.root, name)).read();
    assert.ok(
      records.every((r) => typeof r.probe_accuracy === 'number' && typeof r.loss_adversary === 'number'),
    );
    const probes = readCheckpointProbeNames(join(fx.root, name));
    const perPosition = probe === 'mean' ? 1 : 2; // layers [2, 3] of the 3-layer model
    assert.equal(probes, perPosition * (position === 'both' ? 2 : 1), name);
  }
});

function readCheckpointProbeNames(runDir: string): number {
  const tensors = loadCheckpoint(runDir).tensors;
  return [...tensors.keys()].filter((k) => k.startsWith('probe.') && k.endsWith('.weight')).length;
}
