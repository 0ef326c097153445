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
      return compareRow(name, dir, aggregate, { retain_recall: 1 }, 4);
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
