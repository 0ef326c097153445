import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildCharts, METHOD_STYLE } from '../../src/report/charts.ts';
import { renderReport } from '../../src/report/render.ts';
import { validateResults } from '../../src/report/schema.ts';
import { formatTamperTable, tamperSection } from '../../src/demo/results.ts';
import {
  DEFAULT_TAMPER_OPTIONS,
  type TamperModelResult,
  type TamperVsOracle,
} from '../../src/eval/suites/tamper.ts';
import { fixtureConfig, fixtureResults, refusal } from './helpers.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;

const check = (accuracy: number, rank: number, atChance: boolean) => ({
  accuracy,
  mean_rank: rank,
  chance_rank: 8,
  p_above_chance: atChance ? 0.6 : 0.001,
  rank_p: atChance ? 0.5 : 0.001,
  at_chance: atChance,
  retain_recall: 0.95,
});

function battery(id: string, rank: number, atChance: boolean): TamperModelResult {
  const split = {
    train_facts: ['a', 'b'],
    eval_facts: ['c', 'd'],
    accuracy: [0, 0.5],
    mean_rank: [8, rank],
    item_ranks: [],
  };
  return {
    id,
    seconds: 1.5,
    relearn: { steps: [0, 30], splits: [split], accuracy: [0, 0.5], mean_rank: [8, rank] },
    benign: { ...check(0.05, 8, atChance), steps: 50, final_loss: 1 },
    quantization: [8, 4].map((bits) => ({
      ...check(0.05, 8, atChance),
      bits: bits as 8 | 4,
      probe_layers: [],
      probe_max_accuracy: 0.1,
    })),
    truth: { fact_ids: [], scores: [] },
  };
}

function against(id: string, rank: number, held: boolean): TamperVsOracle {
  const at = {
    step: 30,
    mean_rank: rank,
    oracle_mean_rank: 8,
    rank_p: held ? 0.4 : 0.002,
    accuracy: 0.5,
    oracle_accuracy: 0,
    accuracy_excess_facts: held ? 0 : 3,
    area: 8 - rank,
  };
  const holds = {
    relearn_checkpoint: held,
    relearn_end: held,
    benign: held,
    quantization: held,
    forget_quality: held,
  };
  return {
    id,
    checkpoint: at,
    end: { ...at, step: 30 },
    forget_quality: { statistic: 0.5, p: held ? 0.3 : 0.001 },
    holds: { ...holds, all: held },
  };
}

/** The fixture with a tamper battery: RLCP fails it, the oracle is the reference row. */
function withTamper(): Loose {
  const results: Loose = fixtureResults();
  const options = { ...DEFAULT_TAMPER_OPTIONS, relearnSteps: 30, checkpoint: 30 };
  const splits = [{ trainFacts: ['a', 'b'], evalFacts: ['c', 'd'], trainItems: [], evalItems: [] }];
  results.tamper = tamperSection(
    options,
    splits,
    [battery('rlcp', 3, false), battery('oracle', 8, true)],
    [against('rlcp', 3, false)],
  );
  for (const curve of results.relearning.curves)
    curve.mean_rank = curve.accuracy.map((a: number) => 1 + 14 * (1 - a));
  results.relearning.splits = 3;
  return results;
}

test('a run with the tamper battery validates, and its table marks what holds and what fails', () => {
  const results = validateResults(withTamper(), 'results.json');
  assert.deepEqual(
    results.tamper!.models.map((m) => [m.id, m.vs_oracle?.holds.all ?? null]),
    [
      ['rlcp', false],
      ['oracle', null],
    ],
  );
  const table = formatTamperTable(results.tamper);
  assert.match(table, /^rlcp +3\.00 vs 8\.00 \(p=\.002\) FAIL +\+3\.00 /m);
  assert.match(table, /^oracle +— +— +— +5\.0% r8\.0 ok/m);
  assert.equal(formatTamperTable(undefined), '');
});

test('the report draws every model’s relearning rank on one chart and shows the battery', () => {
  const results = validateResults(withTamper(), 'results.json');
  const charts = buildCharts(results);
  const rank = charts['chart-relearning-rank']!;
  assert.deepEqual(
    rank.datasets.map((d) => d.label),
    results.relearning.curves.map((c) => METHOD_STYLE[c.id].label),
  );
  const html = renderReport(results, fixtureConfig());
  assert.ok(html.includes('data-chart="chart-relearning-rank"'));
  assert.match(html, /Tamper battery \(3 relearning splits/);
  assert.match(html, /averaged over 3 different splits/);
  // Without mean ranks (runs before the battery) the rank chart is simply absent.
  const old = validateResults(fixtureResults(), 'results.json');
  assert.equal(buildCharts(old)['chart-relearning-rank'], undefined);
  assert.ok(!renderReport(old, fixtureConfig()).includes('Tamper battery'));
});

test('the schema refuses a split with a fact in both halves, a quantization width other than 4/8, a bad rank', () => {
  const problems = (edit: (r: Loose) => void) => {
    const r = withTamper();
    edit(r);
    return refusal(r);
  };
  assert.match(
    problems((r) => r.tamper.splits[0].eval_facts.push('a')),
    /tamper\.splits\[0\]: fact\(s\) a are in both halves/,
  );
  assert.match(
    problems((r) => (r.tamper.options.quant_bits = [8, 3])),
    /tamper\.options\.quant_bits\[1\]: must be 4 or 8, got 3/,
  );
  assert.match(
    problems((r) => (r.tamper.models[0].quantization[1].bits = 2)),
    /tamper\.models\[0\]\.quantization\[1\]\.bits: must be 4 or 8/,
  );
  assert.match(
    problems((r) => (r.relearning.curves[0].mean_rank = [0.5])),
    /relearning\.curves\[0\]\.mean_rank/,
  );
  assert.match(
    problems((r) => r.tamper.models.push(r.tamper.models[1])),
    /tamper\.models\[2\]\.id: duplicate model "oracle"/,
  );
});
