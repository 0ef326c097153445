// "Structural crystallization" measures of a layer's hidden states on a fixed probe set: how many
// directions the representation uses (effective rank, participation ratio) and how much the states point
// the same way (mean pairwise cosine). Definitions: src/eval/README.md.

/**
 * Eigenvalues of a symmetric n×n matrix (row-major; only the upper triangle is read), in descending order.
 * Householder reduction to tridiagonal form, then the implicit QL algorithm (the EISPACK tred2/tql2 pair as
 * in JAMA, without eigenvectors): O(n³), about a second for n = 1024.
 */
export function symmetricEigenvalues(matrix: Float64Array, n: number): Float64Array {
  if (matrix.length !== n * n)
    throw new Error(`symmetricEigenvalues: expected ${n * n} entries, got ${matrix.length}`);
  if (n === 0) return new Float64Array(0);
  // Working copy of the upper triangle: entry (j, k), j ≤ k, at a[j·n + k], so the inner loops below run
  // along rows (contiguous) where JAMA's lower-triangle version runs down columns.
  const a = matrix.slice();
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  for (let j = 0; j < n; j++) d[j] = a[j * n + n - 1]!;

  // Householder reduction: d ends as the diagonal, e[1..n−1] as the subdiagonal. (JAMA also stores the
  // Householder vectors to accumulate eigenvectors; eigenvalues alone do not need them.)
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]!);
    if (scale === 0) {
      e[i] = d[i - 1]!;
      for (let j = 0; j < i; j++) d[j] = a[j * n + i - 1]!;
      continue;
    }
    for (let k = 0; k < i; k++) {
      d[k]! /= scale;
      h += d[k]! * d[k]!;
    }
    let f = d[i - 1]!;
    let g = Math.sqrt(h);
    if (f > 0) g = -g;
    e[i] = scale * g;
    h -= f * g;
    d[i - 1] = f - g;
    for (let j = 0; j < i; j++) e[j] = 0;
    for (let j = 0; j < i; j++) {
      f = d[j]!;
      const row = j * n;
      g = e[j]! + a[row + j]! * f;
      for (let k = j + 1; k <= i - 1; k++) {
        g += a[row + k]! * d[k]!;
        e[k]! += a[row + k]! * f;
      }
      e[j] = g;
    }
    f = 0;
    for (let j = 0; j < i; j++) {
      e[j]! /= h;
      f += e[j]! * d[j]!;
    }
    const hh = f / (h + h);
    for (let j = 0; j < i; j++) e[j]! -= hh * d[j]!;
    for (let j = 0; j < i; j++) {
      f = d[j]!;
      g = e[j]!;
      const row = j * n;
      for (let k = j; k <= i - 1; k++) a[row + k]! -= f * e[k]! + g * d[k]!;
    }
    for (let j = 0; j < i; j++) d[j] = a[j * n + i - 1]!;
  }
  for (let j = 0; j < n; j++) d[j] = a[j * n + j]!;

  // Implicit QL with Wilkinson-style shifts on the tridiagonal matrix.
  for (let i = 1; i < n; i++) e[i - 1] = e[i]!;
  e[n - 1] = 0;
  let shift = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]!) + Math.abs(e[l]!));
    let m = l;
    while (m < n && Math.abs(e[m]!) > eps * tst1) m++;
    if (m > l) {
      let iterations = 0;
      do {
        if (++iterations > 60) throw new Error('symmetricEigenvalues: QL iteration did not converge');
        let g = d[l]!;
        let p = (d[l + 1]! - g) / (2 * e[l]!);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l]! / (p + r);
        d[l + 1] = e[l]! * (p + r);
        const dl1 = d[l + 1]!;
        let h = g - d[l]!;
        for (let i = l + 2; i < n; i++) d[i]! -= h;
        shift += h;
        p = d[m]!;
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1]!;
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i]!;
          h = c * p;
          r = Math.hypot(p, e[i]!);
          e[i + 1] = s * r;
          s = e[i]! / r;
          c = p / r;
          p = c * d[i]! - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]!);
        }
        p = (-s * s2 * c3 * el1 * e[l]!) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]!) > eps * tst1);
    }
    d[l] = d[l]! + shift;
    e[l] = 0;
  }
  return d.sort().reverse();
}

function validateRows(rows: readonly Float32Array[], what: string): number {
  if (rows.length < 2) throw new Error(`${what}: need at least 2 rows, got ${rows.length}`);
  const dim = rows[0]!.length;
  if (dim === 0) throw new Error(`${what}: rows have no features`);
  rows.forEach((row, i) => {
    if (row.length !== dim) throw new Error(`${what}: row ${i} has ${row.length} features, expected ${dim}`);
    const bad = row.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new Error(`${what}: row ${i} feature ${bad} is ${row[bad]}`);
  });
  return dim;
}

/**
 * Eigenvalues (descending, negatives from rounding clipped to 0) of the sample covariance of the rows,
 * Σ = XcᵀXc/(N−1) with Xc the mean-centred rows. When N < D the N×N Gram matrix XcXcᵀ/(N−1) is
 * decomposed instead: it has the same nonzero eigenvalues, and costs O(N²D + N³) rather than O(ND² + D³).
 */
export function covarianceEigenvalues(rows: readonly Float32Array[]): Float64Array {
  const dim = validateRows(rows, 'covarianceEigenvalues');
  const N = rows.length;
  const mean = new Float64Array(dim);
  for (const row of rows) for (let d = 0; d < dim; d++) mean[d]! += row[d]!;
  for (let d = 0; d < dim; d++) mean[d]! /= N;
  const centred = rows.map((row) => Float64Array.from(row, (v, d) => v - mean[d]!));
  let matrix: Float64Array;
  let size: number;
  if (N < dim) {
    size = N;
    matrix = new Float64Array(N * N);
    for (let i = 0; i < N; i++) {
      for (let j = 0; j <= i; j++) {
        let s = 0;
        const a = centred[i]!;
        const b = centred[j]!;
        for (let d = 0; d < dim; d++) s += a[d]! * b[d]!;
        matrix[i * N + j] = matrix[j * N + i] = s / (N - 1);
      }
    }
  } else {
    size = dim;
    matrix = new Float64Array(dim * dim);
    for (const x of centred) {
      for (let i = 0; i < dim; i++) {
        const xi = x[i]!;
        if (xi === 0) continue;
        const at = i * dim;
        for (let j = 0; j <= i; j++) matrix[at + j]! += xi * x[j]!;
      }
    }
    for (let i = 0; i < dim; i++) {
      for (let j = 0; j <= i; j++) matrix[i * dim + j] = matrix[j * dim + i] = matrix[i * dim + j]! / (N - 1);
    }
  }
  return symmetricEigenvalues(matrix, size).map((v) => Math.max(0, v));
}

/** exp(−Σ pᵢ ln pᵢ), pᵢ = λᵢ/Σλ (Roy & Vetterli 2007); 0 when every eigenvalue is 0. */
export function effectiveRank(eigenvalues: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < eigenvalues.length; i++) total += Math.max(0, eigenvalues[i]!);
  if (total === 0) return 0;
  let entropy = 0;
  for (let i = 0; i < eigenvalues.length; i++) {
    const p = Math.max(0, eigenvalues[i]!) / total;
    if (p > 0) entropy -= p * Math.log(p);
  }
  return Math.exp(entropy);
}

/** (Σλ)²/Σλ²; 0 when every eigenvalue is 0. */
export function participationRatio(eigenvalues: ArrayLike<number>): number {
  let sum = 0;
  let sumSquares = 0;
  for (let i = 0; i < eigenvalues.length; i++) {
    const v = Math.max(0, eigenvalues[i]!);
    sum += v;
    sumSquares += v * v;
  }
  return sumSquares === 0 ? 0 : (sum * sum) / sumSquares;
}

/**
 * Mean cosine similarity over all unordered pairs of distinct rows, uncentred (the anisotropy measure of
 * Ethayarajh 2019). Computed in O(ND) as (‖Σ uᵢ‖² − N)/(N(N−1)) with uᵢ the unit-normalised rows.
 */
export function meanPairwiseCosine(rows: readonly Float32Array[]): number {
  const dim = validateRows(rows, 'meanPairwiseCosine');
  const N = rows.length;
  const sum = new Float64Array(dim);
  rows.forEach((row, i) => {
    let norm = 0;
    for (let d = 0; d < dim; d++) norm += row[d]! * row[d]!;
    if (norm === 0) throw new Error(`meanPairwiseCosine: row ${i} is all zeros (cosine undefined)`);
    const inv = 1 / Math.sqrt(norm);
    for (let d = 0; d < dim; d++) sum[d]! += row[d]! * inv;
  });
  let squared = 0;
  for (let d = 0; d < dim; d++) squared += sum[d]! * sum[d]!;
  return (squared - N) / (N * (N - 1));
}

export interface LayerCrystallization {
  layer: number;
  n: number;
  dim: number;
  effective_rank: number;
  participation_ratio: number;
  mean_pairwise_cosine: number;
  /** Trace of the covariance (sum of eigenvalues). */
  total_variance: number;
  /** Largest eigenvalue / total variance. */
  top_eigenvalue_share: number;
}

/** The crystallization measures of one layer's hidden states (one row per probe-set prompt). */
export function layerCrystallization(rows: readonly Float32Array[], layer: number): LayerCrystallization {
  const eigenvalues = covarianceEigenvalues(rows);
  const total = eigenvalues.reduce((a, b) => a + b, 0);
  return {
    layer,
    n: rows.length,
    dim: rows[0]!.length,
    effective_rank: effectiveRank(eigenvalues),
    participation_ratio: participationRatio(eigenvalues),
    mean_pairwise_cosine: meanPairwiseCosine(rows),
    total_variance: total,
    top_eigenvalue_share: total === 0 ? 0 : eigenvalues[0]! / total,
  };
}

/** Per-layer measures; `layers[i]` holds layer i's rows for the same prompts. */
export function crystallizationByLayer(layers: readonly (readonly Float32Array[])[]): LayerCrystallization[] {
  return layers.map((rows, layer) => layerCrystallization(rows, layer));
}
