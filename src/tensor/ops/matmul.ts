// Matrix products on the native GEMM.
import { emptyTensor, giveGrad, record, sizeOf, tracksGrad } from '../tensor.ts';
import type { Shape, Tensor } from '../tensor.ts';
import { allocUninit, release } from '../pool.ts';
import { formatShape, shapesEqual } from '../shape.ts';
import { gemm, gemmOutputShape } from '../kernels/gemm.ts';
import type { GemmOptions } from '../kernels/gemm.ts';
import { reduceToShape } from './elementwise.ts';
import { nativeKernels } from '../kernels/native.ts';

/** gemm into a fresh pooled buffer. */
function product(a: Float32Array, aShape: Shape, b: Float32Array, bShape: Shape, opts: GemmOptions) {
  const shape = gemmOutputShape(aShape, bShape, opts);
  const data = allocUninit(sizeOf(shape));
  gemm(a, aShape, b, bShape, opts, data);
  return { data, shape };
}

/** Hands a gradient computed at the broadcast batch shape to t, summing the broadcast batch dims. */
function giveBatched(t: Tensor, grad: { data: Float32Array; shape: Shape }): void {
  if (shapesEqual(grad.shape, t.shape)) giveGrad(t, grad.data);
  else {
    giveGrad(t, reduceToShape(grad.data, grad.shape, t.shape));
    release(grad.data);
  }
}

/**
 * Batched matrix product op(a) @ op(b) over the last two dims, leading dims broadcast.
 * transA / transB transpose the last two dims of a / b without copying.
 */
export function matmul(a: Tensor, b: Tensor, opts: { transA?: boolean; transB?: boolean } = {}): Tensor {
  const transA = opts.transA ?? false;
  const transB = opts.transB ?? false;
  const outShape = gemmOutputShape(a.shape, b.shape, opts);
  const out = emptyTensor(outShape);
  gemm(a.data, a.shape, b.data, b.shape, opts, out.data);
  if (tracksGrad(a, b)) {
    record(out, [a, b], (g) => {
      // Y = op(A) op(B): d op(A) = dY op(B)ᵀ, d op(B) = op(A)ᵀ dY, transposed back where op transposes.
      if (a.requiresGrad) {
        giveBatched(
          a,
          transA
            ? product(b.data, b.shape, g, outShape, { transA: transB, transB: true })
            : product(g, outShape, b.data, b.shape, { transB: !transB }),
        );
      }
      if (b.requiresGrad) {
        giveBatched(
          b,
          transB
            ? product(g, outShape, a.data, a.shape, { transA: true, transB: transA })
            : product(a.data, a.shape, g, outShape, { transA: !transA }),
        );
      }
    });
  }
  return out;
}

/** x @ weightᵀ + bias, weight in Hugging Face layout [out, in]; x is [..., in]. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  const inFeatures = x.shape[x.shape.length - 1];
  if (weight.shape.length !== 2 || weight.shape[1] !== inFeatures) {
    throw new Error(
      `linear: weight ${formatShape(weight.shape)} does not take input ${formatShape(x.shape)}`,
    );
  }
  const outFeatures = weight.shape[0]!;
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== outFeatures)) {
    throw new Error(`linear: bias ${formatShape(bias.shape)} does not match ${outFeatures} outputs`);
  }
  const rows = x.size / inFeatures!;
  const x2d = [rows, inFeatures!];
  const out = emptyTensor([...x.shape.slice(0, -1), outFeatures]);
  const y = out.data;
  gemm(x.data, x2d, weight.data, weight.shape, { transB: true }, y);
  if (bias) nativeKernels().binary(0, y, bias.data, y);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  if (tracksGrad(...inputs)) {
    record(out, inputs, (g) => {
      const g2d = [rows, outFeatures];
      if (x.requiresGrad) giveGrad(x, product(g, g2d, weight.data, weight.shape, {}).data);
      if (weight.requiresGrad) giveGrad(weight, product(g, g2d, x.data, x2d, { transA: true }).data);
      if (bias?.requiresGrad) giveGrad(bias, reduceToShape(g, g2d, bias.shape));
    });
  }
  return out;
}

/** A low-rank update of a [out, in] weight: a [r, in], b [out, r], applied as scaling · x·aᵀ·bᵀ. */
export interface LowRankUpdate {
  a: Tensor;
  b: Tensor;
  scaling: number;
}

/**
 * linear(x, weight, bias) + scaling · linear(linear(x, a), b) in one op: a projection with a LoRA
 * adapter. The low-rank product is added into the output in place, and the backward shares s·g·B between
 * dA and dx; as three ops (scale, add, linear) each projection swept and allocated a [rows, out] buffer
 * twice more in the forward and twice more in the backward (profiled on bench `rlcp-0.5b-lora`).
 */
export function loraLinear(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | undefined,
  update: LowRankUpdate,
): Tensor {
  const { a, b, scaling } = update;
  const inFeatures = x.shape[x.shape.length - 1]!;
  const outFeatures = weight.shape[0]!;
  const rank = a.shape[0]!;
  if (weight.shape.length !== 2 || weight.shape[1] !== inFeatures) {
    throw new Error(
      `loraLinear: weight ${formatShape(weight.shape)} does not take input ${formatShape(x.shape)}`,
    );
  }
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== outFeatures)) {
    throw new Error(`loraLinear: bias ${formatShape(bias.shape)} does not match ${outFeatures} outputs`);
  }
  if (a.shape.length !== 2 || a.shape[1] !== inFeatures || !shapesEqual(b.shape, [outFeatures, rank])) {
    throw new Error(
      `loraLinear: A ${formatShape(a.shape)} and B ${formatShape(b.shape)} do not fit weight ${formatShape(weight.shape)}`,
    );
  }
  const rows = x.size / inFeatures;
  const x2d = [rows, inFeatures];
  const out = emptyTensor([...x.shape.slice(0, -1), outFeatures]);
  const y = out.data;
  const kernels = nativeKernels();
  gemm(x.data, x2d, weight.data, weight.shape, { transB: true }, y);
  const u = product(x.data, x2d, a.data, a.shape, { transB: true });
  // y = (x·Wᵀ + bias) + s·u·Bᵀ in one pass over y (B is [out, r]).
  kernels.lowRankAdd(y, u.data, b.data, rank, scaling, bias?.data ?? null, true);
  const inputs = bias ? [x, weight, bias, a, b] : [x, weight, a, b];
  if (!tracksGrad(...inputs)) {
    release(u.data);
    return out;
  }
  record(
    out,
    inputs,
    (g) => {
      const g2d = [rows, outFeatures];
      if (b.requiresGrad)
        giveGrad(b, product(g, g2d, u.data, u.shape, { transA: true, alpha: scaling }).data);
      // d u = s · g·B, the gradient that reaches A and, through A, x.
      const gu =
        a.requiresGrad || x.requiresGrad ? product(g, g2d, b.data, b.shape, { alpha: scaling }) : null;
      if (gu && a.requiresGrad) giveGrad(a, product(gu.data, gu.shape, x.data, x2d, { transA: true }).data);
      if (gu && x.requiresGrad) {
        const gx = product(g, g2d, weight.data, weight.shape, {}).data;
        kernels.lowRankAdd(gx, gu.data, a.data, rank, 1, null, false);
        giveGrad(x, gx);
      }
      if (gu) release(gu.data);
      if (weight.requiresGrad) giveGrad(weight, product(g, g2d, x.data, x2d, { transA: true }).data);
      if (bias?.requiresGrad) giveGrad(bias, reduceToShape(g, g2d, bias.shape));
    },
    [u.data],
  );
  return out;
}
