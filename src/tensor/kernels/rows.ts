// Row-wise exponentials for softmax, log-softmax and the losses, over the last dim.
//
// Math.exp costs ~10 ns per element in V8; a float32-accurate exp (range reduction to 2^k * 2^f and
// a degree-6 polynomial, max relative error 2e-7) costs ~3–4 ns, which matters on a 151,936-word
// vocabulary. The *Reference functions use Math.exp in float64 and define what the fast ones compute.

const LOG2E = 1.4426950408889634;
// Adding then subtracting 1.5 * 2^52 rounds a double to the nearest integer without a call.
const ROUND_MAGIC = 6755399441055744;
const POW2 = new Float64Array(256).map((_, i) => 2 ** (i - 127));

/** exp(x) to float32 accuracy (relative error < 2e-7); below e^-87 it returns ~1e-38 instead of 0. */
export function fastExp(x: number): number {
  let t = x * LOG2E;
  // Clamp keeps 2^k a normal float; below 2^-126 a softmax term is negligible anyway.
  if (t < -126) t = -126;
  else if (t > 127) t = 127;
  const k = t + ROUND_MAGIC - ROUND_MAGIC;
  const f = t - k;
  const p =
    1 +
    f *
      (0.6931471805599453 +
        f *
          (0.2402265069591007 +
            f *
              (0.05550410866482158 +
                f * (0.009618129107628477 + f * (0.0013333558146428443 + f * 0.00015403530393381606)))));
  return p * POW2[k + 127]!;
}

/**
 * dst[dstStart + i - start] = exp(src[i] - shift) for i in [start, end); returns the sum of those
 * values. dst defaults to the same positions of src's buffer layout (dstStart = start).
 */
export function expShifted(
  src: Float32Array,
  start: number,
  end: number,
  shift: number,
  dst: Float32Array,
  dstStart = start,
): number {
  let sum = 0;
  const delta = dstStart - start;
  for (let i = start; i < end; i++) {
    const e = fastExp(src[i]! - shift);
    dst[i + delta] = e;
    sum += e;
  }
  return sum;
}

/** Sum of exp(src[i] - shift) over [start, end) without storing the terms. */
export function sumExpShifted(src: Float32Array, start: number, end: number, shift: number): number {
  let sum = 0;
  for (let i = start; i < end; i++) sum += fastExp(src[i]! - shift);
  return sum;
}

export function rowMax(src: Float32Array, start: number, end: number): number {
  let max = -Infinity;
  for (let i = start; i < end; i++) if (src[i]! > max) max = src[i]!;
  return max;
}

/** Log-softmax of each row of `src` into `dst` (may be `src`). */
export function logSoftmaxRows(src: Float32Array, dst: Float32Array, cols: number): void {
  for (let start = 0; start < src.length; start += cols) {
    const end = start + cols;
    const max = rowMax(src, start, end);
    const logZ = max + Math.log(sumExpShifted(src, start, end, max));
    for (let i = start; i < end; i++) dst[i] = src[i]! - logZ;
  }
}

/** Float64 Math.exp definition of the softmaxRows kernel (./reference.ts). */
export function softmaxRowsReference(src: Float32Array, cols: number): Float32Array {
  const out = new Float32Array(src.length);
  for (let start = 0; start < src.length; start += cols) {
    let max = -Infinity;
    for (let j = 0; j < cols; j++) max = Math.max(max, src[start + j]!);
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += Math.exp(src[start + j]! - max);
    for (let j = 0; j < cols; j++) out[start + j] = Math.exp(src[start + j]! - max) / sum;
  }
  return out;
}

/** Float64 Math.exp definition of logSoftmaxRows. */
export function logSoftmaxRowsReference(src: Float32Array, cols: number): Float32Array {
  const out = new Float32Array(src.length);
  for (let start = 0; start < src.length; start += cols) {
    let max = -Infinity;
    for (let j = 0; j < cols; j++) max = Math.max(max, src[start + j]!);
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += Math.exp(src[start + j]! - max);
    const logZ = max + Math.log(sum);
    for (let j = 0; j < cols; j++) out[start + j] = src[start + j]! - logZ;
  }
  return out;
}
