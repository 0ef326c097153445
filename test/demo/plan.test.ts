import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs } from '../../src/cli/args.ts';
import {
  BASELINES,
  DEFAULT_PATHS,
  defaultConfigPath,
  makePlan,
  regenConfig,
  reproduceCommand,
  STAGE_BUDGETS,
  type DemoOptions,
} from '../../src/demo/plan.ts';
import { cotStats, formatSummaryTable, probeExcess, targets, trainingCurve } from '../../src/demo/results.ts';
import type { LogicItemResult } from '../../src/eval/suites/recall.ts';
import type { MethodMetrics, ProbeLayer } from '../../src/report/schema.ts';
import { readConfigFile, resolveConfig } from '../../src/unlearn/config.ts';
import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/temp-dir.ts';

const options: DemoOptions = {
  model: DEFAULT_PATHS.model,
  world: DEFAULT_PATHS.world,
  oracle: DEFAULT_PATHS.oracle,
  config: defaultConfigPath(),
  regenConfig: DEFAULT_PATHS.regenConfig,
  outRoot: 'runs',
  seed: 7,
  fast: false,
  baselines: [...BASELINES],
  baselineProbes: 'auto',
  progress: false,
};

test('the full plan runs RLCP with the default config (seeded) and short baselines within 15 minutes', () => {
  const plan = makePlan(options);
  const expected = resolveConfig([
    ...(options.config ? [readConfigFile(options.config)] : []),
    { patch: { seed: 7 }, source: 'test' },
  ]);
  assert.deepEqual(plan.methods.rlcp, expected);
  for (const b of ['unlikelihood', 'ga', 'graddiff', 'npo'] as const) {
    assert.equal(plan.methods[b].method, b);
    assert.equal(plan.methods[b].seed, 7);
    assert.ok(plan.methods[b].steps < plan.methods.rlcp.steps, b);
    assert.equal(plan.methods[b].eval.every, 0);
  }
  assert.equal(plan.methods.rag.steps, 0);
  assert.equal(plan.methods.ga.anchors.logic.weight, 0, 'the method overlay is kept');
  for (const mode of ['full', 'fast'] as const) {
    const total = Object.values(STAGE_BUDGETS[mode]).reduce((a, b) => a + b, 0);
    assert.ok(total <= 15 * 60, `${mode}: ${total} s`);
    assert.ok(STAGE_BUDGETS[mode].regen > 0, `${mode}: the regeneration stage has a budget`);
  }
  const fast = makePlan({ ...options, fast: true });
  assert.ok(fast.methods.rlcp.steps < plan.methods.rlcp.steps);
  assert.ok(fast.totalBudget < plan.totalBudget);
});

test('the regeneration stage runs the shipped recipe, seeded; --fast halves it, --regen-steps sets it', () => {
  const plan = makePlan(options);
  const recipe = resolveConfig([
    readConfigFile(DEFAULT_PATHS.regenConfig),
    { patch: { seed: 7 }, source: 't' },
  ]);
  assert.equal(recipe.method, 'regen', 'the shipped recipe names its method');
  assert.deepEqual(plan.methods.regen, recipe);
  assert.equal(makePlan({ ...options, fast: true }).methods.regen.steps, Math.round(recipe.steps / 2));
  assert.equal(regenConfig({ ...options, fast: true, regenSteps: 4 }).steps, 4);
  const stages = plan.stages.map((s) => s.name);
  assert.equal(stages.indexOf('regen'), stages.indexOf('rlcp-eval') + 1, 'regen follows the RLCP evaluation');
  assert.ok(plan.stages.find((s) => s.name === 'regen')!.what.includes(`${recipe.steps} steps`));
});

test('a regeneration config that names another method, or a key regen does not know, is refused', () => {
  const dir = tempDir('rlcp-plan-');
  try {
    const other = join(dir, 'rlcp.json');
    writeFileSync(other, JSON.stringify({ method: 'rlcp', steps: 5 }));
    assert.throws(
      () => regenConfig({ ...options, regenConfig: other }),
      (e: Error) => e.message.includes(other) && e.message.includes('"rlcp"') && e.message.includes('regen'),
    );
    const typo = join(dir, 'typo.json');
    writeFileSync(typo, JSON.stringify({ regen: { alpah: 0.5 } }));
    assert.throws(() => regenConfig({ ...options, regenConfig: typo }), /alpah/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the reproduce command parses back to the same options', () => {
  const command = reproduceCommand(
    {
      ...options,
      fast: true,
      relearnSteps: 9,
      regenSteps: 11,
      baselines: ['ga', 'npo'],
      baselineProbes: ['npo'],
    },
    '/somewhere/else',
  );
  const argv = command.split(' ');
  assert.equal(argv[2], 'demo');
  const args = parseArgs(argv.slice(3));
  const get = (k: string) => args.options.get(k)?.at(-1);
  assert.equal(get('model'), DEFAULT_PATHS.model, 'paths outside the working directory stay absolute');
  assert.equal(get('seed'), '7');
  assert.equal(get('fast'), 'true');
  assert.equal(get('relearn-steps'), '9');
  assert.equal(get('baselines'), 'ga,npo');
  assert.equal(get('baseline-probes'), 'npo');
  assert.equal(get('rlcp-steps'), undefined);
  assert.equal(get('regen-steps'), '11');
  assert.equal(get('regen-config'), DEFAULT_PATHS.regenConfig);
});

function evalRecord(step: number, recall: number, extra: Record<string, number> = {}) {
  return {
    step,
    lambda: 0.5,
    forget_recall_heldout: recall,
    forget_rank_heldout: 1 + 14 * (1 - recall),
    retain_recall: 0.9,
    kl: 0.01 * step,
    ...extra,
  };
}

test('training curve: evaluation records only, losses named, step 0 probe filled in, collapse found', () => {
  const records = [
    evalRecord(0, 1),
    { step: 5, lambda: 0.5, loss_total: 3, probe_accuracy: 0.5 },
    evalRecord(10, 0.95, { loss_total: 2, loss_probe: 1, probe_accuracy: 0.4 }),
    evalRecord(20, 0.05, { loss_total: 1, loss_probe: 2, probe_accuracy: 0.1 }),
    evalRecord(30, 0.03, { loss_total: 1, loss_probe: 2, probe_accuracy: 0.05 }),
  ];
  const curve = trainingCurve(records, [3, 4], 0.77);
  assert.deepEqual(
    curve.steps.map((s) => s.step),
    [0, 10, 20, 30],
  );
  assert.equal(curve.steps[0]!.probe_accuracy, 0.77);
  assert.equal(curve.steps[1]!.probe_accuracy, 0.4);
  assert.deepEqual(curve.steps[1]!.loss, { total: 2, probe: 1, eval_kl: 0.1 });
  assert.deepEqual(curve.steps[0]!.loss, { eval_kl: 0 });
  assert.equal(curve.collapse?.step, 20);
  assert.deepEqual(curve.probe_layers, [3, 4]);
  const flat = trainingCurve([evalRecord(0, 0.5), evalRecord(10, 0.5)], [1], 0);
  assert.equal(flat.collapse, null);
  const atChance = records.map((r) => ({ ...r, forget_heldout_p_above_chance: 0.4 }));
  assert.equal(trainingCurve(atChance, [3, 4], 0).collapse, null, 'a base at chance has nothing to collapse');
  const known = records.map((r) => ({ ...r, forget_heldout_p_above_chance: 1e-9 }));
  assert.equal(trainingCurve(known, [3, 4], 0).collapse?.step, 20);
});

const metrics = (v: number): MethodMetrics => ({
  forget_heldout: v,
  forget_train: v,
  forget_rank_heldout: 2,
  forget_rank_train: 2,
  forget_p_above_chance: 0.5,
  forget_rank_p: 0.2,
  retain: v,
  rag: v,
  logic: v,
  multihop: v,
});

const probe = (layer: number, kind: 'linear' | 'mlp', accuracy: number): ProbeLayer => ({
  layer,
  design: 'cross_entity',
  kind,
  accuracy,
  majority: 0.1,
  selectivity: 0,
});

test('targets: shares of base, probe excess over the adversary layers and every layer, notes', () => {
  const probes = [
    probe(0, 'linear', 0.1),
    probe(1, 'linear', 0.3),
    probe(1, 'mlp', 0.5),
    probe(2, 'linear', 0.9),
  ];
  assert.ok(Math.abs(probeExcess(probes, [0, 1])! - 0.4) < 1e-12);
  const { targets: list, notes } = targets({
    base: { ...metrics(0.8), logic: 0 },
    rlcp: metrics(0.4),
    rlcpAggregate: { forget_rank_p_train: 0.01 },
    rlcpProbes: probes,
    adversaryLayers: [0, 1],
    trainSeconds: 100,
    rlcpSteps: 50,
    defaultSteps: 200,
  });
  const byId = new Map(list.map((t) => [t.id, t]));
  assert.equal(byId.get('retain_kept')!.value, 0.5);
  assert.ok(Math.abs(byId.get('probe_at_majority')!.value - 40) < 1e-9);
  assert.ok(Math.abs(byId.get('probe_at_majority_every_layer')!.value - 80) < 1e-9);
  assert.equal(byId.get('forget_rank_train_at_chance')!.value, 0.01);
  assert.ok(!byId.has('logic_kept'));
  assert.ok(!byId.has('runtime'));
  assert.ok(notes.some((n) => n.includes('Logic accuracy')));
  assert.ok(notes.some((n) => n.includes('50 steps')));
});

test('chain-of-thought stats score logic answers like GSM8K', () => {
  const item = (generated: string, answer: string, tokens: number) =>
    ({ generated, answer, generated_tokens: tokens }) as LogicItemResult;
  const stats = cotStats([
    item(' 3 + 4 = 7. The answer is 7.', '7', 12),
    item(' The answer is 5.', '6', 4),
    item(' 9', '9', 2),
  ]);
  assert.ok(Math.abs(stats.cot_rate - 1 / 3) < 1e-12);
  assert.ok(Math.abs(stats.strict_accuracy - 1 / 3) < 1e-12);
  assert.ok(Math.abs(stats.flexible_accuracy - 2 / 3) < 1e-12);
  assert.equal(stats.mean_tokens, 6);
});

test('summary table: one line per method, probe max layer against majority, chance in the header', () => {
  const table = formatSummaryTable(
    [
      { id: 'base', metrics: metrics(0.9), probes: [probe(1, 'linear', 0.3), probe(2, 'linear', 0.6)] },
      { id: 'ga', metrics: metrics(0.1), probes: [] },
    ],
    30,
  );
  const lines = table.split('\n');
  assert.match(lines[0]!, /1\/30 = 3\.3%.*15\.5/);
  assert.match(
    lines.find((l) => l.startsWith('base'))!,
    /90\.0%.*60\.0% @L2 vs 10\.0%/,
  );
  assert.match(
    lines.find((l) => l.startsWith('ga'))!,
    /\(not run\)/,
  );
});
