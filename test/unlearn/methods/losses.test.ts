import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../../src/tensor/tensor.ts';
import { simnpoLoss } from '../../../src/unlearn/methods/simnpo.ts';
import { meanSquaredError, rmuLayer, steeringVector } from '../../../src/unlearn/methods/rmu.ts';
import { resolveConfig } from '../../../src/unlearn/config.ts';

const close = (a: number, b: number, tol = 1e-5) =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} vs ${b}`);

test('SimNPO: −(2/β)·mean log σ(−(β/|y|)·log π(y|x) − γ) on hand-computed log-probabilities', () => {
  // Three answer rows over a vocabulary of 2: sequence 0 owns rows 0 and 1, sequence 1 owns row 2.
  // Logits (0, 0) give log p = log ½; (ln 3, 0) gives log p(0) = log ¾.
  const logits = Tensor.from(Float32Array.from([0, 0, Math.log(3), 0, Math.log(3), 0]), [3, 2]);
  const targets = Int32Array.from([0, 0, 1]);
  const owner = Int32Array.from([0, 0, 1]);
  const beta = 2;
  const gamma = 0.5;
  // ℓ_0 = (log ½ + log ¾) / 2 = log(3/8) / 2; ℓ_1 = log ¼.
  const l0 = Math.log(3 / 8) / 2;
  const l1 = Math.log(1 / 4);
  const logSigmoid = (x: number) => -Math.log(1 + Math.exp(-x));
  const expected = (-(2 / beta) * (logSigmoid(-beta * l0 - gamma) + logSigmoid(-beta * l1 - gamma))) / 2;
  close(simnpoLoss(logits, targets, owner, 2, beta, gamma).item(), expected);
  // β → small, γ = 0: the loss approaches (2/β)·log 2 + mean ℓ (first-order softplus), here checked at β = 1e-3.
  const small = simnpoLoss(logits, targets, owner, 2, 1e-3, 0).item();
  close(small, (2 / 1e-3) * Math.log(2) + (l0 + l1) / 2, 1e-3);
});

test('RMU: MSE as F.mse_loss, the steering vector has norm c and is seeded', () => {
  const a = Tensor.from(Float32Array.from([1, 2, 3, 4]), [2, 2]);
  const t = Tensor.from(Float32Array.from([0, 0, 1, 1]), [2, 2]);
  // (1 + 4 + 4 + 9) / 4
  close(meanSquaredError(a, t).item(), 4.5);
  const u = steeringVector(16, 6.5, 7);
  close(Math.hypot(...u), 6.5);
  assert.ok(
    u.every((x) => x >= 0),
    'uniform [0, 1) entries, as WMDP',
  );
  assert.deepEqual(steeringVector(16, 6.5, 7), u);
  assert.notDeepEqual(steeringVector(16, 6.5, 8), u);
});

test('RMU: gradient of the MSE term by finite differences', () => {
  const x = Float32Array.from([0.3, -1.2, 0.7, 2.0, -0.4, 0.1]);
  const target = Tensor.from(Float32Array.from([1, 0, -1, 0.5, 0.5, 0.5]), [2, 3]);
  const p = Tensor.param(Float32Array.from(x), [2, 3]);
  meanSquaredError(p, target).backward();
  for (let i = 0; i < x.length; i++) {
    const f = (d: number) => {
      const y = Float32Array.from(x);
      y[i]! += d;
      return meanSquaredError(Tensor.from(y, [2, 3]), target).item();
    };
    close(p.grad![i]!, (f(1e-3) - f(-1e-3)) / 2e-3, 1e-3);
  }
});

test('bad input: RMU layer outside the model, c ≤ 0, SimNPO β ≤ 0', () => {
  const config = resolveConfig([{ patch: { rmu: { layer: 7 } }, source: 'cfg.json' }], 'rmu');
  assert.throws(
    () => rmuLayer(config, 4),
    /rmu\.layer: decoder layer 7 is outside the model \(layers 0\.\.3/,
  );
  assert.throws(
    () => resolveConfig([{ patch: { rmu: { steeringCoeff: 0 } }, source: 'cfg.json' }], 'rmu'),
    /cfg\.json: "rmu\.steeringCoeff": must be a number > 0/,
  );
  assert.throws(
    () => resolveConfig([{ patch: { rmu: { steeringCoeff: -2 } }, source: 'cfg.json' }], 'rmu'),
    /rmu\.steeringCoeff/,
  );
  assert.throws(
    () => resolveConfig([{ patch: { simnpo: { beta: 0 } }, source: 'cfg.json' }], 'simnpo'),
    /"simnpo\.beta"/,
  );
});
