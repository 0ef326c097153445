// Tiny ONNX graphs run synchronously on onnxruntime-node's native binding.
//
// The public `InferenceSession.run` of onnxruntime-node is async; the native binding underneath is
// synchronous and costs ~15 µs per call, and with pre-allocated outputs it writes results straight into
// our Float32Arrays. Each kernel builds a one- or two-node graph once (hand-encoded protobuf, no
// dependency on an ONNX library), compiles it per thread count, and reuses it.
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import type { Tensor as OrtTensorType } from 'onnxruntime-node';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');

interface NativeSession {
  loadModel(buffer: ArrayBufferLike, byteOffset: number, byteLength: number, options: object): void;
  run(
    feeds: Record<string, OrtTensorType>,
    fetches: Record<string, OrtTensorType>,
    options: object,
  ): Record<string, OrtTensorType>;
}
const { binding, initOrt } = require('onnxruntime-node/dist/binding') as {
  binding: { InferenceSession: new () => NativeSession };
  initOrt: () => void;
};
initOrt();

export type OrtTensor = OrtTensorType;
export type ElemType = 'float32';
const ELEM_TYPE_CODE: Record<ElemType, number> = { float32: 1 };

/** Wraps a Float32Array (no copy) as an onnxruntime tensor. */
export function ortTensor(data: Float32Array, dims: readonly number[]): OrtTensor {
  return new ort.Tensor('float32', data, dims);
}

// ---- protobuf encoding (only what ModelProto needs) ----
type Bytes = number[];
function varint(value: number | bigint): Bytes {
  // int64 fields: negatives are encoded as their 64-bit two's complement.
  let n = BigInt.asUintN(64, BigInt(value));
  const out: Bytes = [];
  do {
    let byte = Number(n & 0x7fn);
    n >>= 7n;
    if (n > 0n) byte |= 0x80;
    out.push(byte);
  } while (n > 0n);
  return out;
}
const fieldKey = (field: number, wireType: number): Bytes => varint((field << 3) | wireType);
const bytesField = (field: number, body: Bytes): Bytes => [
  ...fieldKey(field, 2),
  ...varint(body.length),
  ...body,
];
const stringField = (field: number, s: string): Bytes => bytesField(field, [...Buffer.from(s)]);
const intField = (field: number, v: number): Bytes => [...fieldKey(field, 0), ...varint(v)];
function floatField(field: number, v: number): Bytes {
  const buf = Buffer.alloc(4);
  buf.writeFloatLE(v);
  return [...fieldKey(field, 5), ...buf];
}

export type OnnxAttr = { name: string; int: number } | { name: string; float: number };

export interface OnnxNode {
  op: string;
  domain?: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attrs?: readonly OnnxAttr[];
}

export interface OnnxValue {
  name: string;
  type: ElemType;
  /** Numbers are fixed sizes, strings are symbolic (any size at run time). */
  dims: readonly (number | string)[];
}

export interface OnnxGraph {
  nodes: readonly OnnxNode[];
  inputs: readonly OnnxValue[];
  outputs: readonly OnnxValue[];
}

// AttributeProto.type codes.
const ATTR_FLOAT = 1;
const ATTR_INT = 2;

function encodeAttr(attr: OnnxAttr): Bytes {
  const name = stringField(1, attr.name);
  if ('int' in attr) return [...name, ...intField(3, attr.int), ...intField(20, ATTR_INT)];
  return [...name, ...floatField(2, attr.float), ...intField(20, ATTR_FLOAT)];
}

function encodeNode(node: OnnxNode): Bytes {
  return [
    ...node.inputs.flatMap((name) => stringField(1, name)),
    ...node.outputs.flatMap((name) => stringField(2, name)),
    ...stringField(4, node.op),
    ...(node.domain ? stringField(7, node.domain) : []),
    ...(node.attrs ?? []).flatMap((attr) => bytesField(5, encodeAttr(attr))),
  ];
}

function encodeValue(value: OnnxValue): Bytes {
  const dims = value.dims.flatMap((d) =>
    bytesField(1, typeof d === 'number' ? intField(1, d) : stringField(2, d)),
  );
  const tensorType = [...intField(1, ELEM_TYPE_CODE[value.type]), ...bytesField(2, dims)];
  return [...stringField(1, value.name), ...bytesField(2, bytesField(1, tensorType))];
}

/** Serialises a graph as an ONNX ModelProto (IR 8, default opset 17, com.microsoft opset 1). */
export function encodeModel(graph: OnnxGraph): Uint8Array {
  const body = [
    ...graph.nodes.flatMap((node) => bytesField(1, encodeNode(node))),
    ...stringField(2, 'rlcp'),
    ...graph.inputs.flatMap((v) => bytesField(11, encodeValue(v))),
    ...graph.outputs.flatMap((v) => bytesField(12, encodeValue(v))),
  ];
  return Uint8Array.from([
    ...intField(1, 8),
    ...bytesField(8, [...stringField(1, ''), ...intField(2, 17)]),
    ...bytesField(8, [...stringField(1, 'com.microsoft'), ...intField(2, 1)]),
    ...bytesField(7, body),
  ]);
}

// ---- sessions ----
let numThreads = threadsFromEnvironment();

/** `RLCP_NUM_THREADS` (e.g. 1 to run two trainings side by side on 2 cores), else every core. */
function threadsFromEnvironment(): number {
  const value = process.env['RLCP_NUM_THREADS'];
  if (value === undefined || value === '') return availableParallelism();
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`RLCP_NUM_THREADS must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** Threads used by native kernels (onnxruntime intra-op pool). Default: RLCP_NUM_THREADS or all cores. */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`setNumThreads: expected a positive integer, got ${n}`);
  numThreads = n;
}

export function getNumThreads(): number {
  return numThreads;
}

export interface CompiledGraph {
  run(feeds: Record<string, OrtTensor>, fetches: Record<string, OrtTensor>): void;
}

const sessions = new Map<string, NativeSession>();

/**
 * Returns a runnable graph, compiled once per (key, thread count). `key` must identify the graph
 * that `build` returns.
 */
export function compiledGraph(key: string, build: () => OnnxGraph): CompiledGraph {
  const threads = numThreads;
  const cacheKey = `${key}|t${threads}`;
  let session = sessions.get(cacheKey);
  if (!session) {
    const bytes = encodeModel(build());
    session = new binding.InferenceSession();
    session.loadModel(bytes.buffer, bytes.byteOffset, bytes.byteLength, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      // The arena would keep every intermediate buffer onnxruntime ever allocated (RSS growth).
      enableCpuMemArena: false,
      // Idle pool threads sleep instead of spinning: spinning burns the core our own TypeScript
      // loops run on between kernels (and other processes' cores on a shared machine).
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    });
    sessions.set(cacheKey, session);
  }
  const native = session;
  return {
    run(feeds, fetches) {
      native.run(feeds, fetches, {});
    },
  };
}
