import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { FactStore, validateFact } from '../../src/memory/store.ts';
import { renderStatement } from '../../src/memory/templates.ts';
import { FACTS, TEMPLATES, tempDir, triples, writeJsonl } from './helpers.ts';

function openFilled(): FactStore {
  const store = FactStore.open(join(tempDir(), 'ram.db'), { templates: TEMPLATES });
  for (const fact of FACTS) store.add(fact);
  return store;
}

test('a new store is a WAL database with the documented tables', () => {
  const path = join(tempDir(), 'ram.db');
  FactStore.open(path).close();
  const db = new Database(path, { readonly: true });
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  const columns = (db.pragma('table_info(facts)') as { name: string }[]).map((c) => c.name);
  assert.deepEqual(columns, ['id', 'subject', 'relation', 'object', 'source', 'updated_at']);
  db.close();
});

test('add, get, list and remove', () => {
  const store = openFilled();
  assert.equal(store.count(), FACTS.length);
  assert.deepEqual(triples(store.list()), triples(FACTS));
  assert.deepEqual(triples(store.list({ relation: 'country_currency' })), [
    'Marvania\tcountry_currency\tlumen',
    'Dostel\tcountry_currency\tcrail',
    'Quellon\tcountry_currency\tpebble',
  ]);
  const velora = store.get('Velora', 'city_country')!;
  assert.equal(velora.statement, 'Velora is a city in Marvania.');
  assert.equal(velora.source, null);
  assert.ok(!Number.isNaN(Date.parse(velora.updatedAt)));
  assert.equal(store.get('Velora', 'country_capital'), undefined);
  assert.equal(store.remove('Velora', 'city_country'), true);
  assert.equal(store.remove('Velora', 'city_country'), false);
  assert.equal(store.get('Velora', 'city_country'), undefined);
  assert.equal(store.count(), FACTS.length - 1);
  store.checkIntegrity();
  store.close();
});

test('adding over an existing key is an edit: same id, new object, the statement and index follow', () => {
  const store = openFilled();
  const before = store.get('Velora', 'city_country')!;
  assert.equal(store.add({ subject: 'Velora', relation: 'city_country', object: 'Marvania' }), 'unchanged');
  assert.equal(
    store.add({ subject: 'Velora', relation: 'city_country', object: 'Quellon', source: 'editor' }),
    'updated',
  );
  const after = store.get('Velora', 'city_country')!;
  assert.equal(after.id, before.id);
  assert.equal(after.object, 'Quellon');
  assert.equal(after.source, 'editor');
  assert.equal(after.statement, 'Velora is a city in Quellon.');
  assert.ok(after.updatedAt >= before.updatedAt);
  assert.equal(store.count(), FACTS.length);
  const hit = store.textSearch(['velora'], { limit: 10 }).find((h) => h.fact.relation === 'city_country')!;
  assert.equal(hit.fact.object, 'Quellon');
  assert.ok(!store.textSearch(['marvania'], { limit: 50 }).some((h) => h.fact.subject === 'Velora'));
  store.checkIntegrity();
  store.close();
});

test('facts are checked field by field', () => {
  assert.throws(() => validateFact([]), /expected a JSON object/);
  assert.throws(
    () => validateFact({ subject: 'A', object: 'B' }),
    /field "relation": must be a non-empty string/,
  );
  assert.throws(() => validateFact({ subject: ' ', relation: 'r', object: 'B' }), /field "subject"/);
  assert.throws(() => validateFact({ subject: 'A', relation: 'r', object: 3 }), /field "object".*got 3/);
  assert.throws(() => validateFact({ subject: 'A\tB', relation: 'r', object: 'C' }), /tabs or line breaks/);
  assert.throws(() => validateFact({ subject: 'A ', relation: 'r', object: 'C' }), /whitespace/);
  assert.throws(
    () => validateFact({ subject: 'A', relation: 'r', object: 'C', source: 5 }),
    /field "source"/,
  );
  const store = openFilled();
  assert.throws(() => store.add({ subject: 'A', relation: '', object: 'C' }), /field "relation"/);
  store.close();
});

test('import writes every line in one go; sources default to the file name; extra fields are ignored', () => {
  const dir = tempDir();
  const store = FactStore.open(join(dir, 'ram.db'), { templates: TEMPLATES });
  store.add({ subject: 'Velora', relation: 'city_country', object: 'Dostel', source: 'old' });
  const file = writeJsonl(join(dir, 'facts.jsonl'), [
    ...FACTS.map((f, i) => ({ ...f, split: 'retain', source: i === 1 ? 'atlas' : undefined })),
    FACTS[2], // an exact repeat is allowed
  ]);
  const summary = store.importJsonl(file);
  assert.deepEqual(summary, {
    records: FACTS.length + 1,
    added: FACTS.length - 1,
    updated: 1,
    unchanged: 0,
    inferredTemplates: [],
  });
  assert.deepEqual(triples(store.list()), triples(FACTS));
  assert.equal(store.get('Velora', 'city_country')!.source, 'facts.jsonl');
  assert.equal(store.get('Tarsk', 'city_country')!.source, 'atlas');
  assert.equal(store.importJsonl(file).unchanged, FACTS.length);
  store.checkIntegrity();
  store.close();
});

test('a bad line imports nothing and the error names file, line and field', () => {
  const dir = tempDir();
  const store = openFilled();
  const before = store.list();
  const cases: [unknown[], RegExp][] = [
    [[FACTS[0], { subject: 'X', relation: 'city_country' }], /bad\.jsonl:2: field "object"/],
    [[FACTS[0], FACTS[1], { subject: 'X', relation: 7, object: 'Y' }], /bad\.jsonl:3: field "relation"/],
    [
      [
        { subject: 'Nim', relation: 'city_country', object: 'A' },
        FACTS[1],
        { subject: 'Nim', relation: 'city_country', object: 'B' },
      ],
      /bad\.jsonl:3: field "object": "B" contradicts line 1/,
    ],
  ];
  for (const [records, message] of cases) {
    const file = writeJsonl(join(dir, 'bad.jsonl'), records);
    assert.throws(() => store.importJsonl(file), message);
    assert.deepEqual(store.list(), before);
  }
  const file = join(dir, 'broken.jsonl');
  writeFileSync(
    file,
    JSON.stringify({ subject: 'Nim', relation: 'city_country', object: 'A' }) + '\n\n{"subject":\n',
  );
  assert.throws(() => store.importJsonl(file), /broken\.jsonl:3: malformed JSON/);
  assert.throws(() => store.importJsonl(join(dir, 'missing.jsonl')), /missing\.jsonl: file not found/);
  assert.deepEqual(store.list(), before);
  store.close();
});

test('an error inside the import transaction rolls everything back', () => {
  const dir = tempDir();
  const store = openFilled();
  const before = store.list();
  const file = writeJsonl(
    join(dir, 'more.jsonl'),
    Array.from({ length: 50 }, (_, i) => ({
      subject: `Town${i}`,
      relation: 'city_country',
      object: 'Dostel',
    })),
  );
  const seen: number[] = [];
  assert.throws(
    () =>
      store.importJsonl(file, {
        progressEvery: 20,
        onProgress: (written, total) => {
          seen.push(written);
          assert.equal(total, 50);
          if (written === 40) throw new Error('stop here');
        },
      }),
    /stop here/,
  );
  assert.deepEqual(seen, [20, 40]);
  assert.deepEqual(store.list(), before);
  store.checkIntegrity();
  store.close();
});

test('templates: inferred on import when missing, stored ones kept, changes re-index statements', () => {
  const dir = tempDir();
  const store = FactStore.open(join(dir, 'ram.db'), { templates: { city_country: TEMPLATES.city_country } });
  const file = writeJsonl(join(dir, 'facts.jsonl'), [
    { ...FACTS[0], statement: 'Velora lies in Marvania.' },
    { ...FACTS[9], statement: 'Aldo Brenn was born in Velora.' },
  ]);
  assert.deepEqual(store.importJsonl(file).inferredTemplates, ['person_birth_city']);
  assert.deepEqual(store.templates(), {
    city_country: '{subject} is a city in {object}.',
    person_birth_city: '{subject} was born in {object}.',
  });
  assert.equal(store.get('Velora', 'city_country')!.statement, 'Velora is a city in Marvania.');
  assert.equal(store.textSearch(['lies'], { limit: 5 }).length, 0);
  store.setTemplates({ city_country: '{subject} lies in {object}.' });
  assert.deepEqual(
    store.textSearch(['lies'], { limit: 5 }).map((h) => h.fact.statement),
    ['Velora lies in Marvania.'],
  );
  assert.throws(() => store.setTemplates({ city_country: '{subject} lies.' }), /missing \{object\}/);
  store.checkIntegrity();
  store.close();
  // Templates live in the file: a later process renders the same statements without being told.
  const reopened = FactStore.open(join(dir, 'ram.db'), { readonly: true });
  assert.equal(reopened.get('Velora', 'city_country')!.statement, 'Velora lies in Marvania.');
  reopened.close();
});

test('SQL and TypeScript render the same statement, even for awkward names', () => {
  const store = FactStore.open(join(tempDir(), 'ram.db'), {
    templates: { odd: '{object} & {subject} & {object}' },
  });
  const facts = [
    { subject: 'Ann {object}', relation: 'odd', object: 'B$&' },
    { subject: "O'Hare", relation: 'no_template', object: '100%' },
  ];
  for (const fact of facts) {
    store.add(fact);
    const expected = renderStatement(store.templates(), fact);
    assert.equal(store.get(fact.subject, fact.relation)!.statement, expected);
    assert.equal(store.render(fact), expected);
  }
  store.close();
});

test('writes by other tools keep the full-text index in step (triggers)', () => {
  const store = openFilled();
  const raw = new Database(store.path);
  raw
    .prepare(
      "INSERT INTO facts (subject, relation, object, updated_at) VALUES ('Brisk', 'city_country', 'Quellon', 'now')",
    )
    .run();
  raw.prepare("UPDATE facts SET object = 'Dostel' WHERE subject = 'Velora'").run();
  raw.prepare("DELETE FROM facts WHERE subject = 'Tarsk' AND relation = 'city_country'").run();
  raw.close();
  assert.deepEqual(
    store.textSearch(['brisk'], { limit: 5 }).map((h) => h.fact.statement),
    ['Brisk is a city in Quellon.'],
  );
  assert.equal(store.textSearch(['velora'], { limit: 5 })[0]!.fact.statement, 'Velora is a city in Dostel.');
  assert.ok(!store.textSearch(['tarsk'], { limit: 5 }).some((h) => h.fact.relation === 'city_country'));
  store.checkIntegrity();
  store.close();
});

test('text search treats FTS syntax in terms as plain text', () => {
  const store = openFilled();
  for (const term of ['"', '*', 'NEAR', 'AND', '(x', 'subject:', '^', '']) {
    assert.deepEqual(store.textSearch([term], { limit: 5 }), []);
  }
  store.close();
});

test('opening something that is not a fact store fails with the path', () => {
  const dir = tempDir();
  const garbage = join(dir, 'garbage.db');
  writeFileSync(garbage, 'this is not sqlite at all, just some text that is long enough'.repeat(20));
  assert.throws(() => FactStore.open(garbage), /garbage\.db: .*not a database/);
  const other = join(dir, 'other.db');
  const db = new Database(other);
  db.exec('CREATE TABLE t (x)');
  db.close();
  assert.throws(() => FactStore.open(other), /other\.db: a SQLite database, but not an rlcp fact store/);
  const untouched = new Database(other, { readonly: true });
  assert.equal(untouched.pragma('journal_mode', { simple: true }), 'delete');
  untouched.close();
  assert.throws(
    () => FactStore.open(join(dir, 'none.db'), { readonly: true }),
    /none\.db: fact store not found/,
  );
});
