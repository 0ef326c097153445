// The `rlcp eval` command: scoring saved GSM8K responses end to end through bin/rlcp.js.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/temp-dir.ts';

const dir = tempDir('rlcp-eval-cli-');

function rlcp(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['bin/rlcp.js', ...args], { encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const gsm8k = join(dir, 'gsm8k.jsonl');
writeFileSync(
  gsm8k,
  [
    { question: 'What is 2 + 3?', answer: '2 + 3 = 5\n#### 5' },
    { question: 'What is 4 * 5?', answer: '4 * 5 = 20\n#### 20' },
  ]
    .map((r) => JSON.stringify(r))
    .join('\n') + '\n',
);
const responses = join(dir, 'responses.jsonl');
writeFileSync(
  responses,
  [
    { index: 0, response: ' 2 + 3 = 5. The answer is 5.\n\nQ: What is 1 + 1?\nA: 2' },
    { index: 1, response: ' 21' },
  ]
    .map((r) => JSON.stringify(r))
    .join('\n') + '\n',
);

test('eval gsm8k --responses prints a table and the summary JSON as the last line, and writes --out', () => {
  const out = join(dir, 'out');
  const { code, stdout, stderr } = rlcp(
    'eval',
    'gsm8k',
    '--responses',
    responses,
    '--gsm8k',
    gsm8k,
    '--stop',
    'cot-8shot',
    '--out',
    out,
  );
  assert.equal(code, 0, stderr);
  const lines = stdout.trim().split('\n');
  assert.match(lines[0]!, /GSM8K: 2 responses/);
  assert.ok(lines.some((l) => l.startsWith('strict accuracy')));
  const summary = JSON.parse(lines[lines.length - 1]!);
  assert.deepEqual(Object.keys(summary).slice(0, 5), [
    'n',
    'strict_accuracy',
    'flexible_accuracy',
    'cot_rate',
    'mean_tokens',
  ]);
  assert.equal(summary.n, 2);
  assert.equal(summary.strict_accuracy, 0.5);
  assert.equal(summary.flexible_accuracy, 0.5);
  assert.equal(summary.cot_rate, 0.5);
  assert.equal(summary.mean_tokens, (9 + 1) / 2);
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')), { gsm8k: summary });
  const items = readFileSync(join(out, 'items', 'gsm8k.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    items.map((i) => [i.index, i.strict_correct, i.flexible_correct, i.cot]),
    [
      [0, true, true, true],
      [1, false, false, false],
    ],
  );
});

test('eval gsm8k --json prints only the summary line; bad input fails with file:line', () => {
  const json = rlcp('eval', 'gsm8k', '--responses', responses, '--gsm8k', gsm8k, '--json');
  assert.equal(json.code, 0, json.stderr);
  assert.equal(json.stdout.trim().split('\n').length, 1);
  assert.equal(JSON.parse(json.stdout).n, 2);

  const bad = join(dir, 'bad.jsonl');
  writeFileSync(bad, JSON.stringify({ index: 9, response: 'x' }) + '\n');
  const failed = rlcp('eval', 'gsm8k', '--responses', bad, '--gsm8k', gsm8k);
  assert.equal(failed.code, 1);
  assert.match(failed.stderr, new RegExp(`${bad}:1: index 9 is not a question line`));

  const badStop = rlcp('eval', 'gsm8k', '--responses', responses, '--gsm8k', gsm8k, '--stop', 'nope');
  assert.match(badStop.stderr, /--stop must be one of zero-shot, zero-shot-cot, cot-8shot, plain/);
});

test('eval of a missing model folder names the folder', () => {
  const result = rlcp('eval', '--model', 'models/none', '--world', 'models/none-world');
  assert.equal(result.code, 1);
  assert.match(result.stderr, /models\/none/);
});
