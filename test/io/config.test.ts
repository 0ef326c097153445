import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseModelConfig, serializeModelConfig, MATH_NEUTRAL_KEYS } from '../../src/io/config.ts';
import { readJson } from '../../src/io/jsonl.ts';

const QWEN_PATH = 'test/fixtures/io/qwen2.5-0.5b-config.json';
const qwen = () => readJson<Record<string, unknown>>(QWEN_PATH);

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'rlcp-config-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const small = {
  model_type: 'llama',
  vocab_size: 64,
  hidden_size: 32,
  intermediate_size: 48,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
};

test('Qwen2.5-0.5B config.json parses into the documented fields', () => {
  const cfg = parseModelConfig(QWEN_PATH);
  assert.deepEqual(
    { ...cfg, extra: undefined },
    {
      modelType: 'qwen2',
      vocabSize: 151936,
      hiddenSize: 896,
      intermediateSize: 4864,
      numHiddenLayers: 24,
      numAttentionHeads: 14,
      numKeyValueHeads: 2,
      headDim: 64,
      maxPositionEmbeddings: 32768,
      rmsNormEps: 1e-6,
      ropeTheta: 1e6,
      tieWordEmbeddings: true,
      hiddenAct: 'silu',
      qkvBias: true,
      oProjBias: false,
      mlpBias: false,
      torchDtype: 'bfloat16',
      bosTokenId: 151643,
      eosTokenId: 151643,
      padTokenId: null,
      useSlidingWindow: false,
      slidingWindow: 32768,
      maxWindowLayers: 24,
      extra: undefined,
    },
  );
  assert.deepEqual(cfg.extra, {
    attention_dropout: 0,
    initializer_range: 0.02,
    transformers_version: '4.40.1',
    use_cache: true,
  });
});

test('serialize writes HF snake_case that round-trips and keeps every original key and value', () => {
  const original = qwen();
  const cfg = parseModelConfig(original);
  const json = serializeModelConfig(cfg);
  for (const [key, value] of Object.entries(original)) assert.deepEqual(json[key], value, key);
  assert.deepEqual(Object.keys(json), [...Object.keys(json)].sort());
  assert.deepEqual(parseModelConfig(json), cfg);
  for (const raw of [
    { ...small, attention_bias: true, mlp_bias: true, eos_token_id: [1, 2], head_dim: 16 },
    { ...small, model_type: 'mistral', sliding_window: 4096, torch_dtype: 'float32' },
    { ...small, model_type: 'qwen2', use_sliding_window: true, sliding_window: 8, max_window_layers: 1 },
  ]) {
    const parsed = parseModelConfig(raw);
    assert.deepEqual(parseModelConfig(serializeModelConfig(parsed)), parsed, raw.model_type);
  }
});

test('bias flags follow the model type', () => {
  const flags = (raw: Record<string, unknown>) => {
    const c = parseModelConfig(raw);
    return [c.qkvBias, c.oProjBias, c.mlpBias];
  };
  assert.deepEqual(flags({ ...small, model_type: 'qwen2' }), [true, false, false]);
  assert.deepEqual(flags(small), [false, false, false]);
  assert.deepEqual(flags({ ...small, attention_bias: true }), [true, true, false]);
  assert.deepEqual(flags({ ...small, mlp_bias: true }), [false, false, true]);
  assert.deepEqual(flags({ ...small, model_type: 'mistral' }), [false, false, false]);
  const llama = parseModelConfig(small);
  assert.equal(llama.numKeyValueHeads, 2);
  assert.equal(llama.tieWordEmbeddings, false);
  assert.equal(llama.ropeTheta, 10000);
  assert.throws(
    () => serializeModelConfig({ ...llama, modelType: 'qwen2' }),
    /qwen2 configs always have q\/k\/v bias/,
  );
});

test('defaults: kv heads = heads, head_dim = hidden / heads, rope_parameters accepted', () => {
  const { num_key_value_heads: _drop, ...noKv } = small;
  const cfg = parseModelConfig(noKv);
  assert.equal(cfg.numKeyValueHeads, 4);
  assert.equal(cfg.headDim, 8);
  const v5 = parseModelConfig({ ...small, rope_parameters: { rope_type: 'default', rope_theta: 500000 } });
  assert.equal(v5.ropeTheta, 500000);
});

test('unknown keys are refused with the file and the keys named, unless allowed', () => {
  const path = join(dir, 'config.json');
  writeFileSync(path, JSON.stringify({ ...qwen(), quantization_config: {}, num_experts: 8 }));
  assert.throws(
    () => parseModelConfig(path),
    (e: Error) =>
      e.message.startsWith(
        `${path}: unknown key(s) for model_type "qwen2": quantization_config, num_experts`,
      ),
  );
  const cfg = parseModelConfig(path, { allowUnknownKeys: true });
  assert.equal(cfg.extra.num_experts, 8);
  assert.equal(serializeModelConfig(cfg).num_experts, 8);
  // llama-only keys are unknown for qwen2
  assert.throws(
    () => parseModelConfig({ ...qwen(), attention_bias: false }),
    /unknown key\(s\).*attention_bias/,
  );
  // every allow-listed key really is accepted
  const everything = Object.fromEntries(MATH_NEUTRAL_KEYS.map((k) => [k, null]));
  assert.equal(parseModelConfig({ ...qwen(), ...everything }).vocabSize, 151936);
});

test('invalid values get clear errors', () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ ...small, model_type: undefined }, /missing "model_type"/],
    [{ ...small, model_type: 'gpt2' }, /unsupported model_type "gpt2"/],
    [{ ...small, hidden_act: 'gelu' }, /hidden_act "gelu" is not supported/],
    [
      { ...small, rope_scaling: { type: 'linear', factor: 2 } },
      /rope_scaling .* is not supported \(only null/,
    ],
    [{ ...small, rope_parameters: { rope_type: 'yarn' } }, /rope_parameters .* not supported/],
    [{ ...small, rope_theta: 5, rope_parameters: { rope_theta: 6 } }, /disagree/],
    [
      { ...small, num_key_value_heads: 3 },
      /num_attention_heads \(4\) must be a multiple of num_key_value_heads \(3\)/,
    ],
    [{ ...small, hidden_size: 30 }, /hidden_size \(30\) is not divisible by num_attention_heads \(4\)/],
    [{ ...small, head_dim: 7 }, /head_dim \(7\) must be even/],
    [{ ...small, vocab_size: 0 }, /"vocab_size" must be a positive integer, got 0/],
    [{ ...small, num_hidden_layers: 2.5 }, /"num_hidden_layers" must be a positive integer/],
    [{ ...small, intermediate_size: '48' }, /"intermediate_size" must be a positive integer, got "48"/],
    [{ ...small, hidden_size: undefined }, /missing required "hidden_size"/],
    [{ ...small, rms_norm_eps: -1 }, /"rms_norm_eps" must be a positive number/],
    [{ ...small, tie_word_embeddings: 'yes' }, /"tie_word_embeddings" must be true or false/],
    [{ ...small, eos_token_id: 64 }, /"eos_token_id" must be a token id in \[0, 64\), got 64/],
    [{ ...small, eos_token_id: [1, -1] }, /"eos_token_id"\[1\] must be a token id/],
    [{ ...small, torch_dtype: 'int8' }, /torch_dtype "int8" is not supported/],
    [{ ...small, model_type: 'qwen2', use_sliding_window: true }, /sliding_window is not set/],
    [{ ...small, model_type: 'qwen2', layer_types: ['full_attention'] }, /layer_types disagrees/],
  ];
  for (const [raw, pattern] of bad) assert.throws(() => parseModelConfig(raw), pattern, JSON.stringify(raw));
  assert.equal(
    parseModelConfig({ ...small, model_type: 'qwen2', layer_types: ['full_attention', 'full_attention'] })
      .vocabSize,
    64,
  );
  assert.throws(() => parseModelConfig(join(dir, 'nope.json')), /nope\.json: file not found/);
  const broken = join(dir, 'broken.json');
  writeFileSync(broken, '{"model_type": ');
  assert.throws(() => parseModelConfig(broken), /broken\.json: malformed JSON/);
  writeFileSync(broken, '[]');
  assert.throws(() => parseModelConfig(broken), /broken\.json: config must be a JSON object/);
});
