// Elementwise ops with NumPy broadcasting, and their gradients.
import { emptyTensor, giveGrad, passGrad, record, sizeOf, tracksGrad } from '../tensor.ts';
import type { Shape, Tensor } from '../tensor.ts';
import { allocUninit, allocZeroed, release } from '../pool.ts';
import { broadcastShapes, broadcastStrides, shapesEqual } from '../shape.ts';
import { fastExp } from '../kernels/rows.ts';
import { nativeKernels } from '../kernels/native.ts';
import type { BinaryKind } from '../kernels/native.ts';

/** For each element of `outShape`, the index of the element of `inShape` it reads (broadcast). */
function broadcastIndex(inShape: Shape, outShape: Shape): Int32Array {
  const strides = broadcastStrides(inShape, outShape);
  const map = new Int32Array(sizeOf(outShape));
  const index = new Array<number>(outShape.length).fill(0);
  let offset = 0;
  for (let i = 0; i < map.length; i++) {
    map[i] = offset;
    for (let d = outShape.length - 1; d >= 0; d--) {
      offset += strides[d]!;
      if (++index[d]! < outShape[d]!) break;
      offset -= strides[d]! * outShape[d]!;
      index[d] = 0;
    }
  }
  return map;
}

/** `data` of shape `inShape` repeated to `outShape` (a pooled buffer the caller must release). */
function expand(data: Float32Array, inShape: Shape, outShape: Shape): Float32Array {
  const out = allocUninit(sizeOf(outShape));
  const map = broadcastIndex(inShape, outShape);
  for (let i = 0; i < out.length; i++) out[i] = data[map[i]!]!;
  return out;
}

/** Sums `grad` (shape `outShape`) down to the broadcast input shape `inShape`; a new buffer. */
export function reduceToShape(grad: Float32Array, outShape: Shape, inShape: Shape): Float32Array {
  const out = allocZeroed(sizeOf(inShape));
  if (isSuffixOf(inShape, outShape)) {
    // The common bias case: inShape repeats every sizeOf(inShape) elements.
    nativeKernels().sumRowsInto(out, grad);
    return out;
  }
  const map = broadcastIndex(inShape, outShape);
  for (let i = 0; i < grad.length; i++) out[map[i]!]! += grad[i]!;
  return out;
}

/** True when inShape (leading 1s dropped) equals the trailing dims of outShape. */
function isSuffixOf(inShape: Shape, outShape: Shape): boolean {
  let first = 0;
  while (first < inShape.length && inShape[first] === 1) first++;
  const core = inShape.slice(first);
  return shapesEqual(core, outShape.slice(outShape.length - core.length));
}

type BinaryOp = 'add' | 'sub' | 'mul' | 'div';
const KERNEL_OF: Record<BinaryOp, BinaryKind> = { add: 0, sub: 1, mul: 2, div: 3 };

function binary(kind: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const outShape = shapesEqual(a.shape, b.shape) ? a.shape : broadcastShapes(a.shape, b.shape, kind);
  const out = emptyTensor(outShape);
  const aFull = shapesEqual(a.shape, outShape);
  const bFull = shapesEqual(b.shape, outShape);
  const kernels = nativeKernels();
  // b either full size or one row repeated over a (the bias / per-feature scale case).
  if (aFull && (bFull || isSuffixOf(b.shape, outShape))) {
    kernels.binary(KERNEL_OF[kind], a.data, b.data, out.data);
  } else {
    const aData = aFull ? a.data : expand(a.data, a.shape, outShape);
    const bData = bFull ? b.data : expand(b.data, b.shape, outShape);
    kernels.binary(KERNEL_OF[kind], aData, bData, out.data);
    if (!aFull) release(aData);
    if (!bFull) release(bData);
  }
  if (tracksGrad(a, b)) {
    record(out, [a, b], (g) => binaryBackward(kind, a, b, outShape, g));
  }
  return out;
}

/** Hands grad (shape outShape, owned by this call) to t, summing over broadcast dims. */
function giveReduced(t: Tensor, grad: Float32Array, outShape: Shape): void {
  if (shapesEqual(t.shape, outShape)) giveGrad(t, grad);
  else {
    giveGrad(t, reduceToShape(grad, outShape, t.shape));
    release(grad);
  }
}

function binaryBackward(kind: BinaryOp, a: Tensor, b: Tensor, outShape: Shape, g: Float32Array): void {
  const n = g.length;
  const full = (t: Tensor) => (shapesEqual(t.shape, outShape) ? t.data : expand(t.data, t.shape, outShape));
  const done = (t: Tensor, data: Float32Array) => {
    if (data !== t.data) release(data);
  };
  if (kind === 'add' || kind === 'sub') {
    if (a.requiresGrad) {
      if (shapesEqual(a.shape, outShape)) passGrad(a, g);
      else giveGrad(a, reduceToShape(g, outShape, a.shape));
    }
    if (b.requiresGrad) {
      if (kind === 'add' && shapesEqual(b.shape, outShape)) passGrad(b, g);
      else {
        const gb = allocUninit(n);
        if (kind === 'add') gb.set(g);
        else for (let i = 0; i < n; i++) gb[i] = -g[i]!;
        giveReduced(b, gb, outShape);
      }
    }
    return;
  }
  const aData = full(a);
  const bData = full(b);
  if (a.requiresGrad) {
    const ga = allocUninit(n);
    if (kind === 'mul') for (let i = 0; i < n; i++) ga[i] = g[i]! * bData[i]!;
    else for (let i = 0; i < n; i++) ga[i] = g[i]! / bData[i]!;
    giveReduced(a, ga, outShape);
  }
  if (b.requiresGrad) {
    const gb = allocUninit(n);
    if (kind === 'mul') for (let i = 0; i < n; i++) gb[i] = g[i]! * aData[i]!;
    else {
      for (let i = 0; i < n; i++) {
        const bv = bData[i]!;
        gb[i] = (-g[i]! * aData[i]!) / (bv * bv);
      }
    }
    giveReduced(b, gb, outShape);
  }
  done(a, aData);
  done(b, bData);
}

export const add = (a: Tensor, b: Tensor): Tensor => binary('add', a, b);
export const sub = (a: Tensor, b: Tensor): Tensor => binary('sub', a, b);
export const mul = (a: Tensor, b: Tensor): Tensor => binary('mul', a, b);
export const div = (a: Tensor, b: Tensor): Tensor => binary('div', a, b);

/**
 * Elementwise unary op: `forward` fills out from x; `derivative(x, y)` is dy/dx given input and output.
 * Kept as one generic loop: these ops are not on the transformer's hot path (fused ops are).
 */
function unary(
  a: Tensor,
  forward: (x: number) => number,
  derivative: (x: number, y: number) => number,
): Tensor {
  const out = emptyTensor(a.shape);
  const x = a.data;
  const y = out.data;
  for (let i = 0; i < x.length; i++) y[i] = forward(x[i]!);
  if (tracksGrad(a)) {
    record(out, [a], (g) => {
      const ga = allocUninit(g.length);
      for (let i = 0; i < g.length; i++) ga[i] = g[i]! * derivative(x[i]!, y[i]!);
      giveGrad(a, ga);
    });
  }
  return out;
}

export function scale(a: Tensor, s: number): Tensor {
  const out = emptyTensor(a.shape);
  const x = a.data;
  const y = out.data;
  for (let i = 0; i < x.length; i++) y[i] = x[i]! * s;
  if (tracksGrad(a)) {
    record(out, [a], (g) => {
      const ga = allocUninit(g.length);
      for (let i = 0; i < g.length; i++) ga[i] = g[i]! * s;
      giveGrad(a, ga);
    });
  }
  return out;
}

export function addScalar(a: Tensor, s: number): Tensor {
  const out = emptyTensor(a.shape);
  const x = a.data;
  const y = out.data;
  for (let i = 0; i < x.length; i++) y[i] = x[i]! + s;
  if (tracksGrad(a)) record(out, [a], (g) => passGrad(a, g));
  return out;
}

export const neg = (a: Tensor): Tensor => scale(a, -1);
export const exp = (a: Tensor): Tensor =>
  unary(
    a,
    (x) => Math.exp(x),
    (_x, y) => y,
  );
export const log = (a: Tensor): Tensor =>
  unary(
    a,
    (x) => Math.log(x),
    (x) => 1 / x,
  );
export const square = (a: Tensor): Tensor =>
  unary(
    a,
    (x) => x * x,
    (x) => 2 * x,
  );
export const sqrt = (a: Tensor): Tensor =>
  unary(
    a,
    (x) => Math.sqrt(x),
    (_x, y) => 0.5 / y,
  );

/** x * sigmoid(x) */
export function silu(a: Tensor): Tensor {
  return unary(
    a,
    (x) => x / (1 + fastExp(-x)),
    (x) => {
      const s = 1 / (1 + fastExp(-x));
      return s * (1 + x * (1 - s));
    },
  );
}

/** silu(gate) * up, fused (the Qwen2 MLP activation). */
export function swiglu(gate: Tensor, up: Tensor): Tensor {
  if (!shapesEqual(gate.shape, up.shape)) {
    throw new Error(`swiglu: gate ${JSON.stringify(gate.shape)} and up ${JSON.stringify(up.shape)} differ`);
  }
  const out = emptyTensor(gate.shape);
  nativeKernels().swigluForward(gate.data, up.data, out.data);
  if (tracksGrad(gate, up)) {
    record(out, [gate, up], (g) => {
      const n = g.length;
      const gGate = gate.requiresGrad ? allocUninit(n) : null;
      const gUp = up.requiresGrad ? allocUninit(n) : null;
      nativeKernels().swigluBackward(g, gate.data, up.data, gGate, gUp);
      if (gGate) giveGrad(gate, gGate);
      if (gUp) giveGrad(up, gUp);
    });
  }
  return out;
}
