// TypeScript definitions of the native kernels (./native.ts): the same loops, one thread. The native
// kernels must return exactly these float32 bits (test/tensor/kernels/native.test.ts); they are the
// loops the ops ran before native/kernels.cc existed, so models trained then reproduce byte for byte.
//
// Arithmetic is JavaScript's: float64 throughout, rounded to float32 only when stored into a
// Float32Array. Keep it that way when editing either side.
import type { BinaryKind, ElementKernels } from './native.ts';
import { expShifted, fastExp, rowMax, sumExpShifted } from './rows.ts';

function binaryLoop(kind: BinaryKind, a: Float32Array, b: Float32Array, out: Float32Array): void {
  const n = out.length;
  if (kind === 0) for (let i = 0; i < n; i++) out[i] = a[i]! + b[i]!;
  else if (kind === 1) for (let i = 0; i < n; i++) out[i] = a[i]! - b[i]!;
  else if (kind === 2) for (let i = 0; i < n; i++) out[i] = a[i]! * b[i]!;
  else for (let i = 0; i < n; i++) out[i] = a[i]! / b[i]!;
}

function rowBroadcastLoop(kind: BinaryKind, a: Float32Array, b: Float32Array, out: Float32Array): void {
  const cols = b.length;
  for (let start = 0; start < out.length; start += cols) {
    if (kind === 0) for (let j = 0; j < cols; j++) out[start + j] = a[start + j]! + b[j]!;
    else if (kind === 1) for (let j = 0; j < cols; j++) out[start + j] = a[start + j]! - b[j]!;
    else if (kind === 2) for (let j = 0; j < cols; j++) out[start + j] = a[start + j]! * b[j]!;
    else for (let j = 0; j < cols; j++) out[start + j] = a[start + j]! / b[j]!;
  }
}

export const referenceKernels: ElementKernels = {
  swigluForward(gate, up, out) {
    for (let i = 0; i < out.length; i++) {
      const x = gate[i]!;
      out[i] = (x / (1 + fastExp(-x))) * up[i]!;
    }
  },

  swigluBackward(grad, gate, up, gGate, gUp) {
    for (let i = 0; i < grad.length; i++) {
      const x = gate[i]!;
      const s = 1 / (1 + fastExp(-x));
      if (gGate) gGate[i] = grad[i]! * up[i]! * s * (1 + x * (1 - s));
      if (gUp) gUp[i] = grad[i]! * x * s;
    }
  },

  rmsNormForward(x, weight, out, invRms, eps) {
    const dim = weight.length;
    for (let r = 0; r < x.length / dim; r++) {
      const base = r * dim;
      let ss = 0;
      for (let j = 0; j < dim; j++) ss += x[base + j]! * x[base + j]!;
      const inv = 1 / Math.sqrt(ss / dim + eps);
      invRms[r] = inv;
      for (let j = 0; j < dim; j++) out[base + j] = Math.fround(x[base + j]! * inv) * weight[j]!;
    }
  },

  rmsNormBackward(grad, x, weight, invRms, gx, gw) {
    const dim = weight.length;
    for (let r = 0; r < x.length / dim; r++) {
      const base = r * dim;
      const inv = invRms[r]!;
      // d x̂ = g·w; dx = inv · (d x̂ − x̂ · mean(d x̂ · x̂)), with x̂ = x · inv.
      let dot = 0;
      for (let j = 0; j < dim; j++) {
        const xhat = x[base + j]! * inv;
        const gj = grad[base + j]!;
        if (gw) gw[j]! += gj * xhat;
        dot += gj * weight[j]! * xhat;
      }
      if (gx) {
        const m = dot / dim;
        for (let j = 0; j < dim; j++) {
          gx[base + j] = inv * (grad[base + j]! * weight[j]! - x[base + j]! * inv * m);
        }
      }
    }
  },

  ropeRotate(src, dst, cos, sin, batch, heads, seq, half, sign, srcTokenMajor, dstTokenMajor) {
    const headDim = 2 * half;
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < heads; h++) {
        for (let t = 0; t < seq; t++) {
          const headMajor = ((b * heads + h) * seq + t) * headDim;
          const tokenMajor = ((b * seq + t) * heads + h) * headDim;
          const from = srcTokenMajor ? tokenMajor : headMajor;
          const to = dstTokenMajor ? tokenMajor : headMajor;
          const table = (b * seq + t) * half;
          for (let i = 0; i < half; i++) {
            const c = cos[table + i]!;
            const s = sign * sin[table + i]!;
            const x1 = src[from + i]!;
            const x2 = src[from + half + i]!;
            dst[to + i] = x1 * c - x2 * s;
            dst[to + half + i] = x2 * c + x1 * s;
          }
        }
      }
    }
  },

  binary(kind, a, b, out) {
    if (b.length === a.length) binaryLoop(kind, a, b, out);
    else rowBroadcastLoop(kind, a, b, out);
  },

  scaleInto(dst, src, s) {
    for (let i = 0; i < dst.length; i++) dst[i] = src[i]! * s;
  },

  sumRowsInto(dst, src) {
    const cols = dst.length;
    for (let start = 0; start < src.length; start += cols) {
      for (let j = 0; j < cols; j++) dst[j]! += src[start + j]!;
    }
  },

  sumSquaresEach(arrays, out) {
    arrays.forEach((x, k) => {
      let s = 0;
      for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
      out[k] = s;
    });
  },

  scaleRows(dst, src, scales) {
    const cols = dst.length / scales.length;
    for (let r = 0; r < scales.length; r++) {
      const s = scales[r]!;
      for (let j = r * cols; j < (r + 1) * cols; j++) dst[j] = src[j]! * s;
    }
  },

  lowRankAdd(y, u, m, rank, alpha, bias, mTransposed) {
    const f = Math.fround;
    const cols = m.length / rank;
    const a = f(alpha);
    const at = (k: number, j: number) => (mTransposed ? m[j * rank + k]! : m[k * cols + j]!);
    for (let i = 0; i < u.length / rank; i++) {
      for (let j = 0; j < cols; j++) {
        let acc = f(u[i * rank]! * at(0, j));
        for (let k = 1; k < rank; k++) acc = f(acc + f(u[i * rank + k]! * at(k, j)));
        const base = bias ? f(y[i * cols + j]! + bias[j]!) : y[i * cols + j]!;
        y[i * cols + j] = base + f(a * acc);
      }
    }
  },

  gatherRows(dst, table, index, cols) {
    for (let r = 0; r < index.length; r++)
      dst.set(table.subarray(index[r]! * cols, (index[r]! + 1) * cols), r * cols);
  },

  addGatheredRows(dst, table, index, skip, alpha) {
    const cols = dst.length / index.length;
    for (let r = 0; r < index.length; r++) {
      if (index[r] === skip) continue;
      const row = index[r]! * cols;
      for (let j = 0; j < cols; j++) dst[r * cols + j]! += alpha * table[row + j]!;
    }
  },

  scatterAddRows(dst, src, index, skip, alpha) {
    const cols = src.length / index.length;
    for (let r = 0; r < index.length; r++) {
      if (index[r] === skip) continue;
      const row = index[r]! * cols;
      for (let j = 0; j < cols; j++) dst[row + j]! += alpha * src[r * cols + j]!;
    }
  },

  attentionProbs(scores, batch, qHeads, seq, keys, causal, queryOffset, mask) {
    for (let row = 0; row < batch * qHeads * seq; row++) {
      const t = row % seq;
      const b = Math.floor(row / (qHeads * seq));
      const start = row * keys;
      const visible = causal ? Math.max(0, Math.min(keys, t + queryOffset + 1)) : keys;
      let max = -Infinity;
      for (let s = 0; s < visible; s++) {
        if (mask && mask[b * keys + s] === 0) continue;
        if (scores[start + s]! > max) max = scores[start + s]!;
      }
      if (max === -Infinity) {
        // No visible key (e.g. a padding query row): the output row is zero, and so are its gradients.
        scores.fill(0, start, start + keys);
        continue;
      }
      // Masked keys become -Infinity before exponentiating (a negligible term), then exactly 0:
      // subtracting their terms from the sum afterwards would lose all precision when a padding key
      // scores high.
      if (mask) {
        for (let s = 0; s < visible; s++) if (mask[b * keys + s] === 0) scores[start + s] = -Infinity;
      }
      const sum = expShifted(scores, start, start + visible, max, scores);
      if (mask) {
        for (let s = 0; s < visible; s++) if (mask[b * keys + s] === 0) scores[start + s] = 0;
      }
      const inv = 1 / sum;
      for (let s = start; s < start + visible; s++) scores[s]! *= inv;
      scores.fill(0, start + visible, start + keys);
    }
  },

  softmaxBackwardRows(dProbs, probs, cols) {
    for (let start = 0; start < dProbs.length; start += cols) {
      let dot = 0;
      for (let s = start; s < start + cols; s++) dot += dProbs[s]! * probs[s]!;
      for (let s = start; s < start + cols; s++) dProbs[s] = probs[s]! * (dProbs[s]! - dot);
    }
  },

  softmaxRows(src, dst, cols) {
    for (let start = 0; start < src.length; start += cols) {
      const end = start + cols;
      const max = rowMax(src, start, end);
      const inv = 1 / expShifted(src, start, end, max, dst);
      for (let i = start; i < end; i++) dst[i]! *= inv;
    }
  },

  crossEntropyRows(logits, vocab, targets, ignoreIndex, exps, stats) {
    for (let r = 0; r < targets.length; r++) {
      const start = r * vocab;
      const end = start + vocab;
      const t = targets[r]!;
      if (t === ignoreIndex) {
        exps?.fill(0, start, end);
        continue;
      }
      const max = rowMax(logits, start, end);
      stats[3 * r] = max;
      stats[3 * r + 2] = logits[start + t]!;
      stats[3 * r + 1] = exps
        ? expShifted(logits, start, end, max, exps)
        : sumExpShifted(logits, start, end, max);
    }
  },

  klDivRows(ref, logits, vocab, mask, grad, count, stats) {
    const refProbs = new Float32Array(vocab);
    const probs = new Float32Array(vocab);
    for (let r = 0; r < logits.length / vocab; r++) {
      const start = r * vocab;
      const end = start + vocab;
      if (mask && mask[r] === 0) {
        grad?.fill(0, start, end);
        continue;
      }
      const refMax = rowMax(ref, start, end);
      const refSum = expShifted(ref, start, end, refMax, refProbs, 0);
      const max = rowMax(logits, start, end);
      const sum = expShifted(logits, start, end, max, probs, 0);
      const refInv = 1 / refSum;
      let cross = 0;
      for (let j = 0; j < vocab; j++) cross += refProbs[j]! * refInv * (ref[start + j]! - logits[start + j]!);
      stats.set([refMax, refSum, max, sum, cross], 5 * r);
      if (grad) {
        const inv = 1 / sum;
        for (let j = 0; j < vocab; j++) grad[start + j] = (probs[j]! * inv - refProbs[j]! * refInv) / count;
      }
    }
  },

  adamw(u, p, m, v, b1, b2, eps, c1, c2, wd, factor) {
    for (let i = 0; i < u.length; i++) {
      const g = u[i]!;
      const mi = b1 * m[i]! + (1 - b1) * g;
      const vi = b2 * v[i]! + (1 - b2) * g * g;
      m[i] = mi;
      v[i] = vi;
      const pi = p[i]!;
      const update = (mi * c1) / (Math.sqrt(vi) * c2 + eps) + wd * pi;
      if (factor === null) u[i] = update;
      else p[i] = pi + factor * update;
    }
  },

  permute(src, shape, axes, dst) {
    const rank = shape.length;
    const srcStrides = new Array<number>(rank);
    let stride = 1;
    for (let d = rank - 1; d >= 0; d--) {
      srcStrides[d] = stride;
      stride *= shape[d]!;
    }
    const outShape = [...axes].map((a) => shape[a]!);
    const readStrides = [...axes].map((a) => srcStrides[a]!);
    const inner = outShape[rank - 1]!;
    const innerStride = readStrides[rank - 1]!;
    const index = new Array<number>(rank).fill(0);
    let offset = 0;
    for (let start = 0; start < dst.length; start += inner) {
      if (innerStride === 1) for (let j = 0; j < inner; j++) dst[start + j] = src[offset + j]!;
      else for (let j = 0; j < inner; j++) dst[start + j] = src[offset + j * innerStride]!;
      for (let d = rank - 2; d >= 0; d--) {
        offset += readStrides[d]!;
        if (++index[d]! < outShape[d]!) break;
        offset -= readStrides[d]! * outShape[d]!;
        index[d] = 0;
      }
    }
  },
};
