// Sum and mean, over everything or one axis (keepdim false).
import { emptyTensor, giveGrad, record, tracksGrad } from '../tensor.ts';
import type { Tensor } from '../tensor.ts';
import { allocUninit } from '../pool.ts';
import { normalizeAxis } from '../shape.ts';

function reduce(a: Tensor, axis: number | undefined, mean: boolean, what: string): Tensor {
  let outer: number;
  let len: number;
  let inner: number;
  let outShape: number[];
  if (axis === undefined) {
    [outer, len, inner] = [1, a.size, 1];
    outShape = [];
  } else {
    const ax = normalizeAxis(axis, a.shape.length, what);
    outer = a.shape.slice(0, ax).reduce((p, d) => p * d, 1);
    len = a.shape[ax]!;
    inner = a.shape.slice(ax + 1).reduce((p, d) => p * d, 1);
    outShape = [...a.shape.slice(0, ax), ...a.shape.slice(ax + 1)];
  }
  const factor = mean ? 1 / len : 1;
  const out = emptyTensor(outShape);
  const x = a.data;
  const y = out.data;
  if (inner === 1) {
    // Contiguous runs: accumulate in float64 (a float32 running sum drifts on long rows).
    for (let o = 0; o < outer; o++) {
      let acc = 0;
      for (let r = o * len; r < (o + 1) * len; r++) acc += x[r]!;
      y[o] = acc * factor;
    }
  } else {
    y.fill(0);
    for (let o = 0; o < outer; o++) {
      for (let r = 0; r < len; r++) {
        const base = (o * len + r) * inner;
        for (let i = 0; i < inner; i++) y[o * inner + i]! += x[base + i]!;
      }
    }
    if (factor !== 1) for (let i = 0; i < y.length; i++) y[i]! *= factor;
  }
  if (tracksGrad(a)) {
    record(out, [a], (g) => {
      const ga = allocUninit(a.size);
      for (let o = 0; o < outer; o++) {
        for (let r = 0; r < len; r++) {
          const base = (o * len + r) * inner;
          for (let i = 0; i < inner; i++) ga[base + i] = g[o * inner + i]! * factor;
        }
      }
      giveGrad(a, ga);
    });
  }
  return out;
}

/** Sum of all elements (scalar) or over `axis` (negative counts from the end), keepdim false. */
export const sum = (a: Tensor, axis?: number): Tensor => reduce(a, axis, false, 'sum');
/** Mean of all elements (scalar) or over `axis`, keepdim false. */
export const mean = (a: Tensor, axis?: number): Tensor => reduce(a, axis, true, 'mean');
