import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { factSuitesFromWorld, type FactSuites } from '../../../src/eval/suites/items.ts';
import { makeRelearnSplit, relearnSplits } from '../../../src/eval/suites/relearn.ts';
import {
  checkTamperOptions,
  compareToOracle,
  DEFAULT_TAMPER_OPTIONS,
  runTamperBattery,
  type TamperModelResult,
  type TamperOptions,
} from '../../../src/eval/suites/tamper.ts';
import { tinyModel, tinySetup, type TinySetup } from './helpers.ts';

let setup: TinySetup;
let suites: FactSuites;
const options: TamperOptions = {
  ...DEFAULT_TAMPER_OPTIONS,
  splits: 2,
  relearnSteps: 4,
  every: 2,
  checkpoint: 2,
  benignSteps: 2,
  batchSize: 4,
};
let model: TamperModelResult;
let oracle: TamperModelResult;

before(async () => {
  setup = await tinySetup();
  suites = factSuitesFromWorld(setup.world);
  model = runTamperBattery(setup.model, setup.tokenizer, suites, setup.world, options, 'model');
  oracle = runTamperBattery(
    tinyModel(setup.tokenizer, 3),
    setup.tokenizer,
    suites,
    setup.world,
    options,
    'oracle',
  );
});
after(() => rmSync(setup.root, { recursive: true, force: true }));

test('splits: disjoint halves that cover the forget facts, all different; bad splits refused', () => {
  const facts = [...new Set(suites.forgetTrain.map((i) => i.fact_id))];
  const splits = relearnSplits(suites, 3, 0);
  const keys = new Set(splits.map((s) => [...s.evalFacts].sort().join('|')));
  assert.equal(keys.size, 3);
  for (const s of splits) {
    assert.deepEqual([...s.trainFacts, ...s.evalFacts].sort(), [...facts].sort());
    assert.ok(s.evalItems.every((i) => s.evalFacts.includes(i.fact_id) && i.template_split === 'heldout'));
  }
  assert.deepEqual(relearnSplits(suites, 3, 0), splits, 'seeded');
  assert.throws(
    () => makeRelearnSplit(suites, [facts[0]!, facts[1]!], [facts[1]!]),
    /in both the trained and the evaluated half/,
  );
  assert.throws(() => makeRelearnSplit(suites, [], [facts[0]!]), /both halves need facts/);
  assert.throws(() => makeRelearnSplit(suites, ['nope'], [facts[0]!]), /not forget facts/);
  // 4 forget facts make C(4, 2) = 6 splits into halves, no more.
  assert.throws(() => relearnSplits(suites, 7, 0), /do not make 7 different splits/);
});

test('options: zero steps, unmeasured checkpoints and widths other than 4/8 are refused', () => {
  assert.throws(
    () => checkTamperOptions({ ...options, relearnSteps: 0 }),
    /relearning steps must be a positive integer, got 0/,
  );
  assert.throws(() => checkTamperOptions({ ...options, benignSteps: 0 }), /benign fine-tuning steps/);
  assert.throws(() => checkTamperOptions({ ...options, checkpoint: 3 }), /must be a measured step/);
  assert.throws(() => checkTamperOptions({ ...options, quantBits: [2 as 4] }), /4 or 8 bits, got 2/);
});

test('battery: curves per split at every measured step, checks with their tests, one truth score per fact', () => {
  assert.deepEqual(model.relearn.steps, [0, 2, 4]);
  assert.equal(model.relearn.splits.length, 2);
  for (const split of model.relearn.splits) {
    assert.equal(split.mean_rank.length, 3);
    for (const ranks of split.item_ranks) {
      assert.equal(
        ranks.length,
        suites.forgetHeldout.filter((item) => split.eval_facts.includes(item.fact_id)).length,
      );
      const mean = ranks.reduce((a, b) => a + b, 0) / ranks.length;
      assert.ok(split.mean_rank.some((m) => Math.abs(m - mean) < 1e-9));
    }
  }
  const mean0 = (model.relearn.splits[0]!.mean_rank[2]! + model.relearn.splits[1]!.mean_rank[2]!) / 2;
  assert.ok(Math.abs(model.relearn.mean_rank[2]! - mean0) < 1e-9);
  assert.deepEqual(
    model.quantization.map((q) => q.bits),
    [8, 4],
  );
  for (const check of [model.benign, ...model.quantization]) {
    assert.ok(check.p_above_chance >= 0 && check.p_above_chance <= 1);
    assert.equal(
      check.at_chance,
      check.p_above_chance >= 0.05 && !(check.rank_p < 0.05 && check.mean_rank < check.chance_rank),
    );
  }
  assert.equal(model.quantization[0]!.probe_layers.length, setup.model.config.numHiddenLayers);
  assert.equal(model.truth.fact_ids.length, new Set(suites.forgetTrain.map((i) => i.fact_id)).size);
  assert.ok(model.truth.scores.every((s) => Number.isFinite(s) && s <= 0));
});

test('against the oracle: a model compared with itself holds; areas and excess facts follow the curves', () => {
  const self = compareToOracle(oracle, oracle, 2);
  assert.equal(self.checkpoint.rank_p, 1);
  assert.equal(self.checkpoint.area, 0);
  assert.equal(self.checkpoint.accuracy_excess_facts, 0);
  assert.equal(self.forget_quality.p, 1);
  assert.equal(self.holds.relearn_checkpoint && self.holds.relearn_end && self.holds.forget_quality, true);
  const v = compareToOracle(model, oracle, 2);
  const s0 = model.relearn.splits[0]!;
  const o0 = oracle.relearn.splits[0]!;
  const s1 = model.relearn.splits[1]!;
  const o1 = oracle.relearn.splits[1]!;
  // Trapezoids over steps 0, 2 ÷ 2, averaged over the two splits.
  const area = (s: typeof s0, o: typeof o0) =>
    (o.mean_rank[0]! - s.mean_rank[0]! + (o.mean_rank[1]! - s.mean_rank[1]!)) / 2;
  assert.ok(Math.abs(v.checkpoint.area - (area(s0, o0) + area(s1, o1)) / 2) < 1e-9);
  const excess =
    ((s0.accuracy[1]! - o0.accuracy[1]!) * s0.eval_facts.length +
      (s1.accuracy[1]! - o1.accuracy[1]!) * s1.eval_facts.length) /
    2;
  assert.ok(Math.abs(v.checkpoint.accuracy_excess_facts - excess) < 1e-9);
  assert.equal(v.end.step, 4);
  assert.equal(
    v.holds.all,
    Object.entries(v.holds)
      .filter(([k]) => k !== 'all')
      .every(([, ok]) => ok),
  );
  assert.throws(() => compareToOracle(model, oracle, 3), /not measured/);
});
