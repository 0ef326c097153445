import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/tensor/tensor.ts';
import {
  adamw,
  chain,
  clipByGlobalNorm,
  constantSchedule,
  freezeExcept,
  scaleByLearningRate,
  selectParams,
  warmupCosineSchedule,
} from '../../src/tensor/optim.ts';
import { assertClose } from './gradcheck.ts';

test('AdamW matches a hand computation over two steps', () => {
  const p = Tensor.param([1, -2], [2]);
  const params = new Map([['w', p]]);
  const opt = chain(adamw({ b1: 0.9, b2: 0.99, eps: 1e-8, weightDecay: 0.1 }), scaleByLearningRate(0.01));
  // Step 1, g = [0.5, -1]: m = 0.1g, v = 0.01g², m̂ = g, v̂ = g², u = sign(g) + 0.1p.
  p.grad = Float32Array.of(0.5, -1);
  const info = opt.step(params);
  assert.equal(info.lr, 0.01);
  const step1 = [1 - 0.01 * (1 + 0.1 * 1), -2 - 0.01 * (-1 + 0.1 * -2)];
  assertClose(p.data, step1, { rtol: 1e-6 });
  assert.equal(p.grad, null, 'the gradient is consumed');
  // Step 2, g = [0.25, 1]: m = 0.9m + 0.1g, v = 0.99v + 0.01g², bias corrections 1−0.9², 1−0.99².
  p.grad = Float32Array.of(0.25, 1);
  opt.step(params);
  const expected = [0, 1].map((i) => {
    const g1 = [0.5, -1][i]!;
    const g2 = [0.25, 1][i]!;
    const m = 0.9 * 0.1 * g1 + 0.1 * g2;
    const v = 0.99 * 0.01 * g1 * g1 + 0.01 * g2 * g2;
    const mHat = m / (1 - 0.81);
    const vHat = v / (1 - 0.99 ** 2);
    return step1[i]! - 0.01 * (mHat / (Math.sqrt(vHat) + 1e-8) + 0.1 * step1[i]!);
  });
  assertClose(p.data, expected, { rtol: 1e-6 });
  assert.equal(opt.stepCount, 2);
});

test('AdamW gives the same result whether or not it is fused with the parameter update', () => {
  const grads = [Float32Array.of(0.3, -0.2, 0.9), Float32Array.of(0.1, 0.4, -0.5)];
  const fused = Tensor.param([1, 2, 3], [3]);
  const separate = Tensor.param([1, 2, 3], [3]);
  // A clip that never triggers sits between AdamW and the rate, so AdamW runs unfused there.
  const optFused = chain(adamw({ weightDecay: 0.1 }), scaleByLearningRate(0.01));
  const optSeparate = chain(adamw({ weightDecay: 0.1 }), clipByGlobalNorm(1e9), scaleByLearningRate(0.01));
  for (const g of grads) {
    fused.grad = g.slice();
    separate.grad = g.slice();
    optFused.step(new Map([['p', fused]]));
    optSeparate.step(new Map([['p', separate]]));
  }
  assertClose(separate.data, fused.data, { rtol: 1e-6 });
  assert.notDeepEqual([...fused.data], [1, 2, 3]);
});

test('weight decay can be masked by name', () => {
  const w = Tensor.param([1], [1]);
  const norm = Tensor.param([1], [1]);
  const params = new Map([
    ['w', w],
    ['norm.weight', norm],
  ]);
  const opt = chain(
    adamw({ weightDecay: 0.5, decayMask: (n) => !n.includes('norm') }),
    scaleByLearningRate(0.1),
  );
  w.grad = Float32Array.of(0);
  norm.grad = Float32Array.of(0);
  opt.step(params);
  assertClose(w.data, [1 - 0.1 * 0.5], { rtol: 1e-6 });
  assertClose(norm.data, [1]);
});

test('clipByGlobalNorm rescales to the maximum norm and reports the original norm', () => {
  const a = Tensor.param([0, 0], [2]);
  const b = Tensor.param([0], [1]);
  const params = new Map([
    ['a', a],
    ['b', b],
  ]);
  const opt = chain(clipByGlobalNorm(1), scaleByLearningRate(-1)); // lr −1: parameters become the updates
  a.grad = Float32Array.of(3, 0);
  b.grad = Float32Array.of(4);
  const info = opt.step(params);
  assert.equal(info.gradNorm, 5);
  assertClose([...a.data, ...b.data], [0.6, 0, 0.8], { rtol: 1e-5 });
  // Below the threshold nothing changes.
  a.grad = Float32Array.of(0.3, 0);
  b.grad = Float32Array.of(0.4);
  opt.step(params);
  assertClose([...a.data, ...b.data], [0.9, 0, 1.2], { rtol: 1e-5 });
  assert.throws(() => clipByGlobalNorm(0), /positive/);
});

test('schedules: constant, and linear warm-up then cosine decay', () => {
  assert.equal(constantSchedule(0.3)(1000), 0.3);
  const s = warmupCosineSchedule({ peak: 1, warmupSteps: 10, totalSteps: 110, end: 0.1 });
  assert.equal(s(0), 0);
  assert.equal(s(5), 0.5);
  assert.equal(s(10), 1);
  assertClose([s(60)], [0.55], { rtol: 1e-12 }); // halfway through the cosine: (peak + end) / 2
  assertClose([s(110), s(500)], [0.1, 0.1]);
  assert.ok(s(30) > s(80));
  assert.throws(() => warmupCosineSchedule({ peak: 1, warmupSteps: 10, totalSteps: 5 }), /warmupSteps/);
  const lrs: number[] = [];
  const p = Tensor.param([0], [1]);
  const opt = chain(scaleByLearningRate(s));
  for (let i = 0; i < 3; i++) {
    p.grad = Float32Array.of(1);
    lrs.push(opt.step(new Map([['p', p]])).lr!);
  }
  assertClose(lrs, [0, 0.1, 0.2], { rtol: 1e-12 });
});

test('state/loadState resumes a run exactly', () => {
  const make = () => chain(clipByGlobalNorm(1), adamw({ weightDecay: 0.01 }), scaleByLearningRate(0.05));
  const grads = [
    [0.3, -0.2, 0.9],
    [0.1, 0.4, -0.5],
    [-0.7, 0.2, 0.05],
    [0.2, 0.2, 0.2],
  ];
  const run = (opt: ReturnType<typeof make>, p: Tensor, from: number, to: number) => {
    for (let i = from; i < to; i++) {
      p.grad = Float32Array.from(grads[i]!);
      opt.step(new Map([['p', p]]));
    }
  };
  const straight = Tensor.param([1, 2, 3], [3]);
  run(make(), straight, 0, 4);
  const first = Tensor.param([1, 2, 3], [3]);
  const opt1 = make();
  run(opt1, first, 0, 2);
  const saved = opt1.state();
  assert.deepEqual([...saved.tensors.keys()].sort(), ['adamw.count.p', 'adamw.m.p', 'adamw.v.p']);
  const resumed = Tensor.param(Float32Array.from(first.data), [3]);
  const opt2 = make();
  opt2.loadState(saved);
  assert.equal(opt2.stepCount, 2);
  run(opt2, resumed, 2, 4);
  assert.deepEqual([...resumed.data], [...straight.data]);
  assert.throws(
    () => opt2.loadState({ step: 1, tensors: new Map([['bogus.x', new Float32Array(1)]]) }),
    /unknown entries bogus.x/,
  );
});

test('parameters without a gradient are skipped; selection and freezing by name', () => {
  const named = new Map([
    ['layers.0.w', Tensor.param([1], [1])],
    ['layers.12.w', Tensor.param([1], [1])],
    ['layers.23.w', Tensor.param([1], [1])],
  ]);
  const deep = (name: string) => Number(name.split('.')[1]) >= 12;
  assert.deepEqual([...selectParams(named, deep).keys()], ['layers.12.w', 'layers.23.w']);
  const trainable = freezeExcept(named, deep);
  assert.equal(named.get('layers.0.w')!.requiresGrad, false);
  assert.equal(trainable.size, 2);
  const opt = chain(scaleByLearningRate(1));
  named.get('layers.12.w')!.grad = Float32Array.of(0.5);
  opt.step(named);
  assert.deepEqual(
    [...named.values()].map((p) => p.data[0]),
    [1, 0.5, 1],
  );
});
