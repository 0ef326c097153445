import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import type { RamEvalItem, RamEvalReport } from '../../src/memory/evaluate.ts';
import { tempDir } from './helpers.ts';
import { writeSmallWorld, writeTinyModel } from './model-helpers.ts';

async function rlcp(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  const write = process.stderr.write.bind(process.stderr);
  console.log = (...parts: unknown[]) => out.push(parts.join(' ') + '\n');
  console.error = (...parts: unknown[]) => err.push(parts.join(' ') + '\n');
  // Progress bars go straight to stderr.
  process.stderr.write = ((chunk: string | Uint8Array) => (err.push(String(chunk)), true)) as typeof write;
  try {
    const code = await main(args);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    console.log = log;
    console.error = error;
    process.stderr.write = write;
  }
}

const dir = tempDir();
const world = writeSmallWorld(join(dir, 'world'));
const base = await writeTinyModel(join(dir, 'base'), world.dir, { seed: 1 });
// A checkpoint-like folder without tokenizer.json: the world's tokenizer is used.
const metabolized = await writeTinyModel(join(dir, 'metabolized'), world.dir, {
  seed: 2,
  withTokenizer: false,
});

test('rlcp ram eval: table, JSON last line, per-item JSONL in --out', async () => {
  const out = join(dir, 'out');
  const result = await rlcp(
    'ram',
    'eval',
    '--world',
    world.dir,
    '--metabolized',
    metabolized,
    '--base',
    base,
    '--k',
    '2',
    '--out',
    out,
  );
  assert.equal(result.code, 0, result.stderr);
  const lines = result.stdout.trimEnd().split('\n');
  const report = JSON.parse(lines[lines.length - 1]!) as RamEvalReport;
  assert.match(lines[0]!, /^RAM evaluation of .*: 4 forget facts \(city_country\), 32 questions/);
  assert.ok(lines.some((l) => l.startsWith('RAM edited: follows the edit')));
  assert.equal(report.k, 2);
  assert.equal(report.same_model, false);
  assert.equal(report.metabolized, metabolized);
  assert.equal(report.base, base);
  assert.equal(report.forget.questions, 32);
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')), report);

  const items = readFileSync(join(out, 'items.jsonl'), 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as RamEvalItem);
  const multihop = report.forget.multihop_questions;
  const perModel = 3 * 32 + 2 * multihop + report.forget.multihop_currency_questions;
  assert.equal(items.length, 2 * perModel);
  assert.equal(items.filter((i) => i.model === 'base').length, perModel);
  // The table's rates are the items' rates.
  const follows = items.filter(
    (i) => i.model === 'metabolized' && i.kind === 'fact' && i.condition === 'ram_edited',
  );
  assert.equal(follows.length, 32);
  assert.equal(
    report.metabolized_results.ram_edited_follows.all.hits,
    follows.filter((i) => i.says_edited).length,
  );
  assert.ok(items.filter((i) => i.condition !== 'closed_book').every((i) => i.context!.length === 2));
  const retrieval = readFileSync(join(out, 'retrieval.jsonl'), 'utf8').trimEnd().split('\n');
  assert.equal(retrieval.length, 32 + multihop + 32 + report.forget.multihop_currency_questions);
});

test('rlcp ram eval --json: one line; the same folder twice is one model in both roles', async () => {
  const result = await rlcp(
    'ram',
    'eval',
    '--world',
    world.dir,
    '--metabolized',
    base,
    '--base',
    base,
    '--json',
  );
  assert.equal(result.code, 0, result.stderr);
  const lines = result.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 1);
  const report = JSON.parse(lines[0]!) as RamEvalReport;
  assert.equal(report.same_model, true);
  assert.equal(report.k, 1); // 1 + the world's RAG distractors (none by default)
  assert.deepEqual(report.base_results, report.metabolized_results);

  const bad = await rlcp('ram', 'eval', '--world', world.dir, '--metabolized', base);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /missing required option --base/);
});
