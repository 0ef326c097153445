import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/tensor/tensor.ts';
import { crossEntropy, logSoftmax } from '../../src/tensor/ops.ts';
import { Rng } from '../../src/tensor/random.ts';
import { adversaryLoss, ProbeSet } from '../../src/unlearn/probes.ts';
import { npoLoss, sequenceLogProbs, targetLogProbs, unlikelihoodLoss } from '../../src/unlearn/losses.ts';

const K = 5;
const D = 8;

function features(n: number, seed: number): { data: Float32Array; labels: Int32Array } {
  const rng = new Rng(seed);
  const labels = Int32Array.from({ length: n }, (_, i) => i % K);
  const data = new Float32Array(n * D);
  // Class-dependent means so the probe can learn something.
  for (let r = 0; r < n; r++)
    for (let d = 0; d < D; d++) data[r * D + d] = (d === labels[r] ? 2 : 0) + 0.3 * rng.normal();
  return { data, labels };
}

function trainedSet(): { set: ProbeSet; data: Float32Array; labels: Int32Array } {
  const { data, labels } = features(40, 1);
  const set = new ProbeSet('r', K, D, 1, 0.05, 0);
  set.reset(3);
  const first = set.train([data], labels);
  let last = first;
  for (let i = 0; i < 60; i++) last = set.train([data], labels);
  assert.ok(last < first / 2, `probe loss should fall: ${first} → ${last}`);
  assert.ok(set.accuracy([data], labels) > 0.9);
  return { set, data, labels };
}

/** Value of the quantity the backbone drives, before and after one gradient step on the features. */
function stepOnFeatures(objective: 'ce' | 'uniform' | 'entropy'): {
  before: number;
  after: number;
  probeGrad: boolean;
} {
  const { set, data, labels } = trainedSet();
  const h = Tensor.param(Float32Array.from(data), [labels.length, D]);
  const { loss, adversaryValue } = adversaryLoss(set, [h], labels, objective, 1);
  loss.backward();
  const probeGrad = set.probes[0]!.weight.grad !== null;
  const moved = Float32Array.from(h.data, (v, i) => v - 0.5 * h.grad![i]!);
  const after = adversaryLoss(set, [Tensor.from(moved, h.shape)], labels, objective, 1).adversaryValue;
  return { before: adversaryValue, after, probeGrad };
}

test('probe training lowers its cross-entropy; the backbone descending the GRL loss moves against the probe', () => {
  const ce = stepOnFeatures('ce');
  assert.ok(ce.after > ce.before, `ce: the probe's cross-entropy should rise (${ce.before} → ${ce.after})`);
  const uniform = stepOnFeatures('uniform');
  assert.ok(uniform.before > 0);
  assert.ok(
    uniform.after < uniform.before,
    `uniform: KL(u‖p) should fall (${uniform.before} → ${uniform.after})`,
  );
  const entropy = stepOnFeatures('entropy');
  assert.ok(entropy.after > entropy.before, `entropy should rise (${entropy.before} → ${entropy.after})`);
  // The adversary term never trains the probe (its weights are detached there).
  assert.equal(ce.probeGrad || uniform.probeGrad || entropy.probeGrad, false);
});

test('the GRL gradient is −λ times the gradient of the probe-side objective', () => {
  const { set, data, labels } = trainedSet();
  const grads = [0.5, 2].map((lambda) => {
    const h = Tensor.param(Float32Array.from(data), [labels.length, D]);
    adversaryLoss(set, [h], labels, 'ce', lambda).loss.backward();
    return h.grad!;
  });
  const h = Tensor.param(Float32Array.from(data), [labels.length, D]);
  crossEntropy(set.probes[0]!.frozenLogits(h), labels).backward();
  for (let i = 0; i < h.size; i++) {
    assert.ok(Math.abs(grads[0]![i]! + 0.5 * h.grad![i]!) < 1e-6);
    assert.ok(Math.abs(grads[1]![i]! + 2 * h.grad![i]!) < 1e-6);
  }
});

test('KL(uniform ‖ p) reported by the uniform objective matches its definition', () => {
  const { set, data, labels } = trainedSet();
  const h = Tensor.from(data, [labels.length, D]);
  const { adversaryValue } = adversaryLoss(set, [h], labels, 'uniform', 1);
  const logp = logSoftmax(set.probes[0]!.logits(h)).data;
  let kl = 0;
  for (let r = 0; r < labels.length; r++) {
    for (let k = 0; k < K; k++) kl += (1 / K) * (Math.log(1 / K) - logp[r * K + k]!);
  }
  assert.ok(Math.abs(adversaryValue - kl / labels.length) < 1e-5);
});

test('unlikelihood, NPO and per-sequence log-probabilities', () => {
  const logits = Tensor.param(Float32Array.from([2, 0, -1, 0.5, 0.5, 0.5, 1, 3, 0]), [3, 3]);
  const targets = Int32Array.from([0, 2, 1]);
  const logp = targetLogProbs(logits, targets).data;
  const manual = [0, 1, 2].map((r) => {
    const row = [...logits.data.subarray(r * 3, r * 3 + 3)];
    const z = Math.log(row.reduce((s, x) => s + Math.exp(x), 0));
    return row[targets[r]!]! - z;
  });
  manual.forEach((v, i) => assert.ok(Math.abs(logp[i]! - v) < 1e-5));
  const ul = unlikelihoodLoss(logits, targets).item();
  const ulManual = manual.reduce((s, v) => s - Math.log(1 + 1e-6 - Math.exp(v)), 0) / 3;
  assert.ok(Math.abs(ul - ulManual) < 1e-4);
  // Two sequences: rows 0–1 and row 2.
  const owner = Int32Array.from([0, 0, 1]);
  const sums = sequenceLogProbs(logits.data, 3, targets, owner, 2);
  assert.ok(Math.abs(sums[0]! - (manual[0]! + manual[1]!)) < 1e-5);
  // At the reference itself NPO is (2/β)·log 2, and its gradient pushes log p down.
  const beta = 0.1;
  const npo = npoLoss(logits, targets, owner, sums, beta);
  assert.ok(Math.abs(npo.item() - (2 / beta) * Math.log(2)) < 1e-3);
  npo.backward();
  const g = logits.grad!;
  assert.ok(g[0]! > 0, 'the gradient should lower the first target logit');
});
