// The fact schema shared by the world's facts.jsonl and the real fact sets in data/facts/, and its
// validating loader. One line = one fact with its statement, its candidate answers and its question
// templates already filled in, so a fact set is self-contained (see src/data/README.md).
import { readJsonl } from '../io/jsonl.ts';
import { fillTemplate, type RelationSpec, type TemplateSplit } from './relations.ts';
import {
  asObject,
  fieldArray,
  fieldOneOf,
  fieldString,
  fieldStringArray,
  nested,
  type JsonObject,
} from './validate.ts';

export type FactSplit = 'forget' | 'retain';

export interface FactQuestion {
  /** Template id, e.g. "city_country.h2". */
  id: string;
  question: string;
  split: TemplateSplit;
}

export interface Fact {
  id: string;
  relation: string;
  subject: string;
  object: string;
  /** Declarative sentence stating the fact, used in RAG contexts and pretraining text. */
  statement: string;
  split: FactSplit;
  /** Every possible answer of the relation (the object among them), for ranking; chance = 1/length. */
  candidates: string[];
  /** Other accepted spellings of the object (real fact sets only, e.g. "Kiev" for "Kyiv"). */
  aliases?: string[];
  templates: FactQuestion[];
}

/** Minimum template counts every fact must have (issue 4: ≥ 5 templates, some held out). */
export const MIN_TEMPLATES = 5;
export const MIN_HELDOUT_TEMPLATES = 2;

export function makeFact(
  id: string,
  spec: RelationSpec,
  subject: string,
  object: string,
  split: FactSplit,
  candidates: readonly string[],
  aliases?: readonly string[],
): Fact {
  const fact: Fact = {
    id,
    relation: spec.name,
    subject,
    object,
    statement: fillTemplate(spec.statement, subject, object),
    split,
    candidates: [...candidates],
    templates: spec.templates.map((t) => ({
      id: t.id,
      question: fillTemplate(t.text, subject),
      split: t.split,
    })),
  };
  if (aliases && aliases.length > 0) fact.aliases = [...aliases];
  return validateFact(fact);
}

/** Checks one fact record; throws an Error naming the offending field. */
export function validateFact(value: unknown): Fact {
  const record = asObject(value, 'fact');
  const id = fieldString(record, 'id');
  const relation = fieldString(record, 'relation');
  const subject = fieldString(record, 'subject');
  const object = fieldString(record, 'object');
  const statement = fieldString(record, 'statement');
  const split = fieldOneOf(record, 'split', ['forget', 'retain'] as const);
  const candidates = fieldStringArray(record, 'candidates', 2);
  if (!candidates.includes(object)) throw new Error(`field "candidates" must contain the object "${object}"`);
  if (new Set(candidates).size !== candidates.length) throw new Error('field "candidates" has duplicates');
  if (!statement.includes(subject) || !statement.includes(object)) {
    throw new Error('field "statement" must mention the subject and the object');
  }
  const templates = fieldArray(record, 'templates', MIN_TEMPLATES).map((t, i) =>
    nested(`templates[${i}]`, () => validateQuestion(asObject(t, 'template'), subject)),
  );
  if (new Set(templates.map((t) => t.id)).size !== templates.length) {
    throw new Error('field "templates" has duplicate ids');
  }
  const heldout = templates.filter((t) => t.split === 'heldout').length;
  if (heldout < MIN_HELDOUT_TEMPLATES || heldout === templates.length) {
    throw new Error(
      `field "templates" must have at least ${MIN_HELDOUT_TEMPLATES} held-out and one training template`,
    );
  }
  const fact: Fact = { id, relation, subject, object, statement, split, candidates, templates };
  if (record.aliases !== undefined) fact.aliases = fieldStringArray(record, 'aliases');
  return fact;
}

function validateQuestion(record: JsonObject, subject: string): FactQuestion {
  const question = fieldString(record, 'question');
  if (!question.includes(subject)) throw new Error(`field "question" must mention the subject "${subject}"`);
  return {
    id: fieldString(record, 'id'),
    question,
    split: fieldOneOf(record, 'split', ['train', 'heldout'] as const),
  };
}

/** Reads and validates a fact-set JSONL file; errors name file:line and the field. Ids must be unique. */
export function loadFactSet(path: string): Fact[] {
  const seen = new Set<string>();
  return readJsonl(path, (value) => {
    const fact = validateFact(value);
    if (seen.has(fact.id)) throw new Error(`duplicate fact id "${fact.id}"`);
    seen.add(fact.id);
    return fact;
  });
}
