import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadWorld } from '../../src/data/world.ts';

let tmp: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'rlcp-world-cli-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

function rlcp(...args: string[]) {
  return spawnSync(process.execPath, ['bin/rlcp.js', ...args], { encoding: 'utf8' });
}

test('rlcp world writes a loadable world with the config applied', () => {
  const config = join(tmp, 'small.json');
  writeFileSync(
    config,
    JSON.stringify({ countries: 16, logic: { train: 40, test: 10 }, rag: { train: 30 } }),
  );
  const out = join(tmp, 'w');
  const result = rlcp('world', '--seed', '5', '--out', out, '--config', config);
  assert.equal(result.status, 0, result.stderr);
  // 64 cities + 40 births + 40 occupations + 16 currencies + 16 capitals.
  assert.match(result.stdout, /world \(seed 5\) written to .*: 176 facts, 45 forget held-out items/);
  const world = loadWorld(out);
  assert.equal(world.meta.seed, 5);
  assert.equal(world.meta.config.countries, 16);
  assert.equal(world.logicTrain.length, 40);
  assert.ok(readFileSync(join(out, 'tokenizer.json'), 'utf8').includes('"WordLevel"'));
});

test('rlcp world reports a bad config or a missing --out clearly', () => {
  const config = join(tmp, 'bad.json');
  writeFileSync(config, JSON.stringify({ logic: { trian: 1 } }));
  const bad = rlcp('world', '--out', join(tmp, 'x'), '--config', config);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /bad\.json: unknown config key "logic\.trian"/);
  const missing = rlcp('world', '--seed', '1');
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /missing required option --out/);
});

test('the shipped models/world-base/world is exactly `rlcp world --seed 1` (the base model is reproducible)', () => {
  const out = join(tmp, 'seed1');
  const result = rlcp('world', '--seed', '1', '--out', out);
  assert.equal(result.status, 0, result.stderr);
  const shipped = 'models/world-base/world';
  const files = readdirSync(shipped).sort();
  assert.deepEqual(readdirSync(out).sort(), files);
  for (const file of files) {
    assert.ok(readFileSync(join(out, file)).equals(readFileSync(join(shipped, file))), `${file} differs`);
  }
});
