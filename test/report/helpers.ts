// Shared by the report tests: the fixture run folder and fresh copies of it to modify.
import assert from 'node:assert/strict';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateResults } from '../../src/report/schema.ts';
import { tempDir } from '../helpers/temp-dir.ts';

export const FIXTURE_DIR = fileURLToPath(new URL('../fixtures/report-run/', import.meta.url));

/** The fixture's results.json as a plain object, a fresh copy each call (tests mutate it). */
export function fixtureResults(): Record<string, unknown> {
  return JSON.parse(readFileSync(join(FIXTURE_DIR, 'results.json'), 'utf8')) as Record<string, unknown>;
}

export function fixtureConfig(): Record<string, unknown> {
  return JSON.parse(readFileSync(join(FIXTURE_DIR, 'config.json'), 'utf8')) as Record<string, unknown>;
}

/** A copy of the fixture run folder in a new temporary directory. */
export function copyFixture(): string {
  const dir = join(tempDir('rlcp-report-'), 'run');
  cpSync(FIXTURE_DIR, dir, { recursive: true });
  return dir;
}

/** The validator's message for results it must refuse (fails the test when they validate). */
export function refusal(results: unknown, file = 'runs/x/results.json'): string {
  try {
    validateResults(results, file);
  } catch (error) {
    return (error as Error).message;
  }
  assert.fail(`expected the validator to refuse ${file}`);
}
