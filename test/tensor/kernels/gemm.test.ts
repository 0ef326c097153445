import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gemm, gemmOutputShape, gemmReference } from '../../../src/tensor/kernels/gemm.ts';
import { getNumThreads, setNumThreads } from '../../../src/tensor/kernels/onnx.ts';
import { Rng, fillNormal } from '../../../src/tensor/random.ts';
import { sizeOf } from '../../../src/tensor/tensor.ts';

function assertClose(actual: Float32Array, expected: Float32Array, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i]! - expected[i]!);
    if (!(err <= tol * (1 + Math.abs(expected[i]!))))
      assert.fail(`${what}: [${i}] ${actual[i]} vs ${expected[i]}`);
  }
}

const rng = new Rng(7);
const rand = (shape: number[]) => fillNormal(rng, new Float32Array(sizeOf(shape)));

/** Shapes of op(A) = [..., m, k] and op(B) = [..., k, n] turned into stored shapes. */
function stored(batch: number[], rows: number, cols: number, trans: boolean): number[] {
  return trans ? [...batch, cols, rows] : [...batch, rows, cols];
}

const cases: { name: string; aBatch: number[]; bBatch: number[] }[] = [
  { name: '2-D', aBatch: [], bBatch: [] },
  { name: 'batched', aBatch: [3], bBatch: [3] },
  { name: 'A batched, B shared', aBatch: [2, 3], bBatch: [] },
  { name: 'A shared, B batched', aBatch: [], bBatch: [4] },
  { name: 'broadcast both ways', aBatch: [2, 1], bBatch: [1, 3] },
  { name: 'rank-4 equal', aBatch: [2, 3], bBatch: [2, 3] },
];

for (const { name, aBatch, bBatch } of cases) {
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      test(`native gemm matches reference: ${name}, transA=${transA}, transB=${transB}`, () => {
        const [m, k, n] = [5, 7, 6];
        const aShape = stored(aBatch, m, k, transA);
        const bShape = stored(bBatch, k, n, transB);
        const a = rand(aShape);
        const b = rand(bShape);
        const opts = { transA, transB, alpha: 0.5 };
        const outShape = gemmOutputShape(aShape, bShape, opts);
        const out = new Float32Array(sizeOf(outShape)).fill(Number.NaN);
        gemm(a, aShape, b, bShape, opts, out);
        assertClose(out, gemmReference(a, aShape, b, bShape, opts), 1e-5, name);
      });
    }
  }
}

for (const transA of [false, true]) {
  for (const transB of [false, true]) {
    test(`native gemm in row blocks (large outputs) matches reference: transA=${transA}, transB=${transB}`, () => {
      // 520 rows × 4100 columns cross the blocking threshold, with a partial last block.
      const [m, k, n] = [520, 11, 4100]; // k = 11: one 8-row sweep and a remainder in the transposed copy
      const aShape = stored([], m, k, transA);
      const bShape = stored([], k, n, transB);
      const a = rand(aShape);
      const b = rand(bShape);
      const opts = { transA, transB, alpha: 2 };
      const out = new Float32Array(m * n).fill(Number.NaN);
      gemm(a, aShape, b, bShape, opts, out);
      assertClose(out, gemmReference(a, aShape, b, bShape, opts), 1e-5, 'blocked');
    });
  }
}

test('reference gemm is the textbook product', () => {
  // [[1,2],[3,4]] @ [[5,6],[7,8]] = [[19,22],[43,50]]
  const out = gemmReference(Float32Array.of(1, 2, 3, 4), [2, 2], Float32Array.of(5, 6, 7, 8), [2, 2]);
  assert.deepEqual([...out], [19, 22, 43, 50]);
  const outT = gemmReference(Float32Array.of(1, 2, 3, 4), [2, 2], Float32Array.of(5, 6, 7, 8), [2, 2], {
    transA: true,
  });
  assert.deepEqual([...outT], [26, 30, 38, 44]);
});

test('gemm rejects mismatched inner dimensions and wrong output sizes', () => {
  assert.throws(() => gemmOutputShape([2, 3], [4, 5]), /inner dimensions differ/);
  assert.throws(() => gemmOutputShape([2, 2, 3], [3, 3, 4]), /do not broadcast/);
  assert.throws(
    () => gemm(new Float32Array(6), [2, 3], new Float32Array(12), [3, 4], {}, new Float32Array(7)),
    /expected 8/,
  );
});

test('gemm result does not depend on the thread count', () => {
  const before = getNumThreads();
  try {
    const a = rand([64, 48]);
    const b = rand([48, 40]);
    const one = new Float32Array(64 * 40);
    const two = new Float32Array(64 * 40);
    setNumThreads(1);
    gemm(a, [64, 48], b, [48, 40], {}, one);
    setNumThreads(2);
    gemm(a, [64, 48], b, [48, 40], {}, two);
    assertClose(one, two, 1e-5, 'threads');
    assert.throws(() => setNumThreads(0), /positive integer/);
  } finally {
    setNumThreads(before);
  }
});
