import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../../src/tensor/tensor.ts';
import { sum, mean } from '../../../src/tensor/ops.ts';
import { Rng } from '../../../src/tensor/random.ts';
import { assertClose, gradcheck, randParam } from '../gradcheck.ts';

test('sum and mean over everything and over one axis', () => {
  const a = Tensor.from([1, 2, 3, 4, 5, 6], [2, 3]);
  assert.equal(sum(a).item(), 21);
  assert.equal(mean(a).item(), 3.5);
  assert.deepEqual(sum(a, 0).shape, [3]);
  assert.deepEqual([...sum(a, 0).data], [5, 7, 9]);
  assert.deepEqual([...sum(a, -1).data], [6, 15]);
  assertClose(mean(a, 1).data, [2, 5]);
  assert.throws(() => sum(a, 2), /out of range/);
});

test('sum and mean gradients', () => {
  const rng = new Rng(5);
  for (const axis of [undefined, 0, 1, -1]) {
    gradcheck((t) => sum(t, axis), [randParam(rng, [2, 3, 4])]);
    gradcheck((t) => mean(t, axis), [randParam(rng, [2, 3, 4])]);
  }
});
