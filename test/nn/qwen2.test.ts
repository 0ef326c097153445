import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor, noGrad } from '../../src/tensor/tensor.ts';
import { mean, square } from '../../src/tensor/ops.ts';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.ts';
import {
  KVCache,
  Qwen2ForCausalLM,
  parameterShapes,
  positionsFromMask,
  eosTokenIds,
  tokenRows,
} from '../../src/nn/qwen2.ts';
import { relativeError, tinyConfig } from './helpers.ts';
import { clearPool, poolStats } from '../../src/tensor/pool.ts';
import { gradcheck, randParam } from '../tensor/gradcheck.ts';
import { Rng } from '../../src/tensor/random.ts';

function randomIds(n: number, vocab: number, seed: number): Int32Array {
  let s = seed;
  return Int32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s % vocab;
  });
}

function withTempDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'rlcp-nn-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('HF parameter names and shapes, tied and untied', () => {
  const untied = parameterShapes(tinyConfig());
  assert.deepEqual(untied.get('model.layers.1.self_attn.k_proj.weight'), [16, 32]);
  assert.deepEqual(untied.get('model.layers.1.self_attn.q_proj.bias'), [32]);
  assert.equal(untied.has('model.layers.0.self_attn.o_proj.bias'), false);
  assert.deepEqual(untied.get('lm_head.weight'), [61, 32]);
  // 1 embedding + 2 layers × 12 + final norm + lm_head
  assert.equal(untied.size, 1 + 2 * 12 + 1 + 1);
  const tied = parameterShapes(tinyConfig({ tie_word_embeddings: true }));
  assert.equal(tied.has('lm_head.weight'), false);
  const llama = parameterShapes(
    tinyConfig({ model_type: 'llama', attention_bias: true, mlp_bias: true, tie_word_embeddings: true }),
  );
  assert.deepEqual(llama.get('model.layers.0.self_attn.o_proj.bias'), [32]);
  assert.deepEqual(llama.get('model.layers.0.mlp.down_proj.bias'), [32]);
});

test('initRandom: HF init statistics, deterministic per seed', () => {
  const config = tinyConfig({ initializer_range: 0.02, intermediate_size: 256 });
  const a = Qwen2ForCausalLM.initRandom(config, 7);
  const b = Qwen2ForCausalLM.initRandom(config, 7);
  const c = Qwen2ForCausalLM.initRandom(config, 8);
  const pa = a.namedParameters();
  assert.deepEqual(pa.get('model.norm.weight')!.data, new Float32Array(32).fill(1));
  assert.deepEqual(pa.get('model.layers.0.self_attn.q_proj.bias')!.data, new Float32Array(32));
  const w = pa.get('model.layers.0.mlp.up_proj.weight')!.data;
  const std = Math.sqrt(w.reduce((s, x) => s + x * x, 0) / w.length);
  assert.ok(Math.abs(std - 0.02) < 0.002, `std ${std}`);
  assert.deepEqual(w, b.namedParameters().get('model.layers.0.mlp.up_proj.weight')!.data);
  assert.notDeepEqual(w, c.namedParameters().get('model.layers.0.mlp.up_proj.weight')!.data);
  assert.equal(
    a.numParameters(),
    [...parameterShapes(config).values()].reduce((s, sh) => s + sh[0]! * (sh[1] ?? 1), 0),
  );
});

test('tied embeddings share one tensor between input and lm_head', () => {
  const model = Qwen2ForCausalLM.initRandom(tinyConfig({ tie_word_embeddings: true }), 1);
  const ids = randomIds(5, 61, 3);
  const out = noGrad(() => model.forward(ids, { batch: 1, seq: 5, outputHiddenStates: true }));
  const embed = model.namedParameters().get('model.embed_tokens.weight')!;
  // logits = final hidden @ embedᵀ
  const h = out.hiddenStates![2]!.data;
  let expected = 0;
  for (let i = 0; i < 32; i++) expected += h[4 * 32 + i]! * embed.data[17 * 32 + i]!;
  assert.ok(Math.abs(out.logits!.data[4 * 61 + 17]! - expected) < 1e-4);
});

test('position ids follow the mask (cumsum − 1, pads → 1), continued by the KV cache', () => {
  const mask = Uint8Array.from([0, 0, 1, 1, 1, 1, 1, 1]);
  assert.deepEqual(positionsFromMask(mask, 2, 4), Int32Array.from([1, 1, 0, 1, 0, 1, 2, 3]));
  assert.deepEqual(positionsFromMask(undefined, 1, 3), Int32Array.from([0, 1, 2]));
  const cache = new KVCache(tinyConfig(), 2, 8);
  assert.deepEqual(cache.nextPositions(mask, 2, 4), Int32Array.from([1, 1, 0, 1, 0, 1, 2, 3]));
  cache.append(mask, 2, 4);
  cache.commit();
  assert.deepEqual(cache.nextPositions(undefined, 2, 1), Int32Array.from([2, 4]));
});

test('logits selection: last and chosen rows equal the matching rows of all logits', () => {
  const model = Qwen2ForCausalLM.initRandom(tinyConfig(), 2);
  const ids = randomIds(2 * 6, 61, 5);
  const mask = Uint8Array.from([0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
  const opts = { batch: 2, seq: 6, attentionMask: mask };
  noGrad(() => {
    const all = model.forward(ids, opts).logits!;
    assert.deepEqual(all.shape, [2, 6, 61]);
    const last = model.forward(ids, { ...opts, logits: 'last' }).logits!;
    assert.deepEqual(last.shape, [2, 61]);
    assert.ok(relativeError(last.data.subarray(0, 61), all.data.subarray(5 * 61, 6 * 61)) < 1e-6);
    assert.ok(relativeError(last.data.subarray(61), all.data.subarray(11 * 61, 12 * 61)) < 1e-6);
    const rows = model.forward(ids, { ...opts, logits: Int32Array.from([7, 3]) }).logits!;
    assert.deepEqual(rows.shape, [2, 61]);
    assert.ok(relativeError(rows.data.subarray(0, 61), all.data.subarray(7 * 61, 8 * 61)) < 1e-6);
    assert.equal(model.forward(ids, { ...opts, logits: 'none' }).logits, undefined);
  });
});

test("a no-grad forward recycles each layer's intermediates and returns what a recording forward does", () => {
  // 4 × 32 tokens: every [tokens, features] intermediate is large enough to be pooled.
  const model = Qwen2ForCausalLM.initRandom(tinyConfig(), 3);
  const ids = randomIds(4 * 32, 61, 9);
  const opts = { batch: 4, seq: 32, outputHiddenStates: true, logits: 'last' as const };
  const recorded = model.forward(ids, opts);
  assert.ok(recorded.logits!.requiresGrad);
  noGrad(() => model.forward(ids, opts));
  const { misses } = poolStats();
  const free = noGrad(() => model.forward(ids, opts));
  // Only what outlives a layer needs a buffer the pool does not have: the embeddings, the two layers'
  // outputs and the final norm's (the last-row logits are too small to be pooled).
  assert.equal(poolStats().misses - misses, 4, 'fresh buffers in a second no-grad forward');
  assert.deepEqual(free.logits!.data, recorded.logits!.data);
  free.hiddenStates!.forEach((h, i) =>
    assert.deepEqual(h.data, recorded.hiddenStates![i]!.data, `hidden ${i}`),
  );
  clearPool();
});

test('loss: HF label shift, −100 ignored, padding positions predict nothing', () => {
  const model = Qwen2ForCausalLM.initRandom(tinyConfig(), 3);
  const ids = randomIds(2 * 5, 61, 9);
  const mask = Uint8Array.from([0, 0, 1, 1, 1, 1, 1, 1, 1, 1]);
  noGrad(() => {
    const { logits } = model.forward(ids, { batch: 2, seq: 5, attentionMask: mask });
    // Targets: row 0 predicts ids[3], ids[4] from positions 2, 3; row 1 all but position 4; row 1's
    // label 7 is ignored.
    const labels = Int32Array.from(ids);
    labels[0] = labels[1] = -100;
    labels[7] = -100;
    const loss = model.forward(ids, { batch: 2, seq: 5, attentionMask: mask, labels }).loss!.item();
    const pairs: [number, number][] = [
      [2, 3],
      [3, 4],
      [5, 6],
      [7, 8],
      [8, 9],
    ];
    let total = 0;
    for (const [row, next] of pairs) {
      const r = logits!.data.subarray(row * 61, (row + 1) * 61);
      const max = Math.max(...r);
      const lse = max + Math.log(r.reduce((s, x) => s + Math.exp(x - max), 0));
      total += lse - r[ids[next]!]!;
    }
    assert.ok(Math.abs(loss - total / pairs.length) < 1e-5, `${loss} vs ${total / pairs.length}`);
    // Labelling the first real token of the padded row changes nothing: a pad position predicts it.
    const naive = Int32Array.from(labels);
    naive[2] = ids[2]!;
    const same = model.forward(ids, { batch: 2, seq: 5, attentionMask: mask, labels: naive }).loss!.item();
    assert.equal(same, loss);
    assert.throws(
      () => model.forward(ids, { batch: 2, seq: 5, labels: new Int32Array(10).fill(-100) }),
      /every label is ignored/,
    );
  });
});

test('partial stacks: untilHiddenState stops early, fromHiddenState resumes with the same result', () => {
  const model = Qwen2ForCausalLM.initRandom(tinyConfig({ num_hidden_layers: 3 }), 4);
  const ids = randomIds(6, 61, 1);
  noGrad(() => {
    const full = model.forward(ids, { batch: 1, seq: 6, outputHiddenStates: true });
    const lower = model.forward(ids, { batch: 1, seq: 6, untilHiddenState: 2 });
    assert.equal(lower.logits, undefined);
    assert.equal(lower.hiddenStates!.length, 3);
    assert.deepEqual(lower.hiddenStates![2]!.data, full.hiddenStates![2]!.data);
    const upper = model.forward(ids, {
      batch: 1,
      seq: 6,
      fromHiddenState: { index: 2, hidden: lower.hiddenStates![2]! },
      outputHiddenStates: true,
    });
    assert.deepEqual(upper.logits!.data, full.logits!.data);
    assert.deepEqual(upper.hiddenStates![3]!.data, full.hiddenStates![3]!.data);
    assert.equal(upper.hiddenStates![1], undefined);
    const top = model.forward(ids, { batch: 1, seq: 6, untilHiddenState: 3 });
    assert.equal(top.logits, undefined);
    assert.deepEqual(top.hiddenStates![3]!.data, full.hiddenStates![3]!.data);
  });
});

test('probe gradients: a loss on chosen token rows of a hidden state reaches only the layers below', () => {
  const model = Qwen2ForCausalLM.initRandom(tinyConfig({ num_hidden_layers: 3 }), 5);
  const ids = randomIds(2 * 4, 61, 2);
  const { hiddenStates } = model.forward(ids, { batch: 2, seq: 4, untilHiddenState: 2 });
  const rows = tokenRows(hiddenStates![2]!, Int32Array.from([3, 7]));
  assert.deepEqual(rows.shape, [2, 32]);
  assert.deepEqual(rows.data.subarray(32), hiddenStates![2]!.data.subarray(7 * 32, 8 * 32));
  mean(square(rows)).backward();
  for (const [name, p] of model.namedParameters()) {
    const below = /^model\.(embed_tokens|layers\.[01]\.)/.test(name);
    assert.equal(p.grad !== null, below, `${name}: gradient ${p.grad ? 'present' : 'absent'}`);
  }
});

test('low-rank adapters: same outputs as merged weights, finite-difference gradients for A and B', () => {
  const config = tinyConfig();
  const base = Qwen2ForCausalLM.initRandom(config, 9);
  base.setTrainable(() => false);
  const rng = new Rng(3);
  const names = ['model.layers.0.self_attn.q_proj.weight', 'model.layers.1.mlp.down_proj.weight'];
  const adapters = new Map(
    names.map((name) => {
      const [out, inp] = base.namedParameters().get(name)!.shape as [number, number];
      return [name, { a: randParam(rng, [2, inp], 0.3), b: randParam(rng, [out, 2], 0.3), scaling: 1.5 }];
    }),
  );
  const adapted = base.withAdapters(adapters);
  const merged = new Map(base.namedParameters());
  for (const [name, { a, b, scaling }] of adapters) {
    const w = Float32Array.from(merged.get(name)!.data);
    const [out, inp] = merged.get(name)!.shape as [number, number];
    for (let o = 0; o < out; o++)
      for (let i = 0; i < inp; i++)
        for (let r = 0; r < 2; r++) w[o * inp + i]! += scaling * b.data[o * 2 + r]! * a.data[r * inp + i]!;
    merged.set(name, Tensor.from(w, [out, inp]));
  }
  const ids = randomIds(2 * 5, 61, 7);
  const logits = (m: Qwen2ForCausalLM) => noGrad(() => m.forward(ids, { batch: 2, seq: 5 }).logits!.data);
  assert.ok(relativeError(logits(adapted), logits(new Qwen2ForCausalLM(config, merged))) < 1e-5);
  assert.ok(relativeError(logits(adapted), logits(base)) > 1e-3, 'the adapters change the outputs');
  assert.equal(adapted.namedParameters().get(names[0]!), base.namedParameters().get(names[0]!));

  const [first, second] = [adapters.get(names[0]!)!, adapters.get(names[1]!)!];
  gradcheck(
    (a0, b0, a1, b1) =>
      base
        .withAdapters(
          new Map([
            [names[0]!, { a: a0!, b: b0!, scaling: 1.5 }],
            [names[1]!, { a: a1!, b: b1!, scaling: 1.5 }],
          ]),
        )
        .forward(ids, { batch: 2, seq: 5, logits: 'last' }).logits!,
    [first.a, first.b, second.a, second.b],
    { eps: 1e-2 },
  );
  assert.throws(() => base.withAdapters(new Map([['model.norm.weight', first]])), /not a projection weight/);
  assert.throws(() => base.withAdapters(new Map([[names[1]!, first]])), /do not fit/);
});

test('setTrainable freezes parameters by name', () => {
  const model = Qwen2ForCausalLM.initRandom(tinyConfig(), 6);
  model.setTrainable((name) => name.startsWith('model.layers.1.'));
  assert.equal(model.trainableParameters().size, 12);
  const ids = randomIds(5, 61, 4);
  model.forward(ids, { batch: 1, seq: 5, labels: ids }).loss!.backward();
  for (const [name, p] of model.namedParameters()) {
    assert.equal(p.grad !== null, name.startsWith('model.layers.1.'), name);
  }
});

test('ids outside the vocabulary and malformed options are refused', () => {
  const model = Qwen2ForCausalLM.initRandom(tinyConfig(), 1);
  assert.throws(
    () => model.forward(Int32Array.from([1, 61]), { batch: 1, seq: 2 }),
    /token id 61 at index 1 is outside the vocabulary \(size 61\)/,
  );
  assert.throws(() => model.forward(Int32Array.from([1, 2, 3]), { batch: 2, seq: 2 }), /batch 2 × seq 2/);
  // A refused call leaves a KV cache as it was.
  const cache = new KVCache(model.config, 1, 4);
  assert.throws(() => model.forward(Int32Array.from([99]), { batch: 1, seq: 1, kvCache: cache }), /outside/);
  assert.equal(cache.length, 0);
  model.forward(Int32Array.from([1, 2]), { batch: 1, seq: 2, kvCache: cache });
  assert.equal(cache.length, 2);
  assert.throws(
    () => model.forward(Int32Array.from([1, 2, 3]), { batch: 1, seq: 3, kvCache: cache }),
    /2 \+ 3 tokens exceed its capacity of 4/,
  );
  assert.throws(
    () => model.forward(Int32Array.from([1]), { batch: 1, seq: 1, untilHiddenState: 5 }),
    /untilHiddenState/,
  );
});

test('save and load round trip: F32 exact, BF16 close, folder loads back with the same outputs', () => {
  const model = Qwen2ForCausalLM.initRandom(tinyConfig({ tie_word_embeddings: true }), 11);
  const ids = randomIds(6, 61, 8);
  const expected = noGrad(() => model.forward(ids, { batch: 1, seq: 6 }).logits!.data);
  withTempDir((dir) => {
    model.saveToDir(join(dir, 'f32'));
    const again = Qwen2ForCausalLM.fromPretrained(join(dir, 'f32'));
    assert.deepEqual(
      noGrad(() => again.forward(ids, { batch: 1, seq: 6 }).logits!.data),
      expected,
    );
    const stored = readSafetensors(join(dir, 'f32', 'model.safetensors'));
    assert.equal(stored.has('lm_head.weight'), false, 'a tied lm_head is not saved, as in HF');
    assert.equal(stored.get('model.embed_tokens.weight')!.dtype, 'F32');

    model.saveToDir(join(dir, 'bf16'), { dtype: 'BF16' });
    const half = Qwen2ForCausalLM.fromPretrained(join(dir, 'bf16'));
    assert.equal(
      readSafetensors(join(dir, 'bf16', 'model.safetensors')).get('model.norm.weight')!.dtype,
      'BF16',
    );
    const err = relativeError(
      noGrad(() => half.forward(ids, { batch: 1, seq: 6 }).logits!.data),
      expected,
    );
    assert.ok(err < 0.05 && err > 0, `bf16 relative error ${err}`);
    assert.equal(eosTokenIds(half.config)[0], 2);
  });
});

test('fromPretrained: clear errors for missing folders, files, tensors and mismatched shapes', () => {
  withTempDir((dir) => {
    assert.throws(() => Qwen2ForCausalLM.fromPretrained(join(dir, 'nope')), /nope: model folder not found/);
    const model = Qwen2ForCausalLM.initRandom(tinyConfig(), 12);
    const folder = join(dir, 'm');
    model.saveToDir(folder);
    const weightsPath = join(folder, 'model.safetensors');
    const weights = readSafetensors(weightsPath);

    const rewrite = (edit: (m: Map<string, { data: Float32Array; shape: number[] }>) => void) => {
      const copy = new Map([...weights].map(([k, v]) => [k, { data: v.data, shape: v.shape }]));
      edit(copy);
      writeSafetensors(weightsPath, copy);
    };
    rewrite((m) =>
      m.set('model.layers.0.mlp.up_proj.weight', { data: new Float32Array(47 * 32), shape: [47, 32] }),
    );
    assert.throws(
      () => Qwen2ForCausalLM.fromPretrained(folder),
      /model\.safetensors: tensor "model\.layers\.0\.mlp\.up_proj\.weight" has shape \[47, 32\] but config\.json implies \[48, 32\]/,
    );
    rewrite((m) => m.delete('model.norm.weight'));
    assert.throws(
      () => Qwen2ForCausalLM.fromPretrained(folder),
      /missing tensor\(s\).*"model\.norm\.weight" \[32\]/,
    );
    rewrite((m) =>
      m.set('model.layers.0.self_attn.o_proj.bias', { data: new Float32Array(32), shape: [32] }),
    );
    assert.throws(() => Qwen2ForCausalLM.fromPretrained(folder), /not in a qwen2 model.*o_proj\.bias/);
    // An old checkpoint's rotary buffer is harmless.
    rewrite((m) =>
      m.set('model.layers.0.self_attn.rotary_emb.inv_freq', { data: new Float32Array(4), shape: [4] }),
    );
    assert.ok(Qwen2ForCausalLM.fromPretrained(folder));

    rmSync(weightsPath);
    assert.throws(() => Qwen2ForCausalLM.fromPretrained(folder), /no model\.safetensors/);
    rmSync(join(folder, 'config.json'));
    assert.throws(() => Qwen2ForCausalLM.fromPretrained(folder), /no config\.json/);
  });
});

test('constructor checks parameters against the config', () => {
  const config = tinyConfig();
  const params = Qwen2ForCausalLM.initRandom(config, 1).namedParameters();
  params.set('model.norm.weight', Tensor.param(new Float32Array(31), [31]));
  assert.throws(
    () => new Qwen2ForCausalLM(config, params),
    /"model\.norm\.weight" has shape \[31\] but the config needs \[32\]/,
  );
});
