import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mcNemarTest } from '../../src/eval/stats.ts';

/** Paired outcomes with b pairs true → false, c pairs false → true, plus concordant pairs of both kinds. */
function pairs(b: number, c: number, concordant = 3): { before: boolean[]; after: boolean[] } {
  const before: boolean[] = [];
  const after: boolean[] = [];
  const push = (x: boolean, y: boolean, times: number) => {
    for (let i = 0; i < times; i++) {
      before.push(x);
      after.push(y);
    }
  };
  push(true, false, b);
  push(false, true, c);
  push(true, true, concordant);
  push(false, false, concordant);
  return { before, after };
}

test('exact McNemar p-values match scipy.stats.binomtest(c, b + c, 0.5)', () => {
  // scipy 1.17.1: binomtest(c, b + c, 0.5).pvalue; the log-space binomial sum agrees to ~1e-11 at n = 540.
  const cases: [number, number, number][] = [
    [10, 2, 0.03857421875],
    [7, 3, 0.34375],
    [5, 0, 0.0625],
    [40, 20, 0.01348929373119186],
    [300, 240, 0.011050481081929898],
  ];
  for (const [b, c, expected] of cases) {
    const { before, after } = pairs(b, c);
    const result = mcNemarTest(before, after);
    assert.equal(result.true_to_false, b);
    assert.equal(result.false_to_true, c);
    assert.ok(
      Math.abs(result.p_two_sided - expected) <= 1e-10 * expected,
      `${b}/${c}: ${result.p_two_sided}`,
    );
    // Symmetric in the direction of change.
    const swapped = mcNemarTest(after, before);
    assert.equal(swapped.p_two_sided, result.p_two_sided);
  }
});

test('McNemar ignores concordant pairs and gives 1 without discordant ones', () => {
  assert.equal(mcNemarTest([true, false, true], [true, false, true]).p_two_sided, 1);
  assert.equal(mcNemarTest([true], [false]).p_two_sided, 1);
  const few = pairs(10, 2, 0);
  const many = pairs(10, 2, 50);
  assert.equal(
    mcNemarTest(few.before, few.after).p_two_sided,
    mcNemarTest(many.before, many.after).p_two_sided,
  );
});

test('McNemar refuses unpaired outcomes', () => {
  assert.throws(() => mcNemarTest([true, false], [true]), /2 outcomes before but 1 after/);
});
