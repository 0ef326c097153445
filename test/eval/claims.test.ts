import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  evaluateClaims,
  formatClaimsTable,
  type ClaimsInput,
  type ClaimsModelMeasures,
} from '../../src/eval/claims.ts';
import { Rng } from '../../src/tensor/random.ts';

const ROWS = 40;
const DIM = 8;
const LAYERS = [2, 3];

/** Hidden states spread over `rank` random directions (plus a little noise): effective rank ≈ rank. */
function states(seed: number, rank: number): Float32Array[][] {
  const rng = new Rng(seed);
  return LAYERS.map(() =>
    Array.from({ length: ROWS }, () => {
      const row = new Float32Array(DIM);
      for (let d = 0; d < DIM; d++) row[d] = (d < rank ? rng.normal() : 0) + 0.01 * rng.normal();
      return row;
    }),
  );
}

function model(forgetHits: number, cot: number, seed: number, rank: number): ClaimsModelMeasures {
  return {
    forgetHeldoutCorrect: Array.from({ length: 60 }, (_, i) => i < forgetHits),
    logicCot: Array.from({ length: 20 }, (_, i) => i < cot),
    logicCorrect: Array.from({ length: 20 }, () => true),
    deepStates: states(seed, rank),
  };
}

/** Forget recall 1 until step 100, then `after` from step 125 on (evaluations every 25 steps). */
function metrics(curve: number[]): Record<string, unknown>[] {
  return curve.map((recall, i) => ({ step: 25 * i, forget_recall_heldout: recall }));
}

function input(
  overrides: Partial<ClaimsInput> = {},
  rlcp = model(0, 20, 10, 2),
  control = model(60, 10, 11, 8),
): ClaimsInput {
  return {
    base: model(60, 10, 1, 8),
    oracle: model(2, 10, 2, 8),
    runs: [0, 1, 2].map((seed) => ({
      seed,
      rlcp,
      control,
      metrics: metrics([1, 1, 1, 1, 1, 0.02, 0.02, 0.02, 0.02]),
    })),
    deepLayers: LAYERS,
    heldoutItems: 60,
    bootstrapReplicates: 100,
    ...overrides,
  };
}

function claim(report: ReturnType<typeof evaluateClaims>, id: string) {
  const found = report.claims.find((c) => c.id === id);
  assert.ok(found, id);
  return found;
}

test('every claim is supported when the measurements show it in every seed', () => {
  const report = evaluateClaims(input());
  for (const c of report.claims)
    assert.equal(c.verdict, 'supported', `${c.id}: ${JSON.stringify(c.seeds[0])}`);
  // Retention: 0 of 60 against 7 %: P(X ≤ 0) for Binomial(60, 0.07) = 0.93^60 (1 of 60 would give 0.071).
  const expected = 0.93 ** 60;
  assert.ok(Math.abs(claim(report, 'retention').p_value! - expected) < 1e-12);
  // CoT: 10 direct → CoT, none back: exact McNemar p = 2 · 2^−10.
  assert.equal(claim(report, 'chain_of_thought').p_value, 2 / 1024);
  // Crystallization: rank-2 states against rank-8 ones lower the effective rank by about 6.
  const crystal = claim(report, 'crystallization').seeds[0]!;
  assert.ok(crystal.value! < -4, `${crystal.value}`);
  const table = formatClaimsTable(report);
  assert.equal(table.split('\n').length, 2 + 4);
  assert.match(table, /\| sharp phase transition \|.*\| supported \|/);
});

test('a claim fails when one seed does not show it, and its p is the largest per seed', () => {
  const base = input();
  const gradual = metrics([1, 0.9, 0.78, 0.66, 0.55, 0.43, 0.3, 0.18, 0.05]);
  const report = evaluateClaims({
    ...base,
    runs: base.runs.map((r, i) => (i === 1 ? { ...r, metrics: gradual } : r)),
  });
  const phase = claim(report, 'phase_transition');
  assert.equal(phase.verdict, 'not supported');
  assert.ok(phase.seeds[1]!.value! < 0.5);
  assert.equal(phase.p_value, Math.max(...phase.seeds.map((s) => s.p!)));
  // Retention above the bound: 30 of 60 hits.
  const retained = evaluateClaims(input({}, model(30, 20, 10, 2)));
  assert.equal(claim(retained, 'retention').verdict, 'not supported');
  assert.ok(claim(retained, 'retention').p_value! > 0.99);
});

test('crystallization needs a change beyond the control, not just beyond the base', () => {
  const rlcp = model(1, 20, 10, 2);
  const report = evaluateClaims(input({}, rlcp, { ...model(60, 10, 11, 8), deepStates: rlcp.deepStates }));
  const crystal = claim(report, 'crystallization');
  assert.equal(crystal.verdict, 'not supported');
  assert.equal(crystal.seeds[0]!.value, 0);
  const detail = crystal.seeds[0]!.detail.effective_rank_rlcp_minus_base as {
    value: number;
    ci95: { high: number };
  };
  assert.ok(detail.value < -4 && detail.ci95.high < 0);
});

test('CoT adoption is not testable when the base already writes a chain of thought almost always', () => {
  const report = evaluateClaims(input({ base: model(60, 16, 1, 8) }));
  const cot = claim(report, 'chain_of_thought');
  assert.equal(cot.verdict, 'not testable here');
  assert.match(cot.note, /4 of 20 logic items directly/);
});

test('claims refuse measurements on different items', () => {
  const short = { ...model(60, 10, 1, 8), logicCot: [true] };
  assert.throws(() => evaluateClaims(input({ oracle: short })), /oracle has 1 logic CoT items, expected 20/);
  assert.throws(() => evaluateClaims(input({ runs: [] })), /no RLCP runs/);
});

function withDerivable(m: ClaimsModelMeasures, links: number, correct: number): ClaimsModelMeasures {
  return {
    ...m,
    derivable: {
      writesLink: Array.from({ length: 30 }, (_, i) => i < links),
      correct: Array.from({ length: 30 }, (_, i) => i < correct),
      chainCorrect: Array.from({ length: 30 }, () => true),
    },
  };
}

test('derivable facts: the recall → reasoning claim is a McNemar on link-writing, reported only there', () => {
  assert.equal(
    evaluateClaims(input()).claims.some((c) => c.id === 'derivation'),
    false,
  );
  const derivable = (rlcpLinks: number) =>
    input(
      {
        base: withDerivable(model(60, 10, 1, 8), 0, 30),
        oracle: withDerivable(model(2, 10, 2, 8), 3, 3),
      },
      withDerivable(model(0, 20, 10, 2), rlcpLinks, rlcpLinks),
      withDerivable(model(60, 10, 11, 8), 0, 30),
    );
  const report = evaluateClaims(derivable(12));
  const derivation = claim(report, 'derivation');
  // 12 answers switch to writing the link, none back: p = 2 · 2^−12.
  assert.ok(Math.abs(derivation.p_value! - 2 / 4096) < 1e-15);
  assert.equal(derivation.verdict, 'supported');
  assert.equal(derivation.seeds[0]!.detail.control_link_rate, 0);
  assert.deepEqual(report.base.derivable, { link_rate: 0, accuracy: 1, chain_accuracy: 1 });
  assert.match(formatClaimsTable(report), /recall → reasoning on derivable facts .* \+0\.400 \(p 0\.00049\)/);
  // Two switches cannot reach α: not supported.
  assert.equal(claim(evaluateClaims(derivable(2)), 'derivation').verdict, 'not supported');
  // Derivable measures on some models only, or of another length, are refused.
  assert.throws(
    () => evaluateClaims(input({ base: withDerivable(model(60, 10, 1, 8), 0, 30) })),
    /claims: oracle lacks derivable measures, unlike base/,
  );
  const short = withDerivable(model(2, 10, 2, 8), 3, 3);
  short.derivable = { ...short.derivable!, correct: [true] };
  assert.throws(
    () => evaluateClaims({ ...derivable(12), oracle: short }),
    /claims: oracle has 1 derivable correct items, expected 30/,
  );
});
