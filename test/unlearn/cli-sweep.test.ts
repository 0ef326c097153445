import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
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

test('sweep runs every setting and skips finished runs; compare evaluates runs against the base', () => {
  const sweep = join(fx.root, 'sweep.json');
  writeFileSync(
    sweep,
    JSON.stringify({
      baseConfig: 'small.json',
      grid: { 'fact.objective': ['ce', 'uniform'] },
      runs: [{ name: 'a' }],
    }),
  );
  const out = join(fx.root, 'sweep');
  const r = rlcp(
    'sweep',
    '--config',
    sweep,
    '--model',
    fx.modelDir,
    '--world',
    fx.worldDir,
    '--out',
    out,
    '--json',
  );
  assert.equal(r.code, 0, r.stderr);
  const results = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  assert.deepEqual(
    results.map((x: { name: string }) => x.name),
    ['a_objective=ce', 'a_objective=uniform'],
  );
  assert.ok(results.every((x: { final: { step: number } }) => x.final.step === 2));
  assert.ok(results.some((x: { pareto: boolean }) => x.pareto));
  const rerun = rlcp(
    'sweep',
    '--config',
    sweep,
    '--model',
    fx.modelDir,
    '--world',
    fx.worldDir,
    '--out',
    out,
  );
  assert.equal(rerun.code, 0, rerun.stderr);
  assert.match(rerun.stderr, /finished, skipped/);

  const cmp = rlcp(
    'compare',
    '--world',
    fx.worldDir,
    '--runs',
    join(out, 'a_objective=ce'),
    join(out, 'a_objective=uniform'),
    '--suite',
    'recall',
    '--json',
  );
  assert.equal(cmp.code, 0, cmp.stderr);
  const report = JSON.parse(cmp.stdout.trim().split('\n').at(-1)!);
  assert.equal(report.base.dir, fx.modelDir);
  assert.equal(report.rows.length, 2);
  const row = report.rows[0];
  assert.equal(row.method, 'rlcp');
  assert.equal(typeof row.forget_rank_heldout, 'number');
  assert.equal(typeof row.retain_ratio === 'number' || row.retain_ratio === null, true);
  assert.equal(row.targets.rag_95, null, 'no rag suite was run');
});
