// The native kernels return exactly the float32 bits of their TypeScript references, on one thread and
// on several (sizes above the per-thread grain, so work is really split), at awkward sizes and values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nativeKernels } from '../../../src/tensor/kernels/native.ts';
import type { ElementKernels } from '../../../src/tensor/kernels/native.ts';
import { referenceKernels } from '../../../src/tensor/kernels/reference.ts';
import { getNumThreads, setNumThreads } from '../../../src/tensor/kernels/onnx.ts';
import { Rng } from '../../../src/tensor/random.ts';
import { kernelWorkload, type WorkerResult } from './native-worker.ts';
import { Worker } from 'node:worker_threads';

const rng = new Rng(7);

function random(n: number, scale = 1): Float32Array {
  return new Float32Array(n).map(() => (rng.uniform() * 2 - 1) * scale);
}

function assertSameBits(
  actual: Float32Array | Float64Array,
  expected: Float32Array | Float64Array,
  what: string,
) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const a = new Uint8Array(actual.buffer, actual.byteOffset, actual.byteLength);
  const e = new Uint8Array(expected.buffer, expected.byteOffset, expected.byteLength);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== e[i]) {
      const index = Math.floor(i / actual.BYTES_PER_ELEMENT);
      assert.fail(`${what}: element ${index} is ${actual[index]}, reference ${expected[index]}`);
    }
  }
}

/**
 * Runs `call` once on the reference and once on the native kernels, each on fresh copies of `inputs`
 * (every array may be written), and compares every array bit for bit.
 */
function agree(
  what: string,
  inputs: readonly (Float32Array | Float64Array | null)[],
  call: (k: ElementKernels, arrays: (Float32Array | Float64Array | null)[]) => unknown,
): void {
  const copy = () => inputs.map((a) => (a === null ? null : a.slice()));
  const expected = copy();
  const expectedResult = call(referenceKernels, expected);
  for (const threads of [1, 2, 3]) {
    const before = getNumThreads();
    setNumThreads(threads);
    try {
      const actual = copy();
      const result = call(nativeKernels(), actual);
      assert.equal(result, expectedResult, `${what}: return value (${threads} threads)`);
      actual.forEach((a, i) => {
        if (a !== null) assertSameBits(a, expected[i]!, `${what}: array ${i} (${threads} threads)`);
      });
    } finally {
      setNumThreads(before);
    }
  }
}

const f32 = (a: Float32Array | Float64Array | null) => a as Float32Array;
const f32OrNull = (a: Float32Array | Float64Array | null) => a as Float32Array | null;

// More elements than two threads' grain (32768 each), and a row count that splits unevenly.
const N = 3 * 131 * 257;

test('native SwiGLU forward and backward match the reference bit for bit', () => {
  const gate = random(N, 12);
  gate[0] = 100; // exp(-x) far below the clamp
  gate[1] = -100; // and far above
  const up = random(N, 3);
  agree('swigluForward', [gate, up, new Float32Array(N)], (k, [g, u, out]) =>
    k.swigluForward(f32(g), f32(u), f32(out)),
  );
  const grad = random(N);
  for (const [withGate, withUp] of [
    [true, true],
    [true, false],
    [false, true],
  ]) {
    agree(
      `swigluBackward ${withGate} ${withUp}`,
      [grad, gate, up, withGate ? new Float32Array(N) : null, withUp ? new Float32Array(N) : null],
      (k, [g, x, u, gg, gu]) => k.swigluBackward(f32(g), f32(x), f32(u), f32OrNull(gg), f32OrNull(gu)),
    );
  }
});

test('native RMSNorm forward and backward match the reference bit for bit', () => {
  for (const dim of [257, 64, 3]) {
    const rows = Math.ceil(N / dim);
    const x = random(rows * dim, 4);
    const w = random(dim, 2);
    agree(
      `rmsNormForward dim ${dim}`,
      [x, w, new Float32Array(rows * dim), new Float32Array(rows)],
      (k, [xs, ws, out, inv]) => k.rmsNormForward(f32(xs), f32(ws), f32(out), f32(inv), 1e-6),
    );
    const invRms = new Float32Array(rows);
    referenceKernels.rmsNormForward(x, w, new Float32Array(rows * dim), invRms, 1e-6);
    const grad = random(rows * dim);
    const gwStart = random(dim); // gw accumulates onto what is there
    for (const [withX, withW] of [
      [true, true],
      [false, true],
      [true, false],
    ]) {
      agree(
        `rmsNormBackward dim ${dim} ${withX} ${withW}`,
        [grad, x, w, invRms, withX ? new Float32Array(rows * dim) : null, withW ? gwStart : null],
        (k, [g, xs, ws, inv, gx, gw]) =>
          k.rmsNormBackward(f32(g), f32(xs), f32(ws), f32(inv), f32OrNull(gx), f32OrNull(gw)),
      );
    }
  }
});

test('native RoPE rotation matches the reference bit for bit, both directions', () => {
  const [batch, heads, seq, half] = [3, 5, 67, 16];
  const n = batch * heads * seq * 2 * half;
  const cos = random(batch * seq * half);
  const sin = random(batch * seq * half);
  for (const sign of [1, -1]) {
    for (const [srcTokenMajor, dstTokenMajor] of [
      [false, false],
      [true, false],
      [false, true],
    ] as const) {
      agree(
        `ropeRotate ${sign} ${srcTokenMajor} ${dstTokenMajor}`,
        [random(n, 3), new Float32Array(n), cos, sin],
        (k, [src, dst, c, s]) =>
          k.ropeRotate(
            f32(src),
            f32(dst),
            f32(c),
            f32(s),
            batch,
            heads,
            seq,
            half,
            sign,
            srcTokenMajor,
            dstTokenMajor,
          ),
      );
    }
  }
});

test('native binary ops, accumulation, scaling and row sums match the reference bit for bit', () => {
  const a = random(N, 5);
  const b = random(N, 5);
  b[3] = 0; // division by zero gives the same infinity
  const row = random(257, 5);
  for (const kind of [0, 1, 2, 3] as const) {
    agree(`binary ${kind} full`, [a, b, new Float32Array(N)], (k, [x, y, out]) =>
      k.binary(kind, f32(x), f32(y), f32(out)),
    );
    agree(`binary ${kind} row`, [a, row, new Float32Array(N)], (k, [x, y, out]) =>
      k.binary(kind, f32(x), f32(y), f32(out)),
    );
  }
  agree('binary in place', [a, row], (k, [x, y]) => k.binary(0, f32(x), f32(y), f32(x)));
  agree('binary accumulating in place', [a, b], (k, [dst, src]) => k.binary(0, f32(dst), f32(src), f32(dst)));
  agree('scaleInto', [a, new Float32Array(N)], (k, [src, dst]) => k.scaleInto(f32(dst), f32(src), 0.1));
  agree('scaleInto in place', [a], (k, [x]) => k.scaleInto(f32(x), f32(x), 1 / 3));
  agree('sumRowsInto', [random(257), a], (k, [dst, src]) => k.sumRowsInto(f32(dst), f32(src)));
  const parts = [a.subarray(0, 5), new Float32Array(0), a.subarray(5, 70000), b, new Float32Array(0)];
  agree('sumSquaresEach', [new Float64Array(parts.length)], (k, [out]) =>
    k.sumSquaresEach(parts, out as Float64Array),
  );
});

test('native attention softmax (causal, masked, offset) and its backward match the reference', () => {
  const [batch, qHeads, seq] = [3, 4, 41];
  for (const { keys, causal, offset, masked } of [
    { keys: 41, causal: true, offset: 0, masked: true },
    { keys: 41, causal: false, offset: 0, masked: false },
    { keys: 50, causal: true, offset: 9, masked: true },
  ]) {
    const n = batch * qHeads * seq * keys;
    const scores = random(n, 30);
    const mask = masked ? new Uint8Array(batch * keys).map(() => (rng.uniform() < 0.8 ? 1 : 0)) : null;
    if (mask) mask.fill(0, 0, keys); // batch row 0 has no visible key at all
    const what = `attentionProbs keys ${keys} causal ${causal} offset ${offset} masked ${masked}`;
    agree(what, [scores], (k, [s]) =>
      k.attentionProbs(f32(s), batch, qHeads, seq, keys, causal, offset, mask),
    );
    const probs = scores.slice();
    referenceKernels.attentionProbs(probs, batch, qHeads, seq, keys, causal, offset, mask);
    agree(`softmaxBackwardRows ${keys}`, [random(n), probs], (k, [d, p]) =>
      k.softmaxBackwardRows(f32(d), f32(p), keys),
    );
  }
  const src = random(N, 20);
  agree('softmaxRows', [src, new Float32Array(N)], (k, [s, d]) => k.softmaxRows(f32(s), f32(d), 257));
  agree('softmaxRows in place', [src], (k, [s]) => k.softmaxRows(f32(s), f32(s), 257));
});

test('native cross-entropy rows match the reference bit for bit, with ignored rows and in place', () => {
  const vocab = 517;
  const rows = 131;
  const logits = random(rows * vocab, 15);
  const targets = Int32Array.from({ length: rows }, (_, r) => (r % 7 === 3 ? -100 : (r * 37) % vocab));
  const stats = () => new Float64Array(3 * rows);
  agree('crossEntropyRows', [logits, new Float32Array(rows * vocab), stats()], (k, [l, e, s]) =>
    k.crossEntropyRows(f32(l), vocab, targets, -100, f32(e), s as Float64Array),
  );
  agree('crossEntropyRows in place', [logits, stats()], (k, [l, s]) =>
    k.crossEntropyRows(f32(l), vocab, targets, -100, f32(l), s as Float64Array),
  );
  agree('crossEntropyRows sums only', [logits, stats()], (k, [l, s]) =>
    k.crossEntropyRows(f32(l), vocab, targets, -100, null, s as Float64Array),
  );
  const bad = targets.slice();
  bad[5] = vocab;
  assert.throws(
    () => nativeKernels().crossEntropyRows(logits, vocab, bad, -100, null, stats()),
    /out of range/,
  );
});

test('native KL rows match the reference bit for bit, with masked rows and the gradient in place', () => {
  const vocab = 517;
  const rows = 131;
  const ref = random(rows * vocab, 12);
  const logits = random(rows * vocab, 15);
  const mask = Uint8Array.from({ length: rows }, (_, r) => (r % 5 === 2 ? 0 : 1));
  const count = mask.reduce((n, m) => n + m, 0);
  const stats = () => new Float64Array(5 * rows);
  for (const m of [null, mask]) {
    const n = m ? count : rows;
    agree(
      `klDivRows mask ${m !== null}`,
      [ref, logits, new Float32Array(rows * vocab), stats()],
      (k, [r, l, g, s]) => k.klDivRows(f32(r), f32(l), vocab, m, f32(g), n, s as Float64Array),
    );
  }
  agree('klDivRows gradient in place', [ref, logits, stats()], (k, [r, l, s]) =>
    k.klDivRows(f32(r), f32(l), vocab, mask, f32(l), count, s as Float64Array),
  );
  agree('klDivRows sums only', [ref, logits, stats()], (k, [r, l, s]) =>
    k.klDivRows(f32(r), f32(l), vocab, null, null, rows, s as Float64Array),
  );
  assert.throws(
    () => nativeKernels().klDivRows(ref.subarray(1), logits, vocab, null, null, rows, stats()),
    /shapes differ/,
  );
});

test('native AdamW matches the reference bit for bit, returning the update or applying it', () => {
  const grad = random(N, 0.1);
  const param = random(N);
  const m = random(N, 0.01);
  const v = random(N, 0.001).map(Math.abs);
  for (const factor of [null, -3e-4]) {
    agree(`adamw factor ${factor}`, [grad, param, m, v], (k, [u, p, ms, vs]) =>
      k.adamw(
        f32(u),
        f32(p),
        f32(ms),
        f32(vs),
        0.9,
        0.95,
        1e-8,
        1 / (1 - 0.9 ** 3),
        1 / Math.sqrt(1 - 0.95 ** 3),
        0.1,
        factor,
      ),
    );
  }
});

test('native permute matches the reference for every axis order of a rank-4 tensor', () => {
  const shape = Int32Array.of(3, 5, 7, 11);
  const src = random(3 * 5 * 7 * 11);
  const orders: number[][] = [];
  const permutations = (rest: number[], prefix: number[]): void => {
    if (rest.length === 0) orders.push(prefix);
    rest.forEach((x, i) => permutations([...rest.slice(0, i), ...rest.slice(i + 1)], [...prefix, x]));
  };
  permutations([0, 1, 2, 3], []);
  for (const order of orders) {
    agree(`permute ${order}`, [src, new Float32Array(src.length)], (k, [s, d]) =>
      k.permute(f32(s), shape, Int32Array.from(order), f32(d)),
    );
  }
  const big = Int32Array.of(4, 128, 4, 64); // the transformer's [B, T, H, Dh] → [B, H, T, Dh], split over threads
  const bigSrc = random(4 * 128 * 4 * 64);
  agree('permute big', [bigSrc, new Float32Array(bigSrc.length)], (k, [s, d]) =>
    k.permute(f32(s), big, Int32Array.of(0, 2, 1, 3), f32(d)),
  );
});

test('native kernels refuse arrays that do not fit instead of writing out of bounds', () => {
  const k = nativeKernels();
  assert.throws(
    () => k.swigluForward(new Float32Array(4), new Float32Array(3), new Float32Array(4)),
    /lengths differ/,
  );
  assert.throws(
    () =>
      k.rmsNormForward(
        new Float32Array(10),
        new Float32Array(4),
        new Float32Array(10),
        new Float32Array(2),
        1e-6,
      ),
    /shapes differ/,
  );
  assert.throws(
    () => k.permute(new Float32Array(6), Int32Array.of(2, 3), Int32Array.of(0, 0), new Float32Array(6)),
    /do not fit/,
  );
  assert.throws(
    () => k.binary(0, new Float32Array(6), new Float32Array(4), new Float32Array(6)),
    /bad kind or shapes/,
  );
  assert.throws(
    () => k.sumSquaresEach([new Float64Array(3) as unknown as Float32Array], new Float64Array(1)),
    /Float32Arrays/,
  );
});

test('native low-rank add matches the reference bit for bit, both layouts of M, with and without bias', () => {
  // 150 columns: two full 64-wide blocks and a partial one; 523 rows split over the threads.
  const [rows, rank, cols] = [523, 8, 150];
  const y = random(rows * cols, 3);
  const u = random(rows * rank);
  const m = random(rank * cols);
  const bias = random(cols);
  for (const transposed of [false, true]) {
    agree(`lowRankAdd transposed ${transposed}`, [y, u, m, bias], (k, [yy, uu, mm, bb]) =>
      k.lowRankAdd(f32(yy), f32(uu), f32(mm), rank, 1.7, f32OrNull(bb), transposed),
    );
    agree(`lowRankAdd no bias transposed ${transposed}`, [y, u, m], (k, [yy, uu, mm]) =>
      k.lowRankAdd(f32(yy), f32(uu), f32(mm), rank, 0.3, null, transposed),
    );
  }
  // The definition: y + bias + alpha · u·M, against float64 arithmetic.
  const out = y.slice();
  nativeKernels().lowRankAdd(out, u, m, rank, 1.7, bias, false);
  for (const [i, j] of [
    [0, 0],
    [17, 149],
    [522, 64],
  ] as const) {
    let dot = 0;
    for (let k = 0; k < rank; k++) dot += u[i * rank + k]! * m[k * cols + j]!;
    const expected = y[i * cols + j]! + bias[j]! + 1.7 * dot;
    assert.ok(Math.abs(out[i * cols + j]! - expected) < 1e-5 * (1 + Math.abs(expected)), `y[${i}, ${j}]`);
  }
  assert.throws(
    () => nativeKernels().lowRankAdd(new Float32Array(10), u, m, rank, 1, null, false),
    /shapes differ/,
  );
  assert.throws(
    () => nativeKernels().lowRankAdd(y, u, m, rank, 1, new Float32Array(3), false),
    /shapes differ/,
  );
});

test('native row scaling, gathers and scatter-adds match the reference bit for bit', () => {
  const cols = 67;
  const rows = 1031;
  const tableRows = 97;
  const src = random(rows * cols, 3);
  const table = random(tableRows * cols, 3);
  const scales = Float64Array.from({ length: rows }, () => rng.uniform() / 7);
  // Repeated indices (scatter order matters) and skipped rows.
  const index = Int32Array.from({ length: rows }, (_, r) => (r % 11 === 5 ? -100 : (r * 13) % tableRows));
  const plain = index.map((i) => (i < 0 ? 0 : i));
  agree('scaleRows', [src, new Float32Array(rows * cols)], (k, [s, d]) =>
    k.scaleRows(f32(d), f32(s), scales),
  );
  agree('scaleRows in place', [src], (k, [s]) => k.scaleRows(f32(s), f32(s), scales));
  agree('gatherRows', [new Float32Array(rows * cols), table], (k, [d, t]) =>
    k.gatherRows(f32(d), f32(t), plain, cols),
  );
  agree('addGatheredRows', [src, table], (k, [d, t]) =>
    k.addGatheredRows(f32(d), f32(t), index, -100, -0.37),
  );
  agree('scatterAddRows', [table, src], (k, [d, s]) => k.scatterAddRows(f32(d), f32(s), index, -100, 1));
  const bad = plain.slice();
  bad[3] = tableRows;
  assert.throws(
    () => nativeKernels().gatherRows(new Float32Array(rows * cols), table, bad, cols),
    /out of range/,
  );
  assert.throws(() => nativeKernels().scatterAddRows(table.slice(), src, bad, -100, 1), /out of range/);
});

test('worker threads share the addon: concurrent kernels and GEMMs give the main thread bits', async () => {
  const gate = random(N, 8);
  const up = random(N, 2);
  const expected = new Float32Array(N);
  referenceKernels.swigluForward(gate, up, expected);
  const { product } = kernelWorkload(gate, up, 1);
  // Workers do not inherit the tsx loader of `node --import tsx`; the bootstrap registers it.
  const tsx = import.meta.resolve('tsx/esm/api');
  const file = new URL('./native-worker.ts', import.meta.url).href;
  const bootstrap = `import { register } from ${JSON.stringify(tsx)}; register(); await import(${JSON.stringify(file)});`;
  const workers = [0, 1].map(
    () =>
      new Promise<WorkerResult>((resolve, reject) => {
        const worker = new Worker(bootstrap, { eval: true, workerData: { gate, up, rounds: 20 } });
        worker.once('message', resolve);
        worker.once('error', reject);
      }),
  );
  kernelWorkload(gate, up, 20); // the main thread's share, while the workers run
  for (const { out, product: theirs } of await Promise.all(workers)) {
    assertSameBits(out, expected, 'swigluForward in a worker');
    assertSameBits(theirs, product, 'gemm in a worker');
  }
});
