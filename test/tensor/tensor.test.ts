import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, noGrad, isGradEnabled, zeroGrad } from '../../src/tensor/tensor.ts';
import { add, mul, sum, reshape, scale, linear, stopGradient } from '../../src/tensor/ops.ts';
import { allocUninit, clearPool, poolStats, release, withScratch } from '../../src/tensor/pool.ts';

test('backward accumulates into leaves and frees the graph', () => {
  const a = Tensor.param([1, 2, 3], [3]);
  const b = Tensor.param([4, 5, 6], [3]);
  const prod = mul(a, b);
  const loss = sum(prod);
  assert.equal(loss.item(), 32);
  loss.backward();
  assert.deepEqual([...a.grad!], [4, 5, 6]);
  assert.deepEqual([...b.grad!], [1, 2, 3]);
  assert.equal(prod.node, null, 'node released');
  assert.equal(prod.grad, null, 'intermediate gradient released');
  assert.throws(() => sum(prod).backward(), /already freed/);
  // A second graph accumulates on top of the first gradients.
  sum(mul(a, b)).backward();
  assert.deepEqual([...a.grad!], [8, 10, 12]);
  zeroGrad([a, b]);
  assert.equal(a.grad, null);
});

test('a tensor used twice receives the sum of both paths', () => {
  const a = Tensor.param([3], [1]);
  sum(mul(a, a)).backward(); // d(a²)/da = 2a
  assert.deepEqual([...a.grad!], [6]);
  const b = Tensor.param([1, 2], [2]);
  sum(add(b, b)).backward();
  assert.deepEqual([...b.grad!], [2, 2]);
});

test('noGrad records nothing and restores the mode after a throw', () => {
  const a = Tensor.param([1, 2], [2]);
  const out = noGrad(() => scale(a, 2));
  assert.equal(out.requiresGrad, false);
  assert.equal(out.node, null);
  assert.throws(() =>
    noGrad(() => {
      throw new Error('boom');
    }),
  );
  assert.equal(isGradEnabled(), true);
  assert.throws(() => out.backward(), /1 element|does not require grad/);
});

test('detach and stopGradient share data and block gradients', () => {
  const a = Tensor.param([1, 2], [2]);
  const d = stopGradient(a);
  assert.equal(d.data, a.data);
  assert.equal(d.requiresGrad, false);
  const loss = sum(mul(a, d));
  loss.backward();
  assert.deepEqual([...a.grad!], [1, 2], 'only the tracked path contributes');
});

test('backward({ releaseActivations }) recycles intermediates, keeps leaves and shared buffers', () => {
  const w = Tensor.param(new Float32Array(64 * 64).fill(0.01), [64, 64]);
  const x = Tensor.from(new Float32Array(128 * 64).fill(1), [128, 64]);
  const h = linear(x, w);
  const kept = h.detach(); // shares h's buffer: must survive
  const h2 = linear(h, w);
  const flat = reshape(h2, [-1]);
  const loss = sum(flat);
  loss.backward({ releaseActivations: true });
  // h = 64 · 0.01 = 0.64 everywhere, h2 = 64 · 0.64 · 0.01 = 0.4096.
  assert.ok(Math.abs(loss.item() - 128 * 64 * 0.4096) < 1e-2);
  assert.ok(w.grad, 'leaf gradient kept');
  assert.equal(kept.data.length, 128 * 64, 'detached view still readable');
  assert.equal(h.data.length, 128 * 64, 'h shares storage with a live view');
  assert.throws(() => h2.data, /recycled/);
  assert.throws(() => flat.data, /recycled/);
  assert.equal(w.data.length, 64 * 64);
});

test('dispose returns a buffer and refuses shared ones', () => {
  const t = new Tensor(allocUninit(8192), [8192]);
  const before = poolStats().idleBytes;
  t.dispose();
  assert.equal(poolStats().idleBytes, before + 8192 * 4);
  assert.throws(() => t.data, /recycled/);
  const u = new Tensor(allocUninit(8192), [8192]);
  const view = u.detach();
  assert.throws(() => u.dispose(), /share/);
  assert.equal(view.size, 8192);
  clearPool();
});

test('the pool reuses buffers by size class and rejects double release', () => {
  clearPool();
  const a = allocUninit(10000);
  release(a);
  const b = allocUninit(9990); // same size class
  assert.equal(b.buffer, a.buffer);
  assert.equal(b.length, 9990);
  release(b);
  assert.throws(() => release(b), /twice/);
  clearPool();
});

test('withScratch recycles what its work took and kept, except the result, also when nested', () => {
  clearPool();
  const before = allocUninit(5000); // outside any scope: never recycled by one
  const kept = withScratch(
    () => {
      const inner = withScratch(
        () => {
          allocUninit(6000); // dropped: recycled when the inner scope ends
          const early = allocUninit(7000);
          release(early); // released by its user: not released a second time
          return allocUninit(8000);
        },
        (r) => [r],
      );
      assert.equal(poolStats().idleBytes, (6144 + 7168) * 4);
      allocUninit(9000); // the outer scope's own intermediate
      return inner; // the inner result, now the outer scope's, kept here too
    },
    (r) => [r.subarray(0, 10)],
  );
  assert.equal(kept.length, 8000);
  assert.equal(poolStats().idleBytes, (6144 + 7168 + 9216) * 4);
  release(kept);
  release(before);
  assert.equal(poolStats().idleBytes, (6144 + 7168 + 9216 + 8192 + 5120) * 4);
  clearPool();
});

test('Tensor validates shapes', () => {
  assert.throws(() => Tensor.from([1, 2, 3], [2, 2]), /needs 4 elements/);
  assert.throws(() => Tensor.zeros([2, -1]), /invalid shape/);
  assert.equal(Tensor.scalar(5).item(), 5);
  assert.throws(() => Tensor.zeros([2]).item(), /2 elements/);
});
