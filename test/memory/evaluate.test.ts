import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { World } from '../../src/data/world.ts';
import type { Answerer } from '../../src/memory/ask.ts';
import {
  chooseCounterfactuals,
  evaluateRam,
  formatRamEvalTable,
  questionOf,
} from '../../src/memory/evaluate.ts';
import { FactStore } from '../../src/memory/store.ts';
import { tempDir } from './helpers.ts';
import { writeSmallWorld } from './model-helpers.ts';

const world = writeSmallWorld(join(tempDir(), 'world'));
const forgetQuestions = [...world.forgetTrain, ...world.forgetHeldout];
const K = forgetQuestions[0]!.candidates.length;

/** The question of a prompt (closed book or RAG) and its context statements. */
function parse(prompt: string): { question: string; context: string } {
  const match = /^(?:Context: (.*)\n)?Q: (.*)\nA:$/s.exec(prompt);
  assert.ok(match, `not a world prompt: ${JSON.stringify(prompt)}`);
  return { context: match[1] ?? '', question: match[2]! };
}

/** Facts of a world by question: the subject, the true answer, and whether it is a currency chain. */
function questionIndex(w: World): Map<string, { subject: string; answer: string; currency: boolean }> {
  const index = new Map<string, { subject: string; answer: string; currency: boolean }>();
  for (const r of [...w.forgetTrain, ...w.forgetHeldout])
    index.set(questionOf(r.prompt, r.id), { subject: r.subject, answer: r.answer, currency: false });
  for (const r of w.multihopTest)
    index.set(questionOf(r.prompt, r.id), {
      subject: r.subject,
      answer: r.answer,
      currency: r.hop === 'currency',
    });
  return index;
}

/**
 * A perfect reader without memory: it answers from the context (the city's country, or the currency of
 * that country for currency chains) and knows nothing closed book; candidate scores are all equal, or
 * push the true answer to the bottom with `invert`.
 */
function reader(invert = false): Answerer {
  const index = questionIndex(world);
  return {
    name: invert ? 'inverted reader' : 'reader',
    answer: (prompts) =>
      prompts.map((prompt) => {
        const { question, context } = parse(prompt);
        const q = index.get(question)!;
        const country = new RegExp(`(?:^|\\. )${q.subject} is a city in ([A-Za-z]+)\\.`).exec(context)?.[1];
        if (country === undefined) return 'no idea';
        if (!q.currency) return country;
        const currency = new RegExp(`The currency of ${country} is the ([a-z]+)\\.`).exec(context)?.[1];
        return `${q.subject} is a city in ${country}. The currency of ${country} is the ${currency}. The answer is ${currency}.`;
      }),
    candidateLogProbs: (prompts, candidates) =>
      prompts.map((prompt, i) => {
        const q = index.get(parse(prompt).question)!;
        return candidates[i]!.map((c) => (invert && c === q.answer ? -10 : -1));
      }),
  };
}

/** A model that recalls every true answer and ignores the context. */
function memorizer(): Answerer {
  const index = questionIndex(world);
  return {
    name: 'memorizer',
    answer: (prompts) => prompts.map((p) => index.get(parse(p).question)!.answer),
    candidateLogProbs: (prompts, candidates) =>
      prompts.map((prompt, i) => {
        const q = index.get(parse(prompt).question)!;
        return candidates[i]!.map((c) => (c === q.answer ? -0.1 : -5));
      }),
  };
}

test('chooseCounterfactuals: another candidate for every forget fact, fixed by the seed', () => {
  const a = chooseCounterfactuals(world, 0);
  assert.deepEqual([...a.keys()], world.meta.forget.fact_ids);
  for (const [id, object] of a) {
    const fact = world.facts.find((f) => f.id === id)!;
    assert.notEqual(object, fact.object);
    assert.ok(fact.candidates.includes(object));
  }
  assert.deepEqual(chooseCounterfactuals(world, 0), a);
  const seeds = [1, 2, 3, 4].map((s) => JSON.stringify([...chooseCounterfactuals(world, s)]));
  assert.ok(
    seeds.some((s) => s !== JSON.stringify([...a])),
    'the seed changes the counterfactuals',
  );
});

test('evaluateRam: a memory-less reader follows every edit; a memorizer fights it', () => {
  const { report, items, retrieval } = evaluateRam({ world, metabolized: reader(), base: memorizer() });
  const n = forgetQuestions.length;
  const train = world.forgetTrain.length;
  const multihop = world.multihopTest.filter((r) => r.forget);
  const currency = multihop.filter((r) => r.hop === 'currency').length;
  assert.ok(currency > 0, 'the test world has currency chains from forget cities');
  assert.deepEqual(
    [report.forget.questions, report.forget.train_questions, report.forget.heldout_questions],
    [n, train, n - train],
  );
  assert.equal(report.forget.K, K);
  assert.equal(report.k, world.meta.config.rag.distractors + 1);
  assert.equal(report.same_model, false);

  const m = report.metabolized_results;
  assert.deepEqual(
    [m.closed_book.all.rate, m.ram.all.rate, m.ram_edited_follows.all.rate, m.ram_edited_original.all.rate],
    [0, 1, 1, 0],
  );
  assert.equal(m.ram.heldout.n, n - train);
  assert.equal(m.closed_book_ranks.mean_rank, (K + 1) / 2);
  assert.equal(m.multihop.ram.n, multihop.length);
  assert.equal(m.multihop.ram.hits, currency);
  assert.equal(m.multihop.ram_edited_follows.rate, 1);
  assert.equal(m.multihop.closed_book.hits, 0);

  const b = report.base_results;
  assert.deepEqual(
    [b.closed_book.all.rate, b.ram.all.rate, b.ram_edited_follows.all.rate, b.ram_edited_original.all.rate],
    [1, 1, 0, 1],
  );
  assert.equal(b.closed_book_ranks.mean_rank, 1);
  assert.equal(b.multihop.ram_edited_original.rate, 1);

  assert.equal(report.closed_book_chance.at_chance, true);
  assert.equal(report.closed_book_chance.p_above_chance, 1);
  assert.deepEqual(
    Object.values(report.checks).map((c) => c.pass),
    [true, true, true],
  );
  assert.equal(report.retrieval.forget.recall_at_4, 1);
  assert.equal(report.retrieval.forget_edited.n, n);

  // Items: closed book, RAM and edited RAM per fact question and model; multi-hop: edited only for currency.
  const perModel = 3 * n + 2 * multihop.length + currency;
  assert.equal(items.length, 2 * perModel);
  const counterfactuals = chooseCounterfactuals(world, 0);
  for (const item of items.filter((i) => i.condition === 'ram_edited' && i.kind === 'fact')) {
    const record = forgetQuestions.find((r) => r.id === item.id)!;
    assert.equal(item.edited_answer, counterfactuals.get(record.fact_id));
    assert.ok(item.context!.includes(`${record.subject} is a city in ${item.edited_answer}.`));
  }
  assert.ok(
    items.filter((i) => i.condition === 'closed_book' && i.kind === 'fact').every((i) => i.rank !== null),
  );
  assert.equal(retrieval.filter((r) => r.set === 'forget').length, n);

  const table = formatRamEvalTable(report);
  assert.match(table, /RAM edited: follows the edit\s+100\.0%\s+100\.0%\s+100\.0%\s+0\.0%\s+0\.0%\s+0\.0%/);
  assert.match(table, /→ at chance/);
});

test('evaluateRam: a pushed-down answer is inverted, a recalled one above chance — neither is at chance', () => {
  const inverted = evaluateRam({ world, metabolized: reader(true), base: memorizer() }).report;
  assert.equal(inverted.metabolized_results.closed_book_ranks.mean_rank, K);
  assert.equal(inverted.closed_book_chance.inverted, true);
  assert.equal(inverted.checks.closed_book_at_chance.pass, false);

  const same = memorizer();
  const recalled = evaluateRam({ world, metabolized: same, base: same, k: 1 }).report;
  assert.equal(recalled.same_model, true);
  assert.equal(recalled.k, 1);
  assert.equal(recalled.closed_book_chance.above_chance, true);
  assert.ok(recalled.closed_book_chance.p_above_chance < 1e-6);
  assert.deepEqual(
    Object.values(recalled.checks).map((c) => c.pass),
    [true, false, false],
  );
  assert.deepEqual(recalled.base_results, recalled.metabolized_results);
});

test('evaluateRam: one answer to every question, true for one fact, is at chance per fact', () => {
  // What an erased core often does: the same country for every forget city, one of which is really there.
  const first = world.forgetTrain[0]!;
  const constant: Answerer = {
    name: 'constant',
    answer: (prompts) => prompts.map(() => first.answer),
    candidateLogProbs: (prompts, candidates) => prompts.map((_, i) => candidates[i]!.map(() => -1)),
  };
  const { report } = evaluateRam({ world, metabolized: constant, base: memorizer() });
  const chance = report.closed_book_chance;
  const perFact = forgetQuestions.filter((r) => r.subject === first.subject).length;
  assert.equal(report.metabolized_results.closed_book.all.hits, perFact);
  // The facts are the independent units: P(some fact's truth is that answer).
  assert.equal(chance.facts.facts, world.meta.forget.fact_ids.length);
  assert.equal(chance.facts.hits, perFact);
  const facts = chance.facts.facts;
  assert.ok(Math.abs(chance.facts.p_above_chance - (1 - (1 - 1 / K) ** facts)) < 1e-12);
  assert.equal(chance.at_chance, true);
  assert.equal(report.checks.closed_book_at_chance.pass, true);
});

test('evaluateRam: a given store path must be new and keeps the edited facts', () => {
  const dir = tempDir();
  const path = join(dir, 'used.db');
  const store = FactStore.open(path);
  store.add({ subject: 'A', relation: 'r', object: 'B' });
  store.close();
  assert.throws(
    () => evaluateRam({ world, metabolized: reader(), base: reader(), dbPath: path }),
    /needs a new, empty fact store/,
  );
  const fresh = join(dir, 'fresh.db');
  evaluateRam({ world, metabolized: reader(), base: reader(), dbPath: fresh });
  // The given store keeps the edited facts for inspection.
  const kept = FactStore.open(fresh, { readonly: true });
  try {
    const [id, object] = [...chooseCounterfactuals(world, 0)][0]!;
    const fact = world.facts.find((f) => f.id === id)!;
    assert.equal(kept.get(fact.subject, fact.relation)!.object, object);
  } finally {
    kept.close();
  }
  assert.ok(existsSync(fresh));
});
