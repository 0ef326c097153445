import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  covarianceEigenvalues,
  crystallizationByLayer,
  effectiveRank,
  layerCrystallization,
  meanPairwiseCosine,
  participationRatio,
  symmetricEigenvalues,
} from '../../src/eval/crystallization.ts';

function normals(seed: number): () => number {
  let state = seed >>> 0;
  const uniform = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

/** A random n×n orthogonal matrix (rows), by Gram–Schmidt on Gaussian rows. */
function randomOrthogonal(n: number, seed: number): Float64Array[] {
  const g = normals(seed);
  const rows: Float64Array[] = [];
  while (rows.length < n) {
    const v = Float64Array.from({ length: n }, () => g());
    for (let pass = 0; pass < 2; pass++) {
      for (const q of rows) {
        let c = 0;
        for (let i = 0; i < n; i++) c += q[i]! * v[i]!;
        for (let i = 0; i < n; i++) v[i]! -= c * q[i]!;
      }
    }
    const norm = Math.hypot(...v);
    rows.push(v.map((x) => x / norm));
  }
  return rows;
}

/** Qᵀ diag(λ) Q, row-major. */
function withSpectrum(spectrum: number[], seed: number): Float64Array {
  const n = spectrum.length;
  const Q = randomOrthogonal(n, seed);
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += Q[k]![i]! * spectrum[k]! * Q[k]![j]!;
      A[i * n + j] = s;
    }
  }
  return A;
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, label = ''): void {
  assert.equal(actual.length, expected.length, `${label} length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol, `${label}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

test('eigenvalues of small matrices with known spectra', () => {
  assertClose(symmetricEigenvalues(new Float64Array([2, 1, 1, 2]), 2), [3, 1], 1e-12);
  assertClose(symmetricEigenvalues(new Float64Array([5, 0, 0, 0, -1, 0, 0, 0, 2]), 3), [5, 2, -1], 1e-12);
  assertClose(symmetricEigenvalues(new Float64Array([7]), 1), [7], 0);
  assertClose(symmetricEigenvalues(new Float64Array(16), 4), [0, 0, 0, 0], 0);
  assert.throws(() => symmetricEigenvalues(new Float64Array(5), 2), /expected 4 entries, got 5/);
});

test('eigenvalues of rotated diagonals, with repeated and zero eigenvalues', () => {
  const spectrum = [10, 10, 4, 3.5, 1, 1e-3, 0, 0, 0, -2, ...Array.from({ length: 30 }, (_, i) => 0.1 * i)];
  const sorted = [...spectrum].sort((a, b) => b - a);
  assertClose(symmetricEigenvalues(withSpectrum(spectrum, 3), spectrum.length), sorted, 1e-10, 'rotated');
});

test('eigenvalues of a random symmetric matrix keep the trace and the Frobenius norm', () => {
  const n = 120;
  const g = normals(8);
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) A[i * n + j] = A[j * n + i] = g();
  const eigenvalues = symmetricEigenvalues(A, n);
  let trace = 0;
  let frobenius = 0;
  for (let i = 0; i < n; i++) trace += A[i * n + i]!;
  for (const v of A) frobenius += v * v;
  assert.ok(Math.abs(eigenvalues.reduce((a, b) => a + b, 0) - trace) < 1e-9);
  assert.ok(Math.abs(eigenvalues.reduce((a, b) => a + b * b, 0) - frobenius) < 1e-8 * frobenius);
  for (let i = 1; i < n; i++) assert.ok(eigenvalues[i - 1]! >= eigenvalues[i]!, 'descending');
});

/** Rows ±sqrt(λ(N−1)/2)·qⱼ along orthonormal directions qⱼ: mean 0, covariance exactly Σ λⱼ qⱼqⱼᵀ. */
function rowsWithCovariance(spectrum: number[], dim: number, seed: number): Float32Array[] {
  const Q = randomOrthogonal(dim, seed);
  const N = 2 * spectrum.length;
  const rows: Float32Array[] = [];
  spectrum.forEach((lambda, j) => {
    const a = Math.sqrt((lambda * (N - 1)) / 2);
    rows.push(
      Float32Array.from(Q[j]!, (v) => 5 + a * v),
      Float32Array.from(Q[j]!, (v) => 5 - a * v),
    );
  });
  return rows;
}

test('covariance spectrum through the covariance (N ≥ D) and Gram (N < D) paths', () => {
  const spectrum = [4, 2, 1, 0.5, 0.25];
  // N = 10 ≥ D = 5: covariance path.
  assertClose(covarianceEigenvalues(rowsWithCovariance(spectrum, 5, 11)), spectrum, 1e-5, 'covariance');
  // N = 10 < D = 64: Gram path; the nonzero eigenvalues are the spectrum, the rest 0.
  const gram = covarianceEigenvalues(rowsWithCovariance(spectrum, 64, 12));
  assert.equal(gram.length, 10);
  assertClose(gram.slice(0, 5), spectrum, 1e-5, 'gram');
  assertClose(gram.slice(5), [0, 0, 0, 0, 0], 1e-5, 'gram zeros');
});

test('effective rank and participation ratio on known spectra', () => {
  assert.ok(Math.abs(effectiveRank([1, 1, 1, 1]) - 4) < 1e-12);
  assert.ok(Math.abs(participationRatio([2, 2, 2, 0]) - 3) < 1e-12);
  assert.equal(effectiveRank([5, 0, 0]), 1);
  assert.equal(participationRatio([5, 0, 0]), 1);
  // λ = (3, 1): p = (3/4, 1/4), H = 0.562335, exp(H) = 1.754765; PR = 16/10.
  assert.ok(Math.abs(effectiveRank([3, 1]) - 1.7547654) < 1e-6);
  assert.ok(Math.abs(participationRatio([3, 1]) - 1.6) < 1e-12);
  assert.equal(effectiveRank([0, 0]), 0);
  assert.equal(participationRatio([0, -1e-18]), 0);
});

test('mean pairwise cosine equals brute force and hits the extremes', () => {
  const g = normals(21);
  const rows = Array.from({ length: 9 }, () => Float32Array.from({ length: 7 }, () => g() + 0.5));
  let sum = 0;
  let pairs = 0;
  for (let i = 0; i < rows.length; i++) {
    for (let j = i + 1; j < rows.length; j++) {
      let dotProduct = 0;
      let ni = 0;
      let nj = 0;
      for (let d = 0; d < 7; d++) {
        dotProduct += rows[i]![d]! * rows[j]![d]!;
        ni += rows[i]![d]! ** 2;
        nj += rows[j]![d]! ** 2;
      }
      sum += dotProduct / Math.sqrt(ni * nj);
      pairs++;
    }
  }
  assert.ok(Math.abs(meanPairwiseCosine(rows) - sum / pairs) < 1e-9);
  const same = new Float32Array([1, 2, 3]);
  assert.ok(Math.abs(meanPairwiseCosine([same, same, same]) - 1) < 1e-9);
  assert.ok(Math.abs(meanPairwiseCosine([new Float32Array([1, 0]), new Float32Array([0, 2])])) < 1e-12);
  assert.ok(Math.abs(meanPairwiseCosine([new Float32Array([1, 2]), new Float32Array([-1, -2])]) + 1) < 1e-9);
  assert.throws(() => meanPairwiseCosine([same, new Float32Array(3)]), /row 1 is all zeros/);
});

test('per-layer report: a collapsed layer has lower rank and higher cosine than an isotropic one', () => {
  const g = normals(31);
  const isotropic = Array.from({ length: 40 }, () => Float32Array.from({ length: 16 }, () => g()));
  const direction = Float32Array.from({ length: 16 }, () => g());
  const collapsed = Array.from({ length: 40 }, () => {
    const scale = 3 + g(); // one scale per row: all rows lie near one line
    return Float32Array.from(direction, (v) => v * scale + 0.05 * g());
  });
  const [iso, col] = crystallizationByLayer([isotropic, collapsed]);
  assert.equal(iso!.layer, 0);
  assert.equal(col!.layer, 1);
  assert.equal(iso!.n, 40);
  assert.equal(iso!.dim, 16);
  assert.ok(iso!.effective_rank > 12, `isotropic effective rank ${iso!.effective_rank}`);
  assert.ok(col!.effective_rank < 2, `collapsed effective rank ${col!.effective_rank}`);
  assert.ok(col!.participation_ratio < 1.1);
  assert.ok(col!.top_eigenvalue_share > 0.95);
  assert.ok(col!.mean_pairwise_cosine > 0.95);
  assert.ok(Math.abs(iso!.mean_pairwise_cosine) < 0.1);
  const report = layerCrystallization(isotropic, 5);
  assert.ok(
    Math.abs(report.total_variance - covarianceEigenvalues(isotropic).reduce((a, b) => a + b, 0)) < 1e-9,
  );
  assert.throws(() => layerCrystallization([isotropic[0]!], 0), /need at least 2 rows/);
  assert.throws(
    () => layerCrystallization([isotropic[0]!, new Float32Array(3)], 0),
    /row 1 has 3 features, expected 16/,
  );
});
