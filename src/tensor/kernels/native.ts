// The elementwise and row kernels on native code (native/kernels.cc, in rlcp's addon: ./addon.ts).
//
// Each kernel is the loop of the same name in ./reference.ts, which defines it: the native one returns
// the same float32 bits (test/tensor/kernels/native.test.ts), vectorised and split over the same number
// of threads as the GEMMs (RLCP_NUM_THREADS / setNumThreads).
import { loadAddon } from './addon.ts';
import { getNumThreads } from './onnx.ts';

/** Arithmetic of `binary`: 0 add, 1 sub, 2 mul, 3 div. */
export type BinaryKind = 0 | 1 | 2 | 3;

export interface ElementKernels {
  /** out = silu(gate) · up */
  swigluForward(gate: Float32Array, up: Float32Array, out: Float32Array): void;
  /** d gate and d up of swigluForward given d out (either output may be null). */
  swigluBackward(
    grad: Float32Array,
    gate: Float32Array,
    up: Float32Array,
    gGate: Float32Array | null,
    gUp: Float32Array | null,
  ): void;
  /** Rows of weight.length: out = x / rms(x) · weight; invRms[r] = 1 / rms of row r. */
  rmsNormForward(
    x: Float32Array,
    weight: Float32Array,
    out: Float32Array,
    invRms: Float32Array,
    eps: number,
  ): void;
  /** gx = d x (overwritten), gw += d weight (accumulated); either may be null. */
  rmsNormBackward(
    grad: Float32Array,
    x: Float32Array,
    weight: Float32Array,
    invRms: Float32Array,
    gx: Float32Array | null,
    gw: Float32Array | null,
  ): void;
  /**
   * Rotate-half RoPE of [B, H, T, 2·half] by tables [B·T, half]; sign −1 rotates back (backward). A
   * tokenMajor side is laid out [B, T, H, 2·half] instead (the permute between the two, fused).
   */
  ropeRotate(
    src: Float32Array,
    dst: Float32Array,
    cos: Float32Array,
    sin: Float32Array,
    batch: number,
    heads: number,
    seq: number,
    half: number,
    sign: number,
    srcTokenMajor: boolean,
    dstTokenMajor: boolean,
  ): void;
  /** out = a ∘ b; b is a.length long or one row repeated over a (bias, per-feature scale). */
  binary(kind: BinaryKind, a: Float32Array, b: Float32Array, out: Float32Array): void;
  /** dst = src · s (dst may be src) */
  scaleInto(dst: Float32Array, src: Float32Array, s: number): void;
  /** dst[j] += Σ over rows of src[r · dst.length + j] */
  sumRowsInto(dst: Float32Array, src: Float32Array): void;
  /** out[i] = Σ arrays[i]² in float64 (arrays split over the threads by size). */
  sumSquaresEach(arrays: readonly Float32Array[], out: Float64Array): void;
  /** Row r of dst = row r of src · scales[r] (dst may be src). */
  scaleRows(dst: Float32Array, src: Float32Array, scales: Float64Array): void;
  /**
   * y[i, j] = (y[i, j] + bias[j]) + alpha · Σ_k u[i, k] · M[k, j], u [rows, rank], M [rank, cols] or,
   * with `mTransposed`, stored as [cols, rank]: a low-rank product added in place, no temporary.
   */
  lowRankAdd(
    y: Float32Array,
    u: Float32Array,
    m: Float32Array,
    rank: number,
    alpha: number,
    bias: Float32Array | null,
    mTransposed: boolean,
  ): void;
  /** Row r of dst = row index[r] of table (rows of `cols`). */
  gatherRows(dst: Float32Array, table: Float32Array, index: Int32Array, cols: number): void;
  /** Row r of dst += alpha · row index[r] of table, except rows whose index is `skip`. */
  addGatheredRows(
    dst: Float32Array,
    table: Float32Array,
    index: Int32Array,
    skip: number,
    alpha: number,
  ): void;
  /** Row index[r] of dst += alpha · row r of src, in row order, except rows whose index is `skip`. */
  scatterAddRows(dst: Float32Array, src: Float32Array, index: Int32Array, skip: number, alpha: number): void;
  /** Masked, scaled attention scores [B, Hq, T, S] → probabilities, in place (rows with no key: 0). */
  attentionProbs(
    scores: Float32Array,
    batch: number,
    qHeads: number,
    seq: number,
    keys: number,
    causal: boolean,
    queryOffset: number,
    keyMask: Uint8Array | null,
  ): void;
  /** dProbs ← probs ∘ (dProbs − rowsum(dProbs ∘ probs)), rows of `cols` */
  softmaxBackwardRows(dProbs: Float32Array, probs: Float32Array, cols: number): void;
  /** Softmax of each row of `cols` (dst may be src). */
  softmaxRows(src: Float32Array, dst: Float32Array, cols: number): void;
  /**
   * Per row not ignored: stats[3r] = max, stats[3r + 1] = Σ exp(logit − max), stats[3r + 2] = target
   * logit; with `exps` (may be `logits`) also exp(logit − max) per element, zeros on ignored rows.
   */
  crossEntropyRows(
    logits: Float32Array,
    vocab: number,
    targets: Int32Array,
    ignoreIndex: number,
    exps: Float32Array | null,
    stats: Float64Array,
  ): void;
  /**
   * Per row whose mask is not 0: stats[5r..5r + 4] = ref max, Σ exp(ref − ref max), logits max,
   * Σ exp(logit − max), Σ p_ref · (ref − logit) in index order; with `grad` (may be `logits`) also
   * (softmax(logits) − softmax(ref)) / count per element, zeros on masked rows.
   */
  klDivRows(
    ref: Float32Array,
    logits: Float32Array,
    vocab: number,
    mask: Uint8Array | null,
    grad: Float32Array | null,
    count: number,
    stats: Float64Array,
  ): void;
  /**
   * AdamW on one parameter: updates m and v; with `factor` adds factor · update to p, else writes the
   * update into u (which holds the gradient on entry).
   */
  adamw(
    u: Float32Array,
    p: Float32Array,
    m: Float32Array,
    v: Float32Array,
    b1: number,
    b2: number,
    eps: number,
    c1: number,
    c2: number,
    weightDecay: number,
    factor: number | null,
  ): void;
  /** dst = src (shape `shape`) with dims reordered: dst dim i is src dim axes[i]. */
  permute(src: Float32Array, shape: Int32Array, axes: Int32Array, dst: Float32Array): void;
}

interface Addon extends ElementKernels {
  setThreads(n: number): void;
}

let addon: Addon | null = null;
let addonThreads = 0;

/** The native kernels, on as many threads as the GEMMs use now. */
export function nativeKernels(): ElementKernels {
  addon ??= loadAddon<Addon>();
  const threads = getNumThreads();
  if (threads !== addonThreads) {
    addon.setThreads(threads);
    addonThreads = threads;
  }
  return addon;
}
