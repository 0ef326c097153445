import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  binomialTailUpper,
  erfc,
  factRandomizationTest,
  logFactorial,
  ksTwoSample,
  meanRankTest,
  pairedSignFlipTest,
  rankSummary,
  wilsonInterval,
} from '../../src/eval/stats.ts';

function close(actual: number, expected: number, relTol: number, label = ''): void {
  const scale = Math.max(Math.abs(expected), 1e-300);
  assert.ok(Math.abs(actual - expected) / scale <= relTol, `${label} expected ${expected}, got ${actual}`);
}

function choose(n: number, k: number): number {
  let c = 1;
  for (let i = 1; i <= k; i++) c = (c * (n - k + i)) / i;
  return c;
}

test('binomial upper tail matches enumeration for small n', () => {
  for (const n of [1, 5, 12]) {
    for (const p of [0.05, 1 / 15, 0.5, 0.9]) {
      for (let k = 0; k <= n + 1; k++) {
        let expected = 0;
        for (let i = k; i <= n; i++) expected += choose(n, i) * p ** i * (1 - p) ** (n - i);
        close(binomialTailUpper(k, n, p), Math.min(1, expected), 1e-10, `n=${n} p=${p} k=${k}`);
      }
    }
  }
  // Hand value: P(X ≥ 2 | 3, 1/2) = (3 + 1)/8.
  assert.equal(binomialTailUpper(2, 3, 0.5), 0.5);
});

test('binomial tail is stable for large n and extreme tails', () => {
  // P(X ≥ n) = p^n: 0.1^2000 = 1e-2000 underflows to 0, 0.9^2000 ≈ 6.6e-92 must survive.
  close(binomialTailUpper(2000, 2000, 0.9), Math.exp(2000 * Math.log(0.9)), 1e-9);
  // Symmetric case: P(X ≥ 1501 | 3000, 0.5) = (1 − P(X = 1500)) / 2.
  const pMid = Math.exp(logFactorial(3000) - 2 * logFactorial(1500) - 3000 * Math.log(2));
  close(binomialTailUpper(1501, 3000, 0.5), (1 - pMid) / 2, 1e-9);
  assert.equal(binomialTailUpper(0, 10, 0), 1);
  assert.equal(binomialTailUpper(1, 10, 0), 0);
  assert.throws(() => binomialTailUpper(1, 10, 1.5), /p must be in/);
});

test('erfc matches known values', () => {
  close(erfc(0), 1, 1e-7);
  close(erfc(1), 0.157299207050285, 2e-7);
  close(erfc(3), 2.20904969985854e-5, 2e-7);
  close(erfc(-1), 1.842700792949715, 2e-7);
});

/** Brute force over all K^n rank tuples. */
function bruteForceRankP(ranks: number[], K: number): number {
  const n = ranks.length;
  const centre = (n * (K + 1)) / 2;
  const observed = Math.abs(ranks.reduce((a, b) => a + b, 0) - centre);
  let hits = 0;
  let total = 0;
  const tuple = new Array<number>(n).fill(1);
  for (;;) {
    total++;
    if (Math.abs(tuple.reduce((a, b) => a + b, 0) - centre) >= observed - 1e-12) hits++;
    let i = 0;
    while (i < n && tuple[i] === K) tuple[i++] = 1;
    if (i === n) break;
    tuple[i]!++;
  }
  return hits / total;
}

test('exact mean-rank test equals brute force for tiny n and K', () => {
  const cases: Array<[number[], number]> = [
    [[1], 3],
    [[3, 3], 3],
    [[1, 1, 1], 4],
    [[4, 4, 3, 4], 4],
    [[2, 3, 2], 5],
    [[5, 5, 5, 1, 5], 5],
    [[3, 2, 4], 6],
  ];
  for (const [ranks, K] of cases) {
    const result = meanRankTest(ranks, K);
    assert.equal(result.method, 'exact');
    close(result.p_two_sided, bruteForceRankP(ranks, K), 1e-12, `${ranks} K=${K}`);
  }
  // Mean exactly at chance: p = 1. Hand value: n = 1, K = 3, rank 1 → P(|R − 2| ≥ 1) = 2/3.
  assert.equal(meanRankTest([2, 2], 3).p_two_sided, 1);
  close(meanRankTest([1], 3).p_two_sided, 2 / 3, 1e-12);
});

test('normal approximation agrees with the exact test and is used for non-integer or large inputs', () => {
  const K = 30;
  const ranks = Array.from({ length: 60 }, (_, i) => Math.min(K, 1 + ((i * 7) % K) + (i % 3 === 0 ? 3 : 0)));
  const exact = meanRankTest(ranks, K);
  assert.equal(exact.method, 'exact');
  const sum = ranks.reduce((a, b) => a + b, 0);
  const sd = Math.sqrt((60 * (K * K - 1)) / 12);
  const normalP = erfc((Math.abs(sum - (60 * (K + 1)) / 2) - 0.5) / sd / Math.SQRT2);
  assert.ok(Math.abs(exact.p_two_sided - normalP) < 0.01, `exact ${exact.p_two_sided} vs normal ${normalP}`);

  // Mid-ranks (ties) are not integers: normal approximation without continuity correction.
  const midRanks = [1.5, 1.5, 3, 4.5, 4.5, 2];
  const mid = meanRankTest(midRanks, 5);
  assert.equal(mid.method, 'normal');
  const midSum = midRanks.reduce((a, b) => a + b, 0);
  close(mid.p_two_sided, erfc(Math.abs(midSum - 18) / Math.sqrt((6 * 24) / 12) / Math.SQRT2), 1e-12);

  const large = Array.from({ length: 4980 }, (_, i) => 1 + (i % K));
  const largeResult = meanRankTest(large, K);
  assert.equal(largeResult.method, 'normal');
  assert.equal(largeResult.p_two_sided, 1, 'a sample with mean exactly at chance');
  const shifted = meanRankTest(
    large.map((r) => Math.min(K, r + 1)),
    K,
  );
  assert.ok(shifted.p_two_sided < 1e-10, 'a mean one rank above chance over ~5000 items is significant');
  assert.throws(() => meanRankTest([0, 2], 3), /rank 0 is 0, outside 1\.\.3/);
  assert.throws(() => meanRankTest([], 3), /no ranks/);
});

test('Wilson interval matches hand-computed values', () => {
  // 8/10, z = 1.96: centre (0.8 + 0.19208)/1.38416 = 0.71677, half = 1.41600·sqrt(0.016 + 0.009604)
  const ci = wilsonInterval(8, 10, 1.96);
  close(ci.low, 0.49016, 1e-4);
  close(ci.high, 0.94332, 1e-4);
  assert.deepEqual(wilsonInterval(0, 0), { low: 0, high: 1 });
  assert.equal(wilsonInterval(0, 20).low, 0);
  assert.ok(wilsonInterval(0, 20).high > 0.1);
});

test('rankSummary flags inversion only when significantly worse than chance', () => {
  const inverted = rankSummary(
    Array.from({ length: 45 }, (_, i) => 20 + (i % 10)),
    30,
  );
  assert.equal(inverted.chance_rank, 15.5);
  assert.ok(inverted.mean_rank > 24);
  assert.ok(inverted.p_two_sided < 1e-6);
  assert.equal(inverted.inverted, true);
  assert.equal(inverted.accuracy, 0);
  assert.equal(inverted.p_above_chance, 1);

  const recalled = rankSummary(
    Array.from({ length: 45 }, (_, i) => (i % 5 === 0 ? 2 : 1)),
    30,
  );
  assert.equal(recalled.inverted, false);
  assert.ok(recalled.p_two_sided < 1e-6);
  close(recalled.accuracy, 36 / 45, 1e-12);
  assert.ok(recalled.p_above_chance < 1e-30);

  const chance = rankSummary(
    Array.from({ length: 30 }, (_, i) => i + 1),
    30,
  );
  assert.equal(chance.p_two_sided, 1);
  assert.equal(chance.inverted, false);
  close(chance.p_above_chance, binomialTailUpper(1, 30, 1 / 30), 1e-12);
});

/** A fact whose every question gets answer `answer` (an index) and whose candidate ranks are `ranks`. */
function constantFact(K: number, questions: number, answer: number, trueIndex: number, ranks?: number[]) {
  const perQuestion =
    ranks ?? Array.from({ length: K }, (_, c) => (c === answer ? 1 : c < answer ? c + 2 : c + 1));
  return {
    questions,
    hitsIf: Array.from({ length: K }, (_, c) => (c === answer ? questions : 0)),
    rankSumIf: perQuestion.map((r) => r * questions),
    trueIndex,
  };
}

test("factRandomizationTest: one constant answer that is one fact's truth is at chance, not significant", () => {
  // 15 facts × 8 phrasings, K = 30, every question answered with candidate 0, which is fact 0's truth;
  // the other truths are spread over the ranks (mean rank 15.0).
  const facts = Array.from({ length: 15 }, (_, f) => constantFact(30, 8, 0, 2 * f));
  const result = factRandomizationTest(facts);
  assert.equal(result.hits, 8);
  assert.equal(result.questions, 120);
  // P(at least one fact's truth is candidate 0) = 1 − (29/30)^15.
  close(result.p_above_chance, 1 - (29 / 30) ** 15, 1e-12);
  // The question-level binomial test calls the same answers significant.
  assert.ok(binomialTailUpper(8, 120, 1 / 30) < 0.05);
  assert.equal(result.above_chance, false);
  assert.equal(result.inverted, false);
  assert.equal(result.chance_rank, 15.5);
});

test('factRandomizationTest: matches brute-force enumeration of the true objects', () => {
  // 3 facts, K = 3, uneven answers and mid-ranks.
  const facts = [
    { questions: 2, hitsIf: [2, 0, 0], rankSumIf: [2, 5, 5], trueIndex: 1 },
    { questions: 3, hitsIf: [1, 2, 0], rankSumIf: [5, 4.5, 8.5], trueIndex: 1 },
    { questions: 1, hitsIf: [0, 0, 1], rankSumIf: [2.5, 2.5, 1], trueIndex: 2 },
  ];
  const result = factRandomizationTest(facts);
  const observedHits = 0 + 2 + 1;
  const observedRank = 5 + 4.5 + 1;
  let pHits = 0;
  let pLow = 0;
  let pHigh = 0;
  for (const a of [0, 1, 2])
    for (const b of [0, 1, 2])
      for (const c of [0, 1, 2]) {
        const hits = facts[0]!.hitsIf[a]! + facts[1]!.hitsIf[b]! + facts[2]!.hitsIf[c]!;
        const rank = facts[0]!.rankSumIf[a]! + facts[1]!.rankSumIf[b]! + facts[2]!.rankSumIf[c]!;
        if (hits >= observedHits) pHits += 1 / 27;
        if (rank <= observedRank) pLow += 1 / 27;
        if (rank >= observedRank) pHigh += 1 / 27;
      }
  assert.equal(result.hits, observedHits);
  close(result.p_above_chance, pHits, 1e-12);
  close(result.rank_p_two_sided, Math.min(1, 2 * Math.min(pLow, pHigh)), 1e-12);
  close(result.mean_rank, observedRank / 6, 1e-12);
  assert.equal(result.chance_rank, 2);
});

test('factRandomizationTest: recalled facts are above chance, a pushed-down answer is inverted', () => {
  const recalled = Array.from({ length: 15 }, (_, f) => constantFact(30, 8, f, f));
  const r = factRandomizationTest(recalled);
  assert.equal(r.hits, 120);
  assert.ok(r.p_above_chance < 1e-15 && r.above_chance && !r.inverted);
  // The true object always ranked last: no hits, and the rank sum at its maximum.
  const worst = Array.from({ length: 15 }, () => constantFact(30, 8, 0, 29));
  const w = factRandomizationTest(worst);
  assert.equal(w.hits, 0);
  assert.equal(w.mean_rank, 30);
  assert.ok(w.inverted && !w.above_chance);
  assert.throws(() => factRandomizationTest([]), /no facts/);
  assert.throws(
    () => factRandomizationTest([{ questions: 1, hitsIf: [1, 0], rankSumIf: [1, 2], trueIndex: 2 }]),
    /true index 2/,
  );
  assert.throws(
    () => factRandomizationTest([{ questions: 1, hitsIf: [1, 0], rankSumIf: [1.25, 2], trueIndex: 0 }]),
    /rank sum/,
  );
});

/** P(D ≥ observed) over every way of dealing the pooled values into samples of the two sizes. */
function bruteForceKs(a: number[], b: number[]): number {
  const pooled = [...a, ...b];
  const observed = ksTwoSample(a, b).statistic;
  let hits = 0;
  let total = 0;
  const m = a.length;
  const choose = (start: number, picked: number[]) => {
    if (picked.length === m) {
      const x = picked.map((i) => pooled[i]!);
      const y = pooled.filter((_, i) => !picked.includes(i));
      total++;
      if (ksTwoSample(x, y).statistic >= observed - 1e-12) hits++;
      return;
    }
    for (let i = start; i < pooled.length; i++) choose(i + 1, [...picked, i]);
  };
  choose(0, []);
  return hits / total;
}

test('ksTwoSample: the statistic, scipy exact p-values, and the permutation distribution', () => {
  const a = [1, 2, 3, 4, 5.5];
  const b = [0.5, 6, 7, 8, 9, 10];
  const r = ksTwoSample(a, b);
  assert.ok(Math.abs(r.statistic - 5 / 6) < 1e-12);
  // scipy.stats.ks_2samp(a, b, method="exact").pvalue
  assert.ok(Math.abs(r.p - 0.025974025974025972) < 1e-9, String(r.p));
  const c = [0.1, 0.4, 0.7, 1.3, 2.2, 2.9, 3.1];
  const d = [0.2, 0.3, 0.5, 0.6, 0.8, 0.9, 1.0, 1.1, 1.2];
  assert.ok(Math.abs(ksTwoSample(c, d).p - bruteForceKs(c, d)) < 1e-9);
  assert.ok(
    Math.abs(ksTwoSample([1, 2, 3], [1.5, 2.5, 3.5]).p - bruteForceKs([1, 2, 3], [1.5, 2.5, 3.5])) < 1e-9,
  );
  assert.equal(ksTwoSample([1, 2], [1, 2]).p, 1);
  // Separated samples: the smallest p of these sizes, 2 / C(m+n, m).
  assert.ok(Math.abs(ksTwoSample([1, 2, 3, 4], [5, 6, 7, 8]).p - 2 / 70) < 1e-12);
  assert.throws(() => ksTwoSample([], [1]), /both samples/);
  assert.throws(() => ksTwoSample([Number.NaN], [1]), /non-finite/);
});

test('pairedSignFlipTest: exact against enumeration of every sign pattern', () => {
  const a = [3, 1.5, 7, 4, 2, 9];
  const b = [1, 1.5, 2, 5, 1, 3];
  const d = a.map((v, i) => v - b[i]!);
  const observed = d.reduce((s, v) => s + v, 0);
  let le = 0;
  let ge = 0;
  for (let mask = 0; mask < 1 << d.length; mask++) {
    const t = d.reduce((s, v, i) => s + (mask & (1 << i) ? Math.abs(v) : -Math.abs(v)), 0);
    if (t <= observed + 1e-12) le++;
    if (t >= observed - 1e-12) ge++;
  }
  const expected = Math.min(1, (2 * Math.min(le, ge)) / (1 << d.length));
  const r = pairedSignFlipTest(a, b);
  assert.ok(Math.abs(r.p - expected) < 1e-12, `${r.p} vs ${expected}`);
  assert.ok(Math.abs(r.mean_difference - observed / d.length) < 1e-12);
  assert.equal(pairedSignFlipTest([1, 2, 3], [1, 2, 3]).p, 1);
  assert.ok(pairedSignFlipTest(Array(10).fill(9), Array(10).fill(2)).p < 0.01);
  assert.throws(() => pairedSignFlipTest([1], [1, 2]), /equally long/);
  assert.throws(() => pairedSignFlipTest([1.3], [1]), /halves/);
});
