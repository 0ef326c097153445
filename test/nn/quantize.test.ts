import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkQuantBits, quantizeModel, quantizeRows } from '../../src/nn/quantize.ts';
import { parseModelConfig } from '../../src/io/config.ts';
import { Qwen2ForCausalLM } from '../../src/nn/qwen2.ts';

test('quantizeRows: per-row absmax grid, error at most half a step, row maximum kept exactly', () => {
  const data = Float32Array.from([0.5, -1, 0.26, 0.01, 3, -0.2, 0, 0]);
  for (const bits of [8, 4]) {
    const levels = 2 ** (bits - 1) - 1;
    const q = quantizeRows(data, 2, 4, bits);
    for (let r = 0; r < 2; r++) {
      const row = data.slice(r * 4, r * 4 + 4);
      const absmax = Math.max(...row.map(Math.abs));
      const scale = absmax / levels;
      for (let c = 0; c < 4; c++) {
        const v = q[r * 4 + c]!;
        assert.ok(Math.abs(v - row[c]!) <= scale / 2 + 1e-7, `bits ${bits} [${r},${c}]`);
        assert.ok(Math.abs(v / scale - Math.round(v / scale)) < 1e-4, 'on the grid');
      }
      const argmax = row.findIndex((v) => Math.abs(v) === absmax);
      assert.ok(Math.abs(q[r * 4 + argmax]! - row[argmax]!) < 1e-6);
    }
  }
  // int4: 7 levels per sign, so 0.26 of a row whose max is 1 becomes 2/7.
  assert.ok(Math.abs(quantizeRows(data, 2, 4, 4)[2]! - 2 / 7) < 1e-6);
  assert.deepEqual([...quantizeRows(new Float32Array(4), 1, 4, 8)], [0, 0, 0, 0]);
  assert.throws(() => quantizeRows(data, 3, 4, 8), /do not fill/);
});

test('quantizeModel: only projection weights change; widths other than 4 and 8 are refused', () => {
  const config = parseModelConfig({
    model_type: 'qwen2',
    vocab_size: 40,
    hidden_size: 16,
    intermediate_size: 24,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    max_position_embeddings: 64,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    tie_word_embeddings: true,
    initializer_range: 0.1,
  });
  const model = Qwen2ForCausalLM.initRandom(config, 3);
  const quantized = quantizeModel(model, 4);
  const before = model.namedParameters();
  let changed = 0;
  for (const [name, t] of quantized.namedParameters()) {
    const same = t.data.every((v, i) => v === before.get(name)!.data[i]);
    if (/_proj\.weight$/.test(name)) {
      assert.ok(!same, `${name} should be quantized`);
      changed++;
    } else assert.ok(same, `${name} should be untouched`);
  }
  assert.equal(changed, 14);
  assert.notEqual(
    quantized.namedParameters().get('model.layers.0.mlp.up_proj.weight'),
    before.get('model.layers.0.mlp.up_proj.weight'),
  );
  for (const bad of [2, 3, 16, 0]) {
    assert.throws(() => quantizeModel(model, bad), /4 or 8 bits, got/);
    assert.throws(() => checkQuantBits(bad), /4 or 8 bits/);
  }
});
