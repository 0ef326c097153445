import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  expShifted,
  logSoftmaxRows,
  logSoftmaxRowsReference,
  softmaxRowsReference,
  sumExpShifted,
} from '../../../src/tensor/kernels/rows.ts';
import { referenceKernels } from '../../../src/tensor/kernels/reference.ts';

const { softmaxRows } = referenceKernels;

test('the fast exp is float32-accurate over the whole useful range', () => {
  const n = 20001;
  const x = new Float32Array(n).map((_, i) => -87 + (174 * i) / (n - 1));
  const y = new Float32Array(n);
  const sum = expShifted(x, 0, n, 0, y);
  let worst = 0;
  let exactSum = 0;
  for (let i = 0; i < n; i++) {
    const exact = Math.exp(x[i]!);
    exactSum += exact;
    worst = Math.max(worst, Math.abs(y[i]! - exact) / exact);
  }
  assert.ok(worst < 5e-7, `max relative error ${worst}`);
  assert.ok(Math.abs(sum - exactSum) / exactSum < 5e-7);
  assert.ok(Math.abs(sumExpShifted(x, 0, n, 1) - exactSum / Math.E) / (exactSum / Math.E) < 5e-7);
});

test('the fast exp writes at an offset; far below the shift a term is negligible, not NaN', () => {
  const x = Float32Array.of(0, 1, -1000);
  const y = new Float32Array(5).fill(-1);
  expShifted(x, 0, 3, 0, y, 2);
  assert.deepEqual([y[0], y[1]], [-1, -1]);
  assert.equal(y[2], 1);
  assert.ok(Math.abs(y[3]! - Math.E) < 1e-6);
  assert.ok(y[4]! >= 0 && y[4]! < 1e-37, 'far below the shift the term is negligible');
});

test('softmax and log-softmax rows match their float64 references', () => {
  const cols = 1000;
  const src = new Float32Array(3 * cols).map((_, i) => 20 * Math.sin(i * 0.37));
  const soft = new Float32Array(src.length);
  softmaxRows(src, soft, cols);
  const expected = softmaxRowsReference(src, cols);
  for (let i = 0; i < src.length; i++)
    assert.ok(Math.abs(soft[i]! - expected[i]!) <= 1e-6 * expected[i]! + 1e-12);
  const logSoft = new Float32Array(src.length);
  logSoftmaxRows(src, logSoft, cols);
  const expectedLog = logSoftmaxRowsReference(src, cols);
  for (let i = 0; i < src.length; i++) assert.ok(Math.abs(logSoft[i]! - expectedLog[i]!) <= 1e-5);
  // In place gives the same result.
  const inPlace = Float32Array.from(src);
  softmaxRows(inPlace, inPlace, cols);
  assert.deepEqual(inPlace, soft);
});
