import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findPhaseTransition, phaseTransitionFromFile } from '../../src/eval/phase.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const curve = (values: number[], every = 10) =>
  values.map((recall, i) => ({ step: i * every, forget_recall_heldout: recall }));

function close(actual: number | null, expected: number, tol = 1e-9): void {
  assert.ok(actual !== null && Math.abs(actual - expected) <= tol, `expected ${expected}, got ${actual}`);
}

test('a one-interval collapse: step, interpolated 90%/10% crossings and λ', () => {
  const records: Record<string, unknown>[] = curve([1, 1, 0.95, 0.05, 0, 0]);
  // λ is logged on training records every 5 steps, separately from the evaluations.
  for (let step = 0; step <= 50; step += 5) records.push({ step, lambda: step / 100, loss: 1 });
  const phase = findPhaseTransition(records);
  assert.equal(phase.transition, true);
  assert.equal(phase.reason, null);
  assert.equal(phase.n_evals, 6);
  assert.equal(phase.step, 30);
  assert.equal(phase.drop_from_step, 20);
  close(phase.largest_drop, 0.9);
  assert.equal(phase.high, 1);
  assert.equal(phase.low, 0);
  close(phase.drop_share, 0.9);
  // 0.9 is crossed between step 20 (0.95) and 30 (0.05): 20 + 0.05/0.9·10; 0.1 likewise: 20 + 0.85/0.9·10.
  close(phase.step_90, 20 + (0.05 / 0.9) * 10);
  close(phase.step_10, 20 + (0.85 / 0.9) * 10);
  close(phase.width, (0.8 / 0.9) * 10);
  assert.equal(phase.lambda, 0.3);
});

test('a sigmoid collapse sampled every 10 steps is found at its centre', () => {
  const records = Array.from({ length: 21 }, (_, i) => ({
    step: i * 10,
    forget_recall_heldout: 1 / (1 + Math.exp((i * 10 - 100) / 8)),
    lambda: 0.5,
  }));
  const phase = findPhaseTransition(records);
  assert.equal(phase.transition, true);
  assert.ok(phase.step === 100 || phase.step === 110, `step ${phase.step}`);
  // The exact sigmoid crosses 90% at 100 − 8 ln 9 ≈ 82.4 and 10% at ≈ 117.6; linear interpolation is close.
  assert.ok(Math.abs(phase.step_90! - (100 - 8 * Math.log(9))) < 2, `step_90 ${phase.step_90}`);
  assert.ok(Math.abs(phase.step_10! - (100 + 8 * Math.log(9))) < 2, `step_10 ${phase.step_10}`);
  assert.equal(phase.lambda, 0.5);
});

test('a gradual decline is a transition with a small drop share and a wide window', () => {
  const phase = findPhaseTransition(curve([1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0]));
  assert.equal(phase.transition, true);
  assert.equal(phase.step, 10, 'equal drops: the first one');
  close(phase.drop_share, 0.1);
  close(phase.step_90, 10);
  close(phase.step_10, 90);
  close(phase.width, 80);
  assert.equal(phase.lambda, null, 'no λ logged');
});

test('the fall runs from the last peak before the drop to the lowest point after it', () => {
  const phase = findPhaseTransition(curve([0.6, 0.8, 0.7, 0.8, 0.1, 0.3, 0.05, 0.4]));
  assert.equal(phase.step, 40);
  assert.equal(phase.high, 0.8);
  assert.equal(phase.low, 0.05);
  close(phase.fall, 0.75);
  // 90% level 0.725 is crossed in 30→40; 10% level 0.125 also in 30→40 (0.8 → 0.1).
  close(phase.step_90, 30 + ((0.8 - 0.725) / 0.7) * 10);
  close(phase.step_10, 30 + ((0.8 - 0.125) / 0.7) * 10);
  assert.equal(phase.final_recall, 0.4);
});

test('no transition: too few evaluations, flat or rising recall, or a small fall', () => {
  const none = findPhaseTransition([
    { step: 0, forget_recall_heldout: 1 },
    { step: 5, loss: 2 },
  ]);
  assert.equal(none.transition, false);
  assert.match(none.reason!, /need at least 2 evaluations .* found 1/);
  assert.equal(none.initial_recall, 1);

  const flat = findPhaseTransition(curve([0.5, 0.5, 0.5]));
  assert.equal(flat.transition, false);
  assert.match(flat.reason!, /never falls/);

  const rising = findPhaseTransition(curve([0.1, 0.4, 0.9]));
  assert.equal(rising.transition, false);

  const small = findPhaseTransition(curve([1, 0.9, 0.7, 0.7]));
  assert.equal(small.transition, false);
  assert.match(small.reason!, /less than 0\.5 of the peak/);
  assert.equal(small.step, 20, 'the largest drop is still reported');
  assert.equal(findPhaseTransition(curve([1, 0.9, 0.7, 0.7]), { minFallFraction: 0.25 }).transition, true);
});

test('custom field names, unsorted records and repeated steps', () => {
  const records = [
    { it: 20, recall_forget: 0.2, adv_weight: 0.9 },
    { it: 0, recall_forget: 1, adv_weight: 0.1 },
    { it: 10, recall_forget: 0.1, adv_weight: 0.4 },
    { it: 10, recall_forget: 0.9, adv_weight: 0.5 }, // a resumed run re-logs step 10: the later record wins
    { it: 30, recall_forget: 0.0 },
  ];
  const phase = findPhaseTransition(records, {
    stepKey: 'it',
    recallKey: 'recall_forget',
    lambdaKey: 'adv_weight',
  });
  assert.equal(phase.n_evals, 4);
  assert.equal(phase.step, 20);
  close(phase.largest_drop, 0.7);
  assert.equal(phase.lambda, 0.9);
});

test('phaseTransitionFromFile reads metrics.jsonl and names the bad line', () => {
  const dir = tempDir('rlcp-phase-');
  const good = join(dir, 'metrics.jsonl');
  writeFileSync(
    good,
    curve([1, 1, 0])
      .map((r) => JSON.stringify(r))
      .join('\n') + '\n',
  );
  assert.equal(phaseTransitionFromFile(good).step, 20);
  const bad = join(dir, 'bad.jsonl');
  writeFileSync(bad, '{"step": 0, "forget_recall_heldout": 1}\n[1, 2]\n');
  assert.throws(() => phaseTransitionFromFile(bad), new RegExp(`${bad}:2: expected a JSON object per line`));
});
