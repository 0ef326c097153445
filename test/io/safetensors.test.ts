import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bf16BitsToF32,
  f16BitsToF32,
  f32ToBf16Bits,
  f32ToF16Bits,
  openSafetensors,
  openShardedSafetensors,
  readSafetensors,
  readShardedIndex,
  writeSafetensors,
  writeShardedSafetensors,
  MAX_HEADER_BYTES,
  type TensorToWrite,
} from '../../src/io/safetensors.ts';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'rlcp-safetensors-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A file laid out by hand: length prefix (or an override), header text, data bytes. */
function craft(
  name: string,
  header: unknown,
  data: Uint8Array = new Uint8Array(0),
  lengthOverride?: bigint,
): string {
  const text = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(lengthOverride ?? BigInt(text.byteLength));
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat([prefix, text, data]));
  return path;
}

function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

function tensor(values: number[], shape: number[]): TensorToWrite {
  return { data: new Float32Array(values), shape };
}

function hex(s: string, width: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length; i += width) out.push(parseInt(s.slice(i, i + width), 16));
  return out;
}

test('writer produces the reference byte layout: padded compact header, tensors sorted by name', () => {
  const path = join(dir, 'layout.safetensors');
  writeSafetensors(
    path,
    new Map([
      ['b', tensor([1, 2], [2])],
      ['a', tensor([3], [1, 1])],
    ]),
    { metadata: { format: 'pt' } },
  );
  const json =
    '{"__metadata__":{"format":"pt"},' +
    '"a":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]},' +
    '"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}';
  const padded = json + ' '.repeat((8 - (json.length % 8)) % 8);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(padded.length));
  const expected = Buffer.concat([prefix, Buffer.from(padded), f32Bytes([3, 1, 2])]);
  assert.deepEqual(readFileSync(path), expected);
  assert.equal(padded.length % 8, 0);
  assert.equal(readdirSync(dir).filter((f) => f.endsWith('.tmp')).length, 0, 'temp file renamed away');
});

// Byte vectors from the reference implementation's own tests (huggingface/safetensors,
// safetensors/src/tensor.rs: test_serialization, test_serialization_forced_alignement, test_empty).
const REFERENCE_ATTN_DOT_0 = [
  64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34,
  58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97,
  116, 97, 95, 111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0,
  128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
];
const REFERENCE_ATTN0 = [
  72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34, 58,
  34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100,
  97, 116, 97, 95, 111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32,
  32, 32, 32, 32, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
];
const REFERENCE_EMPTY = [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32];
const REFERENCE_EMPTY_WITH_METADATA = [
  40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95, 95, 34, 58, 123, 34, 102,
  114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112, 116, 34, 125, 125, 32, 32, 32, 32, 32,
];

test('writer output is byte-identical to the reference implementation test vectors', () => {
  const path = join(dir, 'reference.safetensors');
  const six = [0, 1, 2, 3, 4, 5];
  writeSafetensors(path, [['attn.0', tensor(six, [1, 2, 3])]]);
  assert.deepEqual([...readFileSync(path)], REFERENCE_ATTN_DOT_0);
  writeSafetensors(path, [['attn0', tensor(six, [1, 1, 2, 3])]]);
  assert.deepEqual([...readFileSync(path)], REFERENCE_ATTN0);
  writeSafetensors(path, []);
  assert.deepEqual([...readFileSync(path)], REFERENCE_EMPTY);
  writeSafetensors(path, [], { metadata: { framework: 'pt' } });
  assert.deepEqual([...readFileSync(path)], REFERENCE_EMPTY_WITH_METADATA);
  for (const bytes of [REFERENCE_ATTN_DOT_0, REFERENCE_ATTN0]) {
    writeFileSync(path, Buffer.from(bytes));
    assert.deepEqual(
      [...readSafetensors(path).get(bytes === REFERENCE_ATTN0 ? 'attn0' : 'attn.0')!.data],
      six,
    );
  }
  // test_deserialization / test_empty_shapes_allowed: unpadded header, I32 data, scalar shape []
  const i32 = '{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}';
  assert.deepEqual(
    [...readSafetensors(craft('ref-i32.safetensors', i32, new Uint8Array(16))).get('test')!.data],
    [0, 0, 0, 0],
  );
  const scalar = readSafetensors(
    craft(
      'ref-scalar.safetensors',
      '{"test":{"dtype":"I32","shape":[],"data_offsets":[0,4]}}',
      new Uint8Array(4),
    ),
  ).get('test')!;
  assert.deepEqual(scalar.shape, []);
  assert.equal(scalar.data.length, 1);
});

test('round trip in F32 is exact and F16/BF16 round to nearest even', () => {
  const values = [0, -0, 1, -2.5, 1 / 3, 65504, 1e-6, 3.14159, -7e-8, 1e30];
  const tensors = new Map([
    ['x.weight', tensor(values, [2, 5])],
    ['empty', tensor([], [0, 3])],
  ]);
  for (const dtype of ['F32', 'F16', 'BF16'] as const) {
    const path = join(dir, `rt-${dtype}.safetensors`);
    writeSafetensors(path, tensors, { dtype, metadata: { note: 'hi' } });
    const back = readSafetensors(path);
    assert.deepEqual([...back.keys()], ['empty', 'x.weight']);
    const x = back.get('x.weight')!;
    assert.equal(x.dtype, dtype);
    assert.deepEqual(x.shape, [2, 5]);
    const expected = values.map((v) =>
      dtype === 'F32'
        ? Math.fround(v)
        : dtype === 'BF16'
          ? bf16BitsToF32(f32ToBf16Bits(v))
          : f16BitsToF32(f32ToF16Bits(v)),
    );
    assert.deepEqual([...x.data], expected);
    assert.deepEqual(back.get('empty')!.shape, [0, 3]);
    assert.equal(back.get('empty')!.data.length, 0);
    const file = openSafetensors(path);
    assert.deepEqual(file.metadata, { note: 'hi' });
    file.close();
  }
});

test('float converters match PyTorch bit for bit (fixture from make-float-fixture.py)', () => {
  const fixture = JSON.parse(readFileSync('test/fixtures/io/float-conversions.json', 'utf8')) as Record<
    string,
    string
  >;
  const inputs = new Float32Array(new Uint32Array(hex(fixture.f32!, 8)).buffer);
  const bf16 = hex(fixture.bf16!, 4);
  const f16 = hex(fixture.f16!, 4);
  assert.ok(inputs.length > 4000);
  let checked = 0;
  for (let i = 0; i < inputs.length; i++) {
    const x = inputs[i]!;
    if (Number.isNaN(x)) {
      assert.ok(Number.isNaN(bf16BitsToF32(f32ToBf16Bits(x))), `bf16 NaN at ${i}`);
      assert.ok(Number.isNaN(f16BitsToF32(f32ToF16Bits(x))), `f16 NaN at ${i}`);
      continue;
    }
    assert.equal(f32ToBf16Bits(x), bf16[i], `bf16 of ${x}`);
    assert.equal(f32ToF16Bits(x), f16[i], `f16 of ${x}`);
    // Decoding must invert encoding exactly on representable values.
    assert.equal(f32ToF16Bits(f16BitsToF32(f16[i]!)), f16[i]);
    checked++;
  }
  assert.ok(checked > 4000);
});

test('float16 edge cases: subnormals, overflow, infinities, NaN', () => {
  assert.equal(f32ToF16Bits(2 ** -24), 0x0001); // smallest subnormal
  assert.equal(f32ToF16Bits(2 ** -25), 0x0000); // tie rounds to even (zero)
  assert.equal(f32ToF16Bits(3 * 2 ** -26), 0x0001); // 0.75 × 2^-24 rounds up to the smallest subnormal
  assert.equal(f32ToF16Bits(3 * 2 ** -25), 0x0002); // 1.5 × 2^-24: tie, rounds to even
  assert.equal(f32ToF16Bits(-(2 ** -14)), 0x8400); // smallest normal, negative
  assert.equal(f32ToF16Bits(65504), 0x7bff);
  assert.equal(f32ToF16Bits(65520), 0x7c00); // rounds up to infinity
  assert.equal(f32ToF16Bits(-Infinity), 0xfc00);
  assert.equal(f16BitsToF32(0x0001), 2 ** -24);
  assert.equal(f16BitsToF32(0x03ff), 1023 * 2 ** -24);
  assert.equal(f16BitsToF32(0xfc00), -Infinity);
  assert.ok(Number.isNaN(f16BitsToF32(f32ToF16Bits(NaN))));
  assert.equal(f32ToBf16Bits(1 + 2 ** -8), 0x3f80); // tie to even (down)
  assert.equal(f32ToBf16Bits(1 + 3 * 2 ** -8), 0x3f82); // tie to even (up)
  assert.equal(f32ToBf16Bits(3.4028234663852886e38), 0x7f80); // max f32 rounds to inf
  assert.ok(Number.isNaN(bf16BitsToF32(f32ToBf16Bits(NaN))));
});

test('reader converts every integer and float dtype of the format', () => {
  const parts: [string, string, number[], Uint8Array][] = [
    ['f64', 'F64', [2], new Uint8Array(new Float64Array([1.5, -2]).buffer)],
    ['i64', 'I64', [2], new Uint8Array(new BigInt64Array([-3n, 40n]).buffer)],
    ['u64', 'U64', [1], new Uint8Array(new BigUint64Array([7n]).buffer)],
    ['i32', 'I32', [2], new Uint8Array(new Int32Array([-5, 6]).buffer)],
    ['u32', 'U32', [1], new Uint8Array(new Uint32Array([4000000000]).buffer)],
    ['i16', 'I16', [1], new Uint8Array(new Int16Array([-300]).buffer)],
    ['u16', 'U16', [1], new Uint8Array(new Uint16Array([60000]).buffer)],
    ['f16', 'F16', [2], new Uint8Array(new Uint16Array([0x3c00, 0xc000]).buffer)],
    ['bf16', 'BF16', [2], new Uint8Array(new Uint16Array([0x3f80, 0xc040]).buffer)],
    ['i8', 'I8', [2], new Uint8Array(new Int8Array([-128, 127]).buffer)],
    ['u8', 'U8', [1], new Uint8Array([255])],
    ['bool', 'BOOL', [2], new Uint8Array([1, 0])],
    ['e4m3', 'F8_E4M3', [3], new Uint8Array([0x38, 0x7e, 0x01])], // 1, 448, 2^-9
    ['e5m2', 'F8_E5M2', [2], new Uint8Array([0x3c, 0x7c])], // 1, inf
  ];
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, dtype, shape, bytes] of parts) {
    header[name] = { dtype, shape, data_offsets: [offset, offset + bytes.byteLength] };
    offset += bytes.byteLength;
  }
  const path = craft('dtypes.safetensors', header, Buffer.concat(parts.map((p) => p[3])));
  const got = Object.fromEntries([...readSafetensors(path)].map(([k, v]) => [k, [...v.data]]));
  assert.deepEqual(got, {
    f64: [1.5, -2],
    i64: [-3, 40],
    u64: [7],
    i32: [-5, 6],
    u32: [4000000000],
    i16: [-300],
    u16: [60000],
    f16: [1, -2],
    bf16: [1, -3],
    i8: [-128, 127],
    u8: [255],
    bool: [1, 0],
    e4m3: [1, 448, 2 ** -9],
    e5m2: [1, Infinity],
  });
});

test('tensors larger than the scratch buffer load correctly in chunks', () => {
  const n = 5_000_001; // 10 MB as bf16, 20 MB as f32: several 8 MiB chunks, odd tail
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = (i % 509) - 254;
  for (const dtype of ['BF16', 'F32'] as const) {
    const path = join(dir, `big-${dtype}.safetensors`);
    writeSafetensors(path, [['w', { data, shape: [n] }]], { dtype });
    const file = openSafetensors(path);
    const back = file.load('w');
    file.close();
    assert.equal(back.length, n);
    assert.deepEqual(back, data); // integers below 256 in magnitude are exact in bf16
  }
});

test('lazy file: info without loading, unknown names and use after close are clear errors', () => {
  const path = join(dir, 'lazy.safetensors');
  writeSafetensors(path, new Map([['a', tensor([1, 2, 3, 4], [2, 2])]]), { dtype: 'BF16' });
  const file = openSafetensors(path);
  assert.deepEqual(file.names, ['a']);
  assert.deepEqual(file.info('a'), { dtype: 'BF16', shape: [2, 2], dataOffsets: [0, 8] });
  assert.throws(() => file.load('b'), /lazy\.safetensors: no tensor named "b"/);
  assert.deepEqual(file.loadTensor('a').shape, [2, 2]);
  file.close();
  assert.throws(() => file.load('a'), /already closed/);
  assert.throws(
    () => openSafetensors(join(dir, 'missing.safetensors')),
    /missing\.safetensors: file not found/,
  );
  assert.throws(() => openSafetensors(dir), /: not a regular file/);
});

test('hostile or truncated files are refused with the file and the defect named', () => {
  const good = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const eight = f32Bytes([1, 2]);
  const cases: [string, () => string, RegExp][] = [
    [
      'short',
      () => {
        const p = join(dir, 'short.safetensors');
        writeFileSync(p, Buffer.from([1, 2, 3]));
        return p;
      },
      /short\.safetensors: not a safetensors file: 3 bytes/,
    ],
    [
      'absurd',
      () => craft('absurd.safetensors', good, eight, BigInt(MAX_HEADER_BYTES) + 1n),
      /header length \d+ bytes is absurd/,
    ],
    ['huge', () => craft('huge.safetensors', good, eight, 2n ** 63n), /is absurd/],
    [
      'past end',
      () => craft('pastend.safetensors', good, eight, 5000n),
      /pastend\.safetensors: header length 5000 bytes runs past the end/,
    ],
    [
      'not json',
      () => craft('notjson.safetensors', '{"a": ', eight),
      /notjson\.safetensors: header is not valid JSON/,
    ],
    ['array', () => craft('array.safetensors', '[1,2]', eight), /header must be a JSON object/],
    ['null', () => craft('null.safetensors', 'null', eight), /header must be a JSON object/],
    [
      'bad utf8',
      () => {
        const p = craft('utf8.safetensors', '{"a":1}', eight);
        const bytes = readFileSync(p);
        bytes[10] = 0xff;
        writeFileSync(p, bytes);
        return p;
      },
      /header is not valid UTF-8/,
    ],
    ['entry', () => craft('entry.safetensors', { a: 5 }, eight), /tensor "a": entry must be an object/],
    [
      'dtype',
      () => craft('dtype.safetensors', { a: { dtype: 'F128', shape: [2], data_offsets: [0, 8] } }, eight),
      /dtype\.safetensors: tensor "a": unknown dtype "F128"/,
    ],
    [
      'shape negative',
      () => craft('shape1.safetensors', { a: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, eight),
      /shape must be an array of non-negative integers, got \[-2\]/,
    ],
    [
      'shape fractional',
      () => craft('shape2.safetensors', { a: { dtype: 'F32', shape: [1.5], data_offsets: [0, 8] } }, eight),
      /shape must be an array of non-negative integers/,
    ],
    [
      'shape not array',
      () => craft('shape3.safetensors', { a: { dtype: 'F32', shape: '2', data_offsets: [0, 8] } }, eight),
      /shape must be an array/,
    ],
    [
      'offsets arity',
      () => craft('off1.safetensors', { a: { dtype: 'F32', shape: [2], data_offsets: [0] } }, eight),
      /data_offsets must be \[begin, end\]/,
    ],
    [
      'offsets type',
      () => craft('off2.safetensors', { a: { dtype: 'F32', shape: [2], data_offsets: ['0', 8] } }, eight),
      /data_offsets must be \[begin, end\]/,
    ],
    [
      'end before begin',
      () => craft('off3.safetensors', { a: { dtype: 'F32', shape: [0], data_offsets: [8, 4] } }, eight),
      /end 4 is before begin 8/,
    ],
    [
      'outside data',
      () => craft('off4.safetensors', { a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, eight),
      /off4\.safetensors: tensor "a": data_offsets \[0, 16\] lie outside the 8-byte data section/,
    ],
    [
      'size mismatch',
      () => craft('size.safetensors', { a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, eight),
      /hold 8 bytes but shape \[3\] × F32 needs 12/,
    ],
    [
      'overflowing shape',
      () =>
        craft(
          'overflow.safetensors',
          { a: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 8] } },
          eight,
        ),
      /needs/,
    ],
    [
      'overlap',
      () =>
        craft(
          'overlap.safetensors',
          {
            a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
            b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
          },
          eight,
        ),
      /overlap\.safetensors: tensor "b" bytes \[4, 8\) overlap tensor "a"/,
    ],
    [
      'gap',
      () => craft('gap.safetensors', { a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, eight),
      /bytes \[0, 4\) belong to no tensor/,
    ],
    [
      'trailing',
      () => craft('trailing.safetensors', { a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, eight),
      /4 trailing bytes/,
    ],
    [
      'truncated data',
      () => craft('trunc.safetensors', good, eight.subarray(0, 6)),
      /trunc\.safetensors: tensor "a": data_offsets \[0, 8\] lie outside the 6-byte data section \(truncated file\?\)/,
    ],
    [
      'metadata not object',
      () => craft('meta1.safetensors', { __metadata__: ['x'], ...good }, eight),
      /__metadata__ must be an object of strings/,
    ],
    [
      'metadata value',
      () => craft('meta2.safetensors', { __metadata__: { format: 'pt', step: 3 }, ...good }, eight),
      /meta2\.safetensors: __metadata__\.step must be a string, got 3/,
    ],
  ];
  for (const [label, make, pattern] of cases) {
    const path = make();
    assert.throws(() => openSafetensors(path), pattern, label);
    assert.throws(
      () => readSafetensors(path),
      (error: Error) => error.message.startsWith(path),
      label,
    );
  }
  // Empty tensors may sit at any boundary, in any header order (the reference sorts by (begin, end)).
  const empties = craft(
    'empties.safetensors',
    {
      b: good.a,
      a: { dtype: 'F32', shape: [0], data_offsets: [0, 0] },
      c: { dtype: 'F32', shape: [0], data_offsets: [8, 8] },
    },
    eight,
  );
  assert.deepEqual([...readSafetensors(empties).keys()], ['a', 'b', 'c']);
  // The valid variant of the same bytes loads, so the cases above fail for the stated reason only.
  assert.deepEqual([...readSafetensors(craft('good.safetensors', good, eight)).get('a')!.data], [1, 2]);
});

test('writer rejects inconsistent input', () => {
  const path = join(dir, 'bad-write.safetensors');
  assert.throws(
    () => writeSafetensors(path, [['w', tensor([1, 2, 3], [2, 2])]]),
    /bad-write\.safetensors: tensor "w" has 3 values but shape \[2, 2\] needs 4/,
  );
  assert.throws(
    () =>
      writeSafetensors(path, [
        ['w', tensor([1], [1])],
        ['w', tensor([1], [1])],
      ]),
    /"w" given twice/,
  );
  assert.throws(() => writeSafetensors(path, [['__metadata__', tensor([1], [1])]]), /invalid tensor name/);
  assert.throws(
    () => writeSafetensors(path, [['w', tensor([1], [1])]], { dtype: 'I8' as 'F32' }),
    /cannot write dtype "I8"/,
  );
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.includes('bad-write')),
    [],
    'nothing written',
  );
});

test('sharded checkpoints: split in order, index with total_size, loaded back through the index', () => {
  const shardDir = join(dir, 'sharded');
  const tensors = new Map<string, TensorToWrite>();
  for (let i = 0; i < 5; i++) tensors.set(`layers.${i}.w`, tensor([i, i + 0.5, -i], [3]));
  tensors.set(
    'embed',
    tensor(
      Array.from({ length: 10 }, (_, i) => i),
      [5, 2],
    ),
  );
  // bf16: 6 bytes per layer tensor, 20 bytes for embed; 13-byte shards hold two layers each.
  const result = writeShardedSafetensors(shardDir, tensors, { dtype: 'BF16', maxShardBytes: 13 });
  assert.deepEqual(result.files, [
    'model-00001-of-00004.safetensors',
    'model-00002-of-00004.safetensors',
    'model-00003-of-00004.safetensors',
    'model-00004-of-00004.safetensors',
  ]);
  assert.equal(result.totalSize, 5 * 6 + 20);
  const index = JSON.parse(readFileSync(result.indexPath!, 'utf8'));
  assert.deepEqual(index.metadata, { total_size: 50 });
  assert.deepEqual(Object.keys(index.weight_map), [...tensors.keys()].sort());
  assert.equal(index.weight_map['layers.4.w'], 'model-00003-of-00004.safetensors');
  assert.equal(index.weight_map.embed, 'model-00004-of-00004.safetensors');
  assert.equal(readShardedIndex(result.indexPath!).weightMap.size, 6);

  const source = openShardedSafetensors(result.indexPath!);
  assert.deepEqual(new Set(source.names), new Set(tensors.keys()));
  assert.deepEqual(source.metadata, { format: 'pt' });
  for (const [name, t] of tensors) assert.deepEqual(source.load(name), t.data, name);
  assert.deepEqual(source.loadTensor('embed').shape, [5, 2]);
  assert.throws(() => source.load('nope'), /no tensor named "nope" in weight_map/);
  source.close();

  const single = writeShardedSafetensors(join(dir, 'single'), tensors, { maxShardBytes: 1 << 20 });
  assert.deepEqual(single, { files: ['model.safetensors'], indexPath: null, totalSize: 100 });
  assert.throws(() => writeShardedSafetensors(shardDir, tensors, { maxShardBytes: 0 }), /maxShardBytes/);
});

test('sharded index errors name the index and the inconsistency', () => {
  const shardDir = join(dir, 'badindex');
  writeShardedSafetensors(
    shardDir,
    [
      ['a', tensor([1], [1])],
      ['b', tensor([2], [1])],
      ['c', tensor([3], [1])],
    ],
    { maxShardBytes: 8 },
  );
  const indexPath = join(shardDir, 'model.safetensors.index.json');
  const write = (value: unknown) => writeFileSync(indexPath, JSON.stringify(value));
  write({ weight_map: { a: '../model-00001-of-00002.safetensors' } });
  assert.throws(
    () => openShardedSafetensors(indexPath),
    /weight_map\["a"\] must be a file name in the same folder/,
  );
  write({ weight_map: { a: 'model-00002-of-00002.safetensors', c: 'model-00002-of-00002.safetensors' } });
  assert.throws(
    () => openShardedSafetensors(indexPath),
    /weight_map puts "a" in model-00002-of-00002\.safetensors, but .* has no such tensor/,
  );
  write({ weight_map: { a: 'model-00001-of-00002.safetensors', c: 'model-00002-of-00002.safetensors' } });
  assert.throws(
    () => openShardedSafetensors(indexPath),
    /model-00001-of-00002\.safetensors holds tensor "b" that weight_map does not assign to it/,
  );
  write({ weight_map: { a: 'gone.safetensors', c: 'model-00002-of-00002.safetensors' } });
  assert.throws(() => openShardedSafetensors(indexPath), /gone\.safetensors: file not found/);
  write({ weight_map: {} });
  assert.throws(() => openShardedSafetensors(indexPath), /weight_map is empty/);
  write([1]);
  assert.throws(() => openShardedSafetensors(indexPath), /index\.json: index must be a JSON object/);
});
