// Safetensors reading and writing (https://github.com/huggingface/safetensors, format section):
//   8 bytes   little-endian u64 N = header length
//   N bytes   UTF-8 JSON: { "__metadata__"?: {str: str}, name: { dtype, shape, data_offsets: [begin, end] } }
//   rest      data section; offsets are relative to its start
// Every tensor is returned as float32 (the only compute dtype in rlcp). Reading is one tensor at a time
// through a small scratch buffer, so loading a bf16 model needs its f32 size plus a few MiB.
import {
  closeSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { endianness } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { readJson } from './jsonl.ts';
import { writeJsonAtomic } from './atomic.ts';

/** Same cap as the reference Rust implementation: larger headers are refused as hostile. */
export const MAX_HEADER_BYTES = 100_000_000;

const DTYPE_BYTES = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
} as const;

export type SafetensorsDtype = keyof typeof DTYPE_BYTES;
/** Dtypes rlcp writes. */
export type WritableDtype = 'F32' | 'F16' | 'BF16';

export interface TensorInfo {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte range inside the data section, [begin, end). */
  dataOffsets: [number, number];
}

export interface LoadedTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array;
}

export interface TensorToWrite {
  data: Float32Array;
  shape: readonly number[];
}

/** An open safetensors file (or a sharded set of them): the header is parsed, tensors load on demand. */
export interface SafetensorsSource {
  readonly path: string;
  readonly metadata: Record<string, string>;
  /** Tensor names in data-section order. */
  readonly names: string[];
  has(name: string): boolean;
  info(name: string): TensorInfo;
  load(name: string): Float32Array;
  loadTensor(name: string): LoadedTensor;
  close(): void;
}

function isDtype(value: unknown): value is SafetensorsDtype {
  return typeof value === 'string' && Object.hasOwn(DTYPE_BYTES, value);
}

function assertLittleEndian(): void {
  if (endianness() !== 'LE') throw new Error('safetensors I/O needs a little-endian machine');
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

// ---------------------------------------------------------------------------------------------
// Float conversions. Exported for tests; all work on raw bit patterns.

const f32Bits = new Uint32Array(1);
const f32View = new Float32Array(f32Bits.buffer);

/** float32 → bfloat16 bits, round to nearest even; NaN stays NaN (quietened), overflow rounds to inf. */
export function f32ToBf16Bits(value: number): number {
  f32View[0] = value;
  return bf16FromF32Bits(f32Bits[0]!);
}

function bf16FromF32Bits(x: number): number {
  if ((x & 0x7fffffff) > 0x7f800000) return (x >>> 16) | 0x0040;
  return (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
}

/** float32 → IEEE binary16 bits, round to nearest even, with subnormals, ±inf and NaN. */
export function f32ToF16Bits(value: number): number {
  f32View[0] = value;
  const x = f32Bits[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x0200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Below half the smallest subnormal (2^-25) everything rounds to zero; also keeps shifts < 32.
    if (e < -10) return sign;
    const full = mant | 0x800000;
    const shift = 14 - e;
    let half = full >>> shift;
    const rest = full & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // A carry out of the mantissa correctly bumps the exponent, up to infinity.
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half++;
  return sign | half;
}

export function bf16BitsToF32(bits: number): number {
  f32Bits[0] = (bits & 0xffff) << 16;
  return f32View[0]!;
}

export function f16BitsToF32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

function f8e4m3ToF32(bits: number): number {
  const sign = bits & 0x80 ? -1 : 1;
  const exp = (bits >>> 3) & 0xf;
  const mant = bits & 0x7;
  if (exp === 0xf && mant === 0x7) return NaN; // e4m3fn: no infinities, one NaN pattern per sign
  if (exp === 0) return sign * mant * 2 ** -9;
  return sign * (1 + mant / 8) * 2 ** (exp - 7);
}

let f16Table: Float32Array | null = null;
function f16Lookup(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) f16Table[i] = f16BitsToF32(i);
  }
  return f16Table;
}

let f8Tables: { e4m3: Float32Array; e5m2: Float32Array } | null = null;
function f8Lookup(): { e4m3: Float32Array; e5m2: Float32Array } {
  if (!f8Tables) {
    const e4m3 = new Float32Array(256);
    const e5m2 = new Float32Array(256);
    for (let i = 0; i < 256; i++) {
      e4m3[i] = f8e4m3ToF32(i);
      e5m2[i] = f16BitsToF32(i << 8); // e5m2 is the top byte of binary16
    }
    f8Tables = { e4m3, e5m2 };
  }
  return f8Tables;
}

/** Decodes `bytes` (whole elements of `dtype`, little-endian) into `out[at ...]`. */
function decodeInto(dtype: SafetensorsDtype, bytes: Uint8Array, out: Float32Array, at: number): void {
  const n = bytes.byteLength / DTYPE_BYTES[dtype];
  const buf = bytes.buffer;
  const off = bytes.byteOffset; // scratch buffers are 8-byte aligned, so typed views are legal
  switch (dtype) {
    case 'F32':
      out.set(new Float32Array(buf, off, n), at);
      return;
    case 'BF16': {
      const src = new Uint16Array(buf, off, n);
      const dst = new Uint32Array(out.buffer, out.byteOffset + at * 4, n);
      for (let i = 0; i < n; i++) dst[i] = src[i]! << 16;
      return;
    }
    case 'F16': {
      const src = new Uint16Array(buf, off, n);
      const table = f16Lookup();
      for (let i = 0; i < n; i++) out[at + i] = table[src[i]!]!;
      return;
    }
    case 'F8_E4M3':
    case 'F8_E5M2': {
      const table = dtype === 'F8_E4M3' ? f8Lookup().e4m3 : f8Lookup().e5m2;
      for (let i = 0; i < n; i++) out[at + i] = table[bytes[i]!]!;
      return;
    }
    case 'BOOL':
    case 'U8':
      out.set(bytes, at);
      return;
    case 'I8':
      out.set(new Int8Array(buf, off, n), at);
      return;
    case 'I16':
      out.set(new Int16Array(buf, off, n), at);
      return;
    case 'U16':
      out.set(new Uint16Array(buf, off, n), at);
      return;
    case 'I32':
      out.set(new Int32Array(buf, off, n), at);
      return;
    case 'U32':
      out.set(new Uint32Array(buf, off, n), at);
      return;
    case 'F64':
      out.set(new Float64Array(buf, off, n), at);
      return;
    case 'I64': {
      const src = new BigInt64Array(buf, off, n);
      for (let i = 0; i < n; i++) out[at + i] = Number(src[i]!);
      return;
    }
    case 'U64': {
      const src = new BigUint64Array(buf, off, n);
      for (let i = 0; i < n; i++) out[at + i] = Number(src[i]!);
      return;
    }
  }
}

/** The bytes of `src` stored as `dtype`: a view of `src` for F32, else converted into `scratch`. */
function encode(dtype: WritableDtype, src: Float32Array, scratch: Uint8Array): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
  const out = new Uint16Array(scratch.buffer, scratch.byteOffset, src.length);
  if (dtype === 'BF16') {
    const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
    for (let i = 0; i < src.length; i++) out[i] = bf16FromF32Bits(bits[i]!);
  } else {
    for (let i = 0; i < src.length; i++) out[i] = f32ToF16Bits(src[i]!);
  }
  return scratch.subarray(0, src.length * 2);
}

// ---------------------------------------------------------------------------------------------
// Reading

const SCRATCH_BYTES = 8 << 20; // multiple of every dtype size
/** Largest single readSync/writeSync Node accepts is 2 GiB − 1; stay well below. */
const MAX_IO_BYTES = 1 << 30;

function readFully(fd: number, target: Uint8Array, position: number, path: string): void {
  let done = 0;
  while (done < target.byteLength) {
    const want = Math.min(target.byteLength - done, MAX_IO_BYTES);
    const got = readSync(fd, target, done, want, position + done);
    if (got === 0) throw new Error(`${path}: unexpected end of file at byte ${position + done}`);
    done += got;
  }
}

interface ParsedHeader {
  metadata: Record<string, string>;
  tensors: Map<string, TensorInfo>;
  /** Byte position of the data section in the file. */
  dataStart: number;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isNonNegativeInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Validates the header of an open file against the spec; every error names the file and defect. */
function parseHeader(fd: number, path: string): ParsedHeader {
  const stat = fstatSync(fd);
  if (!stat.isFile()) throw new Error(`${path}: not a regular file (expected a .safetensors file)`);
  const fileSize = stat.size;
  if (fileSize < 8) {
    throw new Error(
      `${path}: not a safetensors file: ${fileSize} bytes, shorter than the 8-byte header length`,
    );
  }
  const lengthBytes = new Uint8Array(8);
  readFully(fd, lengthBytes, 0, path);
  const headerLength = new DataView(lengthBytes.buffer).getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw new Error(
      `${path}: header length ${headerLength} bytes is absurd (limit ${MAX_HEADER_BYTES}); not a safetensors file or corrupt`,
    );
  }
  const n = Number(headerLength);
  if (8 + n > fileSize) {
    throw new Error(
      `${path}: header length ${n} bytes runs past the end of the ${fileSize}-byte file (truncated?)`,
    );
  }
  const headerBytes = new Uint8Array(n);
  readFully(fd, headerBytes, 8, path);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw new Error(`${path}: header is not valid UTF-8`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path}: header is not valid JSON (${(error as Error).message})`);
  }
  if (!isPlainObject(json)) throw new Error(`${path}: header must be a JSON object`);

  const dataStart = 8 + n;
  const dataSize = fileSize - dataStart;
  let metadata: Record<string, string> = {};
  const tensors = new Map<string, TensorInfo>();
  for (const [name, entry] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (!isPlainObject(entry)) throw new Error(`${path}: __metadata__ must be an object of strings`);
      for (const [key, value] of Object.entries(entry)) {
        if (typeof value !== 'string') {
          throw new Error(`${path}: __metadata__.${key} must be a string, got ${JSON.stringify(value)}`);
        }
      }
      metadata = Object.fromEntries(Object.entries(entry)) as Record<string, string>;
      continue;
    }
    const where = `${path}: tensor "${name}"`;
    if (!isPlainObject(entry)) throw new Error(`${where}: entry must be an object`);
    const { dtype, shape, data_offsets: offsets } = entry;
    if (!isDtype(dtype)) {
      throw new Error(
        `${where}: unknown dtype ${JSON.stringify(dtype)} (known: ${Object.keys(DTYPE_BYTES).join(', ')})`,
      );
    }
    if (!Array.isArray(shape) || !shape.every(isNonNegativeInt)) {
      throw new Error(
        `${where}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`,
      );
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInt)) {
      throw new Error(
        `${where}: data_offsets must be [begin, end] non-negative integers, got ${JSON.stringify(offsets)}`,
      );
    }
    const [begin, end] = offsets as [number, number];
    if (end < begin) throw new Error(`${where}: data_offsets end ${end} is before begin ${begin}`);
    if (end > dataSize) {
      throw new Error(
        `${where}: data_offsets [${begin}, ${end}] lie outside the ${dataSize}-byte data section (truncated file?)`,
      );
    }
    const count = elementCount(shape as number[]);
    const expected = count * DTYPE_BYTES[dtype];
    if (!Number.isSafeInteger(expected) || end - begin !== expected) {
      throw new Error(
        `${where}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes but shape [${shape.join(', ')}] × ${dtype} needs ${expected}`,
      );
    }
    tensors.set(name, { dtype, shape: [...(shape as number[])], dataOffsets: [begin, end] });
  }

  // Like the reference implementation, the tensors must tile the data section exactly: overlaps
  // could alias weights, gaps and trailing bytes mean corruption.
  const ordered = [...tensors.entries()].sort(
    (a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0] || a[1].dataOffsets[1] - b[1].dataOffsets[1],
  );
  let cursor = 0;
  let previous = '';
  for (const [name, info] of ordered) {
    const [begin, end] = info.dataOffsets;
    if (begin < cursor) {
      throw new Error(
        `${path}: tensor "${name}" bytes [${begin}, ${end}) overlap tensor "${previous}" (ends at ${cursor})`,
      );
    }
    if (begin > cursor) {
      throw new Error(
        `${path}: data section bytes [${cursor}, ${begin}) belong to no tensor (gap before "${name}")`,
      );
    }
    cursor = end;
    previous = name;
  }
  if (cursor !== dataSize) {
    throw new Error(`${path}: data section has ${dataSize - cursor} trailing bytes after the last tensor`);
  }
  const sortedTensors = new Map(ordered);
  return { metadata, tensors: sortedTensors, dataStart };
}

class SingleFile implements SafetensorsSource {
  readonly metadata: Record<string, string>;
  readonly names: string[];
  private readonly tensors: Map<string, TensorInfo>;
  private readonly dataStart: number;
  private fd: number | null;

  constructor(readonly path: string) {
    assertLittleEndian();
    const fd = openFile(path);
    try {
      const header = parseHeader(fd, path);
      this.metadata = header.metadata;
      this.tensors = header.tensors;
      this.dataStart = header.dataStart;
      this.names = [...header.tensors.keys()];
    } catch (error) {
      closeSync(fd);
      throw error;
    }
    this.fd = fd;
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const info = this.tensors.get(name);
    if (!info)
      throw new Error(`${this.path}: no tensor named "${name}" (${this.names.length} tensors in file)`);
    return info;
  }

  load(name: string): Float32Array {
    const info = this.info(name);
    if (this.fd === null) throw new Error(`${this.path}: file already closed`);
    const size = DTYPE_BYTES[info.dtype];
    const [begin, end] = info.dataOffsets;
    const out = new Float32Array((end - begin) / size);
    if (info.dtype === 'F32') {
      // Straight into the result: no scratch, no conversion.
      readFully(this.fd, new Uint8Array(out.buffer), this.dataStart + begin, this.path);
      return out;
    }
    const scratch = new Uint8Array(Math.min(SCRATCH_BYTES, end - begin));
    for (let pos = begin; pos < end; pos += scratch.byteLength) {
      const chunk = scratch.subarray(0, Math.min(scratch.byteLength, end - pos));
      readFully(this.fd, chunk, this.dataStart + pos, this.path);
      decodeInto(info.dtype, chunk, out, (pos - begin) / size);
    }
    return out;
  }

  loadTensor(name: string): LoadedTensor {
    const info = this.info(name);
    return { dtype: info.dtype, shape: [...info.shape], data: this.load(name) };
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

function openFile(path: string): number {
  try {
    return openSync(path, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`${path}: file not found`);
    throw new Error(`${path}: cannot open (${(error as Error).message})`);
  }
}

/** Opens a safetensors file, validating its header; tensors are read one at a time by `load`. */
export function openSafetensors(path: string): SafetensorsSource {
  return new SingleFile(path);
}

/** Reads every tensor of a file, converted to float32. */
export function readSafetensors(path: string): Map<string, LoadedTensor> {
  const file = openSafetensors(path);
  try {
    return new Map(file.names.map((name) => [name, file.loadTensor(name)]));
  } finally {
    file.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Sharded checkpoints (model.safetensors.index.json)

export const SAFETENSORS_INDEX = 'model.safetensors.index.json';

export interface ShardedIndex {
  metadata: Record<string, unknown>;
  /** tensor name → shard file name (relative to the index's folder) */
  weightMap: Map<string, string>;
}

export function readShardedIndex(indexPath: string): ShardedIndex {
  const json = readJson(indexPath);
  if (!isPlainObject(json)) throw new Error(`${indexPath}: index must be a JSON object`);
  const { metadata = {}, weight_map: weightMap } = json;
  if (!isPlainObject(metadata)) throw new Error(`${indexPath}: "metadata" must be an object`);
  if (!isPlainObject(weightMap))
    throw new Error(`${indexPath}: "weight_map" must be an object of tensor → file`);
  const map = new Map<string, string>();
  for (const [name, file] of Object.entries(weightMap)) {
    // Shard names are plain file names in the same folder; anything else could escape the folder.
    if (typeof file !== 'string' || file.length === 0 || file !== basename(file) || file === '..') {
      throw new Error(
        `${indexPath}: weight_map["${name}"] must be a file name in the same folder, got ${JSON.stringify(file)}`,
      );
    }
    map.set(name, file);
  }
  if (map.size === 0) throw new Error(`${indexPath}: weight_map is empty`);
  return { metadata, weightMap: map };
}

class ShardedFiles implements SafetensorsSource {
  /** The first shard's metadata (the index's own metadata holds numbers such as total_size). */
  readonly metadata: Record<string, string>;
  readonly names: string[];
  private readonly shards = new Map<string, SafetensorsSource>();
  private readonly owner = new Map<string, SafetensorsSource>();

  constructor(readonly path: string) {
    const index = readShardedIndex(path);
    const dir = dirname(path);
    try {
      for (const file of new Set(index.weightMap.values()))
        this.shards.set(file, openSafetensors(join(dir, file)));
      for (const [name, file] of index.weightMap) {
        const shard = this.shards.get(file)!;
        if (!shard.has(name)) {
          throw new Error(
            `${path}: weight_map puts "${name}" in ${file}, but ${shard.path} has no such tensor`,
          );
        }
        this.owner.set(name, shard);
      }
      for (const [file, shard] of this.shards) {
        for (const name of shard.names) {
          if (this.owner.get(name) !== shard) {
            throw new Error(
              `${path}: ${join(dir, file)} holds tensor "${name}" that weight_map does not assign to it`,
            );
          }
        }
      }
    } catch (error) {
      this.close();
      throw error;
    }
    this.names = [...this.shards.values()].flatMap((shard) => shard.names);
    this.metadata = this.shards.values().next().value!.metadata;
  }

  has(name: string): boolean {
    return this.owner.has(name);
  }

  private shard(name: string): SafetensorsSource {
    const shard = this.owner.get(name);
    if (!shard) throw new Error(`${this.path}: no tensor named "${name}" in weight_map`);
    return shard;
  }

  info(name: string): TensorInfo {
    return this.shard(name).info(name);
  }

  load(name: string): Float32Array {
    return this.shard(name).load(name);
  }

  loadTensor(name: string): LoadedTensor {
    return this.shard(name).loadTensor(name);
  }

  close(): void {
    for (const shard of this.shards.values()) shard.close();
  }
}

/** Opens a sharded checkpoint through its index; every shard's header is validated up front. */
export function openShardedSafetensors(indexPath: string): SafetensorsSource {
  return new ShardedFiles(indexPath);
}

// ---------------------------------------------------------------------------------------------
// Writing

export interface WriteSafetensorsOptions {
  /** Storage dtype; default F32. */
  dtype?: WritableDtype;
  metadata?: Record<string, string>;
}

type TensorInput = Map<string, TensorToWrite> | Iterable<readonly [string, TensorToWrite]>;

function checkTensors(path: string, tensors: TensorInput): [string, TensorToWrite][] {
  const entries: [string, TensorToWrite][] = [];
  const seen = new Set<string>();
  for (const [name, tensor] of tensors) {
    if (name.length === 0 || name === '__metadata__')
      throw new Error(`${path}: invalid tensor name "${name}"`);
    if (seen.has(name)) throw new Error(`${path}: tensor "${name}" given twice`);
    seen.add(name);
    if (!tensor.shape.every((dim) => isNonNegativeInt(dim))) {
      throw new Error(
        `${path}: tensor "${name}" shape [${tensor.shape.join(', ')}] must be non-negative integers`,
      );
    }
    if (elementCount(tensor.shape) !== tensor.data.length) {
      throw new Error(
        `${path}: tensor "${name}" has ${tensor.data.length} values but shape [${tensor.shape.join(', ')}] needs ${elementCount(tensor.shape)}`,
      );
    }
    entries.push([name, tensor]);
  }
  return entries;
}

/** Header bytes laid out as the reference serializer does: compact JSON, space-padded to 8 bytes. */
function encodeHeader(
  path: string,
  entries: [string, TensorToWrite][],
  dtype: WritableDtype,
  metadata: Record<string, string> | undefined,
): Uint8Array {
  // Built by hand: a JS object would reorder integer-like names and treat "__proto__" specially.
  const fields: string[] = [];
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string') throw new Error(`${path}: metadata "${key}" must be a string`);
    }
    fields.push(`"__metadata__":${JSON.stringify(metadata)}`);
  }
  let offset = 0;
  for (const [name, tensor] of entries) {
    const bytes = tensor.data.length * DTYPE_BYTES[dtype];
    const info = { dtype, shape: [...tensor.shape], data_offsets: [offset, offset + bytes] };
    fields.push(`${JSON.stringify(name)}:${JSON.stringify(info)}`);
    offset += bytes;
  }
  const json = Buffer.from(`{${fields.join(',')}}`, 'utf8');
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const out = new Uint8Array(8 + padded).fill(0x20, 8);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  return out;
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.byteLength) {
    done += writeSync(fd, bytes, done, Math.min(bytes.byteLength - done, MAX_IO_BYTES));
  }
}

/**
 * Streams a file into a temp file beside `path`, fsyncs and renames it into place, so a large model
 * is never assembled in memory and a crash leaves the old file intact.
 */
function writeStreamAtomic(path: string, produce: (write: (bytes: Uint8Array) => void) => void): void {
  mkdirSync(dirname(path), { recursive: true });
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(temp, 'w');
  try {
    produce((bytes) => writeAll(fd, bytes));
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw error;
  }
  closeSync(fd);
  renameSync(temp, path);
}

/** Writes tensors (sorted by name, like the reference serializer) converted to `dtype`. */
export function writeSafetensors(
  path: string,
  tensors: TensorInput,
  options: WriteSafetensorsOptions = {},
): void {
  assertLittleEndian();
  const dtype = options.dtype ?? 'F32';
  if (!['F32', 'F16', 'BF16'].includes(dtype)) {
    throw new Error(`${path}: cannot write dtype ${JSON.stringify(dtype)} (F32, F16 or BF16)`);
  }
  // Byte order of the UTF-8 names, as the reference implementation sorts them.
  const entries = checkTensors(path, tensors).sort((a, b) =>
    Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])),
  );
  const header = encodeHeader(path, entries, dtype, options.metadata);
  const size = DTYPE_BYTES[dtype];
  writeStreamAtomic(path, (write) => {
    write(header);
    const elementsPerChunk = SCRATCH_BYTES / size;
    const scratch = new Uint8Array(SCRATCH_BYTES);
    for (const [, tensor] of entries) {
      for (let start = 0; start < tensor.data.length; start += elementsPerChunk) {
        const part = tensor.data.subarray(start, Math.min(start + elementsPerChunk, tensor.data.length));
        write(encode(dtype, part, scratch));
      }
    }
  });
}

export interface WriteShardedOptions extends WriteSafetensorsOptions {
  /** Largest shard in bytes of tensor data (HF's max_shard_size); one tensor larger than this gets a shard of its own. */
  maxShardBytes: number;
}

export interface ShardedWriteResult {
  /** Weight files written, in order (`model.safetensors` alone when everything fits in one shard). */
  files: string[];
  /** Path of the index, or null when a single `model.safetensors` was written. */
  indexPath: string | null;
  totalSize: number;
}

/**
 * Writes `model.safetensors`, or — when the tensors exceed `maxShardBytes` — `model-0000i-of-0000n.safetensors`
 * shards plus `model.safetensors.index.json`, splitting in the given tensor order as Hugging Face does.
 * The index is written last, so it never points at shards that are not on disk yet.
 */
export function writeShardedSafetensors(
  dir: string,
  tensors: TensorInput,
  options: WriteShardedOptions,
): ShardedWriteResult {
  const { maxShardBytes } = options;
  if (!(Number.isSafeInteger(maxShardBytes) && maxShardBytes > 0)) {
    throw new Error(`${dir}: maxShardBytes must be a positive integer, got ${maxShardBytes}`);
  }
  const dtype = options.dtype ?? 'F32';
  const entries = checkTensors(dir, tensors);
  const shards: [string, TensorToWrite][][] = [];
  let current: [string, TensorToWrite][] = [];
  let currentBytes = 0;
  let totalSize = 0;
  for (const entry of entries) {
    const bytes = entry[1].data.length * DTYPE_BYTES[dtype];
    if (current.length > 0 && currentBytes + bytes > maxShardBytes) {
      shards.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(entry);
    currentBytes += bytes;
    totalSize += bytes;
  }
  if (current.length > 0 || shards.length === 0) shards.push(current);

  const writeOptions = { dtype, metadata: options.metadata ?? { format: 'pt' } };
  if (shards.length === 1) {
    writeSafetensors(join(dir, 'model.safetensors'), shards[0]!, writeOptions);
    return { files: ['model.safetensors'], indexPath: null, totalSize };
  }
  const pad = (i: number) => String(i).padStart(5, '0');
  const files = shards.map((_, i) => `model-${pad(i + 1)}-of-${pad(shards.length)}.safetensors`);
  const weightMap: Record<string, string> = {};
  shards.forEach((shard, i) => {
    writeSafetensors(join(dir, files[i]!), shard, writeOptions);
    for (const [name] of shard) weightMap[name] = files[i]!;
  });
  const sortedMap = Object.fromEntries(Object.entries(weightMap).sort((a, b) => (a[0] < b[0] ? -1 : 1)));
  const indexPath = join(dir, SAFETENSORS_INDEX);
  writeJsonAtomic(indexPath, { metadata: { total_size: totalSize }, weight_map: sortedMap });
  return { files, indexPath, totalSize };
}
