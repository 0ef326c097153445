// Tiny ONNX graphs (one or two nodes, hand-encoded protobuf, no dependency on an ONNX library) run
// synchronously on onnxruntime, through rlcp's addon (native/onnxruntime.cc) and the onnxruntime library
// that the onnxruntime-node package ships. A run binds the caller's Float32Arrays as inputs and outputs:
// results are written in place, nothing is copied or allocated per call (onnxruntime-node's own binding
// copies every output into a fresh ArrayBuffer, which cost a training step ~10–15 % in copies and
// garbage collection). Each graph is compiled once per thread count and reused.
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { availableParallelism } from 'node:os';
import { loadAddon } from './addon.ts';

interface OrtAddon {
  ortInit(libraryPath: string): void;
  ortSession(
    model: Uint8Array,
    inputNames: readonly string[],
    outputNames: readonly string[],
    threads: number,
  ): object;
  ortRun(
    session: object,
    inputs: readonly Float32Array[],
    inputDims: readonly (readonly number[])[],
    outputs: readonly Float32Array[],
    outputDims: readonly (readonly number[])[],
  ): void;
}

export type ElemType = 'float32';
const ELEM_TYPE_CODE: Record<ElemType, number> = { float32: 1 };

/** onnxruntime's shared library inside the installed onnxruntime-node package. */
function onnxruntimeLibrary(): string {
  const packageDir = dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
  const binDir = join(packageDir, 'bin');
  for (const napi of existsSync(binDir) ? readdirSync(binDir) : []) {
    const dir = join(binDir, napi, process.platform, process.arch);
    const library = existsSync(dir)
      ? readdirSync(dir).find((f) => /^libonnxruntime\.(so|.*dylib)/.test(f))
      : undefined;
    if (library) return join(dir, library);
  }
  throw new Error(
    `onnxruntime: no library for ${process.platform}/${process.arch} under ${binDir} (reinstall with \`npm ci\`)`,
  );
}

let ortAddon: OrtAddon | null = null;

function onnxruntime(): OrtAddon {
  if (ortAddon === null) {
    const addon = loadAddon<OrtAddon>();
    addon.ortInit(onnxruntimeLibrary());
    ortAddon = addon;
  }
  return ortAddon;
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

/** One tensor argument of a run: row-major float32 data and its dims. */
export interface OrtArg {
  data: Float32Array;
  dims: readonly number[];
}

export interface CompiledGraph {
  /** Runs the graph: inputs and outputs in the graph's declared order; outputs are written in place. */
  run(inputs: readonly OrtArg[], outputs: readonly OrtArg[]): void;
}

const sessions = new Map<string, CompiledGraph>();

/**
 * Returns a runnable graph, compiled once per (key, thread count). `key` must identify the graph
 * that `build` returns.
 */
export function compiledGraph(key: string, build: () => OnnxGraph): CompiledGraph {
  const threads = numThreads;
  const cacheKey = `${key}|t${threads}`;
  let graph = sessions.get(cacheKey);
  if (!graph) {
    const ort = onnxruntime();
    const spec = build();
    const session = ort.ortSession(
      encodeModel(spec),
      spec.inputs.map((v) => v.name),
      spec.outputs.map((v) => v.name),
      threads,
    );
    graph = {
      run(inputs, outputs) {
        ort.ortRun(
          session,
          inputs.map((x) => x.data),
          inputs.map((x) => x.dims),
          outputs.map((x) => x.data),
          outputs.map((x) => x.dims),
        );
      },
    };
    sessions.set(cacheKey, graph);
  }
  return graph;
}
