import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../../src/tensor/tensor.ts';
import { matmul, linear, loraLinear, add, scale, sum, mul } from '../../../src/tensor/ops.ts';
import { Rng } from '../../../src/tensor/random.ts';
import { gemmReference } from '../../../src/tensor/kernels/gemm.ts';
import { assertClose, gradcheck, randParam } from '../gradcheck.ts';

const rng = new Rng(13);

test('matmul forward matches the reference GEMM', () => {
  const a = randParam(rng, [2, 3, 4]);
  const b = randParam(rng, [2, 5, 4]);
  const y = matmul(a, b, { transB: true });
  assert.deepEqual(y.shape, [2, 3, 5]);
  assertClose(y.data, gemmReference(a.data, a.shape, b.data, b.shape, { transB: true }), {
    rtol: 1e-5,
    atol: 1e-5,
  });
});

const shapeCases: { name: string; a: number[]; b: number[]; transA?: boolean; transB?: boolean }[] = [
  { name: '2-D', a: [3, 4], b: [4, 2] },
  { name: 'transA', a: [4, 3], b: [4, 2], transA: true },
  { name: 'transB', a: [3, 4], b: [2, 4], transB: true },
  { name: 'both', a: [4, 3], b: [2, 4], transA: true, transB: true },
  { name: 'batched', a: [2, 3, 4], b: [2, 4, 2] },
  { name: 'shared B', a: [2, 3, 4], b: [4, 2] },
  { name: 'shared A, transA', a: [4, 3], b: [2, 4, 2], transA: true },
  { name: 'broadcast', a: [2, 1, 3, 4], b: [1, 3, 2, 4], transB: true },
];
for (const c of shapeCases) {
  test(`matmul gradient: ${c.name}`, () => {
    gradcheck(
      (x, y) => matmul(x, y, { transA: c.transA, transB: c.transB }),
      [randParam(rng, c.a), randParam(rng, c.b)],
    );
  });
}

test('linear = x @ Wᵀ + b with gradients for x, W and b', () => {
  const x = randParam(rng, [2, 3, 4]);
  const w = randParam(rng, [5, 4]);
  const b = randParam(rng, [5]);
  const expected = add(matmul(x, w, { transB: true }), b);
  assertClose(linear(x, w, b).data, expected.data, { rtol: 1e-5, atol: 1e-5 });
  assert.deepEqual(linear(x, w).shape, [2, 3, 5]);
  gradcheck(linear, [x, w, b]);
  gradcheck((xx, ww) => linear(xx, ww), [x, w]);
  assert.throws(() => linear(x, randParam(rng, [5, 3])), /does not take/);
  assert.throws(() => linear(x, w, randParam(rng, [4])), /bias/);
});

test('loraLinear = linear(x, W, b) + s · linear(linear(x, A), B), values and gradients of every input', () => {
  // 300 rows × 40 outputs: the pooled-buffer paths; rank 3, scaling 1.7 (not a power of two).
  const x = randParam(rng, [3, 100, 24]);
  const w = randParam(rng, [40, 24]);
  const bias = randParam(rng, [40]);
  const a = randParam(rng, [3, 24]);
  const b = randParam(rng, [40, 3]);
  const weights = randParam(rng, [3, 100, 40]);
  weights.requiresGrad = false;
  const grads = (f: () => ReturnType<typeof linear>) => {
    for (const t of [x, w, bias, a, b]) t.grad = null;
    const y = f();
    const values = Float32Array.from(y.data);
    sum(mul(y, weights)).backward();
    return { values, grads: [x, w, bias, a, b].map((t) => Float32Array.from(t.grad!)) };
  };
  const fused = grads(() => loraLinear(x, w, bias, { a, b, scaling: 1.7 }));
  const composed = grads(() => add(linear(x, w, bias), scale(linear(linear(x, a), b), 1.7)));
  assertClose(fused.values, composed.values, { rtol: 1e-5, atol: 1e-5 });
  fused.grads.forEach((g, i) =>
    assertClose(g, composed.grads[i]!, { rtol: 1e-4, atol: 1e-4, what: `grad ${i}` }),
  );
  const small = [randParam(rng, [2, 3, 4]), randParam(rng, [5, 4]), randParam(rng, [5])];
  const [sa, sb] = [randParam(rng, [2, 4]), randParam(rng, [5, 2])];
  gradcheck(
    (xx, ww, bb, aa, bbb) => loraLinear(xx!, ww!, bb, { a: aa!, b: bbb!, scaling: 2 }),
    [...small, sa, sb],
  );
  assert.throws(() => loraLinear(x, w, bias, { a: randParam(rng, [3, 23]), b, scaling: 1 }), /do not fit/);
  assert.throws(() => loraLinear(x, w, bias, { a, b: randParam(rng, [40, 2]), scaling: 1 }), /do not fit/);
});

test('matmul checks shapes', () => {
  assert.throws(() => matmul(Tensor.zeros([2, 3]), Tensor.zeros([2, 3])), /inner dimensions/);
  assert.throws(() => matmul(Tensor.zeros([3]), Tensor.zeros([3, 2])), /rank >= 2/);
});
