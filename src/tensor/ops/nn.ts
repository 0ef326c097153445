// Fused transformer ops with hand-written backward: RMSNorm, RoPE, softmax, gradient reversal.
import { emptyTensor, giveGrad, gradInto, record, tracksGrad } from '../tensor.ts';
import type { Tensor } from '../tensor.ts';
import { allocUninit } from '../pool.ts';
import { formatShape } from '../shape.ts';
import { expShifted, logSoftmaxRows } from '../kernels/rows.ts';
import { nativeKernels } from '../kernels/native.ts';

function lastDim(a: Tensor, what: string): number {
  const d = a.shape[a.shape.length - 1];
  if (d === undefined || d === 0)
    throw new Error(`${what}: needs a non-empty last dim, got ${formatShape(a.shape)}`);
  return d;
}

/** x / rms(x) * weight over the last dim (Qwen2RMSNorm: rms = sqrt(mean(x²) + eps)). */
export function rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
  const dim = lastDim(x, 'rmsNorm');
  if (weight.shape.length !== 1 || weight.shape[0] !== dim) {
    throw new Error(
      `rmsNorm: weight ${formatShape(weight.shape)} does not match input ${formatShape(x.shape)}`,
    );
  }
  const out = emptyTensor(x.shape);
  const invRms = new Float32Array(x.size / dim);
  nativeKernels().rmsNormForward(x.data, weight.data, out.data, invRms, eps);
  if (tracksGrad(x, weight)) {
    record(out, [x, weight], (g) => {
      const gw = weight.requiresGrad ? gradInto(weight) : null;
      const gx = x.requiresGrad ? allocUninit(x.size) : null;
      nativeKernels().rmsNormBackward(g, x.data, weight.data, invRms, gx, gw);
      if (gx) giveGrad(x, gx);
    });
  }
  return out;
}

interface RopeTables {
  positions: Int32Array;
  half: number;
  theta: number;
  cos: Float32Array;
  sin: Float32Array;
}

// Every layer's q and k rotate with the same positions array: computing cos/sin once per forward instead
// of per call saves ~1 ms per call at the world model's shape (64 × 64 tokens, microbenchmark). The entry
// keeps a copy of the positions, so an array changed in place since is recomputed, not misread.
const ropeCache = new WeakMap<Int32Array, RopeTables>();

function ropeTables(positions: Int32Array, half: number, theta: number): RopeTables {
  const cached = ropeCache.get(positions);
  if (cached && cached.half === half && cached.theta === theta && sameInts(cached.positions, positions)) {
    return cached;
  }
  const tables = computeRopeTables(positions, half, theta);
  ropeCache.set(positions, tables);
  return tables;
}

function sameInts(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** cos/sin of position · inverse frequency, [rows, half], computed in float32 like Hugging Face. */
function computeRopeTables(positions: Int32Array, half: number, theta: number): RopeTables {
  const invFreq = new Float32Array(half);
  for (let i = 0; i < half; i++) invFreq[i] = 1 / Math.fround(theta ** Math.fround((2 * i) / (2 * half)));
  const cos = new Float32Array(positions.length * half);
  const sin = new Float32Array(positions.length * half);
  for (let p = 0; p < positions.length; p++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(positions[p]! * invFreq[i]!);
      cos[p * half + i] = Math.cos(angle);
      sin[p * half + i] = Math.sin(angle);
    }
  }
  return { positions: positions.slice(), half, theta, cos, sin };
}

/**
 * Rotary position embedding, rotate-half convention (Hugging Face Llama/Qwen2):
 * x [B, H, T, Dh], positions [B*T] (position of token t of batch row b at b*T + t).
 */
export function rope(x: Tensor, positions: Int32Array, theta: number): Tensor {
  if (x.shape.length !== 4) throw new Error(`rope: expected [B, H, T, Dh], got ${formatShape(x.shape)}`);
  const [batch, heads, seq, headDim] = x.shape as [number, number, number, number];
  return rotary(x, { batch, heads, seq, headDim }, positions, theta, false, 'rope');
}

/**
 * rope(permute(x, [0, 2, 1, 3])) in one pass: x [B, T, H, Dh] (a projection's output split into heads)
 * → [B, H, T, Dh] rotated. Saves the permute's copy, forward and backward.
 */
export function permuteRope(x: Tensor, positions: Int32Array, theta: number): Tensor {
  if (x.shape.length !== 4)
    throw new Error(`permuteRope: expected [B, T, H, Dh], got ${formatShape(x.shape)}`);
  const [batch, seq, heads, headDim] = x.shape as [number, number, number, number];
  return rotary(x, { batch, heads, seq, headDim }, positions, theta, true, 'permuteRope');
}

function rotary(
  x: Tensor,
  dims: { batch: number; heads: number; seq: number; headDim: number },
  positions: Int32Array,
  theta: number,
  tokenMajor: boolean,
  what: string,
): Tensor {
  const { batch, heads, seq, headDim } = dims;
  if (headDim % 2 !== 0) throw new Error(`${what}: head dim ${headDim} must be even`);
  if (positions.length !== batch * seq) {
    throw new Error(`${what}: ${positions.length} positions for batch ${batch} × seq ${seq}`);
  }
  const half = headDim / 2;
  const { cos, sin } = ropeTables(positions, half, theta);
  const out = emptyTensor([batch, heads, seq, headDim]);
  nativeKernels().ropeRotate(x.data, out.data, cos, sin, batch, heads, seq, half, 1, tokenMajor, false);
  if (tracksGrad(x)) {
    record(out, [x], (g) => {
      // The inverse rotation, back into x's layout.
      const gx = allocUninit(g.length);
      nativeKernels().ropeRotate(g, gx, cos, sin, batch, heads, seq, half, -1, false, tokenMajor);
      giveGrad(x, gx);
    });
  }
  return out;
}

/** Softmax over the last dim. */
export function softmax(a: Tensor): Tensor {
  const cols = lastDim(a, 'softmax');
  const out = emptyTensor(a.shape);
  nativeKernels().softmaxRows(a.data, out.data, cols);
  if (tracksGrad(a)) {
    const y = out.data;
    record(out, [a], (g) => {
      const ga = allocUninit(g.length);
      ga.set(g);
      nativeKernels().softmaxBackwardRows(ga, y, cols);
      giveGrad(a, ga);
    });
  }
  return out;
}

/** Log-softmax over the last dim. */
export function logSoftmax(a: Tensor): Tensor {
  const cols = lastDim(a, 'logSoftmax');
  const out = emptyTensor(a.shape);
  logSoftmaxRows(a.data, out.data, cols);
  if (tracksGrad(a)) {
    const y = out.data;
    record(out, [a], (g) => {
      // dx = g − softmax · Σg, softmax = exp(log-softmax).
      const ga = allocUninit(g.length);
      for (let start = 0; start < g.length; start += cols) {
        let total = 0;
        for (let j = start; j < start + cols; j++) total += g[j]!;
        expShifted(y, start, start + cols, 0, ga);
        for (let j = start; j < start + cols; j++) ga[j] = g[j]! - ga[j]! * total;
      }
      giveGrad(a, ga);
    });
  }
  return out;
}

/** Gradient reversal: identity forward (shares data), −lambda · grad backward. */
export function gradReverse(a: Tensor, lambda: number): Tensor {
  const out = a.view(a.shape, false);
  if (tracksGrad(a)) {
    record(out, [a], (g) => {
      const ga = allocUninit(g.length);
      for (let i = 0; i < g.length; i++) ga[i] = -lambda * g[i]!;
      giveGrad(a, ga);
    });
  }
  return out;
}

/** Blocks gradients: same data, requires no grad. */
export function stopGradient(a: Tensor): Tensor {
  return a.detach();
}
