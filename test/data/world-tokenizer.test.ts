import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { loadTokenizer, type RlcpTokenizer } from '../../src/io/tokenizer.ts';
import { generateWorld, writeWorld, type GeneratedWorld } from '../../src/data/world.ts';
import {
  buildWorldTokenizer,
  pretokenize,
  WORLD_PRETOKENIZE_PATTERN,
} from '../../src/data/world-tokenizer.ts';
import { answersMatch, extractAnswer } from '../../src/data/format.ts';

let dir: string;
let world: GeneratedWorld;
let tokenizer: RlcpTokenizer;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rlcp-world-tok-'));
  world = generateWorld(11);
  writeWorld(dir, world);
  tokenizer = await loadTokenizer(dir);
});

after(() => rmSync(dir, { recursive: true, force: true }));

function allTexts(): { id: string; text: string; completion?: string; answer?: string }[] {
  const out: { id: string; text: string; completion?: string; answer?: string }[] = [];
  for (const records of Object.values(world.splits)) {
    for (const r of records)
      out.push({ id: r.id, text: r.prompt + r.completion, completion: r.completion, answer: r.answer });
  }
  world.pretrain.forEach((l, i) =>
    out.push({ id: `pretrain:${i}`, text: 'text' in l ? l.text : l.prompt + l.completion }),
  );
  world.facts.forEach((f) => out.push({ id: f.id, text: f.statement }));
  return out;
}

test('special tokens take ids 0, 1, 2 and the config names them', () => {
  assert.equal(tokenizer.tokenToId('<pad>'), 0);
  assert.equal(tokenizer.tokenToId('<eos>'), 1);
  assert.equal(tokenizer.tokenToId('<unk>'), 2);
  assert.equal(tokenizer.eosTokenId, 1);
  assert.equal(tokenizer.padTokenId, 0);
  assert.equal(tokenizer.bosTokenId, null);
  assert.equal(tokenizer.vocabSize, world.meta.tokenizer.vocab_size);
  assert.equal(world.meta.tokenizer.eos_token_id, 1);
});

test('every record round-trips exactly through loadTokenizer, with no unknown token', () => {
  const unk = tokenizer.tokenToId('<unk>');
  for (const { id, text, completion, answer } of allTexts()) {
    const ids = tokenizer.encode(text);
    assert.ok(!ids.includes(unk!), `${id}: unknown token in ${JSON.stringify(text)}`);
    assert.equal(ids.length, pretokenize(text).length, id);
    assert.equal(tokenizer.decode(ids), text, id);
    if (completion !== undefined) {
      // A generation decoded from ids, then stopped at EOS, is scored as the reference completion.
      const generated = tokenizer.decode([...tokenizer.encode(completion), 1], { skipSpecialTokens: true });
      assert.ok(answersMatch(generated, answer!), `${id}: ${extractAnswer(generated)} vs ${answer}`);
    }
  }
});

test('digits are single tokens, words keep their leading space, punctuation is isolated', () => {
  const tokens = (text: string) => tokenizer.encode(text).map((id) => tokenizer.idToToken(id));
  assert.deepEqual(tokens(' 13 + 4 = 17.'), [' ', '1', '3', ' +', ' ', '4', ' =', ' ', '1', '7', '.']);
  const city = world.facts[0]!.subject;
  assert.deepEqual(tokens(`Q: What country is ${city} in?\nA:`), [
    'Q',
    ':',
    ' What',
    ' country',
    ' is',
    ` ${city}`,
    ' in',
    '?',
    '\n',
    'A',
    ':',
  ]);
  // Every candidate answer is one token, so ranking the candidates needs one forward pass.
  for (const relation of world.meta.relations) {
    for (const candidate of relation.candidates) assert.equal(tokenizer.encode(` ${candidate}`).length, 1);
  }
});

test('the raw @huggingface/tokenizers library agrees; an unknown word becomes <unk>', () => {
  const json = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
  const config = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
  const raw = new Tokenizer(json, config);
  const text = world.splits.rag_test[0]!.prompt;
  assert.deepEqual(raw.encode(text).ids, tokenizer.encode(text));
  assert.equal(raw.decode(raw.encode(text).ids), text);
  assert.deepEqual(raw.encode('Q: Zyxxor?').ids, [
    tokenizer.tokenToId('Q'),
    tokenizer.tokenToId(':'),
    2,
    tokenizer.tokenToId('?'),
  ]);
});

test('the vocabulary is sorted and independent of text order', () => {
  const a = buildWorldTokenizer(['b a', 'c 12']);
  const b = buildWorldTokenizer(['c 12', 'b a']);
  assert.deepEqual([...a.vocab], [...b.vocab]);
  assert.deepEqual([...a.vocab.keys()].slice(0, 3), ['<pad>', '<eos>', '<unk>']);
  for (const token of [' a', 'b', 'c', ' ', '1', '2', '\n', '9']) assert.ok(a.vocab.has(token), token);
  assert.equal(
    (a.tokenizer.pre_tokenizer as { pattern: { Regex: string } }).pattern.Regex,
    WORLD_PRETOKENIZE_PATTERN,
  );
});
