// Evaluation of "Neural CPU + Symbolic RAM" on a world (issue 8, README.md "Evaluation"): a fresh fact
// store is built from the world's facts, then on the forget set (training- and held-out-template
// questions) it measures
//   - closed book vs RAM accuracy of the metabolized core and of the base model;
//   - editing: every forget fact's object is changed in the store to a seeded counterfactual candidate
//     and the questions asked again — the share of answers that follow the edit (and that still give the
//     memorised answer) for both models;
//   - the metabolized core without RAM: accuracy and the true answer's rank among the K candidates against
//     chance, with each fact's phrasings taken together (factRandomizationTest, src/eval/stats.ts) — and,
//     for reference, per question (binomial and rank tests);
//   - retrieval recall@1/2/4 of the facts each question needs;
//   - multi-hop (chain-of-thought) questions that start from a forget city, closed book and with RAM, and
//     the currency ones after the edit.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { answersMatch, closedBookPrompt } from '../data/format.ts';
import { Rng } from '../data/rng.ts';
import type { FactRecord, MultihopRecord } from '../data/schema.ts';
import type { World } from '../data/world.ts';
import {
  binomialTailUpper,
  factRandomizationTest,
  rankSummary,
  wilsonInterval,
  type FactOutcomes,
  type FactRandomizationTest,
  type Interval,
  type RankSummary,
} from '../eval/stats.ts';
import { midRank } from '../eval/suites/inference.ts';
import { displayAnswer, type Answerer } from './ask.ts';
import { buildRagPrompt, recallAtK, retrieve, type FactKey, type RetrievedFact } from './retrieval.ts';
import { FactStore } from './store.ts';

/** Share of items to reach for RAM accuracy and edit following (issue 8). */
export const RAM_TARGET = 0.95;
/** Significance level of the "at chance" decision. */
export const CHANCE_ALPHA = 0.05;
const RECALL_KS = [1, 2, 4] as const;

export interface RamEvalOptions {
  world: World;
  /** The metabolized core (the model after RLCP). */
  metabolized: Answerer;
  /** The base model before unlearning; may be the same object as `metabolized`. */
  base: Answerer;
  /**
   * Facts in each RAG context (default: 1 + the world's RAG distractors, the trained context size); a
   * multi-hop question gets at least as many as its chain has facts.
   */
  k?: number;
  /** Seed of the counterfactual choice (default 0). */
  seed?: number;
  /** Give retrieval the asked relation as a hint (default false: retrieval sees the question only). */
  relationHint?: boolean;
  /** Tokens generated per fact answer (default 16) and per multi-hop answer (default 48). */
  maxNewTokens?: number;
  maxNewTokensMultihop?: number;
  /** Fact store path (default: a temporary file, removed afterwards). Must not exist yet. */
  dbPath?: string;
}

export interface Rate {
  n: number;
  hits: number;
  rate: number;
  ci95: Interval;
}

/** A rate over the training-template questions, the held-out-template ones, and all of them. */
export interface SplitRates {
  train: Rate;
  heldout: Rate;
  all: Rate;
}

export type ModelRole = 'metabolized' | 'base';
export type Condition = 'closed_book' | 'ram' | 'ram_edited';

export interface ModelResults {
  /** Closed book: answers the true object. */
  closed_book: SplitRates;
  /** Closed-book rank of the true object among the relation's candidates (all forget questions). */
  closed_book_ranks: RankSummary;
  /** Closed-book answers and ranks tested with the fact, not the phrasing, as the unit. */
  closed_book_facts: FactRandomizationTest;
  /** With the true facts in the store: answers the true object. */
  ram: SplitRates;
  /** After the store edit: answers the counterfactual object (follows the edit). */
  ram_edited_follows: SplitRates;
  /** After the store edit: still answers the true object (fights the edit with its memory). */
  ram_edited_original: SplitRates;
  multihop: {
    closed_book: Rate;
    ram: Rate;
    /** Currency questions after the edit: the counterfactual country's currency. */
    ram_edited_follows: Rate;
    ram_edited_original: Rate;
  };
}

export interface RecallAt {
  n: number;
  recall_at_1: number;
  recall_at_2: number;
  recall_at_4: number;
}

export interface Check {
  pass: boolean;
  value: number;
  target: string;
}

export interface RamEvalReport {
  world: string;
  metabolized: string;
  base: string;
  /** The same model was given for both roles (its numbers are then reported twice). */
  same_model: boolean;
  k: number;
  seed: number;
  relation_hint: boolean;
  forget: {
    relation: string;
    facts: number;
    questions: number;
    train_questions: number;
    heldout_questions: number;
    K: number;
    chance: number;
    multihop_questions: number;
    multihop_currency_questions: number;
  };
  metabolized_results: ModelResults;
  base_results: ModelResults;
  /**
   * The metabolized core without RAM on the forget set. The decision uses `facts` (each fact's phrasings
   * together, `factRandomizationTest`); the per-question tests are kept for reference — they treat the
   * phrasings of one fact as independent draws, which a model giving one answer to every question is not.
   */
  closed_book_chance: {
    accuracy: number;
    /** Per question: one-sided exact binomial P(X ≥ hits), X ~ Binomial(n, 1/K), of the greedy accuracy. */
    p_above_chance: number;
    /** Per question: rank statistics of the true object. */
    ranks: RankSummary;
    /** Per fact: total hits and rank sum against random true objects. */
    facts: FactRandomizationTest;
    /** Hits or mean rank significantly better than chance (per fact). */
    above_chance: boolean;
    /** Mean rank significantly worse than chance (per fact): the answer is still encoded, pushed down. */
    inverted: boolean;
    at_chance: boolean;
  };
  retrieval: {
    forget: RecallAt;
    forget_edited: RecallAt;
    multihop: RecallAt;
  };
  checks: {
    ram_accuracy: Check;
    follows_edit: Check;
    closed_book_at_chance: Check;
  };
  seconds: number;
}

/** One answer of one model in one condition (a line of items.jsonl). */
export interface RamEvalItem {
  model: ModelRole;
  condition: Condition;
  id: string;
  kind: 'fact' | 'multihop';
  template_split: 'train' | 'heldout' | null;
  question: string;
  subject: string;
  true_answer: string;
  /** What following the edit answers (counterfactual object, or its currency); null when not edited. */
  edited_answer: string | null;
  /** Context statements (RAM conditions). */
  context: string[] | null;
  generated: string;
  answer: string;
  says_true: boolean;
  says_edited: boolean | null;
  /** Closed-book rank of the true object among the K candidates (fact questions). */
  rank: number | null;
}

/** One question's retrieval (a line of retrieval.jsonl). */
export interface RetrievalItem {
  id: string;
  set: 'forget' | 'forget_edited' | 'multihop' | 'multihop_edited';
  question: string;
  needed: FactKey[];
  retrieved: { via: string; subject: string; relation: string; object: string }[];
  recall_at_1: number;
  recall_at_2: number;
  recall_at_4: number;
}

export interface RamEvaluation {
  report: RamEvalReport;
  items: RamEvalItem[];
  retrieval: RetrievalItem[];
}

interface Question {
  id: string;
  kind: 'fact' | 'multihop';
  templateSplit: 'train' | 'heldout' | null;
  question: string;
  subject: string;
  trueAnswer: string;
  editedAnswer: string | null;
  candidates: string[] | null;
  needed: FactKey[];
  /** RAG prompts with the true and the edited store, and their statements. */
  ram?: { prompt: string; context: string[] };
  ramEdited?: { prompt: string; context: string[] };
}

/**
 * Each forget fact's closed-book questions as the fact-level chance test sees them: how many were answered
 * with each candidate, and each candidate's rank summed over them (`scores[i]` belongs to `facts[i]`).
 */
function factOutcomes(
  facts: readonly Question[],
  generated: (q: Question) => string,
  scores: readonly (readonly number[])[],
): FactOutcomes[] {
  const byFact = new Map<
    string,
    { questions: number; hitsIf: number[]; rankSumIf: number[]; trueIndex: number }
  >();
  facts.forEach((q, i) => {
    const candidates = q.candidates!;
    const key = `${q.needed[0]!.subject}\t${q.needed[0]!.relation}`;
    let fact = byFact.get(key);
    if (!fact) {
      const zeros = () => candidates.map(() => 0);
      fact = {
        questions: 0,
        hitsIf: zeros(),
        rankSumIf: zeros(),
        trueIndex: candidates.indexOf(q.trueAnswer),
      };
      byFact.set(key, fact);
    }
    fact.questions++;
    const said = generated(q);
    candidates.forEach((candidate, j) => {
      if (answersMatch(said, candidate)) fact.hitsIf[j]!++;
      fact.rankSumIf[j]! += midRank(scores[i]!, j);
    });
  });
  return [...byFact.values()];
}

/** The question inside a closed-book prompt "Q: ...\nA:". */
export function questionOf(prompt: string, id: string): string {
  const match = /^Q: (.*)\nA:$/s.exec(prompt);
  if (!match) throw new Error(`${id}: prompt is not a closed-book question ("Q: ...\\nA:")`);
  return match[1]!;
}

/**
 * The counterfactual object of each forget fact (key "relation:subject"): another of its candidates,
 * drawn with a seeded generator in the order of the world's forget list.
 */
export function chooseCounterfactuals(world: World, seed: number): Map<string, string> {
  const rng = new Rng(seed);
  const byId = new Map(world.facts.map((f) => [f.id, f]));
  const out = new Map<string, string>();
  for (const id of world.meta.forget.fact_ids) {
    const fact = byId.get(id);
    if (!fact) throw new Error(`${world.dir}/world.json: forget fact "${id}" is not in facts.jsonl`);
    const others = fact.candidates.filter((c) => c !== fact.object);
    if (others.length === 0) throw new Error(`${id}: no other candidate to use as a counterfactual`);
    out.set(id, rng.pick(others));
  }
  return out;
}

function rate(hits: number, n: number): Rate {
  return { n, hits, rate: n === 0 ? Number.NaN : hits / n, ci95: wilsonInterval(hits, n) };
}

function splitRates(questions: readonly Question[], hit: (q: Question, i: number) => boolean): SplitRates {
  const count = (split: 'train' | 'heldout' | null): Rate => {
    let n = 0;
    let hits = 0;
    questions.forEach((q, i) => {
      if (split !== null && q.templateSplit !== split) return;
      n++;
      if (hit(q, i)) hits++;
    });
    return rate(hits, n);
  };
  return { train: count('train'), heldout: count('heldout'), all: count(null) };
}

function recallSummary(items: readonly RetrievalItem[]): RecallAt {
  const mean = (f: (r: RetrievalItem) => number): number =>
    items.length === 0 ? Number.NaN : items.reduce((a, r) => a + f(r), 0) / items.length;
  return {
    n: items.length,
    recall_at_1: mean((r) => r.recall_at_1),
    recall_at_2: mean((r) => r.recall_at_2),
    recall_at_4: mean((r) => r.recall_at_4),
  };
}

/** Runs the whole evaluation (see the file comment). */
export function evaluateRam(options: RamEvalOptions): RamEvaluation {
  const started = performance.now();
  const { world } = options;
  const k = options.k ?? world.meta.config.rag.distractors + 1;
  if (!(Number.isInteger(k) && k >= 1)) throw new Error(`k must be a positive integer, got ${k}`);
  const seed = options.seed ?? 0;
  const hint = options.relationHint ?? false;
  const depth = Math.max(k, ...RECALL_KS);

  const tempDir = options.dbPath === undefined ? mkdtempSync(join(tmpdir(), 'rlcp-ram-eval-')) : null;
  const dbPath = options.dbPath ?? join(tempDir!, 'ram.db');
  try {
    const store = FactStore.open(dbPath);
    try {
      if (store.count() > 0) throw new Error(`${dbPath}: the evaluation needs a new, empty fact store`);
      return run(store);
    } finally {
      store.close();
    }
  } finally {
    if (tempDir !== null) rmSync(tempDir, { recursive: true, force: true });
  }

  function run(store: FactStore): RamEvaluation {
    store.importJsonl(join(world.dir, 'facts.jsonl'));
    const factsById = new Map(world.facts.map((f) => [f.id, f]));
    for (const f of world.facts) {
      const rendered = store.render(f);
      if (rendered !== f.statement) {
        throw new Error(`${f.id}: the store renders "${rendered}" but the world states "${f.statement}"`);
      }
    }
    const counterfactuals = chooseCounterfactuals(world, seed);
    const currencyOf = new Map(
      world.facts.filter((f) => f.relation === 'country_currency').map((f) => [f.subject, f.object]),
    );

    // Forget-set fact questions.
    const factRecords: FactRecord[] = [...world.forgetTrain, ...world.forgetHeldout];
    if (factRecords.length === 0) throw new Error(`${world.dir}: no forget questions`);
    const facts: Question[] = factRecords.map((r) => {
      const counterfactual = counterfactuals.get(r.fact_id);
      if (counterfactual === undefined) throw new Error(`${r.id}: fact ${r.fact_id} is not a forget fact`);
      return {
        id: r.id,
        kind: 'fact',
        templateSplit: r.template_split,
        question: questionOf(r.prompt, r.id),
        subject: r.subject,
        trueAnswer: r.answer,
        editedAnswer: counterfactual,
        candidates: r.candidates,
        needed: [{ subject: r.subject, relation: r.relation }],
      };
    });
    const K = facts[0]!.candidates!.length;
    if (facts.some((q) => q.candidates!.length !== K)) throw new Error('forget questions differ in K');

    // Multi-hop questions that start from a forget city.
    const multihopRecords: MultihopRecord[] = world.multihopTest.filter((r) => r.forget);
    const multihop: Question[] = multihopRecords.map((r) => {
      const first = factsById.get(r.fact_ids[0]!);
      if (!first) throw new Error(`${r.id}: fact ${r.fact_ids[0]} is not in facts.jsonl`);
      const counterfactual = counterfactuals.get(first.id);
      const editedAnswer =
        r.hop === 'currency' && counterfactual !== undefined
          ? (currencyOf.get(counterfactual) ?? null)
          : null;
      return {
        id: r.id,
        kind: 'multihop',
        templateSplit: null,
        question: questionOf(r.prompt, r.id),
        subject: r.subject,
        trueAnswer: r.answer,
        editedAnswer,
        candidates: null,
        needed: r.fact_ids.map((id) => {
          const f = factsById.get(id);
          if (!f) throw new Error(`${r.id}: fact ${id} is not in facts.jsonl`);
          return { subject: f.subject, relation: f.relation };
        }),
      };
    });

    // Retrieval, with the true facts and then with every forget fact edited.
    const retrievalItems: RetrievalItem[] = [];
    const relationOf = (q: Question): string | undefined => (hint ? q.needed[0]!.relation : undefined);
    const retrieveFor = (q: Question, set: RetrievalItem['set']): { prompt: string; context: string[] } => {
      const found = retrieve(store, q.question, { k: depth, relationHint: relationOf(q) });
      retrievalItems.push(retrievalItem(q, set, found));
      // A chain needs each of its facts in the context: a two-hop question gets at least two statements.
      const used = found.slice(0, Math.max(k, q.needed.length));
      return {
        prompt: buildRagPrompt(used, q.question, (f) => f.statement),
        context: used.map((f) => f.statement),
      };
    };
    for (const q of [...facts, ...multihop])
      q.ram = retrieveFor(q, q.kind === 'fact' ? 'forget' : 'multihop');
    for (const [id, object] of counterfactuals) {
      const f = factsById.get(id)!;
      store.add({
        subject: f.subject,
        relation: f.relation,
        object,
        source: 'rlcp ram eval (counterfactual)',
      });
    }
    for (const q of facts) q.ramEdited = retrieveFor(q, 'forget_edited');
    for (const q of multihop) if (q.editedAnswer !== null) q.ramEdited = retrieveFor(q, 'multihop_edited');

    // Answers. The same model in both roles is run once.
    const sameModel = options.metabolized === options.base;
    const metabolizedRun = answerAll(options.metabolized, 'metabolized', facts, multihop, options);
    const baseRun = sameModel ? metabolizedRun : answerAll(options.base, 'base', facts, multihop, options);
    const items = [
      ...metabolizedRun.items,
      ...(sameModel ? metabolizedRun.items.map((i) => ({ ...i, model: 'base' as const })) : baseRun.items),
    ];

    const m = metabolizedRun.results;
    const greedyHits = m.closed_book.all.hits;
    const n = m.closed_book.all.n;
    const pAbove = binomialTailUpper(greedyHits, n, 1 / K);
    const ranks = m.closed_book_ranks;
    const byFact = m.closed_book_facts;
    const atChance = !byFact.above_chance && !byFact.inverted;

    const report: RamEvalReport = {
      world: world.dir,
      metabolized: options.metabolized.name,
      base: options.base.name,
      same_model: sameModel,
      k,
      seed,
      relation_hint: hint,
      forget: {
        relation: world.meta.forget.relation,
        facts: counterfactuals.size,
        questions: facts.length,
        train_questions: facts.filter((q) => q.templateSplit === 'train').length,
        heldout_questions: facts.filter((q) => q.templateSplit === 'heldout').length,
        K,
        chance: 1 / K,
        multihop_questions: multihop.length,
        multihop_currency_questions: multihop.filter((q) => q.editedAnswer !== null).length,
      },
      metabolized_results: m,
      base_results: baseRun.results,
      closed_book_chance: {
        accuracy: m.closed_book.all.rate,
        p_above_chance: pAbove,
        ranks,
        facts: byFact,
        above_chance: byFact.above_chance,
        inverted: byFact.inverted,
        at_chance: atChance,
      },
      retrieval: {
        forget: recallSummary(retrievalItems.filter((r) => r.set === 'forget')),
        forget_edited: recallSummary(retrievalItems.filter((r) => r.set === 'forget_edited')),
        multihop: recallSummary(retrievalItems.filter((r) => r.set === 'multihop')),
      },
      checks: {
        ram_accuracy: {
          pass: m.ram.all.rate >= RAM_TARGET,
          value: m.ram.all.rate,
          target: `>= ${RAM_TARGET}`,
        },
        follows_edit: {
          pass: m.ram_edited_follows.all.rate >= RAM_TARGET,
          value: m.ram_edited_follows.all.rate,
          target: `>= ${RAM_TARGET}`,
        },
        closed_book_at_chance: {
          pass: atChance,
          value: m.closed_book.all.rate,
          target: `per fact, not above chance 1/${K} nor inverted (p >= ${CHANCE_ALPHA})`,
        },
      },
      seconds: (performance.now() - started) / 1000,
    };
    return { report, items, retrieval: retrievalItems };
  }
}

function retrievalItem(
  q: Question,
  set: RetrievalItem['set'],
  found: readonly RetrievedFact[],
): RetrievalItem {
  return {
    id: q.id,
    set,
    question: q.question,
    needed: q.needed,
    retrieved: found.map((f) => ({ via: f.via, subject: f.subject, relation: f.relation, object: f.object })),
    recall_at_1: recallAtK(q.needed, found, 1),
    recall_at_2: recallAtK(q.needed, found, 2),
    recall_at_4: recallAtK(q.needed, found, 4),
  };
}

interface Prompted {
  question: Question;
  condition: Condition;
  prompt: string;
  context: string[] | null;
}

function answerAll(
  answerer: Answerer,
  role: ModelRole,
  facts: readonly Question[],
  multihop: readonly Question[],
  options: RamEvalOptions,
): { results: ModelResults; items: RamEvalItem[] } {
  const prompted = (questions: readonly Question[]): Prompted[] =>
    questions.flatMap((q) => [
      { question: q, condition: 'closed_book', prompt: closedBookPrompt(q.question), context: null },
      { question: q, condition: 'ram', prompt: q.ram!.prompt, context: q.ram!.context },
      ...(q.ramEdited
        ? [
            {
              question: q,
              condition: 'ram_edited' as const,
              prompt: q.ramEdited.prompt,
              context: q.ramEdited.context,
            },
          ]
        : []),
    ]);
  const factPrompts = prompted(facts);
  const multihopPrompts = prompted(multihop);
  const label = (what: string): string => `${role} ${what}`;
  const factAnswers = answerer.answer(
    factPrompts.map((p) => p.prompt),
    { maxNewTokens: options.maxNewTokens ?? 16, label: label('answers') },
  );
  const multihopAnswers =
    multihopPrompts.length === 0
      ? []
      : answerer.answer(
          multihopPrompts.map((p) => p.prompt),
          { maxNewTokens: options.maxNewTokensMultihop ?? 48, label: label('multi-hop answers') },
        );
  const scores = answerer.candidateLogProbs(
    facts.map((q) => closedBookPrompt(q.question)),
    facts.map((q) => q.candidates!),
    label('candidate scores'),
  );
  const rankOf = new Map(
    facts.map((q, i) => {
      const index = q.candidates!.indexOf(q.trueAnswer);
      if (index < 0) throw new Error(`${q.id}: the answer "${q.trueAnswer}" is not among its candidates`);
      return [q, midRank(scores[i]!, index)];
    }),
  );

  const items: RamEvalItem[] = [...factPrompts, ...multihopPrompts].map((p, i) => {
    const generated = i < factPrompts.length ? factAnswers[i]! : multihopAnswers[i - factPrompts.length]!;
    const q = p.question;
    const edited = p.condition === 'ram_edited' ? q.editedAnswer : null;
    return {
      model: role,
      condition: p.condition,
      id: q.id,
      kind: q.kind,
      template_split: q.templateSplit,
      question: q.question,
      subject: q.subject,
      true_answer: q.trueAnswer,
      edited_answer: edited,
      context: p.context,
      generated,
      answer: displayAnswer(generated),
      says_true: answersMatch(generated, q.trueAnswer),
      says_edited: edited === null ? null : answersMatch(generated, edited),
      rank: p.condition === 'closed_book' ? (rankOf.get(q) ?? null) : null,
    };
  });

  const index = new Map(items.map((it) => [`${it.id}\t${it.condition}`, it]));
  const get = (q: Question, condition: Condition): RamEvalItem => index.get(`${q.id}\t${condition}`)!;
  const multiRate = (
    questions: readonly Question[],
    hit: (it: RamEvalItem) => boolean,
    condition: Condition,
  ): Rate => rate(questions.filter((q) => hit(get(q, condition))).length, questions.length);
  const editedMultihop = multihop.filter((q) => q.editedAnswer !== null);
  const results: ModelResults = {
    closed_book: splitRates(facts, (q) => get(q, 'closed_book').says_true),
    closed_book_ranks: rankSummary(
      facts.map((q) => rankOf.get(q)!),
      facts[0]!.candidates!.length,
      CHANCE_ALPHA,
    ),
    closed_book_facts: factRandomizationTest(
      factOutcomes(facts, (q) => get(q, 'closed_book').generated, scores),
      CHANCE_ALPHA,
    ),
    ram: splitRates(facts, (q) => get(q, 'ram').says_true),
    ram_edited_follows: splitRates(facts, (q) => get(q, 'ram_edited').says_edited === true),
    ram_edited_original: splitRates(facts, (q) => get(q, 'ram_edited').says_true),
    multihop: {
      closed_book: multiRate(multihop, (it) => it.says_true, 'closed_book'),
      ram: multiRate(multihop, (it) => it.says_true, 'ram'),
      ram_edited_follows: multiRate(editedMultihop, (it) => it.says_edited === true, 'ram_edited'),
      ram_edited_original: multiRate(editedMultihop, (it) => it.says_true, 'ram_edited'),
    },
  };
  return { results, items };
}

const pct = (r: Rate): string => (r.n === 0 ? '—' : `${(100 * r.rate).toFixed(1)}%`);
const mark = (pass: boolean): string => (pass ? 'PASS' : 'FAIL');

/** The report as one plain-text table (and the checks under it). */
export function formatRamEvalTable(report: RamEvalReport): string {
  const { forget, k } = report;
  const m = report.metabolized_results;
  const b = report.base_results;
  const header = ['', 'metabolized', '', '', 'base', '', ''];
  const sub = ['forget set', 'train', 'heldout', 'all', 'train', 'heldout', 'all'];
  const row = (label: string, pick: (r: ModelResults) => SplitRates): string[] => {
    const a = pick(m);
    const c = pick(b);
    return [label, pct(a.train), pct(a.heldout), pct(a.all), pct(c.train), pct(c.heldout), pct(c.all)];
  };
  const multiRow = (label: string, pick: (r: ModelResults) => Rate): string[] => [
    label,
    '',
    '',
    pct(pick(m)),
    '',
    '',
    pct(pick(b)),
  ];
  const rows = [
    header,
    sub,
    row('closed book: true answer', (r) => r.closed_book),
    [
      `closed book: mean rank (chance ${m.closed_book_ranks.chance_rank})`,
      '',
      '',
      m.closed_book_ranks.mean_rank.toFixed(2),
      '',
      '',
      b.closed_book_ranks.mean_rank.toFixed(2),
    ],
    row('RAM: true answer', (r) => r.ram),
    row('RAM edited: follows the edit', (r) => r.ram_edited_follows),
    row('RAM edited: memorised answer', (r) => r.ram_edited_original),
    [`multi-hop (${forget.multihop_questions} forget-city questions)`, '', '', '', '', '', ''],
    multiRow('closed book: true answer', (r) => r.multihop.closed_book),
    multiRow('RAM: true answer', (r) => r.multihop.ram),
    multiRow(
      `RAM edited: follows (${forget.multihop_currency_questions} currency)`,
      (r) => r.multihop.ram_edited_follows,
    ),
    multiRow('RAM edited: memorised answer', (r) => r.multihop.ram_edited_original),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const lines = rows.map((r) =>
    r
      .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
      .join('  ')
      .trimEnd(),
  );

  const chance = report.closed_book_chance;
  const recall = (r: RecallAt): string =>
    `${r.recall_at_1.toFixed(3)} / ${r.recall_at_2.toFixed(3)} / ${r.recall_at_4.toFixed(3)} (n = ${r.n})`;
  const c = report.checks;
  return [
    `RAM evaluation of ${report.world}: ${forget.facts} forget facts (${forget.relation}), ${forget.questions} questions ` +
      `(${forget.train_questions} training-template, ${forget.heldout_questions} held-out-template), K = ${forget.K}, ` +
      `k = ${k}${report.relation_hint ? ', relation hint' : ''}, counterfactual seed ${report.seed}`,
    `metabolized: ${report.metabolized}`,
    `base:        ${report.base}${report.same_model ? '  (the same model in both roles)' : ''}`,
    '',
    ...lines,
    '',
    `metabolized closed book vs chance 1/${forget.K}, per fact (${chance.facts.facts} facts, their phrasings ` +
      `together): ${chance.facts.hits} of ${chance.facts.questions} answers true (p above chance ` +
      `${fmtP(chance.facts.p_above_chance)}), mean rank ${chance.facts.mean_rank.toFixed(2)} vs ` +
      `${chance.facts.chance_rank} (two-sided p ${fmtP(chance.facts.rank_p_two_sided)}) → ` +
      (chance.at_chance ? 'at chance' : chance.inverted ? 'INVERTED (still encoded)' : 'ABOVE chance'),
    `  per question (phrasings as independent draws): accuracy p ${fmtP(chance.p_above_chance)}, ` +
      `top-candidate ${(100 * chance.ranks.accuracy).toFixed(1)}% (p ${fmtP(chance.ranks.p_above_chance)}), ` +
      `mean rank two-sided p ${fmtP(chance.ranks.p_two_sided)} (${chance.ranks.method})`,
    `retrieval recall@1 / @2 / @4: forget ${recall(report.retrieval.forget)}; after the edit ` +
      `${recall(report.retrieval.forget_edited)}; multi-hop ${recall(report.retrieval.multihop)}`,
    `checks: RAM accuracy ${pct(m.ram.all)} ${c.ram_accuracy.target} ${mark(c.ram_accuracy.pass)}; ` +
      `follows the edit ${pct(m.ram_edited_follows.all)} ${c.follows_edit.target} ${mark(c.follows_edit.pass)} ` +
      `(base ${pct(b.ram_edited_follows.all)}); closed book at chance ${mark(c.closed_book_at_chance.pass)}`,
    `${report.seconds.toFixed(1)} s`,
  ].join('\n');
}

function fmtP(p: number): string {
  return p < 1e-3 ? p.toExponential(1) : p.toFixed(3);
}
