import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareRow, formatCompareTable, seedGroups } from '../../src/unlearn/compare.ts';
import { resolveConfig } from '../../src/unlearn/config.ts';

test('runs equal but for the seed are summarised as mean ± sample sd; others stay apart', () => {
  const root = mkdtempSync(join(tmpdir(), 'rlcp-compare-'));
  try {
    const run = (name: string, seed: number, lambda: number, recall: number, rank: number) => {
      const dir = join(root, name);
      mkdirSync(dir);
      const config = resolveConfig([{ patch: { seed, fact: { lambda } }, source: 'test' }]);
      writeFileSync(
        join(dir, 'config.json'),
        JSON.stringify({
          format: 'rlcp-metabolize',
          version: 1,
          model: 'base',
          data: { world: 'w' },
          config,
        }),
      );
      const aggregate = { forget_recall_heldout: recall, forget_rank_heldout: rank, retain_recall: 0.9 };
      return compareRow(
        name,
        dir,
        { aggregate, logicCot: null },
        { aggregate: { retain_recall: 1 }, logicCot: null },
        4,
      );
    };
    const rows = [run('s0', 0, 0.5, 0.0, 15), run('s1', 1, 0.5, 0.1, 17), run('other', 0, 1, 0.5, 3)];
    const groups = seedGroups(rows);
    assert.equal(groups.length, 1);
    assert.deepEqual(groups[0]!.runs, ['s0', 's1']);
    assert.deepEqual(groups[0]!.seeds, [0, 1]);
    const recall = groups[0]!.metrics.forget_recall_heldout!;
    assert.ok(Math.abs(recall.mean - 0.05) < 1e-12);
    assert.ok(Math.abs(recall.sd - Math.SQRT1_2 * 0.1) < 1e-12);
    assert.deepEqual(groups[0]!.metrics.forget_rank_heldout, { mean: 16, sd: Math.SQRT2 });
    assert.deepEqual(groups[0]!.metrics.retain_ratio, { mean: 0.9, sd: 0 });
    assert.equal(groups[0]!.metrics.logic_ratio, null);
    const table = formatCompareTable({ base: { dir: 'base', aggregate: {} }, rows, seedGroups: groups });
    assert.match(table, /mean ± sd over seeds 0, 1 \(s0, s1\): fgt_acc 0\.050 ± 0\.071, rank 16\.00 ± 1\.41/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the CoT rate and its McNemar p against the base come from the same logic items', () => {
  const base = { aggregate: {}, logicCot: [false, false, false, false, false, false, false, true] };
  // Six items move from a direct answer to a chain of thought, none the other way: p = 2 · 2^−6.
  const after = { aggregate: {}, logicCot: [true, true, true, true, true, true, false, true] };
  const row = compareRow('r', 'no-such-run', after, base, 4);
  assert.equal(row.cot_rate, 7 / 8);
  assert.ok(Math.abs(row.cot_change_p! - 2 / 64) < 1e-12);
  assert.match(
    formatCompareTable({ base: { dir: 'b', aggregate: {} }, rows: [row], seedGroups: [] }),
    / 0\.88\(0\.03\) /,
  );
  const none = compareRow('r', 'no-such-run', { aggregate: {}, logicCot: null }, base, 4);
  assert.deepEqual([none.cot_rate, none.cot_change_p], [null, null]);
  assert.throws(
    () => compareRow('r', 'x', { aggregate: {}, logicCot: [true] }, base, 4),
    /mcNemarTest: 8 outcomes before but 1 after/,
  );
});
