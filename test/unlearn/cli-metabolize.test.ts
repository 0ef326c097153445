import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tinyFixture } from './helpers.ts';

const fx = await tinyFixture();
after(() => rmSync(fx.root, { recursive: true, force: true }));

function rlcp(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/rlcp.js', ...args], {
    encoding: 'utf8',
    env: { ...process.env, CI: '1' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const small = join(fx.root, 'small.json');
writeFileSync(
  small,
  JSON.stringify({
    steps: 2,
    checkpointEvery: 1,
    fact: { batchSize: 4, probeBatchSize: 4 },
    anchors: { logic: { batchSize: 2 }, retain: { batchSize: 2 }, rag: { batchSize: 2, variants: 1 } },
    eval: { every: 2, retainLimit: 6, ragLimit: 4, logicLimit: 2, klItems: 2 },
  }),
);

test('metabolize writes the run folder; --resume of a finished run changes nothing; unknown keys are named', () => {
  const out = join(fx.root, 'run');
  const r = rlcp(
    'metabolize',
    '--model',
    fx.modelDir,
    '--world',
    fx.worldDir,
    '--config',
    small,
    '--seed',
    '4',
    '--out',
    out,
    '--json',
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /metabolize rlcp/);
  for (const f of [
    'config.json',
    'metrics.jsonl',
    'summary.json',
    'model/config.json',
    'model/model.safetensors',
    'model/tokenizer.json',
  ]) {
    assert.ok(existsSync(join(out, f)), f);
  }
  assert.ok(existsSync(join(out, 'checkpoints', 'latest.json')));
  const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  assert.equal(config.config.seed, 4);
  assert.equal(config.config.steps, 2);
  assert.deepEqual(config.config.fact.layers, [2, 3]);
  assert.equal(config.config.anchors.beta, 3);
  const last = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  assert.equal(last.step, 2);
  const model = readFileSync(join(out, 'model', 'model.safetensors'));
  const again = rlcp('metabolize', '--resume', out);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /0 steps run/);
  assert.deepEqual(readFileSync(join(out, 'model', 'model.safetensors')), model);
  const refused = rlcp(
    'metabolize',
    '--model',
    fx.modelDir,
    '--world',
    fx.worldDir,
    '--config',
    small,
    '--out',
    out,
  );
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /already holds a run/);

  const typo = join(fx.root, 'typo.json');
  writeFileSync(typo, JSON.stringify({ anchors: { betta: 1 } }));
  const bad = rlcp(
    'metabolize',
    '--model',
    fx.modelDir,
    '--world',
    fx.worldDir,
    '--config',
    typo,
    '--out',
    join(fx.root, 'bad'),
  );
  assert.equal(bad.code, 1);
  assert.ok(bad.stderr.includes(typo) && bad.stderr.includes('"anchors.betta"'), bad.stderr);
});
