// The paper's four headline claims, each turned into a measurement with a test, over several seeds of RLCP
// (issue 20). Pure: the measurements of each model come in, verdicts and p-values go out; `rlcp claims`
// (src/cli/commands/claims.ts) collects them. Across seeds a claim is "supported" only when it holds in
// every seed: the reported p-value is the largest per-seed p (an intersection–union test, valid at α).
import { covarianceEigenvalues, effectiveRank, participationRatio } from './crystallization.ts';
import { findPhaseTransition } from './phase.ts';
import { binomialTailUpper, mcNemarTest, type Interval } from './stats.ts';
import { Rng } from '../tensor/random.ts';

/** One model's measurements, on the same items for every model. */
export interface ClaimsModelMeasures {
  /** Greedy correctness on the forget facts' held-out templates. */
  forgetHeldoutCorrect: readonly boolean[];
  /** Per logic_test item: the response writes a computation before its answer. */
  logicCot: readonly boolean[];
  logicCorrect: readonly boolean[];
  /** Hidden states of the crystallization probe set: states[i][row] for the i-th of `deepLayers`. */
  deepStates: readonly (readonly Float32Array[])[];
  /** On a world with derivable facts: the derivable suite's forget items (src/eval/suites/derivable.ts). */
  derivable?: DerivableMeasures;
}

export interface DerivableMeasures {
  /** The free answer writes the intermediate link (the city's country) before its answer. */
  writesLink: readonly boolean[];
  correct: readonly boolean[];
  /** Asked to reason step by step: the chain's answer is right. */
  chainCorrect: readonly boolean[];
}

export interface ClaimsSeedRun {
  seed: number;
  rlcp: ClaimsModelMeasures;
  /** The same number of steps of plain fine-tuning on the anchor streams alone (no forget term). */
  control: ClaimsModelMeasures;
  /** RLCP's metrics.jsonl records (its in-training evaluations). */
  metrics: readonly Record<string, unknown>[];
}

export interface ClaimsInput {
  base: ClaimsModelMeasures;
  oracle: ClaimsModelMeasures;
  runs: readonly ClaimsSeedRun[];
  /** Hidden-state indices of `deepStates` (0 = embeddings … L). */
  deepLayers: readonly number[];
  /** Forget held-out items behind each in-training recall (the phase test's n). */
  heldoutItems: number;
  /** Bootstrap replicates for the crystallization intervals. Default 200. */
  bootstrapReplicates?: number;
  bootstrapSeed?: number;
  alpha?: number;
  /** The paper's retention bound. Default 0.07. */
  retentionBound?: number;
}

export type Verdict = 'supported' | 'not supported' | 'not testable here';

export interface SeedMeasure {
  seed: number;
  /** The claim's statistic for this seed (defined per claim in `measurement`). */
  value: number | null;
  p: number | null;
  holds: boolean;
  detail: Record<string, unknown>;
}

/** Every claim's id; `derivation` is evaluated only on a world with derivable facts. */
export const CLAIM_IDS = [
  'retention',
  'phase_transition',
  'crystallization',
  'chain_of_thought',
  'derivation',
] as const;

export interface ClaimResult {
  id: (typeof CLAIM_IDS)[number];
  claim: string;
  measurement: string;
  verdict: Verdict;
  /** Largest per-seed p (null when not testable). */
  p_value: number | null;
  seeds: SeedMeasure[];
  note: string;
}

export interface ClaimsReport {
  alpha: number;
  seeds: number[];
  deep_layers: number[];
  bootstrap_replicates: number;
  /** What "crystallization" means operationally here. */
  crystallization_definition: string;
  base: ModelSummary;
  oracle: ModelSummary;
  claims: ClaimResult[];
}

export interface ModelSummary {
  forget_recall_heldout: number;
  cot_rate: number;
  logic_accuracy: number;
  /** Forget composite questions of a world with derivable facts. */
  derivable?: { link_rate: number; accuracy: number; chain_accuracy: number };
}

export const CRYSTALLIZATION_DEFINITION =
  'crystallization = RLCP lowers the effective rank (exp of the entropy of the covariance spectrum) of the ' +
  'deep-layer last-token states of the forget relation’s prompts, averaged over the deep layers, by more than ' +
  'the same number of steps of fine-tuning on the anchor streams alone does (bootstrap over prompts).';

const share = (values: readonly boolean[]) => values.filter(Boolean).length / values.length;

/** P(X ≤ k) for X ~ Binomial(n, p), as the upper tail of n − X ~ Binomial(n, 1 − p). */
function binomialTailLower(k: number, n: number, p: number): number {
  return binomialTailUpper(n - k, n, 1 - p);
}

/** Claim 1: forget recall on held-out templates below the bound; one-sided exact binomial, H0: ≥ bound. */
function retentionClaim(input: ClaimsInput, bound: number, alpha: number): ClaimResult {
  const seeds = input.runs.map((run): SeedMeasure => {
    const n = run.rlcp.forgetHeldoutCorrect.length;
    const hits = run.rlcp.forgetHeldoutCorrect.filter(Boolean).length;
    const p = binomialTailLower(hits, n, bound);
    return { seed: run.seed, value: hits / n, p, holds: p < alpha, detail: { hits, n } };
  });
  return combine(
    'retention',
    `retention < ${+(bound * 100).toFixed(2)} %`,
    `forget recall (greedy, held-out templates) after RLCP; exact one-sided binomial test of H0: recall ≥ ${bound}`,
    seeds,
    `base ${share(input.base.forgetHeldoutCorrect).toFixed(3)}, oracle ${share(input.oracle.forgetHeldoutCorrect).toFixed(3)}; chance is 1/K`,
  );
}

/**
 * Claim 2: the collapse of forget recall happens between two consecutive evaluations. Sharp = at least half
 * of the whole fall is one evaluation interval's drop, and that drop is significant. The in-training
 * evaluations record recalls, not items, so the drop's McNemar p is bounded from above: the largest
 * discordance consistent with the two recalls (every retained item of the later evaluation a new one).
 */
function phaseClaim(input: ClaimsInput, alpha: number): ClaimResult {
  const n = input.heldoutItems;
  const seeds = input.runs.map((run): SeedMeasure => {
    const phase = findPhaseTransition(run.metrics);
    if (!phase.transition || phase.step === null || phase.drop_from_step === null) {
      return { seed: run.seed, value: null, p: null, holds: false, detail: { reason: phase.reason } };
    }
    const recallAt = (step: number) => {
      const found = [...run.metrics]
        .reverse()
        .find((r) => r.step === step && typeof r.forget_recall_heldout === 'number');
      return Math.round((found!.forget_recall_heldout as number) * n);
    };
    const before = recallAt(phase.drop_from_step);
    const after = recallAt(phase.step);
    const extra = Math.min(after, n - before);
    const lost = before - after + extra;
    const p = mcNemarFromCounts(lost, extra);
    const share = phase.drop_share ?? 0;
    return {
      seed: run.seed,
      value: share,
      p,
      holds: share >= 0.5 && p < alpha,
      detail: {
        drop_from_step: phase.drop_from_step,
        step: phase.step,
        recall_before: before / n,
        recall_after: after / n,
        width_10_90: phase.width,
      },
    };
  });
  return combine(
    'phase_transition',
    'sharp phase transition',
    'share of the whole fall of forget recall in its largest drop between consecutive evaluations (≥ 0.5), ' +
      'with a McNemar p of that drop bounded from the two recalls',
    seeds,
    'resolution: the run’s evaluation interval (eval.every)',
  );
}

function mcNemarFromCounts(trueToFalse: number, falseToTrue: number): number {
  const before = [...Array<boolean>(trueToFalse).fill(true), ...Array<boolean>(falseToTrue).fill(false)];
  return mcNemarTest(
    before,
    before.map((b) => !b),
  ).p_two_sided;
}

function meanDeepStatistic(
  states: readonly (readonly Float32Array[])[],
  rows: readonly number[],
  measure: (eigenvalues: Float64Array) => number,
): number {
  let sum = 0;
  for (const layer of states) sum += measure(covarianceEigenvalues(rows.map((r) => layer[r]!)));
  return sum / states.length;
}

interface BootstrapDifference {
  value: number;
  ci95: Interval;
  p_two_sided: number;
}

/**
 * Paired bootstrap over probe-set prompts of f(a) − f(b), f = the deep-layer mean of `measure`: both models
 * are resampled on the same rows. p = two-sided share of replicates on the other side of 0 (+1 smoothing).
 */
function bootstrapDifference(
  a: ClaimsModelMeasures,
  b: ClaimsModelMeasures,
  measure: (eigenvalues: Float64Array) => number,
  replicates: number,
  seed: number,
): BootstrapDifference {
  const n = a.deepStates[0]!.length;
  const all = Array.from({ length: n }, (_, i) => i);
  const value = meanDeepStatistic(a.deepStates, all, measure) - meanDeepStatistic(b.deepStates, all, measure);
  const rng = new Rng(seed);
  const draws: number[] = [];
  for (let r = 0; r < replicates; r++) {
    const rows = Array.from({ length: n }, () => rng.int(n));
    draws.push(
      meanDeepStatistic(a.deepStates, rows, measure) - meanDeepStatistic(b.deepStates, rows, measure),
    );
  }
  draws.sort((x, y) => x - y);
  const quantile = (q: number) => draws[Math.min(replicates - 1, Math.floor(q * replicates))]!;
  const below = draws.filter((d) => d <= 0).length;
  const above = draws.filter((d) => d >= 0).length;
  const p = Math.min(1, (2 * (Math.min(below, above) + 1)) / (replicates + 1));
  return { value, ci95: { low: quantile(0.025), high: quantile(0.975) }, p_two_sided: p };
}

function crystallizationClaim(
  input: ClaimsInput,
  replicates: number,
  seed: number,
  alpha: number,
): ClaimResult {
  const seeds = input.runs.map((run, i): SeedMeasure => {
    const bootSeed = seed + i;
    const vsControl = bootstrapDifference(run.rlcp, run.control, effectiveRank, replicates, bootSeed);
    const vsOracle = bootstrapDifference(run.rlcp, input.oracle, effectiveRank, replicates, bootSeed);
    const vsBase = bootstrapDifference(run.rlcp, input.base, effectiveRank, replicates, bootSeed);
    const controlVsBase = bootstrapDifference(run.control, input.base, effectiveRank, replicates, bootSeed);
    const prVsControl = bootstrapDifference(run.rlcp, run.control, participationRatio, replicates, bootSeed);
    return {
      seed: run.seed,
      value: vsControl.value,
      p: vsControl.p_two_sided,
      holds: vsControl.value < 0 && vsControl.p_two_sided < alpha,
      detail: {
        effective_rank_rlcp_minus_control: vsControl,
        effective_rank_rlcp_minus_oracle: vsOracle,
        effective_rank_rlcp_minus_base: vsBase,
        effective_rank_control_minus_base: controlVsBase,
        participation_ratio_rlcp_minus_control: prVsControl,
      },
    };
  });
  return combine(
    'crystallization',
    'structural crystallization',
    'deep-layer effective rank, RLCP − anchor-streams-only control (same steps); paired bootstrap over prompts',
    seeds,
    CRYSTALLIZATION_DEFINITION,
  );
}

/**
 * Claim 4: RLCP makes the model write a chain of thought on logic items it answered directly before
 * (McNemar, base vs RLCP, same items). Not testable when the base leaves too few direct answers for any
 * outcome to reach α: with m direct items the smallest possible p is 2 · 2^−m.
 */
function cotClaim(input: ClaimsInput, alpha: number): ClaimResult {
  const direct = input.base.logicCot.filter((c) => !c).length;
  const smallestP = Math.min(1, 2 * 0.5 ** direct);
  const seeds = input.runs.map((run): SeedMeasure => {
    const { test, ...measure } = pairedRise(input.base.logicCot, run.rlcp.logicCot, alpha);
    return {
      seed: run.seed,
      ...measure,
      detail: {
        cot_rate: share(run.rlcp.logicCot),
        control_cot_rate: share(run.control.logicCot),
        logic_accuracy: share(run.rlcp.logicCorrect),
        direct_to_cot: test.false_to_true,
        cot_to_direct: test.true_to_false,
      },
    };
  });
  const result = combine(
    'chain_of_thought',
    'spontaneous chain of thought',
    'CoT rate on logic_test after RLCP − base; exact McNemar on the same items',
    seeds,
    `the base answers ${direct} of ${input.base.logicCot.length} logic items directly (smallest possible p ${smallestP.toPrecision(2)})`,
  );
  if (smallestP >= alpha) {
    result.verdict = 'not testable here';
    result.note += `: a rise cannot reach p < ${alpha}`;
  }
  return result;
}

/**
 * Claim 4 on derivable facts, the O(1) recall → O(N) reasoning reading: after RLCP forgets the composite
 * facts, free answers to them write the chain's intermediate link more often than the base's did (McNemar on
 * the same items). Holds only if the rise is significant.
 */
function derivationClaim(input: ClaimsInput, alpha: number): ClaimResult {
  const base = input.base.derivable!;
  const seeds = input.runs.map((run): SeedMeasure => {
    const after = run.rlcp.derivable!;
    const { test, ...measure } = pairedRise(base.writesLink, after.writesLink, alpha);
    return {
      seed: run.seed,
      ...measure,
      detail: {
        link_rate: share(after.writesLink),
        accuracy: share(after.correct),
        chain_accuracy: share(after.chainCorrect),
        control_link_rate: share(run.control.derivable!.writesLink),
        direct_to_link: test.false_to_true,
        link_to_direct: test.true_to_false,
      },
    };
  });
  return combine(
    'derivation',
    'recall → reasoning on derivable facts',
    'share of free answers to forget composite questions (held-out templates) that write the intermediate ' +
      'link, RLCP − base; exact McNemar on the same items',
    seeds,
    `base link rate ${share(base.writesLink).toFixed(3)}, accuracy ${share(base.correct).toFixed(3)}, ` +
      `step by step ${share(base.chainCorrect).toFixed(3)}; oracle link rate ` +
      `${share(input.oracle.derivable!.writesLink).toFixed(3)}`,
  );
}

/** The rise of a yes/no measure on the same items, before → after; it holds if positive and significant (McNemar). */
function pairedRise(before: readonly boolean[], after: readonly boolean[], alpha: number) {
  const test = mcNemarTest(before, after);
  const value = share(after) - share(before);
  return { test, value, p: test.p_two_sided, holds: value > 0 && test.p_two_sided < alpha };
}

function combine(
  id: ClaimResult['id'],
  claim: string,
  measurement: string,
  seeds: SeedMeasure[],
  note: string,
): ClaimResult {
  const ps = seeds.map((s) => s.p);
  const p = ps.every((v): v is number => v !== null) ? Math.max(...ps) : null;
  return {
    id,
    claim,
    measurement,
    verdict: seeds.every((s) => s.holds) ? 'supported' : 'not supported',
    p_value: p,
    seeds,
    note,
  };
}

function validate(input: ClaimsInput): void {
  if (input.runs.length === 0) throw new Error('claims: no RLCP runs given');
  const models: [string, ClaimsModelMeasures][] = [
    ['base', input.base],
    ['oracle', input.oracle],
    ...input.runs.flatMap((r): [string, ClaimsModelMeasures][] => [
      [`rlcp seed ${r.seed}`, r.rlcp],
      [`control seed ${r.seed}`, r.control],
    ]),
  ];
  const [, first] = models[0]!;
  for (const [name, m] of models) {
    const sizes: [string, number, number][] = [
      ['forget held-out items', m.forgetHeldoutCorrect.length, first.forgetHeldoutCorrect.length],
      ['logic CoT items', m.logicCot.length, first.logicCot.length],
      ['logic correctness items', m.logicCorrect.length, first.logicCot.length],
      ['deep layers', m.deepStates.length, input.deepLayers.length],
      ['probe-set prompts', m.deepStates[0]?.length ?? 0, first.deepStates[0]?.length ?? 0],
    ];
    for (const [what, got, want] of sizes) {
      if (got !== want) throw new Error(`claims: ${name} has ${got} ${what}, expected ${want}`);
    }
    if (m.forgetHeldoutCorrect.length === 0 || m.logicCot.length === 0 || (m.deepStates[0]?.length ?? 0) < 2)
      throw new Error(`claims: ${name} has no forget items, no logic items or fewer than 2 probe prompts`);
    if ((m.derivable === undefined) !== (first.derivable === undefined))
      throw new Error(`claims: ${name} ${m.derivable ? 'has' : 'lacks'} derivable measures, unlike base`);
    if (m.derivable && first.derivable) {
      const want = first.derivable.writesLink.length;
      for (const [what, list] of Object.entries(m.derivable)) {
        if ((list as readonly boolean[]).length !== want)
          throw new Error(
            `claims: ${name} has ${(list as readonly boolean[]).length} derivable ${what} items, expected ${want}`,
          );
      }
      if (want === 0) throw new Error(`claims: ${name} has no derivable items`);
    }
  }
}

export function evaluateClaims(input: ClaimsInput): ClaimsReport {
  validate(input);
  const alpha = input.alpha ?? 0.05;
  const replicates = input.bootstrapReplicates ?? 200;
  const summary = (m: ClaimsModelMeasures): ModelSummary => ({
    forget_recall_heldout: share(m.forgetHeldoutCorrect),
    cot_rate: share(m.logicCot),
    logic_accuracy: share(m.logicCorrect),
    ...(m.derivable
      ? {
          derivable: {
            link_rate: share(m.derivable.writesLink),
            accuracy: share(m.derivable.correct),
            chain_accuracy: share(m.derivable.chainCorrect),
          },
        }
      : {}),
  });
  return {
    alpha,
    seeds: input.runs.map((r) => r.seed),
    deep_layers: [...input.deepLayers],
    bootstrap_replicates: replicates,
    crystallization_definition: CRYSTALLIZATION_DEFINITION,
    base: summary(input.base),
    oracle: summary(input.oracle),
    claims: [
      retentionClaim(input, input.retentionBound ?? 0.07, alpha),
      phaseClaim(input, alpha),
      crystallizationClaim(input, replicates, input.bootstrapSeed ?? 0, alpha),
      cotClaim(input, alpha),
      ...(input.base.derivable ? [derivationClaim(input, alpha)] : []),
    ],
  };
}

/** A claim's p-value as the tables print it. */
export function formatClaimP(p: number | null): string {
  if (p === null) return '—';
  return p < 1e-4 ? p.toExponential(1) : p.toPrecision(2);
}

/** A seed's statistic of `claim` as the tables print it. */
export function formatClaimValue(claim: ClaimResult, seed: SeedMeasure): string {
  if (seed.value === null) return 'none';
  if (claim.id === 'crystallization') return seed.value.toFixed(2);
  if (claim.id === 'chain_of_thought' || claim.id === 'derivation')
    return `${seed.value >= 0 ? '+' : ''}${seed.value.toFixed(3)}`;
  return seed.value.toFixed(3);
}

/** The claims as a Markdown table: one row per claim, per-seed statistics, verdict and combined p. */
export function formatClaimsTable(report: ClaimsReport): string {
  const lines = [
    `| claim | measurement | per seed (${report.seeds.join(', ')}) | verdict | p (max over seeds) |`,
    '| --- | --- | --- | --- | --- |',
  ];
  for (const claim of report.claims) {
    const perSeed = claim.seeds
      .map((s) => `${formatClaimValue(claim, s)} (p ${formatClaimP(s.p)})`)
      .join('; ');
    lines.push(
      `| ${claim.claim} | ${claim.measurement} | ${perSeed} | ${claim.verdict} | ${formatClaimP(claim.p_value)} |`,
    );
  }
  return lines.join('\n');
}
