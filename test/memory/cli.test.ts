import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { FACTS, TEMPLATES, tempDir, triples, writeJsonl } from './helpers.ts';

/** Runs `rlcp ram ...` in this process, capturing what it prints. */
async function rlcp(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (...parts: unknown[]) => out.push(parts.join(' ') + '\n');
  console.error = (...parts: unknown[]) => err.push(parts.join(' ') + '\n');
  try {
    const code = await main(['ram', ...args]);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    console.log = log;
    console.error = error;
  }
}

test('rlcp ram: import, list, add (edit), remove, retrieve', async () => {
  const dir = tempDir();
  const db = join(dir, 'ram.db');
  const templates = join(dir, 'templates.json');
  writeFileSync(templates, JSON.stringify(TEMPLATES));
  const file = writeJsonl(join(dir, 'facts.jsonl'), FACTS);

  const imported = await rlcp('import', file, '--db', db, '--templates', templates);
  assert.equal(imported.code, 0, imported.stderr);
  assert.match(
    imported.stdout,
    /13 records -> .*ram\.db: 13 added, 0 edited, 0 unchanged \(13 facts in store\)/,
  );
  assert.deepEqual((await rlcp('list', '--db', db)).stdout.trimEnd().split('\n'), triples(FACTS));
  assert.equal(
    (await rlcp('list', '--db', db, '--relation', 'country_capital')).stdout,
    'Marvania\tcountry_capital\tTarsk\nDostel\tcountry_capital\tOmbrin\n',
  );

  const edit = await rlcp(
    'add',
    '--db',
    db,
    '--subject',
    'Velora',
    '--relation',
    'city_country',
    '--object',
    'Quellon',
  );
  assert.equal(edit.stdout, 'updated: Velora is a city in Quellon.\n');
  const retrieved = await rlcp(
    'retrieve',
    '--db',
    db,
    '--k',
    '1',
    '--relation',
    'city_country',
    'What country is Velora in?',
  );
  assert.equal(
    retrieved.stdout,
    'subject\tVelora\tcity_country\tQuellon\n\nContext: Velora is a city in Quellon.\nQ: What country is Velora in?\nA:\n',
  );

  assert.equal(
    (await rlcp('remove', '--db', db, '--subject', 'Velora', '--relation', 'city_country')).code,
    0,
  );
  const again = await rlcp('remove', '--db', db, '--subject', 'Velora', '--relation', 'city_country');
  assert.equal(again.code, 1);
  assert.match(again.stderr, /no fact with subject "Velora" and relation "city_country"/);
  assert.equal((await rlcp('list', '--db', db)).stdout.trimEnd().split('\n').length, FACTS.length - 1);
});

test('rlcp ram: a bad file is reported with line and field and creates no store', async () => {
  const dir = tempDir();
  const db = join(dir, 'ram.db');
  const file = writeJsonl(join(dir, 'bad.jsonl'), [FACTS[0], { subject: 'X', relation: 'r', object: '' }]);
  const result = await rlcp('import', file, '--db', db);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /bad\.jsonl:2: field "object": must be a non-empty string/);
  assert.equal(existsSync(db), false);
  assert.match((await rlcp('list', '--db', db)).stderr, /ram\.db: fact store not found/);
  assert.match(
    (await rlcp('add', '--db', db, '--subject', 'A', '--object', 'B')).stderr,
    /missing required option --relation/,
  );
  assert.match(
    (await rlcp('frobnicate')).stderr,
    /expected an action \(import, add, remove, list, retrieve, eval\)/,
  );
  assert.match((await rlcp('list', 'extra', '--db', db)).stderr, /ram list: expected no file or question/);
});
