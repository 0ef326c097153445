// rlcp init / forward / generate on a tiny model in a temp folder (src/cli/commands/model.ts). The
// commands run in-process through the CLI's main() (a spawned CLI costs seconds to start); one test
// runs bin/rlcp.js end to end.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noGrad } from '../../src/tensor/tensor.ts';
import { readSafetensors } from '../../src/io/safetensors.ts';
import { Qwen2ForCausalLM } from '../../src/nn/qwen2.ts';
import { generate } from '../../src/nn/generate.ts';
import { loadTokenizer } from '../../src/io/tokenizer.ts';
import { main } from '../../src/cli/main.ts';

let tmp: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'rlcp-model-cli-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

async function rlcp(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const { log, error } = console;
  console.log = (...parts: unknown[]) => stdout.push(`${parts.join(' ')}\n`);
  console.error = (...parts: unknown[]) => stderr.push(`${parts.join(' ')}\n`);
  try {
    const status = await main(args);
    return { status, stdout: stdout.join(''), stderr: stderr.join('') };
  } finally {
    console.log = log;
    console.error = error;
  }
}

const CONFIG = {
  model_type: 'qwen2',
  vocab_size: 40,
  hidden_size: 32,
  intermediate_size: 48,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 10000,
  tie_word_embeddings: true,
  initializer_range: 0.3,
  eos_token_id: 0,
};

/** A word-level tokenizer over single characters: `<eos>` = 0, space = 1, a…z = 2…27. */
function writeTokenizer(dir: string): void {
  const vocab: Record<string, number> = { '<eos>': 0, ' ': 1 };
  for (let i = 0; i < 26; i++) vocab[String.fromCharCode(97 + i)] = 2 + i;
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      {
        id: 0,
        content: '<eos>',
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'Split', pattern: { Regex: '\\s|\\w' }, behavior: 'Isolated', invert: false },
    post_processor: null,
    decoder: { type: 'Fuse' },
    model: { type: 'WordLevel', vocab, unk_token: '<eos>' },
  };
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: '<eos>' }));
}

async function initModel(name: string, extra: string[] = []): Promise<string> {
  const config = join(tmp, 'config.json');
  writeFileSync(config, JSON.stringify(CONFIG));
  const out = join(tmp, name);
  const result = await rlcp('init', '--config', config, '--out', out, '--seed', '3', ...extra);
  assert.equal(result.status, 0, result.stderr);
  return out;
}

test('rlcp init writes an HF folder that loads, deterministic per seed, in the chosen dtype', async () => {
  const dir = await initModel('m');
  const result = await rlcp(
    'init',
    '--config',
    join(tmp, 'config.json'),
    '--out',
    join(tmp, 'm2'),
    '--seed',
    '3',
  );
  assert.match(result.stdout, /initialised qwen2 model: 2 layers, \d+ parameters, seed 3, F32/);
  assert.deepEqual(
    readFileSync(join(dir, 'model.safetensors')),
    readFileSync(join(tmp, 'm2', 'model.safetensors')),
  );
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  assert.equal(config.architectures[0], 'Qwen2ForCausalLM');
  assert.equal(config.torch_dtype, 'float32');
  const model = Qwen2ForCausalLM.fromPretrained(dir);
  assert.equal(model.config.vocabSize, 40);

  const bf16 = await initModel('bf16', ['--dtype', 'bf16']);
  assert.equal(readSafetensors(join(bf16, 'model.safetensors')).get('model.norm.weight')!.dtype, 'BF16');
  const bad = await rlcp(
    'init',
    '--config',
    join(tmp, 'config.json'),
    '--out',
    join(tmp, 'x'),
    '--dtype',
    'F8',
  );
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--dtype must be one of F32, F16, BF16, got "F8"/);
  const missing = await rlcp('init', '--config', join(tmp, 'nope.json'), '--out', join(tmp, 'x'));
  assert.match(missing.stderr, /nope\.json: config file not found/);
});

test('rlcp forward --ids writes logits and every hidden state without a tokenizer', async () => {
  const dir = await initModel('fwd');
  const out = join(tmp, 'fwd.safetensors');
  const result = await rlcp('forward', '--model', dir, '--ids', '5,6,7,8', '--out', out);
  assert.equal(result.status, 0, result.stderr);
  const written = readSafetensors(out);
  assert.deepEqual([...written.keys()].sort(), [
    'hidden_states.0',
    'hidden_states.1',
    'hidden_states.2',
    'logits',
  ]);
  assert.deepEqual(written.get('logits')!.shape, [4, 40]);
  assert.deepEqual(written.get('hidden_states.2')!.shape, [4, 32]);
  const model = Qwen2ForCausalLM.fromPretrained(dir);
  const expected = noGrad(() =>
    model.forward(Int32Array.from([5, 6, 7, 8]), { batch: 1, seq: 4, outputHiddenStates: true }),
  );
  assert.deepEqual(written.get('logits')!.data, expected.logits!.data);
  assert.deepEqual(written.get('hidden_states.1')!.data, expected.hiddenStates![1]!.data);

  const noTokenizer = await rlcp('forward', '--model', dir, '--text', 'abc', '--out', out);
  assert.equal(noTokenizer.status, 1);
  assert.match(noTokenizer.stderr, /no tokenizer\.json, needed for --text \(or pass --ids\)/);
  const outside = await rlcp('forward', '--model', dir, '--ids', '5,40', '--out', out);
  assert.match(outside.stderr, /token id 40 at index 1 is outside the vocabulary \(size 40\)/);
  const notId = await rlcp('forward', '--model', dir, '--ids', '5,x', '--out', out);
  assert.match(notId.stderr, /--ids: "x" is not a token id/);
  const noFolder = await rlcp('forward', '--model', join(tmp, 'absent'), '--ids', '1', '--out', out);
  assert.match(noFolder.stderr, /absent: model folder not found/);
});

test('rlcp forward reports a config/weights mismatch naming the tensor and both shapes', async () => {
  const dir = await initModel('mismatch');
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, intermediate_size: 64 }));
  const result = await rlcp('forward', '--model', dir, '--ids', '1,2', '--out', join(tmp, 'o.safetensors'));
  assert.equal(result.status, 1);
  assert.match(
    result.stderr,
    /model\.safetensors: tensor "model\.layers\.0\.mlp\.gate_proj\.weight" has shape \[48, 32\] but config\.json implies \[64, 32\]/,
  );
  rmSync(join(dir, 'model.safetensors'));
  const noWeights = await rlcp(
    'forward',
    '--model',
    dir,
    '--ids',
    '1,2',
    '--out',
    join(tmp, 'o.safetensors'),
  );
  assert.match(noWeights.stderr, /no model\.safetensors or model\.safetensors\.index\.json/);
});

test('rlcp forward --text and rlcp generate use the folder tokenizer', async () => {
  const dir = await initModel('gen');
  writeTokenizer(dir);
  const out = join(tmp, 'text.safetensors');
  const fwd = await rlcp('forward', '--model', dir, '--text', 'ab c', '--out', out);
  assert.equal(fwd.status, 0, fwd.stderr);
  assert.match(fwd.stdout, /4 tokens \[2, 3, 1, 4\]/);

  const result = await rlcp('generate', '--model', dir, '--prompt', 'hello world', '--max-new-tokens', '6');
  assert.equal(result.status, 0, result.stderr);
  const model = Qwen2ForCausalLM.fromPretrained(dir);
  const tokenizer = await loadTokenizer(dir);
  const [expected] = generate(model, [tokenizer.encode('hello world')], {
    maxNewTokens: 6,
    eosTokenIds: [0],
    decoder: tokenizer,
    vocabLimit: 28,
  });
  assert.equal(result.stdout, `${expected!.text}\n`);
  assert.match(
    result.stderr,
    new RegExp(`11 prompt tokens, ${expected!.tokens.length} new, stop: ${expected!.stopReason}`),
  );

  const sampled = await rlcp(
    'generate',
    '--model',
    dir,
    '--prompt',
    'hi',
    '--temperature',
    '1',
    '--seed',
    '4',
    '--top-p',
    '0.9',
  );
  const again = await rlcp(
    'generate',
    '--model',
    dir,
    '--prompt',
    'hi',
    '--temperature',
    '1',
    '--seed',
    '4',
    '--top-p',
    '0.9',
  );
  assert.equal(sampled.status, 0, sampled.stderr);
  assert.equal(sampled.stdout, again.stdout);
  const noPrompt = await rlcp('generate', '--model', dir);
  assert.match(noPrompt.stderr, /missing required option --prompt/);
});

test('bin/rlcp.js runs the model commands end to end', async () => {
  const dir = await initModel('bin');
  const out = join(tmp, 'bin.safetensors');
  const result = spawnSync(
    process.execPath,
    ['bin/rlcp.js', 'forward', '--model', dir, '--ids', '3,4', '--out', out],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /2 tokens \[3, 4\]/);
  assert.deepEqual(readSafetensors(out).get('logits')!.shape, [2, 40]);
});
