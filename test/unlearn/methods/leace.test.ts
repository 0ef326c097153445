import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { evaluateProbe, trainProbe } from '../../../src/eval/probes.ts';
import { ERASER_DESCRIPTION, ERASER_WEIGHTS } from '../../../src/nn/erasers.ts';
import { Qwen2ForCausalLM } from '../../../src/nn/qwen2.ts';
import { writeSafetensors } from '../../../src/io/safetensors.ts';
import { Rng } from '../../../src/tensor/random.ts';
import { matmul64, symmetricEigen, transpose64 } from '../../../src/unlearn/linalg.ts';
import { fitLeace } from '../../../src/unlearn/methods/leace.ts';
import { dataFromWorld } from '../../../src/unlearn/data.ts';
import { metabolize } from '../../../src/unlearn/trainer.ts';
import { rmSync } from 'node:fs';
import { tinyConfig, tinyFixture, weights } from '../helpers.ts';

test('Jacobi eigendecomposition: A = V Λ Vᵀ with orthonormal V, ascending Λ', () => {
  const n = 7;
  const rng = new Rng(3);
  const b = Float64Array.from({ length: n * n }, () => rng.normal());
  const a = matmul64(b, transpose64(b, n, n), n, n, n);
  const { values, vectors } = symmetricEigen(a, n);
  for (let k = 1; k < n; k++) assert.ok(values[k]! >= values[k - 1]!);
  const vtv = matmul64(transpose64(vectors, n, n), vectors, n, n, n);
  const back = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++)
      for (let k = 0; k < n; k++) back[i * n + j] += vectors[i * n + k]! * values[k]! * vectors[j * n + k]!;
  for (let i = 0; i < n * n; i++) {
    assert.ok(Math.abs(vtv[i]! - (i % (n + 1) === 0 ? 1 : 0)) < 1e-10, 'VᵀV = I');
    assert.ok(Math.abs(back[i]! - a[i]!) < 1e-9 * Math.max(1, Math.abs(a[i]!)), 'V Λ Vᵀ = A');
  }
});

/** Rows whose class is linearly readable (a class mean each) and, in a last dimension, by its spread only. */
function clusters(n: number, seed: number) {
  const rng = new Rng(seed);
  const dim = 7;
  const k = 4;
  const means = Array.from({ length: k }, () => Array.from({ length: dim }, () => 3 * rng.normal()));
  const x = new Float64Array(n * dim);
  const labels = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    const c = r % k;
    labels[r] = c;
    for (let j = 0; j < dim - 1; j++) x[r * dim + j] = means[c]![j]! + rng.normal();
    x[r * dim + dim - 1] = (0.2 + 2 * c) * rng.normal();
  }
  return { x, labels, dim, k };
}

function erase(x: Float64Array, mean: Float64Array, p: Float64Array, dim: number): Float32Array[] {
  const n = x.length / dim;
  return Array.from({ length: n }, (_, r) => {
    const row = new Float32Array(dim);
    for (let i = 0; i < dim; i++) {
      let v = x[r * dim + i]!;
      for (let j = 0; j < dim; j++) v -= p[i * dim + j]! * (x[r * dim + j]! - mean[j]!);
      row[i] = v;
    }
    return row;
  });
}

test('LEACE: after erasure the class means coincide and no linear probe beats the majority class', () => {
  const { x, labels, dim, k } = clusters(400, 11);
  const rows = (a: Float64Array) =>
    Array.from({ length: labels.length }, (_, r) => Float32Array.from(a.subarray(r * dim, (r + 1) * dim)));
  const before = evaluateProbe(trainProbe('linear', rows(x), labels, k), rows(x), labels).accuracy;
  assert.ok(before > 0.9, `the concept is linearly readable before (${before})`);
  const { mean, projection } = fitLeace(x, labels, k, dim);
  const erased = erase(x, mean, projection, dim);
  // Cov(r(x), z) = 0 ⇔ every class mean equals the overall mean.
  for (let c = 0; c < k; c++) {
    const m = new Float64Array(dim);
    let count = 0;
    erased.forEach((row, r) => {
      if (labels[r] !== c) return;
      count++;
      row.forEach((v, j) => (m[j] += v));
    });
    m.forEach((v, j) => assert.ok(Math.abs(v / count - mean[j]!) < 1e-4, `class ${c} mean, dim ${j}`));
  }
  const majority = 0.25;
  const linear = evaluateProbe(trainProbe('linear', erased, labels, k), erased, labels).accuracy;
  assert.ok(linear <= majority + 0.05, `linear probe after erasure ${linear} vs majority ${majority}`);
  // The guarantee is linear only: the classes' spreads differ, which an MLP probe still reads.
  const mlp = evaluateProbe(trainProbe('mlp', erased, labels, k), erased, labels).accuracy;
  console.log(`# LEACE toy: linear probe ${linear}, MLP probe ${mlp}, majority ${majority}`);
  assert.ok(mlp > majority + 0.1, `MLP probe after erasure ${mlp} vs majority ${majority}`);
});

const fx = await tinyFixture();
after(() => rmSync(fx.root, { recursive: true, force: true }));

test('leace method: fits erasers at fact.layers, trains nothing, and the model folder round-trips them', () => {
  const config = tinyConfig({ method: 'leace', steps: 0, fact: { layers: [1, 2] } });
  const data = dataFromWorld(fx.world, { ragVariants: 1, ragCounterfactual: 1, seed: 0 });
  const runDir = join(fx.root, 'leace');
  const result = metabolize({
    model: fx.freshModel(),
    tokenizer: fx.tokenizer,
    data,
    config,
    runDir,
    progress: false,
  });
  assert.equal(result.stepsRun, 0);
  assert.deepEqual(weights(result.model), weights(fx.freshModel()));
  assert.deepEqual(
    result.model.residualErasers().map((e) => e.hiddenState),
    [1, 2],
  );
  const dir = join(runDir, 'model');
  result.model.saveToDir(dir, { tokenizerDir: fx.worldDir });
  const loaded = Qwen2ForCausalLM.fromPretrained(dir);
  const ids = Int32Array.from([3, 4, 5, 6]);
  const opts = { batch: 1, seq: 4, outputHiddenStates: true, logits: 'all' as const };
  const a = result.model.forward(ids, opts);
  const b = loaded.forward(ids, opts);
  assert.deepEqual(b.logits!.data, a.logits!.data);
  const plain = fx.freshModel().forward(ids, opts);
  assert.notDeepEqual(plain.hiddenStates![2]!.data, a.hiddenStates![2]!.data);
  assert.deepEqual(plain.hiddenStates![0]!.data, a.hiddenStates![0]!.data);
  // Saving a model without erasers over the folder removes the stale files.
  fx.freshModel().saveToDir(dir);
  assert.equal(Qwen2ForCausalLM.fromPretrained(dir).residualErasers().length, 0);
  assert.throws(
    () =>
      metabolize({
        model: fx.freshModel(),
        tokenizer: fx.tokenizer,
        data,
        config: { ...config, steps: 3 },
        runDir: join(fx.root, 'leace-steps'),
        progress: false,
      }),
    /closed-form .* steps must be 0/,
  );
});

test('bad input: an eraser file that does not match the model names the file and the tensor', () => {
  const dir = join(fx.root, 'bad-eraser');
  fx.freshModel().saveToDir(dir);
  const D = fx.freshModel().config.hiddenSize;
  writeSafetensors(
    join(dir, ERASER_WEIGHTS),
    new Map([
      ['eraser.1.mean', { data: new Float32Array(D + 1), shape: [D + 1] }],
      ['eraser.1.projection', { data: new Float32Array((D + 1) ** 2), shape: [D + 1, D + 1] }],
    ]),
  );
  assert.throws(
    () => Qwen2ForCausalLM.fromPretrained(dir),
    new RegExp(
      `leace\\.safetensors: tensor "eraser\\.1\\.mean" has shape \\[${D + 1}\\] but the model's hidden size ${D}`,
    ),
  );
  writeSafetensors(
    join(dir, ERASER_WEIGHTS),
    new Map([['eraser.9.mean', { data: new Float32Array(D), shape: [D] }]]),
  );
  assert.throws(
    () => Qwen2ForCausalLM.fromPretrained(dir),
    /eraser\.9\.mean": hidden state 9 does not exist/,
  );
  writeSafetensors(
    join(dir, ERASER_WEIGHTS),
    new Map([['eraser.1.mean', { data: new Float32Array(D), shape: [D] }]]),
  );
  writeFileSync(
    join(dir, ERASER_DESCRIPTION),
    JSON.stringify({ format: 'rlcp-residual-erasers', hidden_size: 896 }),
  );
  assert.throws(
    () => Qwen2ForCausalLM.fromPretrained(dir),
    /leace\.json: "hidden_size" is 896 but the model's hidden size is 16/,
  );
});
