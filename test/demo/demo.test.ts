import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import '../../src/cli/commands/demo.ts';
import { main } from '../../src/cli/main.ts';
import { runDemo } from '../../src/demo/pipeline.ts';
import { loadRun } from '../../src/report/write.ts';
import type { RunResults } from '../../src/report/schema.ts';
import { demoFixture, tinyOptions } from './helpers.ts';

const fx = await demoFixture();
after(() => rmSync(fx.root, { recursive: true, force: true }));

/** Runs `rlcp demo` in-process; stdout is captured, stderr (stage lines) is left alone. */
async function cli(...argv: string[]): Promise<{ code: number; stdout: string }> {
  const lines: string[] = [];
  const original = console.log;
  console.log = (...parts: unknown[]) => void lines.push(parts.join(' '));
  try {
    const code = await main(['demo', ...argv]);
    return { code, stdout: lines.join('\n') };
  } finally {
    console.log = original;
  }
}

const tinyArgs = [
  '--model',
  fx.modelDir,
  '--world',
  fx.worldDir,
  '--oracle',
  fx.oracleDir,
  '--config',
  'none',
  '--out-root',
  fx.outRoot,
  '--seed',
  '3',
  '--fast',
  '--rlcp-steps',
  '3',
  '--regen-steps',
  '2',
  '--baseline-steps',
  '1',
  '--relearn-steps',
  '2',
  '--no-progress',
];

let first: { dir: string; results: RunResults; bytes: string };

test('rlcp demo writes a complete run folder, prints the summary table and the wall time', async () => {
  const r = await cli(...tinyArgs);
  assert.equal(r.code, 0);
  const runs = readdirSync(fx.outRoot);
  assert.equal(runs.length, 1);
  const dir = join(fx.outRoot, runs[0]!);
  // loadRun validates results.json against the schema and counts every item file's records.
  const { results, config } = loadRun(dir);
  assert.deepEqual(
    results.methods.map((m) => m.id),
    ['base', 'rlcp', 'regen', 'unlikelihood', 'ga', 'graddiff', 'npo', 'simnpo', 'rmu', 'leace', 'rag'],
  );
  // The tamper battery runs on every trained method (Just-RAG has the base's weights), the base and the oracle.
  const battery = [
    'rlcp',
    'regen',
    'unlikelihood',
    'ga',
    'graddiff',
    'npo',
    'simnpo',
    'rmu',
    'leace',
    'base',
    'oracle',
  ];
  assert.deepEqual(
    results.relearning.curves.map((c) => c.id),
    battery,
  );
  assert.deepEqual(
    results.tamper?.models.map((m) => m.id),
    battery,
  );
  assert.equal(results.tamper?.models.at(-1)?.vs_oracle, null, 'the oracle is not compared with itself');
  assert.ok(results.tamper?.models.slice(0, -1).every((m) => m.vs_oracle !== null));
  assert.deepEqual(results.tamper?.options.quant_bits, [8, 4]);
  assert.deepEqual(results.relearning.steps, [0, 1, 2]);
  assert.deepEqual(
    results.training.steps.map((s) => s.step),
    [0, 3],
  );
  assert.ok(results.item_files.some((f) => f.path === 'items/rlcp/forget_heldout.jsonl'));
  assert.ok(results.item_files.some((f) => f.path === 'items/tamper/relearn.jsonl'));
  assert.equal(results.seed, 3);
  assert.match(
    results.command,
    /demo .*--seed 3 --fast --rlcp-steps 3 --regen-steps 2 --baseline-steps 1 --relearn-steps 2/,
  );
  assert.equal(config.status, 'finished');
  const configured = config.methods as Record<string, { steps: number; method: string }>;
  assert.equal(configured.rlcp!.steps, 3);
  assert.deepEqual([configured.regen!.method, configured.regen!.steps], ['regen', 2]);
  // Regeneration starts from this run's RLCP model (its teacher).
  const regenRun = JSON.parse(readFileSync(join(dir, 'regen', 'config.json'), 'utf8')) as { model: string };
  assert.equal(regenRun.model, join(dir, 'rlcp', 'model'));
  for (const sub of ['rlcp', 'regen', 'unlikelihood', 'ga', 'graddiff', 'npo', 'rag']) {
    assert.ok(existsSync(join(dir, sub, 'metrics.jsonl')), sub);
    assert.ok(existsSync(join(dir, sub, 'model', 'model.safetensors')), sub);
  }
  // The claims stage: the four claims on the demo's seed, with its anchors-only control run beside RLCP's.
  assert.deepEqual(results.claims?.seeds, [3]);
  assert.deepEqual(
    results.claims?.claims.map((c) => c.id),
    ['retention', 'phase_transition', 'crystallization', 'chain_of_thought'],
  );
  const control = config.claims_control as { steps: number; fact: { lambda: number; generic: number } };
  assert.deepEqual([control.steps, control.fact.lambda, control.fact.generic], [3, 0, 0]);
  assert.ok(existsSync(join(dir, 'anchors-control', 'model', 'model.safetensors')));
  // CoT of every evaluated model against the base's, on the same logic items.
  assert.deepEqual(
    results.chain_of_thought.methods?.map((m) => m.id),
    ['rlcp', 'regen', 'unlikelihood', 'ga', 'graddiff', 'npo', 'simnpo', 'rmu', 'leace', 'oracle'],
  );
  const html = readFileSync(join(dir, 'report.html'), 'utf8');
  assert.match(html, /id="claims"/);
  assert.match(html, /RLCP \+ regeneration/, 'the report names the regenerated model');
  assert.match(r.stdout, /^\| retention < 7 % \|/m);
  const summary = readFileSync(join(dir, 'summary.md'), 'utf8');
  assert.match(summary, /^\| rlcp \| /m);
  assert.match(summary, /^\| spontaneous chain of thought \|/m);
  assert.match(summary, /^\| oracle \| [\d.]+% \|/m);
  assert.ok(summary.includes(results.command));
  assert.match(summary, /^\| regen \| /m);
  for (const id of ['base', 'rlcp', 'regen', 'unlikelihood', 'npo'])
    assert.match(r.stdout, new RegExp(`^${id} `, 'm'));
  assert.match(r.stdout, /^total wall time /m);
  assert.match(r.stdout, /^Tamper battery \(2 relearning splits/m);
  assert.match(r.stdout, /^oracle +— /m);
  first = { dir, results, bytes: readFileSync(join(dir, 'results.json'), 'utf8') };
});

test('a second run writes a new folder, leaves the first untouched, and repeats its numbers', async () => {
  assert.ok(first, 'needs the first test');
  const second = await runDemo(tinyOptions(fx, { baselines: ['ga'], baselineProbes: 'on' }), () => {});
  assert.notEqual(second.runDir, first.dir);
  assert.equal(readdirSync(fx.outRoot).length, 2);
  assert.equal(readFileSync(join(first.dir, 'results.json'), 'utf8'), first.bytes);
  const a = first.results;
  const b = second.results;
  for (const id of ['base', 'rlcp', 'regen', 'ga'] as const) {
    const ma = a.methods.find((m) => m.id === id)!;
    const mb = b.methods.find((m) => m.id === id)!;
    assert.deepEqual(mb.metrics, ma.metrics, id);
    assert.deepEqual(mb.probe_layers, ma.probe_layers, id);
  }
  assert.deepEqual(b.training.steps, a.training.steps);
  // The second run trains fewer baselines; every model both ran gets the same battery, to the bit.
  assert.deepEqual(
    b.relearning.curves.map((c) => c.id),
    ['rlcp', 'regen', 'ga', 'base', 'oracle'],
  );
  for (const curve of b.relearning.curves)
    assert.deepEqual(
      curve,
      a.relearning.curves.find((c) => c.id === curve.id),
      curve.id,
    );
  for (const row of b.tamper!.models) {
    const { seconds: _s, ...rest } = row;
    const { seconds: _t, ...other } = a.tamper!.models.find((m) => m.id === row.id)!;
    assert.deepEqual(rest, other, row.id);
  }
  assert.deepEqual(b.examples, a.examples);
});

test('wrong invocations name the problem', async () => {
  const unknown = await cli('--modle', 'x');
  assert.equal(unknown.code, 1);
  const missing = await cli(...tinyArgs.map((a) => (a === fx.modelDir ? join(fx.root, 'nope') : a)));
  assert.equal(missing.code, 1);
  assert.equal(readdirSync(fx.outRoot).length, 2, 'a refused run writes no folder');
  const badBaseline = await cli('--baselines', 'ga,dpo');
  assert.equal(badBaseline.code, 1);
});
