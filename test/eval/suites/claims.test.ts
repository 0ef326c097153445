import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveConfig } from '../../../src/unlearn/config.ts';
import { runClaims } from '../../../src/eval/suites/claims.ts';
import { tempDir } from '../../helpers/temp-dir.ts';

/** A finished-looking metabolize run folder holding only its resolved config (enough for the checks). */
function fakeRun(root: string, name: string, patch: Record<string, unknown>): string {
  const dir = join(root, name);
  mkdirSync(join(dir, 'model'), { recursive: true });
  writeFileSync(join(dir, 'model', 'config.json'), '{}');
  const config = resolveConfig([{ patch, source: 'test' }]);
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({ format: 'rlcp-metabolize', version: 1, model: 'base', data: { world: 'w' }, config }),
  );
  return dir;
}

const common = { world: 'missing-world', base: 'missing-base', oracle: 'missing-oracle' };

test('rlcp claims refuses a control that is not anchor streams only, naming the key', async () => {
  const root = tempDir('claims-');
  const rlcp = fakeRun(root, 'rlcp', { seed: 0 });
  const withAdversary = fakeRun(root, 'c1', { seed: 0, fact: { generic: 0 } });
  await assert.rejects(
    runClaims({ ...common, runs: [rlcp], controls: [withAdversary] }),
    /c1: fact\.lambda is 0\.5; an anchors-only run needs 0/,
  );
  const shorter = fakeRun(root, 'c2', { seed: 0, steps: 50, fact: { lambda: 0, generic: 0 } });
  await assert.rejects(
    runClaims({ ...common, runs: [rlcp], controls: [shorter] }),
    /c2: steps is 50, the RLCP run .* has 200/,
  );
  const otherSeed = fakeRun(root, 'c3', { seed: 1, fact: { lambda: 0, generic: 0 } });
  await assert.rejects(
    runClaims({ ...common, runs: [rlcp], controls: [otherSeed] }),
    /no control run with seed 0/,
  );
  await assert.rejects(
    runClaims({ ...common, runs: [rlcp], controls: [] }),
    /1 RLCP runs but 0 control runs/,
  );
  await assert.rejects(
    runClaims({ ...common, runs: [rlcp], controls: [otherSeed], bootstrapReplicates: 5 }),
    /--bootstrap must be an integer ≥ 20, got 5/,
  );
  await assert.rejects(
    runClaims({ ...common, runs: [join(root, 'nothing')], controls: [otherSeed] }),
    /RLCP run .*nothing: no metabolize config\.json/,
  );
});
