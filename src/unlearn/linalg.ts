// Small dense symmetric linear algebra in float64 for closed-form erasure (LEACE): the cyclic Jacobi
// eigendecomposition, and the symmetric (pseudo-)inverse square root built on it. Matrices are row-major
// n×n Float64Arrays. Jacobi is O(n³) per sweep and converges quadratically; for a 128-wide hidden state it
// takes milliseconds, for Qwen2.5-0.5B's 896 some seconds.

/** Eigenvalues (ascending) and eigenvectors (columns of `vectors`, row-major) of a symmetric matrix. */
export function symmetricEigen(
  matrix: Float64Array,
  n: number,
): { values: Float64Array; vectors: Float64Array } {
  if (matrix.length !== n * n)
    throw new Error(`symmetricEigen: ${matrix.length} entries do not form ${n}×${n}`);
  const a = Float64Array.from(matrix);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let scaleSq = 0;
  for (const x of a) scaleSq += x * x;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q]! ** 2;
    if (off <= 1e-30 * scaleSq || off === 0) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (apq === 0) continue;
        // The rotation that zeroes a[p][q] (Golub & Van Loan, Algorithm 8.5.1).
        const theta = (a[q * n + q]! - a[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p]!;
          const akq = a[k * n + q]!;
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k]!;
          const aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!;
          const vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => a[i * n + i]! - a[j * n + j]!);
  const values = Float64Array.from(order, (i) => a[i * n + i]!);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    for (let k = 0; k < n; k++) vectors[k * n + dst] = v[k * n + src]!;
  });
  return { values, vectors };
}

/** f applied to a symmetric matrix's spectrum: V·diag(f(λ))·Vᵀ, with f(λ) = 0 where λ ≤ tol (numerically zero). */
export function spectralFunction(
  eigen: { values: Float64Array; vectors: Float64Array },
  n: number,
  f: (lambda: number) => number,
  tol: number,
): Float64Array {
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const lambda = eigen.values[k]!;
    if (!(lambda > tol)) continue;
    const w = f(lambda);
    for (let i = 0; i < n; i++) {
      const vik = eigen.vectors[i * n + k]! * w;
      if (vik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] += vik * eigen.vectors[j * n + k]!;
    }
  }
  return out;
}

/** C = A·B for row-major A [m, k] and B [k, n]. */
export function matmul64(a: Float64Array, b: Float64Array, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const aip = a[i * k + p]!;
      if (aip === 0) continue;
      for (let j = 0; j < n; j++) c[i * n + j] += aip * b[p * n + j]!;
    }
  }
  return c;
}

/** Aᵀ for row-major A [m, n]. */
export function transpose64(a: Float64Array, m: number, n: number): Float64Array {
  const t = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) t[j * m + i] = a[i * n + j]!;
  return t;
}
