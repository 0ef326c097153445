import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../../src/tensor/tensor.ts';
import {
  add,
  sub,
  mul,
  div,
  scale,
  addScalar,
  neg,
  exp,
  log,
  square,
  sqrt,
  silu,
  swiglu,
} from '../../../src/tensor/ops.ts';
import { Rng } from '../../../src/tensor/random.ts';
import { assertClose, gradcheck, randParam } from '../gradcheck.ts';

test('binary ops broadcast like NumPy', () => {
  const a = Tensor.from([1, 2, 3, 4, 5, 6], [2, 3]);
  assert.deepEqual([...add(a, Tensor.from([10, 20, 30], [3])).data], [11, 22, 33, 14, 25, 36]);
  assert.deepEqual([...sub(a, Tensor.from([1, 2], [2, 1])).data], [0, 1, 2, 2, 3, 4]);
  assert.deepEqual([...mul(Tensor.from([2], [1]), a).data], [2, 4, 6, 8, 10, 12]);
  assert.deepEqual([...div(a, Tensor.scalar(2)).data], [0.5, 1, 1.5, 2, 2.5, 3]);
  const outer = mul(Tensor.from([1, 2], [2, 1]), Tensor.from([3, 4, 5], [1, 3]));
  assert.deepEqual(outer.shape, [2, 3]);
  assert.deepEqual([...outer.data], [3, 4, 5, 6, 8, 10]);
  assert.throws(() => add(a, Tensor.from([1, 2], [2])), /do not broadcast/);
});

const rng = new Rng(3);
const broadcastCases: [number[], number[]][] = [
  [
    [2, 3],
    [2, 3],
  ],
  [[2, 3], [3]],
  [
    [2, 1],
    [1, 3],
  ],
  [[3], [2, 3]],
  [[2, 3], []],
];
for (const [op, fn] of Object.entries({ add, sub, mul, div })) {
  for (const [sa, sb] of broadcastCases) {
    test(`${op} gradient with shapes [${sa}] and [${sb}]`, () => {
      const a = randParam(rng, sa);
      const b = randParam(rng, sb);
      // Keep divisors away from zero.
      if (op === 'div') for (let i = 0; i < b.size; i++) b.data[i] = 1.5 + Math.abs(b.data[i]!);
      gradcheck(fn, [a, b]);
    });
  }
}

test('unary ops: values and gradients', () => {
  const x = Tensor.from([0.5, 1, 2], [3]);
  assertClose(scale(x, 3).data, [1.5, 3, 6]);
  assertClose(addScalar(x, 1).data, [1.5, 2, 3]);
  assertClose(neg(x).data, [-0.5, -1, -2]);
  assertClose(exp(x).data, [Math.exp(0.5), Math.E, Math.exp(2)]);
  assertClose(log(x).data, [Math.log(0.5), 0, Math.log(2)]);
  assertClose(square(x).data, [0.25, 1, 4]);
  assertClose(sqrt(x).data, [Math.sqrt(0.5), 1, Math.SQRT2]);
  assertClose(silu(x).data, [0.5 / (1 + Math.exp(-0.5)), 1 / (1 + Math.exp(-1)), 2 / (1 + Math.exp(-2))]);
  for (const f of [(t: Tensor) => scale(t, -2), (t: Tensor) => addScalar(t, 3), neg, exp, square, silu]) {
    gradcheck(f, [randParam(rng, [2, 3])]);
  }
  const positive = Tensor.param([0.5, 1, 2, 3], [4]);
  gradcheck(log, [positive]);
  gradcheck(sqrt, [positive]);
});

test('swiglu = silu(gate) * up, with gradients for both', () => {
  const gate = randParam(rng, [3, 4]);
  const up = randParam(rng, [3, 4]);
  assertClose(swiglu(gate, up).data, mul(silu(gate), up).data);
  gradcheck(swiglu, [gate, up]);
  assert.throws(() => swiglu(gate, randParam(rng, [4, 3])), /differ/);
});
