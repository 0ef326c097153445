// evaluateModel end to end on a tiny world with a tiny random model: every suite, files, key set, and
// the consistency of the aggregates with the per-item records. Also `--facts` mode and the CLI runner.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { evaluateModel, type EvalResults } from '../../../src/eval/suites/runner.ts';
import { forgetHeldoutRecallAndRank, retainRecall } from '../../../src/eval/suites/recall.ts';
import { scoreContinuations } from '../../../src/nn/generate.ts';
import { tinyModel, tinySetup, type TinySetup } from './helpers.ts';

let setup: TinySetup;
let results: EvalResults;
let out: string;

const REQUIRED_KEYS = [
  'forget_recall',
  'forget_recall_heldout',
  'retain_recall',
  'retain_recall_heldout',
  'rag_accuracy',
  'rag_forget_accuracy',
  'rag_counterfactual_follow',
  'logic_accuracy',
  'multihop_accuracy',
  'chance',
  'forget_rank_heldout',
  'forget_rank_train',
  'forget_rank_chance',
  'forget_p_above_chance',
  'forget_rank_p',
  'forget_inverted',
  'cot_rate',
  'mean_answer_tokens',
  'probe_layers',
  'untrained_probe_layers',
  'logit_lens',
  'crystallization',
  'relearning',
  'gsm8k',
];

function readItems(name: string): Record<string, unknown>[] {
  return readFileSync(join(out, 'items', `${name}.jsonl`), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

before(async () => {
  setup = await tinySetup();
  out = join(setup.root, 'out');
  const gsm8k = join(setup.root, 'gsm8k.jsonl');
  writeFileSync(
    gsm8k,
    [
      { question: 'Tovin has 3 apples. Tovin gets 4 more. How many apples?', answer: '3 + 4 = 7\n#### 7' },
      { question: 'What is 2 + 2?', answer: '#### 4' },
      { question: 'Not asked (beyond --limit).', answer: '#### 1' },
    ]
      .map((r) => JSON.stringify(r))
      .join('\n') + '\n',
  );
  results = await evaluateModel({
    model: setup.model,
    tokenizer: setup.tokenizer,
    world: setup.world,
    suites: [
      'recall',
      'rag',
      'logic',
      'multihop',
      'probes',
      'logit-lens',
      'crystallization',
      'relearn',
      'gsm8k',
    ],
    reference: tinyModel(setup.tokenizer, 2),
    oracle: tinyModel(setup.tokenizer, 3),
    relearn: { steps: 4, every: 2, batchSize: 4 },
    gsm8k: { path: gsm8k, limit: 2, maxNewTokens: 8 },
    probes: { kinds: ['linear'] },
    progress: false,
    out,
  });
});
after(() => rmSync(setup.root, { recursive: true, force: true }));

test('every aggregate key is present and results.json holds the aggregate', () => {
  const aggregate = results.aggregate;
  for (const key of REQUIRED_KEYS) assert.ok(key in aggregate, `missing ${key}`);
  const written = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  for (const key of REQUIRED_KEYS) assert.deepEqual(written[key], aggregate[key], key);
  const K = setup.world.meta.forget.candidates;
  assert.equal(aggregate.chance, 1 / K);
  assert.equal(aggregate.forget_rank_chance, (K + 1) / 2);
  for (const key of ['forget_p_above_chance', 'forget_rank_p']) {
    const p = aggregate[key] as number;
    assert.ok(p >= 0 && p <= 1, `${key} = ${p}`);
  }
});

test('items are written for every suite and match their splits', () => {
  const sizes: Record<string, number> = {
    forget_train: setup.world.forgetTrain.length,
    forget_heldout: setup.world.forgetHeldout.length,
    retain_train: setup.world.retainTrain.length,
    retain_heldout: setup.world.retainHeldout.length,
    rag_test: setup.world.ragTest.length,
    rag_counterfactual: setup.world.ragCounterfactual.length,
    logic_test: setup.world.logicTest.length,
    multihop_test: setup.world.multihopTest.length,
    logit_lens: setup.world.forgetTrain.length + setup.world.forgetHeldout.length,
    gsm8k_zero_shot: 2,
    gsm8k_cot_8shot: 2,
  };
  for (const [name, n] of Object.entries(sizes)) assert.equal(readItems(name).length, n, name);
  const heldout = readItems('forget_heldout');
  assert.deepEqual(
    heldout.map((r) => r.id),
    setup.world.forgetHeldout.map((r) => r.id),
  );
  for (const r of heldout) {
    for (const field of ['prompt', 'generated', 'answer', 'correct', 'rank', 'prob', 'top_candidate']) {
      assert.ok(field in r, `forget_heldout item lacks ${field}`);
    }
  }
  // GSM8K lines are readable by `rlcp eval gsm8k --responses`: an index and a response.
  for (const r of readItems('gsm8k_zero_shot')) {
    assert.equal(typeof r.index, 'number');
    assert.equal(typeof r.response, 'string');
  }
});

test('a random model is near chance and the rank statistics agree with the items', () => {
  const aggregate = results.aggregate;
  const K = setup.world.meta.forget.candidates;
  for (const [split, key, rankKey] of [
    ['forget_train', 'forget_recall', 'forget_rank_train'],
    ['forget_heldout', 'forget_recall_heldout', 'forget_rank_heldout'],
  ] as const) {
    const items = readItems(split);
    const ranks = items.map((r) => r.rank as number);
    assert.ok(ranks.every((r) => r >= 1 && r <= K));
    const meanRank = ranks.reduce((a, b) => a + b, 0) / ranks.length;
    assert.ok(Math.abs((aggregate[rankKey] as number) - meanRank) < 1e-12, rankKey);
    assert.equal(aggregate[key], items.filter((r) => r.correct).length / items.length);
    // An untrained model answers no better than a guess among K, and ranks within a broad band of chance.
    assert.ok((aggregate[key] as number) <= 2 / K + 0.1, `${key} = ${aggregate[key]}`);
    assert.ok(Math.abs(meanRank - (K + 1) / 2) < K / 3, `${rankKey} = ${meanRank}`);
    for (const r of items) {
      assert.ok((r.prob as number) > 0 && (r.prob as number) < 1);
      assert.equal(r.rank === 1, r.top_candidate === r.answer);
    }
  }
  assert.ok((aggregate.rag_accuracy as number) <= 0.5);
  assert.ok((aggregate.logic_accuracy as number) <= 0.5);
});

test('probe, lens, crystallization and relearning aggregates have their documented shapes', () => {
  const aggregate = results.aggregate;
  const L = setup.model.config.numHiddenLayers;
  const probes = aggregate.probe_layers as {
    layer: number;
    design: string;
    kind: string;
    accuracy: number;
  }[];
  assert.equal(probes.length, 2 * (L + 1));
  assert.deepEqual([...new Set(probes.map((p) => p.design))], ['cross_entity', 'cross_template']);
  for (const p of probes) {
    for (const field of ['accuracy', 'majority', 'selectivity'] as const) {
      const v = (p as unknown as Record<string, number>)[field];
      assert.ok(Number.isFinite(v), `${p.design} layer ${p.layer} ${field}`);
    }
  }
  assert.equal((aggregate.untrained_probe_layers as unknown[]).length, L + 1);
  const lens = aggregate.logit_lens as { layer: number; top1: number; top5: number }[];
  assert.deepEqual(
    lens.map((l) => l.layer),
    Array.from({ length: L + 1 }, (_, i) => i),
  );
  assert.ok(lens.every((l) => l.top1 <= l.top5));
  const crystal = aggregate.crystallization as {
    layers: { after: object; before?: object; delta?: object }[];
  };
  assert.equal(crystal.layers.length, L + 1);
  assert.ok(crystal.layers.every((l) => l.before && l.delta));
  const relearning = aggregate.relearning as {
    steps: number[];
    curves: { id: string; accuracy: number[] }[];
  };
  assert.deepEqual(relearning.steps, [0, 2, 4]);
  assert.deepEqual(
    relearning.curves.map((c) => [c.id, c.accuracy.length]),
    [
      ['model', 3],
      ['oracle', 3],
    ],
  );
});

test('the relearning attack trains a copy: the evaluated model is unchanged', async () => {
  const again = await evaluateModel({
    model: setup.model,
    tokenizer: setup.tokenizer,
    world: setup.world,
    suites: ['recall'],
    progress: false,
  });
  assert.deepEqual(again.items.forget_heldout, results.items.forget_heldout);
});

test('in-training recall: the same ranks as the full suite, and an evenly spread retain subset', () => {
  const fast = forgetHeldoutRecallAndRank(setup.model, setup.world, setup.tokenizer);
  const items = readItems('forget_heldout');
  const ranks = items.map((r) => r.rank as number);
  assert.equal(fast.n, items.length);
  assert.ok(Math.abs(fast.mean_rank - ranks.reduce((a, b) => a + b, 0) / ranks.length) < 1e-9);
  assert.equal(fast.recall, ranks.filter((r) => r === 1).length / ranks.length);
  const subset = retainRecall(setup.model, setup.world, setup.tokenizer, 7);
  assert.equal(subset.n, 7);
  assert.equal(retainRecall(setup.model, setup.world, setup.tokenizer).n, setup.world.retainTrain.length);
  assert.throws(() => retainRecall(setup.model, setup.world, setup.tokenizer, 0), /positive integer/);
});

test('--facts mode: fact-set items, multi-token candidates scored token by token', async () => {
  // The world's city → country facts as a fact set whose answers are two tokens ("Marvania land").
  const facts = setup.world.facts
    .filter((f) => f.relation === 'city_country')
    .map((f) => {
      const rename = (c: string) => `${c} ${setup.world.meta.entities.occupations[0]}`;
      return {
        ...f,
        object: rename(f.object),
        statement: `${f.statement.slice(0, -1)} ${setup.world.meta.entities.occupations[0]}.`,
        candidates: f.candidates.map(rename),
      };
    });
  const path = join(setup.root, 'facts.jsonl');
  writeFileSync(path, facts.map((f) => JSON.stringify(f)).join('\n') + '\n');
  const { loadFactSet } = await import('../../../src/data/facts.ts');
  const factsOut = join(setup.root, 'facts-out');
  const factResults = await evaluateModel({
    model: setup.model,
    tokenizer: setup.tokenizer,
    facts: { facts: loadFactSet(path), source: path },
    probes: { kinds: ['linear'], layers: [1] },
    progress: false,
    out: factsOut,
  });
  const aggregate = factResults.aggregate;
  assert.deepEqual(aggregate.suites, ['recall', 'probes', 'logit-lens', 'crystallization']);
  const nForget = facts.filter((f) => f.split === 'forget').length;
  assert.equal((factResults.items.forget_heldout as unknown[]).length, nForget * 3);
  assert.equal(aggregate.chance, 1 / facts[0]!.candidates.length);
  for (const key of ['forget_recall', 'forget_rank_heldout', 'retain_recall', 'probe_layers']) {
    assert.ok(key in aggregate, key);
  }
  assert.ok(existsSync(join(factsOut, 'items', 'forget_train.jsonl')));
  // Rank and probability of a two-token answer are those of the summed token log-probabilities.
  const first = (
    factResults.items.forget_heldout as { prompt: string; answer: string; rank: number; prob: number }[]
  )[0]!;
  const candidates = facts[0]!.candidates;
  const encode = (text: string) => setup.tokenizer.encode(text, { addSpecialTokens: false });
  assert.ok(candidates.every((c) => encode(` ${c}`).length === 2));
  const scores = scoreContinuations(
    setup.model,
    candidates.map(() => encode(first.prompt)),
    candidates.map((c) => encode(` ${c}`)),
  );
  const own = scores[candidates.indexOf(first.answer)]!;
  assert.ok(Math.abs(first.prob - Math.exp(own)) < 1e-4 * Math.exp(own));
  assert.equal(first.rank, 1 + scores.filter((s) => s > own).length);
  await assert.rejects(
    evaluateModel({
      model: setup.model,
      tokenizer: setup.tokenizer,
      facts: { facts: loadFactSet(path), source: path },
      suites: ['rag'],
      progress: false,
    }),
    /needs a world/,
  );
});

test('the CLI runner prints the aggregate as its last line', async () => {
  const { main } = await import('../../../src/cli/main.ts');
  const lines: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => lines.push(args.join(' '));
  let code: number;
  try {
    code = await main([
      'eval',
      '--model',
      setup.modelDir,
      '--world',
      setup.worldDir,
      '--suite',
      'recall,logic',
      '--json',
    ]);
  } finally {
    console.log = log;
  }
  assert.equal(code, 0);
  assert.equal(lines.length, 1);
  const aggregate = JSON.parse(lines[0]!);
  assert.deepEqual(aggregate.suites, ['recall', 'logic']);
  assert.equal(aggregate.forget_recall_heldout, results.aggregate.forget_recall_heldout);
  assert.equal(aggregate.logic_accuracy, results.aggregate.logic_accuracy);
});
