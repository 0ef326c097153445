// Record types of the world's JSONL splits and their validators (documented in src/data/README.md).
// Every record's prompt and completion follow src/data/format.ts; validation checks that layout and
// that the completion is scored correct against the record's own answer.
import { answersMatch } from './format.ts';
import {
  asObject,
  fieldArray,
  fieldBoolean,
  fieldInteger,
  fieldOneOf,
  fieldString,
  fieldStringArray,
  nested,
  type JsonObject,
} from './validate.ts';

export const FACT_SPLITS = ['forget_train', 'forget_heldout', 'retain_train', 'retain_heldout'] as const;
export const LOGIC_SPLITS = ['logic_train', 'logic_test'] as const;
export const RAG_SPLITS = ['rag_train', 'rag_test', 'rag_counterfactual'] as const;
export const MULTIHOP_SPLITS = ['multihop_train', 'multihop_test'] as const;
export const PRETRAIN_FILES = ['pretrain', 'pretrain_oracle'] as const;

export type FactSplitName = (typeof FACT_SPLITS)[number];
export type LogicSplitName = (typeof LOGIC_SPLITS)[number];
export type RagSplitName = (typeof RAG_SPLITS)[number];
export type MultihopSplitName = (typeof MULTIHOP_SPLITS)[number];
export type SplitName = FactSplitName | LogicSplitName | RagSplitName | MultihopSplitName;

export type Style = 'cot' | 'direct';

interface BaseRecord {
  /** Unique within the world, e.g. "forget_heldout-00007". */
  id: string;
  /** The file the record belongs to (its name without ".jsonl"). */
  split: SplitName;
  prompt: string;
  /** Starts with a space, no trailing newline or EOS. */
  completion: string;
  /** Canonical answer; `answersMatch(completion, answer)` holds. */
  answer: string;
}

export interface FactRecord extends BaseRecord {
  kind: 'fact';
  fact_id: string;
  relation: string;
  subject: string;
  object: string;
  /** Template id, e.g. "city_country.h1". */
  template: string;
  template_split: 'train' | 'heldout';
  candidates: string[];
  forget: boolean;
}

export interface LogicRecord extends BaseRecord {
  kind: 'logic';
  style: Style;
  /** The arithmetic ("3 +4 -2"); train and test problems never share one. */
  problem: string;
  steps: number;
}

export interface ContextFact {
  fact_id: string;
  relation: string;
  subject: string;
  /** The object the context states (differs from the fact's for the counterfactual target). */
  object: string;
}

export interface RagRecord extends BaseRecord {
  kind: 'rag';
  fact_id: string;
  relation: string;
  subject: string;
  /** The object stated in the context (= answer). */
  object: string;
  /** The world's object for the subject; differs from `object` only when counterfactual. */
  true_object: string;
  counterfactual: boolean;
  /** Whether the asked fact is a forget fact. */
  forget: boolean;
  template: string;
  template_split: 'train' | 'heldout';
  candidates: string[];
  /** Every fact stated in the context, in order: the asked one and the distractors. */
  context_facts: ContextFact[];
}

export interface MultihopRecord extends BaseRecord {
  kind: 'multihop';
  style: 'cot';
  /** "currency": city → country → currency; "price": city → country, then a multiplication. */
  hop: 'currency' | 'price';
  /** The city the question starts from. */
  subject: string;
  /** Facts the solution chains through (the city → country fact first). */
  fact_ids: string[];
  /** Whether the chain starts with a forget fact. */
  forget: boolean;
}

export type WorldRecord = FactRecord | LogicRecord | RagRecord | MultihopRecord;

export type PretrainSource = 'statement' | 'fact' | 'logic' | 'rag' | 'multihop';

/** A pretraining line: `text` is trained on every token; `prompt`/`completion` on the completion only. */
export type PretrainLine =
  { source: PretrainSource; text: string } | { source: PretrainSource; prompt: string; completion: string };

const PRETRAIN_SOURCES: readonly PretrainSource[] = ['statement', 'fact', 'logic', 'rag', 'multihop'];

function checkPromptLayout(prompt: string, completion: string): void {
  if (!/^(Q: |Context: )/.test(prompt) || !prompt.endsWith('\nA:')) {
    throw new Error(
      'field "prompt" must start with "Q: " or "Context: " and end with "\\nA:" (see format.ts)',
    );
  }
  if (!completion.startsWith(' ') || completion.includes('\n')) {
    throw new Error('field "completion" must start with a space and contain no newline');
  }
}

function validateBase<K extends string>(record: JsonObject, splits: readonly K[]) {
  const base = {
    id: fieldString(record, 'id'),
    split: fieldOneOf(record, 'split', splits),
    prompt: fieldString(record, 'prompt'),
    completion: fieldString(record, 'completion'),
    answer: fieldString(record, 'answer'),
  };
  checkPromptLayout(base.prompt, base.completion);
  if (!answersMatch(base.completion, base.answer)) {
    throw new Error(`field "completion" does not match field "answer" ("${base.answer}")`);
  }
  return base;
}

function validateKind(record: JsonObject, kind: string): void {
  if (record.kind !== kind) throw new Error(`field "kind" must be "${kind}"`);
}

function validateCandidates(record: JsonObject, answer: string): string[] {
  const candidates = fieldStringArray(record, 'candidates', 2);
  if (!candidates.includes(answer)) throw new Error(`field "candidates" must contain the answer "${answer}"`);
  return candidates;
}

export function validateFactRecord(value: unknown): FactRecord {
  const record = asObject(value);
  validateKind(record, 'fact');
  const base = validateBase(record, FACT_SPLITS);
  const object = fieldString(record, 'object');
  if (object !== base.answer) throw new Error('field "answer" must equal field "object"');
  return {
    ...base,
    kind: 'fact',
    fact_id: fieldString(record, 'fact_id'),
    relation: fieldString(record, 'relation'),
    subject: fieldString(record, 'subject'),
    object,
    template: fieldString(record, 'template'),
    template_split: fieldOneOf(record, 'template_split', ['train', 'heldout'] as const),
    candidates: validateCandidates(record, object),
    forget: fieldBoolean(record, 'forget'),
  };
}

export function validateLogicRecord(value: unknown): LogicRecord {
  const record = asObject(value);
  validateKind(record, 'logic');
  return {
    ...validateBase(record, LOGIC_SPLITS),
    kind: 'logic',
    style: fieldOneOf(record, 'style', ['cot', 'direct'] as const),
    problem: fieldString(record, 'problem'),
    steps: fieldInteger(record, 'steps', 1, 10),
  };
}

function validateContextFact(value: unknown): ContextFact {
  const record = asObject(value, 'context fact');
  return {
    fact_id: fieldString(record, 'fact_id'),
    relation: fieldString(record, 'relation'),
    subject: fieldString(record, 'subject'),
    object: fieldString(record, 'object'),
  };
}

export function validateRagRecord(value: unknown): RagRecord {
  const record = asObject(value);
  validateKind(record, 'rag');
  const base = validateBase(record, RAG_SPLITS);
  const object = fieldString(record, 'object');
  const trueObject = fieldString(record, 'true_object');
  const counterfactual = fieldBoolean(record, 'counterfactual');
  if (object !== base.answer)
    throw new Error('field "answer" must equal field "object" (the context\'s object)');
  if (counterfactual === (object === trueObject)) {
    throw new Error('field "counterfactual" must be true exactly when "object" differs from "true_object"');
  }
  const contextFacts = fieldArray(record, 'context_facts', 1).map((f, i) =>
    nested(`context_facts[${i}]`, () => validateContextFact(f)),
  );
  const factId = fieldString(record, 'fact_id');
  if (!contextFacts.some((f) => f.fact_id === factId && f.object === object)) {
    throw new Error('field "context_facts" must state the asked fact with the answer as object');
  }
  return {
    ...base,
    kind: 'rag',
    fact_id: factId,
    relation: fieldString(record, 'relation'),
    subject: fieldString(record, 'subject'),
    object,
    true_object: trueObject,
    counterfactual,
    forget: fieldBoolean(record, 'forget'),
    template: fieldString(record, 'template'),
    template_split: fieldOneOf(record, 'template_split', ['train', 'heldout'] as const),
    candidates: validateCandidates(record, object),
    context_facts: contextFacts,
  };
}

export function validateMultihopRecord(value: unknown): MultihopRecord {
  const record = asObject(value);
  validateKind(record, 'multihop');
  const base = validateBase(record, MULTIHOP_SPLITS);
  if (record.style !== 'cot') throw new Error('field "style" must be "cot"');
  return {
    ...base,
    kind: 'multihop',
    style: 'cot',
    hop: fieldOneOf(record, 'hop', ['currency', 'price'] as const),
    subject: fieldString(record, 'subject'),
    fact_ids: fieldStringArray(record, 'fact_ids', 1),
    forget: fieldBoolean(record, 'forget'),
  };
}

export function validatePretrainLine(value: unknown): PretrainLine {
  const record = asObject(value);
  const source = fieldOneOf(record, 'source', PRETRAIN_SOURCES);
  if ('text' in record) {
    if ('prompt' in record || 'completion' in record) {
      throw new Error('a pretraining line has either "text" or "prompt" + "completion", not both');
    }
    return { source, text: fieldString(record, 'text') };
  }
  const prompt = fieldString(record, 'prompt');
  const completion = fieldString(record, 'completion');
  if (source !== 'rag') throw new Error(`a "${source}" pretraining line must be a "text" line`);
  // A RAG line trains its question and answer, not its context: "Context: …\n" + "Q: …\nA: answer".
  if (!prompt.startsWith('Context: ') || !prompt.endsWith('\n') || prompt.slice(0, -1).includes('\n')) {
    throw new Error('a RAG pretraining line\'s "prompt" must be one "Context: …" line ending in "\\n"');
  }
  const answer = completion.lastIndexOf('\nA:');
  if (!completion.startsWith('Q: ') || answer < 0) {
    throw new Error('a RAG pretraining line\'s "completion" must be "Q: …\\nA: answer"');
  }
  checkPromptLayout(prompt + completion.slice(0, answer + 3), completion.slice(answer + 3));
  return { source, prompt, completion };
}
