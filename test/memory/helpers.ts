// Shared test material: a small invented world and throwaway directories.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { toJsonl } from '../../src/io/jsonl.ts';
import type { Fact } from '../../src/memory/store.ts';

export const TEMPLATES = {
  city_country: '{subject} is a city in {object}.',
  person_birth_city: '{subject} was born in {object}.',
  person_occupation: '{subject} works as a {object}.',
  country_currency: 'The currency of {subject} is the {object}.',
  country_capital: 'The capital of {subject} is {object}.',
};

export const FACTS: Fact[] = [
  { subject: 'Velora', relation: 'city_country', object: 'Marvania' },
  { subject: 'Tarsk', relation: 'city_country', object: 'Marvania' },
  { subject: 'Ombrin', relation: 'city_country', object: 'Dostel' },
  { subject: 'Kelvash', relation: 'city_country', object: 'Quellon' },
  { subject: 'Marvania', relation: 'country_capital', object: 'Tarsk' },
  { subject: 'Dostel', relation: 'country_capital', object: 'Ombrin' },
  { subject: 'Marvania', relation: 'country_currency', object: 'lumen' },
  { subject: 'Dostel', relation: 'country_currency', object: 'crail' },
  { subject: 'Quellon', relation: 'country_currency', object: 'pebble' },
  { subject: 'Aldo Brenn', relation: 'person_birth_city', object: 'Velora' },
  { subject: 'Aldo Brenn', relation: 'person_occupation', object: 'baker' },
  { subject: 'Sefa Moor', relation: 'person_birth_city', object: 'Ombrin' },
  { subject: 'Sefa Moor', relation: 'person_occupation', object: 'sailor' },
];

/** A fresh directory removed when the test file ends. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'rlcp-memory-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function writeJsonl(path: string, records: readonly unknown[]): string {
  writeFileSync(path, toJsonl(records));
  return path;
}

/** Facts as comparable triples, in store order. */
export function triples(facts: readonly Fact[]): string[] {
  return facts.map((f) => `${f.subject}\t${f.relation}\t${f.object}`);
}
