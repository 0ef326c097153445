import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectShape, readModelFolder, writeModelFolder } from '../../src/io/model-folder.ts';
import { parseModelConfig, serializeModelConfig } from '../../src/io/config.ts';
import { bf16BitsToF32, f32ToBf16Bits, type TensorToWrite } from '../../src/io/safetensors.ts';
import { loadTokenizer } from '../../src/io/tokenizer.ts';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'rlcp-model-folder-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const config = parseModelConfig({
  model_type: 'qwen2',
  vocab_size: 16,
  hidden_size: 8,
  intermediate_size: 12,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  tie_word_embeddings: true,
  eos_token_id: 2,
});

/** Deterministic pseudo-random weights with HF names (a subset is enough for the I/O layer). */
function weights(): Map<string, TensorToWrite> {
  let state = 7;
  const random = (n: number) =>
    Float32Array.from({ length: n }, () => {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      return state / 2 ** 31 - 0.5;
    });
  const shapes: [string, number[]][] = [
    ['model.embed_tokens.weight', [16, 8]],
    ['model.layers.0.self_attn.q_proj.weight', [8, 8]],
    ['model.layers.0.self_attn.q_proj.bias', [8]],
    ['model.layers.0.mlp.down_proj.weight', [8, 12]],
    ['model.norm.weight', [8]],
  ];
  return new Map(
    shapes.map(([name, shape]) => [name, { data: random(shape.reduce((a, b) => a * b)), shape }]),
  );
}

function writeTokenizer(folder: string): void {
  mkdirSync(folder, { recursive: true });
  writeFileSync(
    join(folder, 'tokenizer.json'),
    JSON.stringify({
      version: '1.0',
      added_tokens: [],
      normalizer: null,
      pre_tokenizer: { type: 'Whitespace' },
      post_processor: null,
      decoder: null,
      model: { type: 'WordLevel', vocab: { a: 0, b: 1, '<eos>': 2 }, unk_token: 'a' },
    }),
  );
  writeFileSync(join(folder, 'tokenizer_config.json'), JSON.stringify({ eos_token: '<eos>' }));
}

test('a sharded bf16 folder with tokenizer round-trips through write and read', async () => {
  const tokDir = join(dir, 'tok');
  writeTokenizer(tokDir);
  const out = join(dir, 'model');
  const tensors = weights();
  const files = writeModelFolder(out, config, tensors, {
    dtype: 'BF16',
    maxShardBytes: 200,
    tokenizerDir: tokDir,
  });
  assert.ok(files.includes('model.safetensors.index.json'));
  assert.ok(files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f)).length >= 2);
  assert.deepEqual(files.slice(-3), ['tokenizer.json', 'tokenizer_config.json', 'config.json']);
  assert.deepEqual(readdirSync(out).sort(), [...files].sort(), 'no temp files left behind');

  const folder = readModelFolder(out);
  assert.deepEqual(folder.config, { ...config, torchDtype: 'bfloat16' });
  assert.equal(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).torch_dtype, 'bfloat16');
  assert.equal(folder.weightsPath, join(out, 'model.safetensors.index.json'));
  assert.deepEqual(new Set(folder.tensorNames), new Set(tensors.keys()));
  for (const [name, t] of tensors) {
    const loaded = folder.loadTensor(name);
    assert.deepEqual(loaded.shape, t.shape);
    assert.equal(loaded.dtype, 'BF16');
    assert.deepEqual(
      loaded.data,
      t.data.map((v) => bf16BitsToF32(f32ToBf16Bits(v))),
      name,
    );
  }
  assert.deepEqual(folder.tensorInfo('model.norm.weight').shape, [8]);
  folder.close();
  assert.equal(folder.tokenizerDir, out);
  const tok = await loadTokenizer(folder.tokenizerDir!);
  assert.deepEqual(tok.encode('b a'), [1, 0]);
  assert.equal(tok.eosTokenId, 2);
});

test('re-saving as one f32 file removes the old shards and index', () => {
  const out = join(dir, 'resave');
  writeModelFolder(out, config, weights(), { dtype: 'F16', maxShardBytes: 100 });
  assert.ok(existsSync(join(out, 'model.safetensors.index.json')));
  const files = writeModelFolder(out, config, weights(), { dtype: 'F32' });
  assert.deepEqual(files, ['model.safetensors', 'config.json']);
  assert.deepEqual(readdirSync(out).sort(), ['config.json', 'model.safetensors']);
  const folder = readModelFolder(out);
  assert.equal(folder.config.torchDtype, 'float32');
  assert.deepEqual(folder.loadTensor('model.norm.weight').data, weights().get('model.norm.weight')!.data);
  folder.close();
});

test('missing folders and files are reported by name', () => {
  assert.throws(() => readModelFolder(join(dir, 'nowhere')), /nowhere: model folder not found/);
  const file = join(dir, 'plain-file');
  writeFileSync(file, 'x');
  assert.throws(() => readModelFolder(file), /plain-file: not a folder/);
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  assert.throws(() => readModelFolder(empty), /empty: no config\.json/);
  writeFileSync(join(empty, 'config.json'), JSON.stringify({ model_type: 'qwen2' }));
  assert.throws(() => readModelFolder(empty), /empty\/config\.json: missing required "vocab_size"/);
  writeFileSync(join(empty, 'config.json'), JSON.stringify(serializeModelConfig(config)));
  assert.throws(
    () => readModelFolder(empty),
    /empty: no model\.safetensors or model\.safetensors\.index\.json$/,
  );
  writeFileSync(join(empty, 'pytorch_model.bin'), 'x');
  assert.throws(() => readModelFolder(empty), /PyTorch \.bin weights are not supported/);
  assert.throws(
    () => writeModelFolder(join(dir, 'w'), config, weights(), { dtype: 'F32', tokenizerDir: empty }),
    /no tokenizer\.json to copy/,
  );
});

test('expectShape names the file, the tensor and both shapes', () => {
  expectShape('w', [2, 3], [2, 3], 'm/model.safetensors');
  assert.throws(
    () =>
      expectShape('model.layers.0.self_attn.k_proj.weight', [128, 896], [256, 896], 'm/model.safetensors'),
    /^Error: m\/model\.safetensors: tensor "model\.layers\.0\.self_attn\.k_proj\.weight" has shape \[128, 896\] but config\.json implies \[256, 896\]$/,
  );
  assert.throws(
    () => expectShape('b', [8], [8, 1], 'f'),
    /has shape \[8\] but config\.json implies \[8, 1\]/,
  );
});
