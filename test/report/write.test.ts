import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeReport } from '../../src/report/write.ts';
import { copyFixture, fixtureResults } from './helpers.ts';

const BIN = fileURLToPath(new URL('../../bin/rlcp.js', import.meta.url));

test('writeReport writes report.html into the run folder and leaves no temp file', () => {
  const dir = copyFixture();
  const out = writeReport(dir);
  assert.equal(out, join(dir, 'report.html'));
  const html = readFileSync(out, 'utf8');
  assert.match(html, /^<!doctype html>/);
  assert.match(html, /node bin\/rlcp\.js demo --seed 1/);
  assert.deepEqual(readdirSync(dir).sort(), ['config.json', 'items', 'report.html', 'results.json']);
});

test('a missing or malformed results.json is named in the error', () => {
  const dir = copyFixture();
  rmSync(join(dir, 'results.json'));
  assert.throws(() => writeReport(dir), { message: `${join(dir, 'results.json')}: file not found` });
  writeFileSync(join(dir, 'results.json'), '{"schema_version": 1,');
  assert.throws(() => writeReport(dir), /results\.json: malformed JSON/);
  const results = fixtureResults();
  delete results.relearning;
  writeFileSync(join(dir, 'results.json'), JSON.stringify(results));
  assert.throws(() => writeReport(dir), { message: `${join(dir, 'results.json')}: relearning: missing` });
  assert.ok(!existsSync(join(dir, 'report.html')), 'nothing written for a bad run');
});

test('config.json must exist and hold an object', () => {
  const dir = copyFixture();
  rmSync(join(dir, 'config.json'));
  assert.throws(() => writeReport(dir), /config\.json: file not found/);
  writeFileSync(join(dir, 'config.json'), '[1, 2]');
  assert.throws(() => writeReport(dir), /config\.json: must hold a JSON object/);
});

test('item files must exist and hold as many records as results.json says', () => {
  const dir = copyFixture();
  const path = join(dir, 'items', 'retain.jsonl');
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
  writeFileSync(path, lines.slice(1).join('\n') + '\n');
  assert.throws(
    () => writeReport(dir),
    /retain\.jsonl: has 89 records but .*results\.json item_files\[1\]\.records says 90/,
  );
  rmSync(path);
  assert.throws(() => writeReport(dir), /retain\.jsonl: file not found/);
});

test('a run folder that does not exist is reported as such', () => {
  assert.throws(() => writeReport('/nonexistent/run'), { message: '/nonexistent/run: run folder not found' });
});

test('`rlcp report RUN_DIR` rebuilds the report; bad usage fails with a message', () => {
  const dir = copyFixture();
  const ok = spawnSync(process.execPath, [BIN, 'report', dir], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout.trim(), `wrote ${join(dir, 'report.html')}`);
  assert.ok(existsSync(join(dir, 'report.html')));
  const none = spawnSync(process.execPath, [BIN, 'report'], { encoding: 'utf8' });
  assert.equal(none.status, 1);
  assert.match(none.stderr, /rlcp report: expected exactly one run folder/);
  const option = spawnSync(process.execPath, [BIN, 'report', dir, '--out', 'x'], { encoding: 'utf8' });
  assert.equal(option.status, 1);
  assert.match(option.stderr, /unknown option --out/);
});
