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
  assert.deepEqual(Array.from(batch.labels.slice(0, 5)), [
    IGNORE_INDEX,
    IGNORE_INDEX,
    IGNORE_INDEX,
    there,
    1,
  ]);
  assert.deepEqual(Array.from(batch.labels.slice(5, 8)), [IGNORE_INDEX, words.get('b')!, 1]);
  assert.deepEqual(Array.from(batch.attentionMask.slice(5)), [1, 1, 1, 0, 0]);
  assert.equal(batch.trainedTokens, 4);
  assert.deepEqual(Array.from(batch.labels.slice(8)), [IGNORE_INDEX, IGNORE_INDEX]);
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

test('length grouping keeps every item once per epoch and batches records of similar length', () => {
  const lengths = Array.from({ length: 64 }, (_, i) => (i * 37) % 64);
  const sampler = new EpochSampler(64, 3, { lengths, batchSize: 8, groupBatches: 8 });
  const epoch = sampler.next(64);
  assert.deepEqual(
    [...epoch].sort((a, b) => a - b),
    Array.from({ length: 64 }, (_, i) => i),
  );
  for (let b = 0; b < 64; b += 8) {
    const batch = epoch.slice(b, b + 8).map((i) => lengths[i]!);
    assert.ok(Math.max(...batch) - Math.min(...batch) <= 7, `batch lengths ${batch.join(',')}`);
  }
});
