import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NameGenerator } from '../../src/data/names.ts';
import { Rng } from '../../src/data/rng.ts';

test('names are seeded, unique, pronounceable and avoid blocked words', () => {
  const make = () => {
    const names = new NameGenerator(new Rng(5), ['Velora']);
    return Array.from({ length: 200 }, (_, i) => names.next(i % 2 === 0 ? 'city' : 'currency'));
  };
  const names = make();
  assert.deepEqual(make(), names);
  assert.equal(new Set(names.map((n) => n.toLowerCase())).size, names.length);
  for (const [i, name] of names.entries()) {
    assert.match(name, i % 2 === 0 ? /^[A-Z][a-z]{4,9}$/ : /^[a-z]{5,10}$/);
    // No run of three consonants: every name can be read aloud.
    assert.doesNotMatch(name.toLowerCase(), /[^aeiou]{3}/, name);
    assert.notEqual(name.toLowerCase(), 'velora');
  }
});

test('blocked words are never produced, compared case-insensitively', () => {
  // Same seed, same random stream: the second generator would yield the first's name unless blocked.
  const first = new NameGenerator(new Rng(9), []).next('person');
  const second = new NameGenerator(new Rng(9), [first.toUpperCase()]).next('person');
  assert.notEqual(second.toLowerCase(), first.toLowerCase());
  const unblocked = new NameGenerator(new Rng(9), []).next('person');
  assert.equal(unblocked, first);
});

test('an exhausted name space is a clear error', () => {
  const names = new NameGenerator(new Rng(1), []);
  assert.throws(() => {
    for (let i = 0; i < 1_000_000; i++) names.next('person');
  }, /could not find a new person name/);
});
