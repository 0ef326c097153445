// Float32 tensors over typed arrays, and reverse-mode autograd.
//
// Every op whose inputs require grad records a Node on its output: the inputs and a backward closure.
// The graph reachable from a loss is its tape; `backward()` runs those nodes in reverse creation order,
// accumulates into `.grad` of leaves (parameters) and then drops every node, so the activations the
// closures held become garbage. Graphs nobody calls backward() on are simply garbage-collected.
import { allocUninit, allocZeroed, release } from './pool.ts';
import { nativeKernels } from './kernels/native.ts';

/** One data buffer, possibly shared by several tensors (reshape and detach are views). */
interface Storage {
  readonly data: Float32Array;
  /** How many Tensor objects share this buffer: a buffer is recycled only when all of them are dead. */
  refs: number;
  released: boolean;
}

interface Node {
  readonly id: number;
  readonly output: Tensor;
  inputs: readonly Tensor[];
  backward: ((grad: Float32Array) => void) | null;
  /** Op-private buffers (never visible outside the op), recycled once the node has run. */
  saved: readonly Float32Array[];
}

export type Shape = readonly number[];

export interface BackwardOptions {
  /**
   * Also recycle the data of every intermediate tensor of the graph (not the loss itself, not
   * leaves, not tensors that share data with a tensor outside the graph, e.g. via detach()). Reading
   * such a tensor afterwards throws. Use it in training loops that keep no activations after
   * backward: the next step then reuses their memory instead of faulting in fresh pages.
   */
  releaseActivations?: boolean;
}

let nextNodeId = 0;
let gradDisabledDepth = 0;

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function checkShape(shape: Shape, length: number, what: string): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`${what}: invalid shape [${shape.join(', ')}]`);
  }
  if (sizeOf(shape) !== length) {
    throw new Error(
      `${what}: shape [${shape.join(', ')}] needs ${sizeOf(shape)} elements, data has ${length}`,
    );
  }
}

export class Tensor {
  readonly shape: Shape;
  requiresGrad: boolean;
  /** Accumulated by backward(): same length as data. Only leaves keep it after backward. */
  grad: Float32Array | null = null;
  /** The op that produced this tensor (null for leaves and after backward freed the graph). */
  node: Node | null = null;
  /** True once backward() has freed the node that produced this tensor. */
  graphFreed = false;
  private storage: Storage;

  /** Wraps `data` without copying. */
  constructor(data: Float32Array, shape: Shape, requiresGrad = false) {
    checkShape(shape, data.length, 'Tensor');
    this.storage = { data, refs: 1, released: false };
    this.shape = [...shape];
    this.requiresGrad = requiresGrad;
  }

  /** Row-major contiguous float32 values. */
  get data(): Float32Array {
    if (this.storage.released) {
      throw new Error(
        'Tensor data was recycled by backward({ releaseActivations: true }); keep a copy before backward if you need it',
      );
    }
    return this.storage.data;
  }

  get size(): number {
    return this.storage.data.length;
  }

  get isLeaf(): boolean {
    return this.node === null && !this.graphFreed;
  }

  item(): number {
    if (this.size !== 1) throw new Error(`item(): tensor has ${this.size} elements, expected 1`);
    return this.data[0]!;
  }

  /** Shares data, requires no grad: a stop-gradient. */
  detach(): Tensor {
    return this.view(this.shape, false);
  }

  /** A tensor over the same storage with another shape (same size). @internal for ops */
  view(shape: Shape, requiresGrad: boolean): Tensor {
    const t = new Tensor(this.storage.data, shape, requiresGrad);
    t.storage = this.storage;
    this.storage.refs++;
    return t;
  }

  /** Seeds d(self) = 1 (self must have one element), runs the graph, frees it. */
  backward(options: BackwardOptions = {}): void {
    if (this.size !== 1)
      throw new Error(`backward(): loss must have 1 element, got shape [${this.shape.join(', ')}]`);
    if (!this.requiresGrad) {
      throw new Error(
        'backward(): the tensor does not require grad (no parameter reached it, or it was computed under noGrad)',
      );
    }
    if (this.node === null) {
      if (this.graphFreed)
        throw new Error('backward(): this graph was already freed by an earlier backward()');
      addGrad(this, Float32Array.of(1));
      return;
    }
    const nodes = reachableNodes(this.node);
    this.grad = Float32Array.of(1);
    for (const node of nodes) {
      const out = node.output;
      const grad = out.grad;
      out.grad = null;
      if (grad !== null && node.backward !== null) {
        gradTaken = false;
        node.backward(grad);
        if (!gradTaken) release(grad);
      }
      for (const buf of node.saved) release(buf);
      node.backward = null;
      node.saved = [];
      node.inputs = [];
      out.node = null;
      out.graphFreed = true;
    }
    if (options.releaseActivations) releaseOutputs(nodes, this);
  }

  /**
   * Gives the buffer back to the pool now instead of waiting for garbage collection (e.g. a
   * reference model's logits each step). The tensor becomes unreadable. Refused while other tensors
   * share the buffer or a graph still needs it.
   */
  dispose(): void {
    if (this.storage.released) return;
    if (this.storage.refs !== 1) throw new Error('dispose(): other tensors (views) share this buffer');
    if (this.node !== null)
      throw new Error('dispose(): the tensor is part of a graph that has not run backward');
    this.storage.released = true;
    release(this.storage.data);
  }

  static zeros(shape: Shape): Tensor {
    checkShape(shape, sizeOf(shape), 'Tensor.zeros');
    return new Tensor(new Float32Array(sizeOf(shape)), shape);
  }

  /** Wraps a Float32Array without copying; number arrays are converted. */
  static from(data: Float32Array | readonly number[], shape: Shape): Tensor {
    return new Tensor(data instanceof Float32Array ? data : Float32Array.from(data), shape);
  }

  static scalar(value: number): Tensor {
    return new Tensor(Float32Array.of(value), []);
  }

  /** A leaf parameter (requiresGrad = true). Wraps a Float32Array without copying. */
  static param(data: Float32Array | readonly number[], shape: Shape): Tensor {
    const t = Tensor.from(data, shape);
    t.requiresGrad = true;
    return t;
  }

  /** @internal used by backward({ releaseActivations }) */
  static storageOf(t: Tensor): Storage {
    return t.storage;
  }
}

function reachableNodes(root: Node): Node[] {
  const seen = new Set<Node>([root]);
  const stack = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    for (const input of node.inputs) {
      if (!input.requiresGrad) continue;
      if (input.node !== null) {
        if (!seen.has(input.node)) {
          seen.add(input.node);
          stack.push(input.node);
        }
      } else if (input.graphFreed) {
        throw new Error(
          'backward(): part of this graph was already freed by an earlier backward(); recompute it (or detach() it)',
        );
      }
    }
  }
  return [...seen].sort((a, b) => b.id - a.id);
}

function releaseOutputs(nodes: readonly Node[], root: Tensor): void {
  const deadRefs = new Map<Storage, number>();
  for (const node of nodes) {
    if (node.output === root) continue;
    const storage = Tensor.storageOf(node.output);
    deadRefs.set(storage, (deadRefs.get(storage) ?? 0) + 1);
  }
  for (const [storage, dead] of deadRefs) {
    if (dead !== storage.refs || storage.released) continue;
    storage.released = true;
    release(storage.data);
  }
}

// ---- grad mode ----

/** Runs fn without recording any graph (inference, evaluation, reference models). */
export function noGrad<T>(fn: () => T): T {
  gradDisabledDepth++;
  try {
    return fn();
  } finally {
    gradDisabledDepth--;
  }
}

export function isGradEnabled(): boolean {
  return gradDisabledDepth === 0;
}

// ---- helpers for writing ops (used by src/tensor/ops*) ----

/** True when an op on these inputs must record a node. */
export function tracksGrad(...inputs: readonly Tensor[]): boolean {
  if (gradDisabledDepth > 0) return false;
  for (const t of inputs) if (t.requiresGrad) return true;
  return false;
}

/** A new tensor over a pooled buffer with unspecified contents (the op fills every element). */
export function emptyTensor(shape: Shape): Tensor {
  return new Tensor(allocUninit(sizeOf(shape)), shape);
}

/** Marks `output` as produced by an op; `saved` are op-private buffers recycled after backward. */
export function record(
  output: Tensor,
  inputs: readonly Tensor[],
  backward: (grad: Float32Array) => void,
  saved: readonly Float32Array[] = [],
): void {
  output.requiresGrad = true;
  output.node = { id: nextNodeId++, output, inputs, backward, saved };
}

/** dst += src (gradient accumulation) */
function addInto(dst: Float32Array, src: Float32Array): void {
  // binary() would broadcast a shorter src; a gradient of the wrong size is a bug in an op.
  if (dst.length !== src.length) {
    throw new Error(`autograd: a gradient of ${src.length} elements for a tensor of ${dst.length}`);
  }
  nativeKernels().binary(0, dst, src, dst);
}

// Whether the node now running handed its incoming gradient buffer to an input (then it must not be
// recycled, nor handed to a second input).
let gradTaken = false;

function addGrad(t: Tensor, g: Float32Array): void {
  if (t.grad === null) t.grad = Float32Array.from(g);
  else addInto(t.grad, g);
}

/** Backward of ops whose input gradient equals the output gradient (same length). */
export function passGrad(t: Tensor, grad: Float32Array): void {
  if (!t.requiresGrad) return;
  if (t.grad !== null) addInto(t.grad, grad);
  else if (!gradTaken) {
    t.grad = grad;
    gradTaken = true;
  } else {
    const copy = allocUninit(grad.length);
    copy.set(grad);
    t.grad = copy;
  }
}

/** Hands a freshly computed gradient buffer (pooled or new, owned by nobody else) to `t`. */
export function giveGrad(t: Tensor, fresh: Float32Array): void {
  if (!t.requiresGrad) release(fresh);
  else if (t.grad === null) t.grad = fresh;
  else {
    addInto(t.grad, fresh);
    release(fresh);
  }
}

/** The gradient buffer of `t` to accumulate into (zeroed on first use), for scatter-add backward. */
export function gradInto(t: Tensor): Float32Array {
  if (t.grad === null) t.grad = allocZeroed(t.size);
  return t.grad;
}

/** Recycles the gradients of `params` (sets them to null); the next backward starts from zero. */
export function zeroGrad(params: Iterable<Tensor>): void {
  for (const p of params) {
    if (p.grad !== null) release(p.grad);
    p.grad = null;
  }
}
