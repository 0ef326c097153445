import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FactStore } from '../../src/memory/store.ts';
import {
  buildRagPrompt,
  entityCandidates,
  questionTerms,
  recallAtK,
  retrieve,
  type RetrievedFact,
} from '../../src/memory/retrieval.ts';
import { FACTS, TEMPLATES, tempDir } from './helpers.ts';

function filledStore(): FactStore {
  const store = FactStore.open(join(tempDir(), 'ram.db'), { templates: TEMPLATES });
  for (const fact of FACTS) store.add(fact);
  return store;
}

const store = filledStore();

const found = (facts: RetrievedFact[]): string[] => facts.map((f) => `${f.via} ${f.subject}/${f.relation}`);

test('question words: spans for entity names, content words for full-text search', () => {
  const spans = entityCandidates("What is St. Velora's capital?");
  for (const span of ['St. Velora', 'Velora', 'capital', "What is St. Velora's capital"]) {
    assert.ok(spans.includes(span), span);
  }
  assert.ok(!spans.includes('Velora?') && !spans.includes('Velor'));
  assert.deepEqual(questionTerms('What is "Velora*" NEAR(Tarsk) in the Velora?'), [
    'velora',
    'near',
    'tarsk',
  ]);
  assert.deepEqual(entityCandidates(''), []);
});

test('a named subject ranks first, ordered by BM25 on the other words; one hop follows; BM25 fills the rest', () => {
  assert.deepEqual(found(retrieve(store, 'Where was Aldo Brenn born?', { k: 4 })), [
    'subject Aldo Brenn/person_birth_city', // "born" matches this statement only
    'subject Aldo Brenn/person_occupation',
    'hop Velora/city_country',
    'text Sefa Moor/person_birth_city',
  ]);
  // Case-insensitive, possessive, multi-word name.
  assert.deepEqual(found(retrieve(store, "what is aldo brenn's occupation?", { k: 2 })), [
    'subject Aldo Brenn/person_occupation',
    'subject Aldo Brenn/person_birth_city',
  ]);
});

test('two hops of a multi-hop question are both retrieved; a hop can outrank a name-as-object fact', () => {
  const hits = retrieve(store, 'What currency is used in the country where Velora is?', { k: 4 });
  assert.deepEqual(found(hits), [
    'subject Velora/city_country',
    'hop Marvania/country_currency', // "currency", "country"
    'hop Marvania/country_capital', // "country" (in the relation's name)
    'object Aldo Brenn/person_birth_city', // none of the question's other words
  ]);
  assert.equal(
    recallAtK(
      FACTS.filter((f) => f.subject === 'Velora' || f.object === 'lumen'),
      hits,
      2,
    ),
    1,
  );
});

test('a relation hint puts its facts first, whether the name is their subject or their object', () => {
  const question = 'Which country has Tarsk as its capital?';
  assert.deepEqual(found(retrieve(store, question, { k: 2 })), [
    'subject Tarsk/city_country',
    'object Marvania/country_capital',
  ]);
  assert.deepEqual(found(retrieve(store, question, { k: 2, relationHint: 'country_capital' })), [
    'object Marvania/country_capital',
    'subject Tarsk/city_country',
  ]);
});

test('names match whole words only; without a name, BM25 alone ranks', () => {
  assert.deepEqual(retrieve(store, 'Do Velorans like tea?', { k: 3 }), []);
  const hits = retrieve(store, 'Tell me about currencies', { k: 5 });
  assert.deepEqual(found(hits).sort(), [
    'text Dostel/country_currency',
    'text Marvania/country_currency',
    'text Quellon/country_currency',
  ]);
  // "Aldo" alone is not the name "Aldo Brenn", but it is a word of two indexed facts.
  assert.deepEqual(found(retrieve(store, 'Who is Aldo?', { k: 5 })).sort(), [
    'text Aldo Brenn/person_birth_city',
    'text Aldo Brenn/person_occupation',
  ]);
});

test('no duplicates, never more than k, k is checked', () => {
  for (const k of [1, 3, 50]) {
    const hits = retrieve(store, 'Velora Velora Marvania Tarsk capital currency city', { k });
    assert.ok(hits.length <= k);
    assert.equal(new Set(hits.map((h) => h.id)).size, hits.length);
  }
  // Every fact has one of these words (relations included: "person_birth_city") except the occupations.
  const everyWord = retrieve(store, 'Velora Marvania Tarsk capital currency city', { k: 50 });
  assert.equal(everyWord.length, FACTS.length - 2);
  assert.ok(!everyWord.some((f) => f.relation === 'person_occupation'));
  assert.throws(() => retrieve(store, 'Velora', { k: 0 }), /k must be at least 1/);
});

test('FTS syntax in a question is just text', () => {
  const nasty = [
    'What is "Velora*" NEAR(Tarsk) AND col:x ^ -y?',
    '"',
    '*',
    'NEAR',
    'OR OR',
    '(',
    '',
    'a AND NOT b',
  ];
  for (const question of nasty) assert.doesNotThrow(() => retrieve(store, question, { k: 3 }), question);
  assert.deepEqual(found(retrieve(store, 'What is "Velora*"?', { k: 1 })), ['subject Velora/city_country']);
});

test('the prompt is the shared RAG format and follows an edit in the store', () => {
  const edited = filledStore();
  const question = 'What country is Velora in?';
  const before = retrieve(edited, question, { k: 1, relationHint: 'city_country' });
  assert.equal(
    buildRagPrompt(before, question, (f) => f.statement),
    'Context: Velora is a city in Marvania.\nQ: What country is Velora in?\nA:',
  );
  edited.add({ subject: 'Velora', relation: 'city_country', object: 'Quellon' });
  // The hop follows the edit too: now Quellon's facts are one hop away.
  const after = retrieve(edited, question, { k: 2, relationHint: 'city_country' });
  assert.equal(
    buildRagPrompt(after, question, (f) => f.statement),
    'Context: Velora is a city in Quellon. The currency of Quellon is the pebble.\nQ: What country is Velora in?\nA:',
  );
  assert.equal(
    buildRagPrompt([{ subject: 'Nim', relation: 'r', object: 'X' }], 'Q?', (f) => edited.render(f)),
    'Context: Nim r X.\nQ: Q?\nA:',
  );
  edited.close();
});

test('recall@k counts needed facts by key among the first k', () => {
  const needed = [
    { subject: 'Velora', relation: 'city_country' },
    { subject: 'Marvania', relation: 'country_currency' },
  ];
  const retrieved = [
    { subject: 'Velora', relation: 'city_country', object: 'Quellon' },
    { subject: 'Tarsk', relation: 'city_country' },
    { subject: 'Marvania', relation: 'country_currency' },
  ];
  assert.equal(recallAtK(needed, retrieved, 1), 0.5);
  assert.equal(recallAtK(needed, retrieved, 2), 0.5);
  assert.equal(recallAtK(needed, retrieved, 3), 1);
  assert.equal(recallAtK([...needed, needed[0]!], retrieved, 1), 0.5);
  assert.equal(recallAtK(needed, [], 3), 0);
  assert.throws(() => recallAtK([], retrieved, 3), /no needed facts/);
});
