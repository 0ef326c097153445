import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../../src/tensor/tensor.ts';
import { reshape, permute, sliceLast, concat, gatherRows, embedding } from '../../../src/tensor/ops.ts';
import { Rng } from '../../../src/tensor/random.ts';
import { gradcheck, randParam } from '../gradcheck.ts';

const rng = new Rng(11);

test('reshape shares the buffer and infers -1', () => {
  const a = Tensor.from([1, 2, 3, 4, 5, 6], [2, 3]);
  const r = reshape(a, [3, -1]);
  assert.deepEqual(r.shape, [3, 2]);
  assert.equal(r.data, a.data);
  assert.throws(() => reshape(a, [4, -1]), /cannot reshape/);
  assert.throws(() => reshape(a, [5]), /cannot reshape/);
  gradcheck((t) => reshape(t, [4, 3]), [randParam(rng, [2, 6])]);
});

test('permute moves axes', () => {
  const a = Tensor.from([0, 1, 2, 3, 4, 5], [1, 2, 3]);
  const p = permute(a, [2, 0, 1]);
  assert.deepEqual(p.shape, [3, 1, 2]);
  // p[k][0][i] = a[0][i][k]
  assert.deepEqual([...p.data], [0, 3, 1, 4, 2, 5]);
  assert.throws(() => permute(a, [0, 0, 1]), /not a permutation/);
  gradcheck((t) => permute(t, [0, 2, 1, 3]), [randParam(rng, [2, 3, 2, 4])]);
  gradcheck((t) => permute(t, [3, 1, 0, 2]), [randParam(rng, [2, 3, 2, 4])]);
});

test('sliceLast narrows the last dim', () => {
  const a = Tensor.from([1, 2, 3, 4, 5, 6], [2, 3]);
  assert.deepEqual([...sliceLast(a, 1, 3).data], [2, 3, 5, 6]);
  assert.throws(() => sliceLast(a, 2, 4), /invalid/);
  gradcheck((t) => sliceLast(t, 1, 3), [randParam(rng, [2, 2, 4])]);
});

test('concat joins along an axis', () => {
  const a = Tensor.from([1, 2, 3, 4], [2, 2]);
  const b = Tensor.from([5, 6], [2, 1]);
  const c = concat([a, b], 1);
  assert.deepEqual(c.shape, [2, 3]);
  assert.deepEqual([...c.data], [1, 2, 5, 3, 4, 6]);
  assert.deepEqual([...concat([a, a], 0).data], [1, 2, 3, 4, 1, 2, 3, 4]);
  assert.throws(() => concat([a, b], 0), /does not match/);
  gradcheck((x, y) => concat([x, y], -1), [randParam(rng, [2, 3, 2]), randParam(rng, [2, 3, 1])]);
  gradcheck((x, y) => concat([x, y, x], 0), [randParam(rng, [1, 3]), randParam(rng, [2, 3])]);
});

test('gatherRows and embedding select rows and scatter-add gradients', () => {
  const w = Tensor.from([0, 1, 10, 11, 20, 21], [3, 2]);
  const e = embedding(w, Int32Array.of(2, 0, 2, 1), [2, 2]);
  assert.deepEqual(e.shape, [2, 2, 2]);
  assert.deepEqual([...e.data], [20, 21, 0, 1, 20, 21, 10, 11]);
  assert.deepEqual([...gatherRows(w, Int32Array.of(1)).data], [10, 11]);
  assert.throws(() => embedding(w, Int32Array.of(3), [1]), /out of range/);
  assert.throws(() => embedding(w, Int32Array.of(0, 1), [3]), /do not fill/);
  // Repeated ids must accumulate.
  gradcheck((t) => embedding(t, Int32Array.of(2, 0, 2, 2), [4]), [randParam(rng, [3, 5])]);
  gradcheck((t) => gatherRows(t, Int32Array.of(1, 1, 0)), [randParam(rng, [3, 4])]);
});
