import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../../src/tensor/tensor.ts';
import {
  add,
  attention,
  embedding,
  linear,
  linearCrossEntropy,
  permute,
  reshape,
  rmsNorm,
  rope,
  swiglu,
} from '../../src/tensor/ops.ts';
import { adamw, chain, clipByGlobalNorm, scaleByLearningRate } from '../../src/tensor/optim.ts';
import { poolStats } from '../../src/tensor/pool.ts';
import { Rng, fillNormal } from '../../src/tensor/random.ts';

// A one-block Qwen2-style language model, big enough that a per-step leak of its activations
// (~1.5 MB) would add hundreds of MB over the run.
const [vocab, dim, heads, kvHeads, headDim, hidden, batch, seq] = [256, 64, 4, 2, 16, 256, 4, 32];

function tinyModel(rng: Rng) {
  const p = (shape: number[], std = 0.05) =>
    Tensor.param(fillNormal(rng, new Float32Array(shape.reduce((a, b) => a * b))), shape).data.map(
      (x) => x * std,
    );
  const named = new Map<string, Tensor>();
  const add_ = (name: string, shape: number[], init?: number) => {
    const t = Tensor.param(
      init === undefined ? p(shape) : new Float32Array(shape.reduce((a, b) => a * b)).fill(init),
      shape,
    );
    named.set(name, t);
    return t;
  };
  const w = {
    embed: add_('embed', [vocab, dim]),
    norm1: add_('norm1', [dim], 1),
    q: add_('q', [heads * headDim, dim]),
    k: add_('k', [kvHeads * headDim, dim]),
    v: add_('v', [kvHeads * headDim, dim]),
    o: add_('o', [dim, heads * headDim]),
    norm2: add_('norm2', [dim], 1),
    gate: add_('gate', [hidden, dim]),
    up: add_('up', [hidden, dim]),
    down: add_('down', [dim, hidden]),
    normOut: add_('normOut', [dim], 1),
  };
  return { named, w };
}

function lossOf(
  w: ReturnType<typeof tinyModel>['w'],
  ids: Int32Array,
  targets: Int32Array,
  positions: Int32Array,
) {
  const x = embedding(w.embed, ids, [batch, seq]);
  const h = rmsNorm(x, w.norm1, 1e-6);
  const split = (t: Tensor, n: number) => permute(reshape(t, [batch, seq, n, headDim]), [0, 2, 1, 3]);
  const q = rope(split(linear(h, w.q), heads), positions, 10000);
  const k = rope(split(linear(h, w.k), kvHeads), positions, 10000);
  const v = split(linear(h, w.v), kvHeads);
  const att = reshape(permute(attention(q, k, v, { causal: true }), [0, 2, 1, 3]), [
    batch,
    seq,
    heads * headDim,
  ]);
  const x2 = add(x, linear(att, w.o));
  const m = rmsNorm(x2, w.norm2, 1e-6);
  const x3 = add(x2, linear(swiglu(linear(m, w.gate), linear(m, w.up)), w.down));
  return linearCrossEntropy(rmsNorm(x3, w.normOut, 1e-6), w.embed, targets);
}

test('1000 training steps hold a flat RSS and the loss falls', () => {
  const rng = new Rng(29);
  const { named, w } = tinyModel(rng);
  const opt = chain(clipByGlobalNorm(1), adamw({ weightDecay: 0.01 }), scaleByLearningRate(3e-3));
  const positions = new Int32Array(batch * seq).map((_, i) => i % seq);
  // A fixed batch of a simple rule (next token = token + 1): the loss must fall.
  const ids = new Int32Array(batch * seq).map(() => rng.int(vocab));
  const targets = ids.map((t) => (t + 1) % vocab);
  const gc = (globalThis as { gc?: () => void }).gc;
  let first = 0;
  let last = 0;
  let rssAt200 = 0;
  let poolAt200 = 0;
  for (let step = 1; step <= 1000; step++) {
    const loss = lossOf(w, ids, targets, positions);
    loss.backward({ releaseActivations: true });
    opt.step(named);
    if (step === 1) first = loss.item();
    last = loss.item();
    if (step === 200) {
      gc?.();
      rssAt200 = process.memoryUsage().rss;
      poolAt200 = poolStats().idleBytes;
    }
  }
  gc?.();
  const growthMb = (process.memoryUsage().rss - rssAt200) / 2 ** 20;
  assert.ok(last < first * 0.5, `loss fell from ${first} to ${last}`);
  // Without --expose-gc garbage may await collection, hence the slack; a leaked graph per step would
  // add well over 1 GB.
  assert.ok(growthMb < 64, `RSS grew by ${growthMb.toFixed(1)} MB between steps 200 and 1000`);
  assert.equal(poolStats().idleBytes, poolAt200, 'the buffer pool reached a steady state');
});
