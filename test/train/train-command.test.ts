import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Qwen2ForCausalLM } from '../../src/nn/qwen2.ts';

let tmp: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'rlcp-train-cli-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

function rlcp(...args: string[]) {
  return spawnSync(process.execPath, ['bin/rlcp.js', ...args], { encoding: 'utf8' });
}

const TINY = ['--hidden', '16', '--layers', '1', '--heads', '2', '--kv-heads', '1', '--intermediate', '32'];

test('rlcp pretrain then rlcp train write loadable folders that record their command lines', () => {
  const config = join(tmp, 'small.json');
  writeFileSync(config, JSON.stringify({ countries: 16, logic: { train: 20, test: 5 }, rag: { train: 20 } }));
  const world = join(tmp, 'world');
  assert.equal(rlcp('world', '--seed', '2', '--out', world, '--config', config).status, 0);

  const base = join(tmp, 'base');
  const pretrain = rlcp('pretrain', '--world', world, '--out', base, '--steps', '3', '--batch', '4', ...TINY);
  assert.equal(pretrain.status, 0, pretrain.stderr);
  assert.match(pretrain.stdout, /pretrained 3 steps, final loss \d/);
  const recorded = JSON.parse(readFileSync(join(base, 'train_config.json'), 'utf8'));
  assert.equal(
    recorded.command,
    `rlcp pretrain --world ${world} --out ${base} --steps 3 --batch 4 ${TINY.join(' ')}`,
  );
  assert.deepEqual(recorded.shape, { hidden: 16, layers: 1, heads: 2, kvHeads: 1, intermediate: 32 });
  assert.equal(Qwen2ForCausalLM.fromPretrained(base).config.hiddenSize, 16);

  const again = rlcp('pretrain', '--world', world, '--out', base, '--steps', '3', ...TINY);
  assert.notEqual(again.status, 0);
  assert.match(again.stderr, /already holds a run; pass --resume/);

  const data = join(tmp, 'data.jsonl');
  writeFileSync(data, '{"prompt": "Q: What country is it?\\nA:", "completion": " it"}\n{"text": "hello"}\n');
  const tuned = join(tmp, 'tuned');
  const train = rlcp(
    'train',
    '--model',
    base,
    '--data',
    data,
    '--out',
    tuned,
    '--steps',
    '2',
    '--batch',
    '2',
  );
  assert.equal(train.status, 0, train.stderr);
  assert.match(train.stdout, /trained 2 steps/);
  assert.equal(JSON.parse(readFileSync(join(tuned, 'train_config.json'), 'utf8')).data, data);
  assert.equal(Qwen2ForCausalLM.fromPretrained(tuned).config.numHiddenLayers, 1);
});

test('rlcp train names the file and line of a malformed data record', () => {
  const data = join(tmp, 'bad.jsonl');
  writeFileSync(data, '{"prompt": "a", "completion": " b"}\n{"prompt": 3}\n');
  const result = rlcp('train', '--model', join(tmp, 'base'), '--data', data, '--out', join(tmp, 'x'));
  assert.notEqual(result.status, 0);
  assert.match(result.stderr, /bad\.jsonl:2: each line needs "text", or "prompt" and "completion"/);
});
