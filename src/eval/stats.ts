// Significance tests and intervals for the recall and rank metrics (definitions: src/eval/README.md).

const logFactorials: number[] = [0];

/** ln(n!) by summing logs (exact to rounding; cached, so repeated calls up to n cost O(1)). */
export function logFactorial(n: number): number {
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`logFactorial: n must be a non-negative integer, got ${n}`);
  for (let i = logFactorials.length; i <= n; i++) logFactorials.push(logFactorials[i - 1]! + Math.log(i));
  return logFactorials[n]!;
}

function logChoose(n: number, k: number): number {
  return logFactorial(n) - logFactorial(k) - logFactorial(n - k);
}

/**
 * One-sided exact binomial p-value P(X ≥ k) for X ~ Binomial(n, p). The terms are summed in log space
 * (log-sum-exp), so it stays accurate for n in the thousands and for tails far below 1e-300.
 */
export function binomialTailUpper(k: number, n: number, p: number): number {
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`binomialTailUpper: n must be a non-negative integer, got ${n}`);
  if (!Number.isInteger(k)) throw new Error(`binomialTailUpper: k must be an integer, got ${k}`);
  if (!(p >= 0 && p <= 1)) throw new Error(`binomialTailUpper: p must be in [0, 1], got ${p}`);
  if (k <= 0) return 1;
  if (k > n) return 0;
  if (p === 0) return 0;
  if (p === 1) return 1;
  const logP = Math.log(p);
  const logQ = Math.log1p(-p);
  const logTerms: number[] = [];
  let maxLog = -Infinity;
  for (let i = k; i <= n; i++) {
    const value = logChoose(n, i) + i * logP + (n - i) * logQ;
    logTerms.push(value);
    if (value > maxLog) maxLog = value;
  }
  let sum = 0;
  for (const value of logTerms) sum += Math.exp(value - maxLog);
  return Math.min(1, Math.exp(maxLog + Math.log(sum)));
}

/** Complementary error function (Numerical Recipes' Chebyshev fit; relative error < 1.2e-7 everywhere). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const poly =
    -1.26551223 +
    t *
      (1.00002368 +
        t *
          (0.37409196 +
            t *
              (0.09678418 +
                t *
                  (-0.18628806 +
                    t *
                      (0.27886807 +
                        t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const result = t * Math.exp(-z * z + poly);
  return x >= 0 ? result : 2 - result;
}

/** Above this many inner-loop cells (n · support size) the rank test switches to the normal approximation. */
export const EXACT_RANK_TEST_MAX_CELLS = 5e6;

export interface MeanRankTest {
  p_two_sided: number;
  method: 'exact' | 'normal';
}

/**
 * Two-sided test that the mean of n ranks equals chance, (K+1)/2, when each rank is iid uniform on 1..K
 * (variance (K²−1)/12). Exact: the distribution of the rank sum by repeated convolution with the uniform
 * distribution, p = P(|S − n(K+1)/2| ≥ |s − n(K+1)/2|). Used when every rank is an integer and the table
 * is small (n · (n(K−1)+1) ≤ EXACT_RANK_TEST_MAX_CELLS); otherwise the normal approximation of the sum,
 * with a continuity correction of ½ when the ranks are integers.
 */
export function meanRankTest(ranks: readonly number[], K: number): MeanRankTest {
  validateRanks(ranks, K);
  const n = ranks.length;
  const allIntegers = ranks.every((r) => Number.isInteger(r));
  const sum = ranks.reduce((a, b) => a + b, 0);
  const supportSize = n * (K - 1) + 1;
  if (allIntegers && n * supportSize <= EXACT_RANK_TEST_MAX_CELLS) {
    return { p_two_sided: exactRankSumPValue(sum, n, K), method: 'exact' };
  }
  const deviation = Math.abs(sum - (n * (K + 1)) / 2);
  const corrected = allIntegers ? Math.max(0, deviation - 0.5) : deviation;
  const sd = Math.sqrt((n * (K * K - 1)) / 12);
  const p = sd === 0 ? (deviation === 0 ? 1 : 0) : erfc(corrected / sd / Math.SQRT2);
  return { p_two_sided: Math.min(1, p), method: 'normal' };
}

function exactRankSumPValue(sum: number, n: number, K: number): number {
  // dist[j] = P(S = n + j) after the current number of ranks; each step convolves with uniform{1..K}
  // through a sliding window, so every entry stays a probability (no K^n underflow in the centre).
  let dist = new Float64Array([1]);
  for (let m = 1; m <= n; m++) {
    const next = new Float64Array(dist.length + K - 1);
    let window = 0;
    for (let j = 0; j < next.length; j++) {
      if (j < dist.length) window += dist[j]!;
      if (j - K >= 0) window -= dist[j - K]!;
      next[j] = window / K;
    }
    dist = next;
  }
  // Compare 2·|S − centre| in integers so the observed value itself is always counted.
  const twiceCentre = n * (K + 1);
  const observed = Math.abs(2 * sum - twiceCentre);
  if (observed === 0) return 1;
  let p = 0;
  // Sum from the far tails inward so small terms are added before large ones.
  for (let j = 0, k = dist.length - 1; j <= k; j++, k--) {
    if (Math.abs(2 * (n + j) - twiceCentre) < observed) break;
    p += dist[j]!;
    if (k !== j) p += dist[k]!;
  }
  // Rounding in the sliding-window convolution can leave a tiny negative tail.
  return Math.min(1, Math.max(0, p));
}

function validateRanks(ranks: readonly number[], K: number): void {
  if (!Number.isInteger(K) || K < 1) throw new Error(`rank test: K must be a positive integer, got ${K}`);
  if (ranks.length === 0) throw new Error('rank test: no ranks given');
  ranks.forEach((r, i) => {
    if (!(r >= 1 && r <= K)) throw new Error(`rank test: rank ${i} is ${r}, outside 1..${K}`);
  });
}

export interface Interval {
  low: number;
  high: number;
}

/** Wilson score interval for a binomial proportion; z = 1.96 gives 95%. n = 0 gives [0, 1]. */
export function wilsonInterval(successes: number, n: number, z = 1.959963984540054): Interval {
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`wilsonInterval: n must be a non-negative integer, got ${n}`);
  if (!(successes >= 0 && successes <= n))
    throw new Error(`wilsonInterval: successes ${successes} outside 0..${n}`);
  if (n === 0) return { low: 0, high: 1 };
  const phat = successes / n;
  const z2 = z * z;
  const denominator = 1 + z2 / n;
  const centre = (phat + z2 / (2 * n)) / denominator;
  const half = (z / denominator) * Math.sqrt((phat * (1 - phat)) / n + z2 / (4 * n * n));
  return { low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

export interface RankSummary {
  n: number;
  K: number;
  mean_rank: number;
  chance_rank: number;
  p_two_sided: number;
  method: 'exact' | 'normal';
  /** Mean rank significantly worse (larger) than chance: the answer is still encoded, pushed down. */
  inverted: boolean;
  /** Share of items whose true answer is ranked first. */
  accuracy: number;
  accuracy_ci95: Interval;
  /** One-sided exact binomial p-value of the accuracy against chance 1/K. */
  p_above_chance: number;
}

/** Rank statistics of the true answer among K candidates (rank 1 = the model's top choice). */
export function rankSummary(ranks: readonly number[], K: number, alpha = 0.05): RankSummary {
  const test = meanRankTest(ranks, K);
  const n = ranks.length;
  const meanRank = ranks.reduce((a, b) => a + b, 0) / n;
  const chanceRank = (K + 1) / 2;
  const hits = ranks.filter((r) => r === 1).length;
  return {
    n,
    K,
    mean_rank: meanRank,
    chance_rank: chanceRank,
    p_two_sided: test.p_two_sided,
    method: test.method,
    inverted: test.p_two_sided < alpha && meanRank > chanceRank,
    accuracy: hits / n,
    accuracy_ci95: wilsonInterval(hits, n),
    p_above_chance: binomialTailUpper(hits, n, 1 / K),
  };
}

/** One fact's closed-book questions, as `factRandomizationTest` sees them. */
export interface FactOutcomes {
  /** Questions asked about the fact (its phrasings). */
  questions: number;
  /** For each of the fact's candidate objects: how many of its questions the model answered with it. */
  hitsIf: readonly number[];
  /** For each candidate: the sum over the fact's questions of that candidate's rank (1 = top; mid-ranks). */
  rankSumIf: readonly number[];
  /** The true object's index among the candidates. */
  trueIndex: number;
}

export interface FactRandomizationTest {
  facts: number;
  questions: number;
  /** Questions answered with the true object. */
  hits: number;
  /** P(H ≥ hits) under the null (below). */
  p_above_chance: number;
  mean_rank: number;
  chance_rank: number;
  /** Two-sided p of the rank sum: 2 · min(P(R ≤ r), P(R ≥ r)), at most 1. */
  rank_p_two_sided: number;
  /** Hits, or a mean rank better than chance, significant at alpha. */
  above_chance: boolean;
  /** Mean rank significantly worse than chance: the answer is still encoded, pushed down. */
  inverted: boolean;
}

/**
 * Chance test for questions clustered by fact (several phrasings of each). The per-question binomial and
 * rank tests treat every phrasing as an independent draw, so a model giving one fixed answer to every
 * question looks "above chance" whenever that answer is one fact's truth (all its phrasings hit at once).
 * Here the unit is the fact. Null hypothesis: the model's answers and scores carry no information about
 * which candidate is true, i.e. each fact's true object is a uniform draw from its candidates,
 * independently across facts, while the answers and scores stay as observed. The exact null distribution
 * of the total hits H and of the rank sum R is the convolution over facts of K equally likely outcomes
 * (candidate c true → `hitsIf[c]`, `rankSumIf[c]`).
 */
export function factRandomizationTest(facts: readonly FactOutcomes[], alpha = 0.05): FactRandomizationTest {
  if (facts.length === 0) throw new Error('factRandomizationTest: no facts given');
  facts.forEach((f, i) => {
    const K = f.hitsIf.length;
    if (K < 1 || f.rankSumIf.length !== K)
      throw new Error(
        `factRandomizationTest: fact ${i} has ${K} hit counts and ${f.rankSumIf.length} rank sums`,
      );
    if (!(Number.isInteger(f.trueIndex) && f.trueIndex >= 0 && f.trueIndex < K))
      throw new Error(`factRandomizationTest: fact ${i} has true index ${f.trueIndex}, outside 0..${K - 1}`);
    if (f.hitsIf.some((h) => !Number.isInteger(h) || h < 0 || h > f.questions))
      throw new Error(`factRandomizationTest: fact ${i} has a hit count outside 0..${f.questions}`);
    // Ranks are integers or mid-ranks (halves): doubled, every rank sum is an integer.
    if (f.rankSumIf.some((r) => !Number.isInteger(2 * r) || r < f.questions || r > f.questions * K))
      throw new Error(`factRandomizationTest: fact ${i} has a rank sum that is not a sum of its ranks`);
  });
  const hitsDist = convolveUniformChoices(facts.map((f) => f.hitsIf));
  const rankDist = convolveUniformChoices(facts.map((f) => f.rankSumIf.map((r) => 2 * r)));
  const hits = facts.reduce((a, f) => a + f.hitsIf[f.trueIndex]!, 0);
  const twiceRankSum = facts.reduce((a, f) => a + 2 * f.rankSumIf[f.trueIndex]!, 0);
  const questions = facts.reduce((a, f) => a + f.questions, 0);
  const chanceRank = facts.reduce((a, f) => a + (f.questions * (f.hitsIf.length + 1)) / 2, 0) / questions;
  const meanRank = twiceRankSum / 2 / questions;
  const tail = (dist: Float64Array, from: number, to: number) => {
    let p = 0;
    for (let v = Math.max(0, from); v <= Math.min(dist.length - 1, to); v++) p += dist[v]!;
    return Math.min(1, p);
  };
  const pAbove = tail(hitsDist, hits, hitsDist.length - 1);
  const rankP = Math.min(
    1,
    2 * Math.min(tail(rankDist, 0, twiceRankSum), tail(rankDist, twiceRankSum, rankDist.length - 1)),
  );
  return {
    facts: facts.length,
    questions,
    hits,
    p_above_chance: pAbove,
    mean_rank: meanRank,
    chance_rank: chanceRank,
    rank_p_two_sided: rankP,
    above_chance: pAbove < alpha || (rankP < alpha && meanRank < chanceRank),
    inverted: rankP < alpha && meanRank > chanceRank,
  };
}

/** Distribution of Σ_f X_f with X_f uniform over the non-negative integers `choices[f]` (indexed by value). */
function convolveUniformChoices(choices: readonly (readonly number[])[]): Float64Array {
  let dist = new Float64Array([1]);
  for (const values of choices) {
    const next = new Float64Array(dist.length + Math.max(...values));
    const weight = 1 / values.length;
    for (const v of values) for (let s = 0; s < dist.length; s++) next[s + v]! += dist[s]! * weight;
    dist = next;
  }
  return dist;
}

export interface KsTest {
  /** sup |F_a − F_b| of the two empirical distribution functions. */
  statistic: number;
  /** Two-sided exact p-value P(D ≥ statistic) under the null that both samples share one distribution. */
  p: number;
}

/**
 * Two-sample Kolmogorov–Smirnov test with the exact null distribution (no ties assumed in the null, as
 * scipy's `ks_2samp(method="exact")`): P(D ≥ d) is one minus the share of the C(m+n, m) monotone lattice
 * paths from (0,0) to (m,n) that stay strictly inside |i/m − j/n| < d. TOFU's "forget quality" is this
 * p-value on per-fact truth scores of the unlearned model against the retrained one.
 */
export function ksTwoSample(a: readonly number[], b: readonly number[]): KsTest {
  const m = a.length;
  const n = b.length;
  if (m === 0 || n === 0) throw new Error(`ksTwoSample: both samples need values, got ${m} and ${n}`);
  for (const v of [...a, ...b])
    if (!Number.isFinite(v)) throw new Error(`ksTwoSample: non-finite value ${v}`);
  const sa = [...a].sort((x, y) => x - y);
  const sb = [...b].sort((x, y) => x - y);
  // Walk the merged values; at each distinct value both empirical CDFs have taken every equal value.
  let i = 0;
  let j = 0;
  let statistic = 0;
  while (i < m || j < n) {
    const v = Math.min(i < m ? sa[i]! : Infinity, j < n ? sb[j]! : Infinity);
    while (i < m && sa[i] === v) i++;
    while (j < n && sb[j] === v) j++;
    statistic = Math.max(statistic, Math.abs(i / m - j / n));
  }
  // Lattice paths counted in units of 1/(m·n) so the boundary test is exact integer arithmetic.
  const bound = Math.round(statistic * m * n);
  const inside = (x: number, y: number) => Math.abs(x * n - y * m) < bound;
  // Paths are normalised per row by C(x+y, x) (via running probabilities) so large m, n do not overflow:
  // each step goes right with probability (m − x)/(m + n − x − y), as a uniformly random path does.
  let row = new Float64Array(n + 1);
  row[0] = 1;
  for (let y = 1; y <= n; y++) row[y] = inside(0, y) ? row[y - 1]! * ((n - y + 1) / (m + n - y + 1)) : 0;
  for (let x = 1; x <= m; x++) {
    const next = new Float64Array(n + 1);
    for (let y = 0; y <= n; y++) {
      if (!inside(x, y)) continue;
      const left = m + n - (x - 1) - y;
      const fromLeft = row[y]! * ((m - x + 1) / left);
      const down = m + n - x - (y - 1);
      const fromBelow = y > 0 ? next[y - 1]! * ((n - y + 1) / down) : 0;
      next[y] = fromLeft + fromBelow;
    }
    row = next;
  }
  const p = statistic === 0 ? 1 : Math.min(1, Math.max(0, 1 - row[n]!));
  return { statistic, p };
}

export interface PairedSignFlipTest {
  n: number;
  /** Mean of a − b over the pairs. */
  mean_difference: number;
  /** Two-sided exact p: 2 · min(P(T ≤ t), P(T ≥ t)), at most 1. */
  p: number;
}

/**
 * Exact two-sided sign-flip (paired randomization) test that the paired values `a` and `b` share one
 * distribution: under the null each difference d = a − b is equally likely ±|d|. Values must be
 * multiples of 1/2 (ranks and mid-ranks), so T = Σ_{flips up} 2|d| is an integer and its null distribution
 * is an exact convolution; zero differences carry no information and add nothing.
 */
export function pairedSignFlipTest(a: readonly number[], b: readonly number[]): PairedSignFlipTest {
  if (a.length !== b.length || a.length === 0)
    throw new Error(
      `pairedSignFlipTest: needs two equally long non-empty samples, got ${a.length} and ${b.length}`,
    );
  const twice = a.map((v, i) => {
    const d = 2 * (v - b[i]!);
    if (!Number.isInteger(d))
      throw new Error(`pairedSignFlipTest: pair ${i} (${v}, ${b[i]}) is not in halves`);
    return d;
  });
  const dist = convolveUniformChoices(twice.map((d) => [0, Math.abs(d)]));
  const observed = twice.reduce((s, d) => s + Math.max(0, d), 0);
  let below = 0;
  let above = 0;
  for (let v = 0; v < dist.length; v++) {
    if (v <= observed) below += dist[v]!;
    if (v >= observed) above += dist[v]!;
  }
  return {
    n: a.length,
    mean_difference: twice.reduce((s, d) => s + d, 0) / 2 / a.length,
    p: Math.min(1, 2 * Math.min(below, above)),
  };
}
