// Token-level encoding of the unlearning streams: fact prompts with their probe label, answer tokens and
// the positions the probe reads; anchor records with the rows their LM loss and KL cover.
import { encodeRecord, type EncodedExample, type TextEncoder } from '../train/batches.ts';
import type { AnchorRecord, FactExample } from './data.ts';

export interface EncodedFact {
  example: FactExample;
  /** Prompt + " answer" + EOS (the answer part is trained by GA / NPO / unlikelihood). */
  encoded: EncodedExample;
  promptLength: number;
  /** Index of the answer among the relation's classes (the probe label). */
  label: number;
  /** Prompt positions of the subject's tokens. */
  subjectPositions: number[];
}

function findSubsequence(haystack: readonly number[], needle: readonly number[], end: number): number {
  outer: for (let i = 0; i + needle.length <= end; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

export function encodeFact(
  tokenizer: TextEncoder,
  example: FactExample,
  classes: readonly string[],
  maxLength: number,
): EncodedFact {
  const encoded = encodeRecord(
    tokenizer,
    { prompt: example.prompt, completion: ` ${example.answer}` },
    maxLength,
  );
  const promptLength = encoded.trained.indexOf(1);
  const label = classes.indexOf(example.answer);
  if (label < 0)
    throw new Error(`fact ${example.id}: answer "${example.answer}" is not among its relation's classes`);
  let subjectPositions: number[] = [];
  for (const text of [` ${example.subject}`, example.subject]) {
    const needle = tokenizer.encode(text, { addSpecialTokens: false });
    const at = needle.length > 0 ? findSubsequence(encoded.ids, needle, promptLength) : -1;
    if (at >= 0) {
      subjectPositions = needle.map((_, j) => at + j);
      break;
    }
  }
  if (subjectPositions.length === 0) {
    throw new Error(`fact ${example.id}: the subject "${example.subject}" is not a token span of the prompt`);
  }
  return { example, encoded, promptLength, label, subjectPositions };
}

export function encodeAnchors(
  tokenizer: TextEncoder,
  records: readonly AnchorRecord[],
  maxLength: number,
): EncodedExample[] {
  return records.map((r) => encodeRecord(tokenizer, r, maxLength));
}

/**
 * A right-padded batch and the flat rows (b·T + t) whose next token is trained, in row order: row t of
 * an example predicts ids[t + 1] when that token is trained (its completion and EOS).
 */
export interface RowBatch {
  batch: number;
  seq: number;
  ids: Int32Array;
  /** 1 for real tokens, 0 for padding. */
  attentionMask: Uint8Array;
  rows: Int32Array;
  rowTargets: Int32Array;
  /** For each row, the index of its example in the batch. */
  rowOwner: Int32Array;
  /** Number of trained rows (= rows.length). */
  trainedTokens: number;
}

export function collateRows(examples: readonly EncodedExample[], padId: number): RowBatch {
  const batch = examples.length;
  const seq = Math.max(...examples.map((e) => e.ids.length));
  const ids = new Int32Array(batch * seq).fill(padId);
  const attentionMask = new Uint8Array(batch * seq);
  const rows: number[] = [];
  const rowTargets: number[] = [];
  const rowOwner: number[] = [];
  examples.forEach((example, b) => {
    for (let t = 0; t < example.ids.length; t++) {
      ids[b * seq + t] = example.ids[t]!;
      attentionMask[b * seq + t] = 1;
      if (t + 1 < example.ids.length && example.trained[t + 1] === 1) {
        rows.push(b * seq + t);
        rowTargets.push(example.ids[t + 1]!);
        rowOwner.push(b);
      }
    }
  });
  return {
    batch,
    seq,
    ids,
    attentionMask,
    rows: Int32Array.from(rows),
    rowTargets: Int32Array.from(rowTargets),
    rowOwner: Int32Array.from(rowOwner),
    trainedTokens: rows.length,
  };
}

/** Number of trained rows of an example (its completion tokens + EOS). */
export function trainedRows(example: EncodedExample): number {
  let n = 0;
  for (let t = 1; t < example.ids.length; t++) if (example.trained[t] === 1) n++;
  return n;
}

/** The fact's prompt + answer with the subject's tokens replaced by `placeholder` (answer tokens trained). */
export function withPlaceholderSubject(fact: EncodedFact, placeholder: readonly number[]): EncodedExample {
  const first = fact.subjectPositions[0]!;
  const last = fact.subjectPositions[fact.subjectPositions.length - 1]!;
  const ids = [...fact.encoded.ids.slice(0, first), ...placeholder, ...fact.encoded.ids.slice(last + 1)];
  const answerStart = fact.promptLength + placeholder.length - (last + 1 - first);
  return { ids, trained: ids.map((_, t) => (t >= answerStart ? 1 : 0)) };
}
