import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../../src/tensor/tensor.ts';
import {
  rmsNorm,
  rope,
  permuteRope,
  permute,
  softmax,
  logSoftmax,
  gradReverse,
  sum,
  mul,
} from '../../../src/tensor/ops.ts';
import { Rng } from '../../../src/tensor/random.ts';
import { logSoftmaxRowsReference, softmaxRowsReference } from '../../../src/tensor/kernels/rows.ts';
import { assertClose, gradcheck, randParam } from '../gradcheck.ts';

const rng = new Rng(17);

test('rmsNorm matches its definition and has correct gradients', () => {
  const x = randParam(rng, [2, 3, 8]);
  const w = randParam(rng, [8]);
  const y = rmsNorm(x, w, 1e-6);
  const expected = new Float64Array(x.size);
  for (let r = 0; r < 6; r++) {
    let ss = 0;
    for (let j = 0; j < 8; j++) ss += x.data[r * 8 + j]! ** 2;
    const inv = 1 / Math.sqrt(ss / 8 + 1e-6);
    for (let j = 0; j < 8; j++) expected[r * 8 + j] = x.data[r * 8 + j]! * inv * w.data[j]!;
  }
  assertClose(y.data, expected, { rtol: 1e-5, atol: 1e-6 });
  gradcheck((a, b) => rmsNorm(a, b, 1e-6), [x, w]);
  assert.throws(() => rmsNorm(x, randParam(rng, [4]), 1e-6), /does not match/);
});

/** Hugging Face apply_rotary_pos_emb in float64: x·cos + rotate_half(x)·sin. */
function ropeReference(x: Tensor, positions: Int32Array, theta: number): Float64Array {
  const [B, H, T, D] = x.shape as [number, number, number, number];
  const half = D / 2;
  const out = new Float64Array(x.size);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < T; t++) {
        const base = ((b * H + h) * T + t) * D;
        for (let j = 0; j < D; j++) {
          const i = j % half;
          const angle = positions[b * T + t]! / theta ** ((2 * i) / D);
          const rotated = j < half ? -x.data[base + j + half]! : x.data[base + j - half]!;
          out[base + j] = x.data[base + j]! * Math.cos(angle) + rotated * Math.sin(angle);
        }
      }
    }
  }
  return out;
}

test('rope follows the rotate-half convention', () => {
  const x = randParam(rng, [2, 3, 4, 8]);
  const positions = Int32Array.of(0, 1, 2, 3, 5, 6, 7, 8);
  assertClose(rope(x, positions, 10000).data, ropeReference(x, positions, 10000), { rtol: 1e-4, atol: 1e-5 });
  // Position 0 is the identity.
  const at0 = rope(x, new Int32Array(8), 10000);
  assertClose(at0.data, x.data);
  gradcheck((t) => rope(t, positions, 1e6), [x]);
  assert.throws(() => rope(x, Int32Array.of(1, 2), 10000), /positions/);
});

test('permuteRope is rope after permute(·, [0, 2, 1, 3]), bit for bit, with its gradient', () => {
  const x = randParam(rng, [2, 4, 3, 8]); // [B, T, H, Dh]
  const positions = Int32Array.of(0, 1, 2, 3, 5, 6, 7, 8);
  const fused = permuteRope(x, positions, 10000);
  assert.deepEqual(fused.shape, [2, 3, 4, 8]);
  assert.deepEqual(fused.data, rope(permute(x, [0, 2, 1, 3]), positions, 10000).data);
  gradcheck((t) => permuteRope(t, positions, 1e6), [x]);
  assert.throws(() => permuteRope(x, Int32Array.of(1, 2), 10000), /permuteRope: 2 positions/);
});

test('rope reuses its cos/sin tables per positions array, and not after the array changed', () => {
  const x = randParam(rng, [2, 3, 4, 8]);
  const positions = Int32Array.of(0, 1, 2, 3, 5, 6, 7, 8);
  const first = rope(x, positions, 10000).data.slice();
  assert.deepEqual(rope(x, positions, 10000).data, first, 'a second call with the same array');
  // Other theta or head size with the same array must not read the cached tables.
  assertClose(rope(x, positions, 1e6).data, ropeReference(x, positions, 1e6), { rtol: 1e-4, atol: 1e-5 });
  const narrow = randParam(rng, [2, 3, 4, 4]);
  assertClose(rope(narrow, positions, 10000).data, ropeReference(narrow, positions, 10000), {
    rtol: 1e-4,
    atol: 1e-5,
  });
  positions.set([9, 10, 11, 12, 0, 1, 2, 3]);
  assertClose(rope(x, positions, 10000).data, ropeReference(x, positions, 10000), { rtol: 1e-4, atol: 1e-5 });
});

test('softmax and logSoftmax: values and gradients', () => {
  const a = randParam(rng, [3, 7], 3);
  assertClose(softmax(a).data, softmaxRowsReference(a.data, 7), { rtol: 1e-5, atol: 1e-7 });
  assertClose(logSoftmax(a).data, logSoftmaxRowsReference(a.data, 7), { rtol: 1e-5, atol: 1e-5 });
  const rowSums = sum(softmax(a), -1).data;
  assertClose(rowSums, [1, 1, 1], { rtol: 1e-6 });
  gradcheck(softmax, [a]);
  gradcheck(logSoftmax, [a]);
});

test('softmax is stable for large logits', () => {
  const a = Tensor.from([1000, 1001, -1000], [1, 3]);
  assertClose(softmax(a).data, softmaxRowsReference(a.data, 3), { rtol: 1e-5, atol: 1e-7 });
  assert.ok(logSoftmax(a).data.every((v) => Number.isFinite(v)));
});

test('gradReverse is the identity forward and negates λ·grad backward', () => {
  const a = Tensor.param([1, 2, 3], [3]);
  const r = gradReverse(a, 0.5);
  assert.equal(r.data, a.data);
  sum(mul(r, Tensor.from([1, 2, 4], [3]))).backward();
  assert.deepEqual([...a.grad!], [-0.5, -1, -2]);
});
