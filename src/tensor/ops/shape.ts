// Shape ops: reshape (a view), permute, narrowing, concatenation, row gathering.
import { emptyTensor, giveGrad, gradInto, passGrad, record, sizeOf, tracksGrad } from '../tensor.ts';
import type { Shape, Tensor } from '../tensor.ts';
import { allocUninit } from '../pool.ts';
import { formatShape, normalizeAxis } from '../shape.ts';
import { nativeKernels } from '../kernels/native.ts';

/** Same data, new shape (one dim may be -1). Shares the buffer: no copy. */
export function reshape(a: Tensor, shape: Shape): Tensor {
  const inferred = shape.indexOf(-1);
  let resolved = [...shape];
  if (inferred >= 0) {
    const known = shape.reduce((p, d, i) => (i === inferred ? p : p * d), 1);
    if (known === 0 || a.size % known !== 0 || shape.indexOf(-1, inferred + 1) >= 0) {
      throw new Error(`reshape: cannot reshape ${formatShape(a.shape)} to ${formatShape(shape)}`);
    }
    resolved = shape.map((d, i) => (i === inferred ? a.size / known : d));
  }
  if (sizeOf(resolved) !== a.size) {
    throw new Error(
      `reshape: cannot reshape ${formatShape(a.shape)} (${a.size} elements) to ${formatShape(shape)}`,
    );
  }
  const out = a.view(resolved, false);
  if (tracksGrad(a)) record(out, [a], (g) => passGrad(a, g));
  return out;
}

/** dst = src (shape `shape`) with axes reordered: dst dim i is src dim axes[i]. */
function permuteInto(src: Float32Array, shape: Shape, axes: readonly number[], dst: Float32Array): void {
  if (shape.length === 0) dst.set(src);
  else nativeKernels().permute(src, Int32Array.from(shape), Int32Array.from(axes), dst);
}

/** Reorders dims: output dim i is input dim axes[i] (a copy). */
export function permute(a: Tensor, axes: readonly number[]): Tensor {
  const rank = a.shape.length;
  const seen = new Set(axes);
  if (
    axes.length !== rank ||
    seen.size !== rank ||
    axes.some((x) => !Number.isInteger(x) || x < 0 || x >= rank)
  ) {
    throw new Error(`permute: axes [${axes.join(', ')}] are not a permutation of ${rank} dims`);
  }
  const out = emptyTensor(axes.map((x) => a.shape[x]!));
  permuteInto(a.data, a.shape, axes, out.data);
  if (tracksGrad(a)) {
    const inverse = new Array<number>(rank);
    axes.forEach((x, i) => (inverse[x] = i));
    const outShape = out.shape;
    record(out, [a], (g) => {
      const ga = allocUninit(g.length);
      permuteInto(g, outShape, inverse, ga);
      giveGrad(a, ga);
    });
  }
  return out;
}

/** a[..., start:end] (a copy). */
export function sliceLast(a: Tensor, start: number, end: number): Tensor {
  const cols = a.shape[a.shape.length - 1];
  if (
    cols === undefined ||
    !Number.isInteger(start) ||
    !Number.isInteger(end) ||
    start < 0 ||
    end > cols ||
    start > end
  ) {
    throw new Error(`sliceLast: range [${start}, ${end}) is invalid for shape ${formatShape(a.shape)}`);
  }
  const width = end - start;
  const rows = a.size / cols;
  const out = emptyTensor([...a.shape.slice(0, -1), width]);
  const x = a.data;
  const y = out.data;
  for (let r = 0; r < rows; r++) for (let j = 0; j < width; j++) y[r * width + j] = x[r * cols + start + j]!;
  if (tracksGrad(a)) {
    record(out, [a], (g) => {
      const ga = gradInto(a);
      for (let r = 0; r < rows; r++)
        for (let j = 0; j < width; j++) ga[r * cols + start + j]! += g[r * width + j]!;
    });
  }
  return out;
}

/** Concatenation along `axis`; all other dims must match. */
export function concat(ts: readonly Tensor[], axis: number): Tensor {
  if (ts.length === 0) throw new Error('concat: no tensors given');
  const first = ts[0]!;
  const ax = normalizeAxis(axis, first.shape.length, 'concat');
  for (const t of ts) {
    const same =
      t.shape.length === first.shape.length && t.shape.every((d, i) => i === ax || d === first.shape[i]);
    if (!same)
      throw new Error(
        `concat: shape ${formatShape(t.shape)} does not match ${formatShape(first.shape)} off axis ${ax}`,
      );
  }
  const outer = sizeOf(first.shape.slice(0, ax));
  const inner = sizeOf(first.shape.slice(ax + 1));
  const widths = ts.map((t) => t.shape[ax]! * inner);
  const total = widths.reduce((p, w) => p + w, 0);
  const out = emptyTensor([...first.shape.slice(0, ax), total / inner, ...first.shape.slice(ax + 1)]);
  const y = out.data;
  let offset = 0;
  ts.forEach((t, k) => {
    const w = widths[k]!;
    const x = t.data;
    for (let o = 0; o < outer; o++) y.set(x.subarray(o * w, (o + 1) * w), o * total + offset);
    offset += w;
  });
  if (tracksGrad(...ts)) {
    record(out, ts, (g) => {
      let off = 0;
      ts.forEach((t, k) => {
        const w = widths[k]!;
        if (t.requiresGrad) {
          const gt = allocUninit(t.size);
          for (let o = 0; o < outer; o++) gt.set(g.subarray(o * total + off, o * total + off + w), o * w);
          giveGrad(t, gt);
        }
        off += w;
      });
    });
  }
  return out;
}

function checkIndex(index: Int32Array, rows: number, what: string): void {
  for (let i = 0; i < index.length; i++) {
    const r = index[i]!;
    if (r < 0 || r >= rows)
      throw new Error(`${what}: index ${r} at position ${i} is out of range [0, ${rows})`);
  }
}

/** Rows of a [N, D] selected by index: [index.length, D]. Backward scatter-adds. */
export function gatherRows(a: Tensor, index: Int32Array): Tensor {
  if (a.shape.length !== 2) throw new Error(`gatherRows: expected a 2-D tensor, got ${formatShape(a.shape)}`);
  const [rows, cols] = a.shape as [number, number];
  checkIndex(index, rows, 'gatherRows');
  return gather(a, index, [index.length], cols);
}

/** weight[ids] reshaped to [...shape, D]: token embeddings. Backward scatter-adds into weight.grad. */
export function embedding(weight: Tensor, ids: Int32Array, shape: Shape): Tensor {
  if (weight.shape.length !== 2)
    throw new Error(`embedding: weight must be [vocab, dim], got ${formatShape(weight.shape)}`);
  if (sizeOf(shape) !== ids.length) {
    throw new Error(`embedding: ${ids.length} ids do not fill shape ${formatShape(shape)}`);
  }
  const [vocab, dim] = weight.shape as [number, number];
  checkIndex(ids, vocab, 'embedding');
  return gather(weight, ids, shape, dim);
}

function gather(a: Tensor, index: Int32Array, leadShape: Shape, cols: number): Tensor {
  const out = emptyTensor([...leadShape, cols]);
  nativeKernels().gatherRows(out.data, a.data, index, cols);
  if (tracksGrad(a)) {
    const rows = Int32Array.from(index); // the caller may reuse its id buffer before backward
    record(out, [a], (g) => {
      // Accumulate straight into the (possibly huge, e.g. tied-embedding) gradient: no dense temp.
      nativeKernels().scatterAddRows(gradInto(a), g, rows, -1, 1);
    });
  }
  return out;
}
