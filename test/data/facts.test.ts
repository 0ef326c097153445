import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadFactSet, validateFact, type Fact } from '../../src/data/facts.ts';
import { buildRealFactSets } from '../../src/data/real-facts.ts';
import { toJsonl } from '../../src/io/jsonl.ts';

const FACTS_DIR = 'data/facts';
let tmp: string;

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'rlcp-facts-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

test('data/facts files are exactly what `rlcp facts` generates', () => {
  for (const set of buildRealFactSets()) {
    assert.equal(readFileSync(join(FACTS_DIR, set.file), 'utf8'), toJsonl(set.facts), set.file);
  }
});

test('the paper set: 15 cities, 15 distinct countries, candidates = those countries', () => {
  const forget = loadFactSet(join(FACTS_DIR, 'paper-city-country.jsonl'));
  assert.equal(forget.length, 15);
  const countries = new Set(forget.map((f) => f.object));
  assert.equal(countries.size, 15);
  for (const fact of forget) {
    assert.equal(fact.split, 'forget');
    assert.equal(fact.relation, 'city_country');
    assert.deepEqual(new Set(fact.candidates), countries);
  }
  assert.equal(forget.find((f) => f.subject === 'Paris')?.object, 'France');
  const retain = loadFactSet(join(FACTS_DIR, 'paper-city-country-retain.jsonl'));
  for (const country of countries) {
    assert.ok(retain.filter((f) => f.object === country).length >= 2, country);
  }
  const forgetCities = new Set(forget.map((f) => f.subject));
  assert.ok(retain.every((f) => f.split === 'retain' && !forgetCities.has(f.subject)));
});

test('common knowledge: ≥ 200 facts over capitals, currencies, languages and continents', () => {
  const facts = loadFactSet(join(FACTS_DIR, 'common-knowledge.jsonl'));
  assert.ok(facts.length >= 200, String(facts.length));
  const relations = new Set(facts.map((f) => f.relation));
  assert.deepEqual([...relations].sort(), [
    'country_capital',
    'country_continent',
    'country_currency',
    'country_language',
  ]);
  const answer = (relation: string, subject: string) =>
    facts.find((f) => f.relation === relation && f.subject === subject)?.object;
  assert.equal(answer('country_capital', 'Canada'), 'Ottawa');
  assert.equal(answer('country_capital', 'Australia'), 'Canberra');
  assert.equal(answer('country_currency', 'Japan'), 'yen');
  assert.equal(answer('country_language', 'Brazil'), 'Portuguese');
  assert.equal(answer('country_continent', 'Kenya'), 'Africa');
  for (const fact of facts) {
    assert.ok(fact.templates.length >= 5);
    assert.ok(fact.templates.filter((t) => t.split === 'heldout').length >= 2);
    assert.equal(
      new Set(facts.filter((f) => f.relation === fact.relation).map((f) => f.subject)).size,
      facts.filter((f) => f.relation === fact.relation).length,
    );
  }
});

function sampleFact(): Fact {
  return structuredClone(loadFactSet(join(FACTS_DIR, 'paper-city-country.jsonl'))[0]!);
}

test('loadFactSet names the file, the line and the field of a bad fact', () => {
  const path = join(tmp, 'bad.jsonl');
  const good = sampleFact();
  const cases: [(f: Record<string, unknown>) => void, RegExp][] = [
    [(f) => delete f.object, /bad\.jsonl:2: field "object" must be a string/],
    [(f) => (f.split = 'keep'), /bad\.jsonl:2: field "split" must be one of "forget", "retain"/],
    [(f) => (f.candidates = ['Spain', 'Italy']), /bad\.jsonl:2: field "candidates" must contain the object/],
    [(f) => (f.templates = (f.templates as unknown[]).slice(0, 4)), /field "templates" must have at least 5/],
    [
      (f) => ((f.templates as { split: string }[])[6]!.split = 'test'),
      /bad\.jsonl:2: templates\[6\]: field "split" must be one of "train", "heldout"/,
    ],
    [
      (f) => ((f.templates as { question: string }[])[0]!.question = 'Where is it?'),
      /templates\[0\]: field "question" must mention the subject/,
    ],
    [(f) => (f.statement = 'Somewhere.'), /field "statement" must mention the subject and the object/],
  ];
  for (const [mutate, expected] of cases) {
    const bad = structuredClone(good) as unknown as Record<string, unknown>;
    bad.id = 'other';
    mutate(bad);
    writeFileSync(path, toJsonl([good, bad]));
    assert.throws(() => loadFactSet(path), expected);
  }
  writeFileSync(path, toJsonl([good, good]));
  assert.throws(() => loadFactSet(path), /bad\.jsonl:2: duplicate fact id/);
  writeFileSync(path, '{"id": 1\n');
  assert.throws(() => loadFactSet(path), /bad\.jsonl:1: malformed JSON/);
  assert.throws(() => validateFact([]), /fact must be a JSON object/);
});
