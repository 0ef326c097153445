// Test helpers: finite-difference gradient checks and closeness assertions.
import assert from 'node:assert/strict';
import { Tensor, noGrad, sizeOf } from '../../src/tensor/tensor.ts';
import { mul, sum } from '../../src/tensor/ops.ts';
import { Rng, fillNormal } from '../../src/tensor/random.ts';

export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { rtol = 1e-5, atol = 1e-6, what = 'values' }: { rtol?: number; atol?: number; what?: string } = {},
): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} vs ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e)))
      assert.fail(`${what}[${i}]: got ${a}, expected ${e}`);
  }
}

export function randParam(rng: Rng, shape: number[], std = 1): Tensor {
  return Tensor.param(fillNormal(rng, new Float32Array(sizeOf(shape)), std), shape);
}

/**
 * Checks d/dx of L = Σ f(inputs) ∘ W (W fixed random weights) for every element of every input that
 * requires grad, against central differences computed in float64 from float32 forward passes.
 */
export function gradcheck(
  f: (...inputs: Tensor[]) => Tensor,
  inputs: Tensor[],
  {
    eps = 1e-2,
    rtol = 2e-2,
    atol = 2e-3,
    seed = 1,
  }: { eps?: number; rtol?: number; atol?: number; seed?: number } = {},
): void {
  const probe = noGrad(() => f(...inputs));
  const weights = fillNormal(new Rng(seed), new Float32Array(probe.size));
  const objective = (): number =>
    noGrad(() => {
      const out = f(...inputs).data;
      let total = 0;
      for (let i = 0; i < out.length; i++) total += out[i]! * weights[i]!;
      return total;
    });
  for (const t of inputs) t.grad = null;
  const out = f(...inputs);
  sum(mul(out, Tensor.from(weights, out.shape))).backward();
  inputs.forEach((t, which) => {
    if (!t.requiresGrad) return;
    assert.ok(t.grad, `input ${which} received no gradient`);
    const numeric = new Float64Array(t.size);
    for (let i = 0; i < t.size; i++) {
      const saved = t.data[i]!;
      t.data[i] = saved + eps;
      const up = objective();
      t.data[i] = saved - eps;
      const down = objective();
      t.data[i] = saved;
      numeric[i] = (up - down) / (2 * eps);
    }
    assertClose(t.grad, numeric, { rtol, atol, what: `d/d input ${which}` });
  });
}
