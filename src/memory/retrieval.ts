// Retrieval from the symbolic RAM: from a question to the few facts the model should read, then the RAG
// prompt the model was trained on. Algorithm (README.md): entity match first — facts whose subject or
// object is named in the question, plus one hop from the named subjects — ordered by relation hint, match
// kind and BM25 on the question's other words; then FTS5 BM25 over all its content words fills the rest.
import { ragPrompt } from '../data/format.ts';
import type { FactStore, StoredFact } from './store.ts';

export interface RetrieveOptions {
  /** How many facts to return. */
  k: number;
  /** A relation the question is known to ask about; its facts rank first among the entity matches. */
  relationHint?: string;
  /** Follow one hop from each named subject to the facts about its objects (default true). */
  hop?: boolean;
}

/**
 * How a fact was found: `subject` / `object` — that field is named in the question; `hop` — its subject
 * is the object of a `subject` match; `text` — BM25 only. `subject` ranks first, `object` and `hop` next
 * (ordered together by score), `text` last.
 */
export type RetrievalTier = 'subject' | 'object' | 'hop' | 'text';

export interface RetrievedFact extends StoredFact {
  via: RetrievalTier;
  /**
   * FTS5 bm25(), lower is better; null when no word matched. Named and hop facts are scored on the
   * question's content words outside the matched names, `text` facts on all its content words.
   */
  score: number | null;
}

export interface FactKey {
  subject: string;
  relation: string;
}

/** Longest entity name, in words, looked for in a question. */
const MAX_ENTITY_WORDS = 8;

// Question words that carry no content: matching them would rank facts by how often they say "is" or "in".
const STOP_WORDS = new Set(
  (
    'a an and are as at be by did do does for from has have how in is it its of on or s that the their ' +
    'there this to was were what when where which who whom whose why with'
  ).split(' '),
);

const WORD = /[\p{L}\p{N}]+/gu;

/**
 * Every run of 1..8 consecutive words of the question, as written between its first and last word
 * ("What is St. Velora's capital?" gives "St", "St. Velora", "Velora", "s", ...). An entity named in the
 * question as a whole word or phrase equals one of these, up to case.
 */
export function entityCandidates(question: string): string[] {
  const words = [...question.matchAll(WORD)].map((m) => ({ start: m.index, end: m.index + m[0].length }));
  const spans = new Set<string>();
  for (let i = 0; i < words.length; i++) {
    for (let j = i; j < Math.min(words.length, i + MAX_ENTITY_WORDS); j++) {
      spans.add(question.slice(words[i]!.start, words[j]!.end));
    }
  }
  return [...spans];
}

/**
 * The question's content words for the FTS5 query: letters and digits only (so quotes, `*`, `:`,
 * parentheses or NEAR can never act as FTS syntax), lower-cased, stop words and repeats dropped.
 */
export function questionTerms(question: string): string[] {
  const words = [...question.matchAll(WORD)].map((m) => m[0].toLowerCase());
  return [...new Set(words.filter((w) => !STOP_WORDS.has(w)))];
}

/** The top-k facts for a question, best first, without duplicates. */
export function retrieve(store: FactStore, question: string, options: RetrieveOptions): RetrievedFact[] {
  const k = Math.floor(options.k);
  if (!(k >= 1)) throw new Error(`retrieve: k must be at least 1, got ${options.k}`);
  const terms = questionTerms(question);
  const names = entityCandidates(question);

  const found = new Map<number, { fact: StoredFact; via: RetrievalTier }>();
  const note = (facts: StoredFact[], via: RetrievalTier): void => {
    for (const fact of facts) if (!found.has(fact.id)) found.set(fact.id, { fact, via });
  };
  const bySubject = store.withSubjectIn(names);
  note(bySubject, 'subject');
  note(store.withObjectIn(names), 'object');
  if (options.hop ?? true) note(store.withSubjectIn([...new Set(bySubject.map((f) => f.object))]), 'hop');

  // The named facts all share the names; what tells them apart is the rest of the question ("born",
  // "currency"), so they are scored on the content words outside the matched names.
  const nameWords = new Set(
    [...found.values()].flatMap(({ fact, via }) =>
      via === 'hop' ? [] : questionTerms(via === 'subject' ? fact.subject : fact.object),
    ),
  );
  const intentTerms = terms.filter((t) => !nameWords.has(t));
  const scores = new Map<number, number>();
  if (found.size > 0) {
    for (const hit of store.textSearch(intentTerms, { limit: found.size, onlyIds: [...found.keys()] })) {
      scores.set(hit.fact.id, hit.score);
    }
  }
  const entityHits = [...found.values()].map(({ fact, via }) => ({
    ...fact,
    via,
    score: scores.get(fact.id) ?? null,
  }));
  // Facts about a named subject first; facts naming it as object compete with one-hop facts on score.
  entityHits.sort(
    (a, b) =>
      Number(b.relation === options.relationHint) - Number(a.relation === options.relationHint) ||
      Number(b.via === 'subject') - Number(a.via === 'subject') ||
      (a.score ?? Infinity) - (b.score ?? Infinity) ||
      a.id - b.id,
  );
  const ranked: RetrievedFact[] = entityHits.slice(0, k);
  if (ranked.length < k) {
    const textHits = store.textSearch(terms, { limit: k + found.size });
    for (const { fact, score } of textHits) {
      if (ranked.length === k) break;
      if (!found.has(fact.id)) ranked.push({ ...fact, via: 'text', score });
    }
  }
  return ranked;
}

/** The RAG prompt (src/data/format.ts) with one rendered statement per fact, in the given order. */
export function buildRagPrompt<F>(
  facts: readonly F[],
  question: string,
  render: (fact: F) => string,
): string {
  return ragPrompt(facts.map(render), question);
}

/**
 * The fraction of `needed` facts found among the first k `retrieved` ones. Facts are identified by
 * (subject, relation), so a needed fact still counts as found after its object was edited.
 */
export function recallAtK(needed: readonly FactKey[], retrieved: readonly FactKey[], k: number): number {
  if (needed.length === 0) throw new Error('recallAtK: no needed facts');
  const key = (f: FactKey): string => JSON.stringify([f.subject, f.relation]);
  const top = new Set(retrieved.slice(0, k).map(key));
  const wanted = new Set(needed.map(key));
  let hits = 0;
  for (const w of wanted) if (top.has(w)) hits++;
  return hits / wanted.size;
}
