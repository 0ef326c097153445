import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  collate,
  encodeRecord,
  EpochSampler,
  IGNORE_INDEX,
  type TextEncoder,
} from '../../src/train/batches.ts';

const words = new Map<string, number>();
const tokenizer: TextEncoder = {
  encode: (text) =>
    text
      .split(/\s+/)
      .filter(Boolean)
      .map((w) => {
        if (!words.has(w)) words.set(w, words.size + 2);
        return words.get(w)!;
      }),
  eosTokenId: 1,
  padTokenId: 0,
};

test('supervised records train only the completion and the EOS', () => {
  const example = encodeRecord(tokenizer, { prompt: 'Q: where A:', completion: ' there' }, 16);
  assert.deepEqual(example.trained, [0, 0, 0, 1, 1]);
  const batch = collate([example, encodeRecord(tokenizer, { text: 'a b' }, 16)], 0);
  assert.equal(batch.seq, 5);
  const there = words.get('there')!;
  assert.deepEqual(Array.from(batch.targets.slice(0, 5)), [
    IGNORE_INDEX,
    IGNORE_INDEX,
    there,
    1,
    IGNORE_INDEX,
  ]);
  assert.deepEqual(Array.from(batch.attentionMask.slice(5)), [1, 1, 1, 0, 0]);
  assert.equal(batch.trainedTokens, 4);
});

test('records longer than the maximum are refused with the reason', () => {
  assert.throws(() => encodeRecord(tokenizer, { text: 'a b c d' }, 3), /longer than the maximum 3/);
});

test('the sampler resumes exactly from a saved state', () => {
  const a = new EpochSampler(7, 42);
  a.next(5);
  const saved = a.getState();
  const expected = a.next(12);
  const b = new EpochSampler(7, 42);
  b.setState(saved);
  assert.deepEqual(b.next(12), expected);
  const epoch = new EpochSampler(7, 1).next(7).sort();
  assert.deepEqual(epoch, [0, 1, 2, 3, 4, 5, 6]);
});
