import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../../src/tensor/tensor.ts';
import { attention } from '../../../src/tensor/ops.ts';
import type { AttentionOptions } from '../../../src/tensor/ops.ts';
import { Rng } from '../../../src/tensor/random.ts';
import { assertClose, gradcheck, randParam } from '../gradcheck.ts';

/** Per-head float64 attention with Hugging Face repeat_kv head mapping. */
function attentionReference(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions): Float64Array {
  const [B, Hq, T, D] = q.shape as [number, number, number, number];
  const [, Hkv, S] = k.shape as [number, number, number, number];
  const group = Hq / Hkv;
  const offset = opts.queryOffset ?? 0;
  const out = new Float64Array(q.size);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < Hq; h++) {
      const kvh = Math.floor(h / group);
      for (let t = 0; t < T; t++) {
        const qBase = ((b * Hq + h) * T + t) * D;
        const weights: number[] = [];
        for (let s = 0; s < S; s++) {
          const visible =
            (!opts.causal || s <= t + offset) && (!opts.keyMask || opts.keyMask[b * S + s] === 1);
          let dot = 0;
          for (let d = 0; d < D; d++) dot += q.data[qBase + d]! * k.data[((b * Hkv + kvh) * S + s) * D + d]!;
          weights.push(visible ? dot / Math.sqrt(D) : -Infinity);
        }
        const max = Math.max(...weights);
        if (max === -Infinity) continue;
        const exps = weights.map((w) => Math.exp(w - max));
        const total = exps.reduce((p, e) => p + e, 0);
        for (let s = 0; s < S; s++) {
          for (let d = 0; d < D; d++)
            out[qBase + d]! += (exps[s]! / total) * v.data[((b * Hkv + kvh) * S + s) * D + d]!;
        }
      }
    }
  }
  return out;
}

const rng = new Rng(19);
const cases: {
  name: string;
  B: number;
  Hq: number;
  Hkv: number;
  T: number;
  S: number;
  opts: AttentionOptions;
}[] = [
  { name: 'full, MHA', B: 1, Hq: 2, Hkv: 2, T: 3, S: 3, opts: { causal: false } },
  { name: 'causal, GQA', B: 2, Hq: 4, Hkv: 2, T: 4, S: 4, opts: { causal: true } },
  {
    name: 'causal + left padding',
    B: 2,
    Hq: 2,
    Hkv: 1,
    T: 4,
    S: 4,
    opts: { causal: true, keyMask: Uint8Array.of(0, 0, 1, 1, 1, 1, 1, 1) },
  },
  { name: 'KV cache (queryOffset)', B: 1, Hq: 4, Hkv: 2, T: 2, S: 5, opts: { causal: true, queryOffset: 3 } },
  {
    name: 'right padding, non-causal',
    B: 2,
    Hq: 3,
    Hkv: 1,
    T: 3,
    S: 3,
    opts: { causal: false, keyMask: Uint8Array.of(1, 1, 0, 1, 0, 0) },
  },
];

for (const c of cases) {
  test(`attention matches the reference and its gradients: ${c.name}`, () => {
    const q = randParam(rng, [c.B, c.Hq, c.T, 4]);
    const k = randParam(rng, [c.B, c.Hkv, c.S, 4]);
    const v = randParam(rng, [c.B, c.Hkv, c.S, 4]);
    const out = attention(q, k, v, c.opts);
    assert.deepEqual(out.shape, [c.B, c.Hq, c.T, 4]);
    assertClose(out.data, attentionReference(q, k, v, c.opts), { rtol: 1e-4, atol: 1e-5 });
    gradcheck((a, b, d) => attention(a, b, d, c.opts), [q, k, v]);
  });
}

test('a query with no visible key yields zeros, not NaN', () => {
  const q = randParam(rng, [1, 1, 2, 4]);
  const k = randParam(rng, [1, 1, 2, 4]);
  const out = attention(q, k, k, { causal: true, keyMask: Uint8Array.of(0, 1) });
  assert.deepEqual([...out.data.subarray(0, 4)], [0, 0, 0, 0]);
  assert.ok(out.data.every((x) => Number.isFinite(x)));
});

test('attention validates shapes', () => {
  const q = randParam(rng, [1, 3, 2, 4]);
  const k = randParam(rng, [1, 2, 2, 4]);
  assert.throws(() => attention(q, k, k, { causal: true }), /multiple/);
  assert.throws(() => attention(k, k, k, { causal: true, keyMask: new Uint8Array(3) }), /keyMask/);
});

test('a padding key with a huge score does not disturb the real keys', () => {
  // Query·key for the padded key is ~1e4 above the others: its exp would swamp the sum.
  const q = Tensor.from(Float32Array.of(1, 0, 0, 0), [1, 1, 1, 4]);
  const k = Tensor.from(Float32Array.of(2e4, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0), [1, 1, 3, 4]);
  const v = Tensor.from(Float32Array.of(100, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0), [1, 1, 3, 4]);
  const out = attention(q, k, v, { causal: false, keyMask: Uint8Array.of(0, 1, 1) });
  // Softmax over scores 1/2 and 2/2 of values 1 and 3.
  const p = 1 / (1 + Math.exp(0.5));
  assertClose(out.data, [p * 1 + (1 - p) * 3, 0, 0, 0], { rtol: 1e-5 });
});
