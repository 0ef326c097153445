import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, noGrad } from '../../../src/tensor/tensor.ts';
import { crossEntropy, linearCrossEntropy, klDiv, linearKlDiv, linear } from '../../../src/tensor/ops.ts';
import { Rng } from '../../../src/tensor/random.ts';
import { assertClose, gradcheck, randParam } from '../gradcheck.ts';

const rng = new Rng(23);

function logSumExp(row: ArrayLike<number>): number {
  const values = Array.from(row);
  const max = Math.max(...values);
  return max + Math.log(values.reduce((s, v) => s + Math.exp(v - max), 0));
}

test('crossEntropy is the mean negative log-likelihood over non-ignored rows', () => {
  const logits = randParam(rng, [4, 6], 2);
  const targets = Int32Array.of(1, -100, 5, 0);
  let expected = 0;
  for (const r of [0, 2, 3]) {
    const row = logits.data.subarray(r * 6, r * 6 + 6);
    expected += logSumExp(row) - row[targets[r]!]!;
  }
  assertClose([crossEntropy(logits, targets).item()], [expected / 3], { rtol: 1e-5 });
  gradcheck((l) => crossEntropy(l, targets), [logits]);
  assertClose([crossEntropy(logits, Int32Array.of(1, 7, 5, 0), { ignoreIndex: 7 }).item()], [expected / 3], {
    rtol: 1e-5,
  });
});

test('crossEntropy with every row ignored is 0 with zero gradient', () => {
  const logits = randParam(rng, [2, 3]);
  const loss = crossEntropy(logits, Int32Array.of(-100, -100));
  assert.equal(loss.item(), 0);
  loss.backward();
  assert.deepEqual([...logits.grad!], [0, 0, 0, 0, 0, 0]);
  const x = randParam(rng, [2, 3]);
  const w = randParam(rng, [4, 3]);
  const fused = linearCrossEntropy(x, w, Int32Array.of(-100, -100));
  assert.equal(fused.item(), 0);
  fused.backward();
  assert.ok(x.grad!.every((v) => v === 0) && w.grad!.every((v) => v === 0));
});

test('crossEntropy rejects bad targets', () => {
  const logits = randParam(rng, [2, 3]);
  assert.throws(() => crossEntropy(logits, Int32Array.of(0, 3)), /outside the vocabulary/);
  assert.throws(() => crossEntropy(logits, Int32Array.of(0)), /1 targets for 2 rows/);
});

test('linearCrossEntropy equals crossEntropy(linear(x, W)) in value and gradients', () => {
  const x = randParam(rng, [2, 3, 5]);
  const w = randParam(rng, [7, 5]);
  const targets = Int32Array.of(0, 6, -100, 3, 3, 1);
  const fused = linearCrossEntropy(x, w, targets);
  fused.backward();
  const [gx, gw] = [x.grad!, w.grad!];
  x.grad = null;
  w.grad = null;
  const plain = crossEntropy(linear(x, w), targets);
  plain.backward();
  assertClose([fused.item()], [plain.item()], { rtol: 1e-5 });
  assertClose(gx, x.grad!, { rtol: 1e-4, atol: 1e-6 });
  assertClose(gw, w.grad!, { rtol: 1e-4, atol: 1e-6 });
  gradcheck((a, b) => linearCrossEntropy(a, b, targets), [x, w]);
  assert.equal(noGrad(() => linearCrossEntropy(x, w, targets)).node, null);
});

test('klDiv is KL(softmax(ref) ‖ softmax(logits)) averaged over masked rows', () => {
  const ref = Tensor.from(randParam(rng, [3, 5]).data, [3, 5]);
  const logits = randParam(rng, [3, 5]);
  const mask = Uint8Array.of(1, 0, 1);
  let expected = 0;
  for (const r of [0, 2]) {
    const p = ref.data.subarray(r * 5, r * 5 + 5);
    const q = logits.data.subarray(r * 5, r * 5 + 5);
    const lzp = logSumExp(p);
    const lzq = logSumExp(q);
    for (let j = 0; j < 5; j++) expected += Math.exp(p[j]! - lzp) * (p[j]! - lzp - (q[j]! - lzq));
  }
  assertClose([klDiv(ref, logits, mask).item()], [expected / 2], { rtol: 1e-5, atol: 1e-7 });
  assertClose([klDiv(logits, logits).item()], [0], { atol: 1e-6 });
  gradcheck((l) => klDiv(ref, l, mask), [logits]);
  gradcheck((l) => klDiv(ref, l), [logits]);
  assert.throws(() => klDiv(ref, logits, Uint8Array.of(1)), /mask/);
});

test('klDiv gives the reference no gradient', () => {
  const ref = randParam(rng, [2, 4]);
  const logits = randParam(rng, [2, 4]);
  klDiv(ref, logits).backward();
  assert.equal(ref.grad, null);
  assert.ok(logits.grad);
});

test('linearKlDiv equals klDiv(ref, linear(x, W)) in value and gradients', () => {
  const x = randParam(rng, [2, 2, 5]);
  const w = randParam(rng, [6, 5]);
  const ref = Tensor.from(randParam(rng, [4, 6]).data, [4, 6]);
  const mask = Uint8Array.of(1, 0, 1, 1);
  const fused = linearKlDiv(ref, x, w, mask);
  fused.backward();
  const [gx, gw] = [x.grad!, w.grad!];
  x.grad = null;
  w.grad = null;
  const plain = klDiv(ref, linear(x, w), mask);
  plain.backward();
  assertClose([fused.item()], [plain.item()], { rtol: 1e-5 });
  assertClose(gx, x.grad!, { rtol: 1e-4, atol: 1e-6 });
  assertClose(gw, w.grad!, { rtol: 1e-4, atol: 1e-6 });
  gradcheck((a, b) => linearKlDiv(ref, a, b, mask), [x, w]);
  assert.throws(() => linearKlDiv(Tensor.zeros([3, 6]), x, w), /does not match/);
});
