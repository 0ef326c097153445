// What `rlcp demo` runs: the options, the stages with their time budgets, and the exact unlearning config
// of every method (RLCP's default config; a fast configuration of each baseline). Pure functions, so the
// plan can be tested and written to config.json before anything runs. See src/demo/README.md.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isAbsolute, relative, resolve } from 'node:path';
import type { ProbeKind } from '../eval/probes.ts';
import { anchorsOnlyControl } from '../eval/suites/claims.ts';
import { DEFAULT_TAMPER_OPTIONS, type TamperOptions } from '../eval/suites/tamper.ts';
import type { SuiteName } from '../eval/suites/runner.ts';
import {
  METHOD_OVERLAYS,
  readConfigFile,
  resolveConfig,
  type Method,
  type UnlearnConfig,
} from '../unlearn/config.ts';

/** The repository root (defaults point into it, so the demo works from any working directory). */
export const PACKAGE_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

export const DEFAULT_PATHS = {
  model: resolve(PACKAGE_ROOT, 'models/world-base'),
  world: resolve(PACKAGE_ROOT, 'models/world-base/world'),
  oracle: resolve(PACKAGE_ROOT, 'models/world-oracle'),
  config: resolve(PACKAGE_ROOT, 'configs/rlcp-default.json'),
  regenConfig: resolve(PACKAGE_ROOT, 'configs/regen-default.json'),
};

/** The baselines beside RLCP, in display order. */
export const BASELINES = [
  'unlikelihood',
  'ga',
  'graddiff',
  'npo',
  'simnpo',
  'rmu',
  'leace',
  'rag',
] as const satisfies readonly Method[];
export type Baseline = (typeof BASELINES)[number];

/** `auto`, `on`, `off`, or the exact list of baselines that get fresh probes (a resolved `auto`). */
export type ProbeSwitch = 'auto' | 'on' | 'off' | Baseline[];

export interface DemoOptions {
  model: string;
  world: string;
  oracle: string;
  /** RLCP's config file; null = the built-in defaults (DEFAULT_CONFIG). */
  config: string | null;
  /** The regeneration stage's config file (method regen, run on the RLCP model). */
  regenConfig: string;
  outRoot: string;
  seed: number;
  fast: boolean;
  /** Overrides of the plan's step counts (tests, quick looks). */
  rlcpSteps?: number;
  regenSteps?: number;
  baselineSteps?: number;
  relearnSteps?: number;
  baselines: readonly Baseline[];
  /** Fresh probes on the baselines: on, off, auto (on while the run keeps to its time budget), or a list. */
  baselineProbes: ProbeSwitch;
  progress: boolean;
}

export type StageName =
  'load' | 'base-eval' | 'rlcp-train' | 'rlcp-eval' | 'regen' | 'baselines' | 'tamper' | 'claims' | 'write';

export interface Stage {
  name: StageName;
  /** Wall-time budget on an idle 2-core machine, seconds. */
  budget: number;
  what: string;
}

export interface DemoPlan {
  mode: 'full' | 'fast';
  stages: Stage[];
  /** Sum of the stage budgets: the promise of the whole run. */
  totalBudget: number;
  methods: Record<'rlcp' | 'regen' | Baseline, UnlearnConfig>;
  /** Suites run on base and RLCP (everything), and on the baselines (no probe-free geometry suites). */
  fullSuites: SuiteName[];
  baselineSuites: SuiteName[];
  probeKinds: ProbeKind[];
  baselineProbeKinds: ProbeKind[];
  /** The tamper battery run on every trained method, the base and the oracle. */
  tamper: TamperOptions;
  /** The claims stage's control: RLCP's config with every forget term off (the anchor streams alone). */
  claimsControl: UnlearnConfig;
}

/** Per-stage budgets (seconds, idle 2-core machine); their sum is the run's promised wall time. */
export const STAGE_BUDGETS: Record<'full' | 'fast', Record<StageName, number>> = {
  full: {
    load: 10,
    'base-eval': 60,
    'rlcp-train': 80,
    'rlcp-eval': 60,
    regen: 165,
    baselines: 225,
    tamper: 145,
    claims: 140,
    write: 10,
  },
  fast: {
    load: 10,
    'base-eval': 45,
    'rlcp-train': 80,
    'rlcp-eval': 45,
    regen: 85,
    baselines: 180,
    tamper: 65,
    claims: 60,
    write: 10,
  },
};

/** The fast configuration of every baseline (documented in src/demo/README.md). */
export const BASELINE_STEPS = { full: 50, fast: 25 };
/** `--fast` shortens RLCP too (its default config is used unchanged otherwise). */
export const FAST_RLCP = { steps: 100, evalEvery: 20 };
/** `--fast` halves regeneration's distillation (its config file's steps otherwise). */
export const FAST_REGEN_STEP_SHARE = 0.5;
/** The tamper battery's relearning length: to 100 steps (read at 30); `--fast` stops at 30 on 2 splits. */
export const TAMPER = {
  full: { relearnSteps: 100, splits: 3, benignSteps: 50 },
  fast: { relearnSteps: 30, splits: 2, benignSteps: 25 },
};
/** The step the headline comparison with the oracle is read at (or the last measured step before it). */
export const TAMPER_CHECKPOINT = 30;

const FULL_SUITES: SuiteName[] = [
  'recall',
  'rag',
  'logic',
  'multihop',
  'probes',
  'logit-lens',
  'crystallization',
];
const BASELINE_SUITES: SuiteName[] = ['recall', 'rag', 'logic', 'multihop', 'probes'];

function stageText(
  name: StageName,
  plan: { rlcp: number; regen: number; baseline: number; relearn: number; splits: number },
): string {
  switch (name) {
    case 'load':
      return 'load the world, the base and oracle models, check the tokenizer';
    case 'base-eval':
      return 'evaluate the base model: recall, RAG, logic, multi-hop, fresh probes, logit lens, crystallization';
    case 'rlcp-train':
      return `RLCP, ${plan.rlcp} steps`;
    case 'rlcp-eval':
      return 'evaluate the RLCP model with the same suites (+ crystallization before/after)';
    case 'regen':
      return `regeneration of the RLCP model (noise toward a fresh init, distil on the anchor streams), ${plan.regen} steps, evaluated like the baselines`;
    case 'baselines':
      return `train (${plan.baseline} steps each) and evaluate the baselines`;
    case 'tamper':
      return `tamper battery on every trained method, base and oracle: relearning (${plan.splits} splits, ${plan.relearn} steps), benign fine-tuning, int8/int4`;
    case 'claims':
      return `the paper's four claims on this seed: an anchor-streams-only control (${plan.rlcp} steps), recall and logic of the oracle and the control, deep-layer states`;
    case 'write':
      return 'results.json, items, config.json, report.html';
  }
}

/** RLCP's config: the config file (default configs/rlcp-default.json) with the seed; `--fast` shortens it. */
export function rlcpConfig(options: DemoOptions): UnlearnConfig {
  const patches: { patch: unknown; source: string }[] = [];
  if (options.config !== null) patches.push(readConfigFile(options.config));
  const demo: Record<string, unknown> = { seed: options.seed };
  if (options.fast) {
    demo.steps = FAST_RLCP.steps;
    demo.eval = { every: FAST_RLCP.evalEvery };
  }
  if (options.rlcpSteps !== undefined) demo.steps = options.rlcpSteps;
  patches.push({ patch: demo, source: 'rlcp demo' });
  return resolveConfig(patches, 'rlcp');
}

/**
 * Regeneration's config: its config file (default configs/regen-default.json, the recipe of
 * scripts/experiments/regen/README.md) with the seed; `--fast` halves its steps. It starts from the RLCP
 * model, which is then its teacher.
 */
export function regenConfig(options: DemoOptions): UnlearnConfig {
  const file = readConfigFile(options.regenConfig);
  const named = (file.patch as { method?: unknown } | null)?.method;
  if (named !== undefined && named !== 'regen')
    throw new Error(
      `${options.regenConfig}: "method" is ${JSON.stringify(named)}; the regeneration stage's config must be method "regen" (or name none)`,
    );
  const configured = resolveConfig([file], 'regen');
  const demo: Record<string, unknown> = { seed: options.seed };
  if (options.fast) demo.steps = Math.max(1, Math.round(configured.steps * FAST_REGEN_STEP_SHARE));
  if (options.regenSteps !== undefined) demo.steps = options.regenSteps;
  return resolveConfig([file, { patch: demo, source: 'rlcp demo (regen)' }], 'regen');
}

/**
 * A baseline's fast configuration: the method's overlay over the defaults (same data, learning rate and
 * anchors as the trainer's method definition), with fewer steps, one evaluation at the end, and the
 * reference computed per step (cheaper than precomputing it for a short run; the same numbers).
 */
export function baselineConfig(method: Baseline, options: DemoOptions): UnlearnConfig {
  const steps = options.baselineSteps ?? BASELINE_STEPS[options.fast ? 'fast' : 'full'];
  const patch = {
    seed: options.seed,
    // Just-RAG and LEACE train nothing (their overlay sets steps 0).
    ...(METHOD_OVERLAYS[method].steps === 0
      ? {}
      : {
          steps,
          checkpointEvery: Math.max(1, steps),
          eval: { every: 0, atStart: false },
          anchors: { reference: 'per-step' },
        }),
  };
  return resolveConfig([{ patch, source: `rlcp demo (${method})` }], method);
}

export function makePlan(options: DemoOptions): DemoPlan {
  const mode = options.fast ? 'fast' : 'full';
  const rlcp = rlcpConfig(options);
  const regen = regenConfig(options);
  const methods = { rlcp, regen } as DemoPlan['methods'];
  for (const b of options.baselines) methods[b] = baselineConfig(b, options);
  const tamperDefaults = TAMPER[mode];
  const relearnSteps = options.relearnSteps ?? tamperDefaults.relearnSteps;
  const every = Math.max(1, Math.min(5, Math.floor(relearnSteps / 4)));
  const baselineSteps = options.baselineSteps ?? BASELINE_STEPS[mode];
  const budgets = STAGE_BUDGETS[mode];
  const counts = {
    rlcp: rlcp.steps,
    regen: regen.steps,
    baseline: baselineSteps,
    relearn: relearnSteps,
    splits: tamperDefaults.splits,
  };
  const stages = (Object.keys(budgets) as StageName[]).map((name) => ({
    name,
    budget: budgets[name],
    what: stageText(name, counts),
  }));
  return {
    mode,
    stages,
    totalBudget: stages.reduce((a, s) => a + s.budget, 0),
    methods,
    fullSuites: FULL_SUITES,
    baselineSuites: BASELINE_SUITES,
    probeKinds: options.fast ? ['linear'] : ['linear', 'mlp'],
    baselineProbeKinds: ['linear'],
    tamper: {
      ...DEFAULT_TAMPER_OPTIONS,
      splits: tamperDefaults.splits,
      relearnSteps,
      every,
      checkpoint: Math.max(every, Math.floor(Math.min(TAMPER_CHECKPOINT, relearnSteps) / every) * every),
      benignSteps: Math.min(tamperDefaults.benignSteps, Math.max(1, relearnSteps)),
      seed: options.seed,
    },
    // Its in-training evaluations would go unused (the claims read RLCP's curve only).
    claimsControl: { ...anchorsOnlyControl(rlcp), eval: { ...rlcp.eval, every: 0, atStart: false } },
  };
}

/** The default RLCP config file when it exists (configs/rlcp-default.json), else null (built-in defaults). */
export function defaultConfigPath(): string | null {
  return existsSync(DEFAULT_PATHS.config) ? DEFAULT_PATHS.config : null;
}

function quote(arg: string): string {
  return /^[A-Za-z0-9_./:=,@+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** A path as the command line shows it: relative to the working directory when inside it. */
function shown(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? path : rel;
}

/**
 * The exact command that reruns this demo from `cwd` (every path and decision spelled out; pass the
 * resolved probe decision so a rerun evaluates the same suites).
 */
export function reproduceCommand(options: DemoOptions, cwd = process.cwd()): string {
  const p = (path: string) => shown(resolve(cwd, path), cwd);
  const args = ['node', p(resolve(PACKAGE_ROOT, 'bin/rlcp.js')), 'demo'];
  args.push('--model', p(options.model), '--world', p(options.world), '--oracle', p(options.oracle));
  args.push('--config', options.config === null ? 'none' : p(options.config));
  args.push('--regen-config', p(options.regenConfig));
  args.push('--out-root', p(options.outRoot), '--seed', String(options.seed));
  if (options.fast) args.push('--fast');
  if (options.rlcpSteps !== undefined) args.push('--rlcp-steps', String(options.rlcpSteps));
  if (options.regenSteps !== undefined) args.push('--regen-steps', String(options.regenSteps));
  if (options.baselineSteps !== undefined) args.push('--baseline-steps', String(options.baselineSteps));
  if (options.relearnSteps !== undefined) args.push('--relearn-steps', String(options.relearnSteps));
  if (options.baselines.length !== BASELINES.length || options.baselines.some((b, i) => b !== BASELINES[i]))
    args.push('--baselines', options.baselines.length === 0 ? 'none' : options.baselines.join(','));
  const probes = options.baselineProbes;
  args.push('--baseline-probes', Array.isArray(probes) ? probes.join(',') || 'off' : probes);
  return args.map(quote).join(' ');
}
