// The results.json of a run folder (`runs/<timestamp>/`): every aggregate the report shows, with a
// validator whose errors name the file and the exact field. Documented in docs/results-schema.md.
//
// Conventions: accuracies and rates are fractions in [0, 1]; ranks are 1-based among the K candidate
// answers (1 = the true answer ranked first); layer i is the output of transformer block i (0 = the
// embedding output). Chance accuracy is 1/K and the chance rank (K+1)/2, K = world.candidates.

import { CLAIM_IDS, type ClaimsReport } from '../eval/claims.ts';

export const SCHEMA_VERSION = 1;

export const METHOD_IDS = [
  'base',
  'rlcp',
  'regen',
  'unlikelihood',
  'ga',
  'graddiff',
  'npo',
  'simnpo',
  'rmu',
  'leace',
  'rag',
] as const;
export type MethodId = (typeof METHOD_IDS)[number];

export const PROBE_DESIGNS = ['cross_entity', 'cross_template'] as const;
export const PROBE_KINDS = ['linear', 'mlp'] as const;
export const TARGET_UNITS = ['fraction', 'points', 'p', 'rank', 'seconds'] as const;
export const TARGET_OPS = ['>=', '<='] as const;

export interface RunResults {
  schema_version: typeof SCHEMA_VERSION;
  /** True only for test fixtures: synthetic numbers for rendering tests, not results. */
  fixture?: boolean;
  /** ISO 8601 time the run started. */
  created_at: string;
  /** The exact command line that reproduces this run. */
  command: string;
  seed: number;
  /** Wall time of the whole run, seconds. */
  duration_seconds: number;
  model: ModelInfo;
  world: WorldInfo;
  /** Items per evaluation suite (the n behind each accuracy). */
  suite_sizes: SuiteSizes;
  /** One entry per evaluated method, in display order; must include `base` and `rlcp`. */
  methods: MethodResult[];
  /** Fresh probes on an untrained (random-init) model of the same shape: the control for cross_template. */
  untrained_probe_layers?: ProbeLayer[];
  /** The RLCP training run, evaluated every few steps (the phase transition). */
  training: TrainingCurve;
  relearning: Relearning;
  /** The tamper battery on every trained method, the base and the oracle (runs since issue 18). */
  tamper?: Tamper;
  crystallization: Crystallization;
  chain_of_thought: ChainOfThought;
  /** The paper's four claims tested on this run's seed (src/eval/claims.ts; runs since issue 20). */
  claims?: ClaimsReport;
  /** Prompts with the base and RLCP answers side by side. */
  examples: Example[];
  targets: Target[];
  /** Per-item records behind the aggregates, relative to the run folder. */
  item_files: ItemFile[];
  /** Caveats worth reading before the numbers (one short paragraph each). */
  notes?: string[];
}

export interface ModelInfo {
  name: string;
  layers: number;
  hidden_size: number;
  parameters: number;
}

export interface WorldInfo {
  /** e.g. "city → country". */
  relation: string;
  /** K: the number of candidate answers of the relation. */
  candidates: number;
  forget_facts: number;
  retain_facts: number;
}

export interface SuiteSizes {
  forget_heldout: number;
  forget_train: number;
  retain: number;
  rag: number;
  logic: number;
  multihop: number;
}

export interface MethodMetrics {
  /** Greedy-answer accuracy on forget facts asked with held-out templates. */
  forget_heldout: number;
  /** The same on the templates used in training. */
  forget_train: number;
  /** Mean rank of the true answer among the K candidates, held-out templates. */
  forget_rank_heldout: number;
  forget_rank_train: number;
  /** One-sided binomial p-value that held-out forget accuracy is above chance. */
  forget_p_above_chance: number;
  /** Two-sided p-value that the held-out mean rank equals the chance rank (uniform random ranks). */
  forget_rank_p: number;
  retain: number;
  /** Accuracy with the fact in context (forget facts included). */
  rag: number;
  logic: number;
  multihop: number;
}

export interface ProbeLayer {
  layer: number;
  design: (typeof PROBE_DESIGNS)[number];
  kind: (typeof PROBE_KINDS)[number];
  accuracy: number;
  /** Accuracy of always predicting the most frequent test label. */
  majority: number;
  /** Accuracy minus the same probe's accuracy on a control task with shuffled labels. */
  selectivity: number;
}

export interface MethodResult {
  id: MethodId;
  metrics: MethodMetrics;
  /** Fresh probes trained after unlearning on frozen hidden states (may be empty for `rag`). */
  probe_layers: ProbeLayer[];
  /** Training wall time, seconds (0 for methods without training). */
  train_seconds: number;
}

export interface TrainingStep {
  step: number;
  lambda: number;
  forget_heldout: number;
  forget_rank_heldout: number;
  /** Accuracy of the in-training adversarial probe (mean over its layers). */
  probe_accuracy: number;
  retain: number;
  /** Every loss term logged at this step, by name (e.g. total, probe, adversary, logic_lm, kl). */
  loss: Record<string, number>;
}

export interface TrainingCurve {
  /** Hidden-state layers the adversarial probes read. */
  probe_layers: number[];
  steps: TrainingStep[];
  /** Where held-out forget recall fell most; null when it never fell. */
  collapse: PhaseCollapse | null;
}

export interface PhaseCollapse {
  step: number;
  lambda: number;
  /** Steps between 90% and 10% of the fall. */
  width_steps: number;
}

export interface Relearning {
  /** Forget facts fine-tuned on; recall is measured on the other forget facts. */
  train_facts: number;
  eval_facts: number;
  /** Fine-tuning steps at which recall was measured (increasing, first usually 0). */
  steps: number[];
  /** Splits the curves are averaged over (1 in runs before the tamper battery). */
  splits?: number;
  /** Must include `rlcp` and `base`; `oracle` (a model that never saw the forget facts) when one exists. */
  curves: RelearningCurve[];
}

export interface RelearningCurve {
  id: MethodId | 'oracle';
  /** Held-out forget recall at each of `steps` (mean over the splits). */
  accuracy: number[];
  /** Mean rank of the held-out answers at each of `steps` (mean over the splits). */
  mean_rank?: number[];
}

export interface Tamper {
  options: {
    splits: number;
    relearn_steps: number;
    every: number;
    /** The step the headline comparison with the oracle is read at. */
    checkpoint: number;
    benign_steps: number;
    quant_bits: number[];
    lr: number;
    batch_size: number;
    seed: number;
  };
  /** The relearning splits: fine-tune on `train_facts`, measure `eval_facts` (held-out templates). */
  splits: { train_facts: string[]; eval_facts: string[] }[];
  models: TamperRow[];
}

/** Held-out forget recall after a tamper, with the chance tests, and retain recall on the same model. */
export interface TamperCheck {
  accuracy: number;
  mean_rank: number;
  p_above_chance: number;
  rank_p: number;
  at_chance: boolean;
  retain_recall: number;
}

export interface TamperRow {
  id: MethodId | 'oracle';
  seconds: number;
  benign: TamperCheck;
  quantization: (TamperCheck & { bits: number; probe_max_accuracy: number | null })[];
  /** Null for the oracle itself and when the run has no oracle. */
  vs_oracle: TamperVsOracle | null;
}

export interface RelearnAgainstOracle {
  step: number;
  mean_rank: number;
  oracle_mean_rank: number;
  /** Two-sided exact paired sign-flip p of the per-item ranks (splits × items). */
  rank_p: number;
  accuracy: number;
  oracle_accuracy: number;
  /** Facts recovered beyond the oracle, mean over splits. */
  accuracy_excess_facts: number;
  /** Mean over the attack of (oracle rank − rank), in ranks: > 0 = recovered faster than the oracle. */
  area: number;
}

export interface TamperVsOracle {
  checkpoint: RelearnAgainstOracle;
  end: RelearnAgainstOracle;
  forget_quality: { statistic: number; p: number };
  holds: {
    relearn_checkpoint: boolean;
    relearn_end: boolean;
    benign: boolean;
    quantization: boolean;
    forget_quality: boolean;
    all: boolean;
  };
}

export interface CrystalStats {
  /** exp of the spectral entropy of the hidden-state covariance. */
  effective_rank: number;
  participation_ratio: number;
  mean_cosine: number;
}

export interface Crystallization {
  /** What the hidden states were collected on, e.g. "logic prompts, last token, n = 60". */
  probe_set: string;
  layers: { layer: number; before: CrystalStats; after: CrystalStats }[];
}

export interface CotStats {
  /** Share of responses with at least one intermediate computation before the final answer. */
  cot_rate: number;
  /** Mean generated tokens per answer. */
  mean_tokens: number;
  strict_accuracy: number;
  flexible_accuracy: number;
}

/** A model's CoT on the same items as the base, with the exact McNemar test of the change. */
export interface CotChange {
  id: MethodId | 'oracle';
  cot_rate: number;
  accuracy: number;
  /** Items the base answered directly and this model with a chain of thought, and the reverse. */
  direct_to_cot: number;
  cot_to_direct: number;
  p_two_sided: number;
}

export interface ChainOfThought {
  /** The question set, e.g. "GSM8K test, first 50, zero-shot". */
  source: string;
  n: number;
  before: CotStats;
  after: CotStats;
  /** Every evaluated model against the base (runs since issue 20). */
  methods?: CotChange[];
}

export interface ExampleAnswer {
  answer: string;
  correct: boolean;
}

export interface Example {
  /** The suite the prompt comes from: forget, retain, rag, logic, multihop, gsm8k, ... */
  suite: string;
  prompt: string;
  expected: string;
  base: ExampleAnswer;
  rlcp: ExampleAnswer;
}

export interface Target {
  id: string;
  label: string;
  value: number;
  op: (typeof TARGET_OPS)[number];
  threshold: number;
  /** How value and threshold are shown: fraction → %, points → percentage points, p, rank, seconds. */
  unit: (typeof TARGET_UNITS)[number];
}

export interface ItemFile {
  /** Relative to the run folder, under items/, e.g. "items/forget_heldout.jsonl". */
  path: string;
  description: string;
  /** Number of JSONL records in the file (checked when the report is written). */
  records: number;
}

/** A target is met when its value satisfies `op threshold`. */
export function targetMet(target: Target): boolean {
  return target.op === '>=' ? target.value >= target.threshold : target.value <= target.threshold;
}

export function chanceAccuracy(results: RunResults): number {
  return 1 / results.world.candidates;
}

export function chanceRank(results: RunResults): number {
  return (results.world.candidates + 1) / 2;
}

// ---- validation -------------------------------------------------------------------------------

type Json = Record<string, unknown>;

interface NumberRule {
  min?: number;
  max?: number;
  integer?: boolean;
}

const FRACTION: NumberRule = { min: 0, max: 1 };
const COUNT: NumberRule = { min: 0, integer: true };
const MAX_REPORTED_PROBLEMS = 20;

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Collects every problem with its field path, so one run of the validator lists them all. */
class Checker {
  readonly problems: string[] = [];

  fail(path: string, problem: string): void {
    this.problems.push(`${path}: ${problem}`);
  }

  object(value: unknown, path: string): Json | undefined {
    if (isObject(value)) return value;
    this.fail(path, value === undefined ? 'missing' : `must be an object, got ${describe(value)}`);
    return undefined;
  }

  field(parent: Json, key: string, path: string): unknown {
    const value = parent[key];
    if (value === undefined) this.fail(join(path, key), 'missing');
    return value;
  }

  number(parent: Json, key: string, path: string, rule: NumberRule = {}): number | undefined {
    const value = this.field(parent, key, path);
    if (value === undefined) return undefined;
    return this.numberValue(value, join(path, key), rule);
  }

  numberValue(value: unknown, path: string, rule: NumberRule = {}): number | undefined {
    const ok =
      typeof value === 'number' &&
      Number.isFinite(value) &&
      (rule.integer !== true || Number.isInteger(value)) &&
      (rule.min === undefined || value >= rule.min) &&
      (rule.max === undefined || value <= rule.max);
    if (ok) return value;
    const kind = rule.integer ? 'an integer' : 'a finite number';
    const range =
      rule.min !== undefined && rule.max !== undefined
        ? ` in [${rule.min}, ${rule.max}]`
        : rule.min !== undefined
          ? ` >= ${rule.min}`
          : '';
    this.fail(path, `must be ${kind}${range}, got ${describe(value)}`);
    return undefined;
  }

  string(parent: Json, key: string, path: string, allowEmpty = false): string | undefined {
    const value = this.field(parent, key, path);
    if (value === undefined) return undefined;
    if (typeof value === 'string' && (allowEmpty || value.trim().length > 0)) return value;
    this.fail(join(path, key), `must be a ${allowEmpty ? '' : 'non-empty '}string, got ${describe(value)}`);
    return undefined;
  }

  boolean(parent: Json, key: string, path: string): boolean | undefined {
    const value = this.field(parent, key, path);
    if (value === undefined) return undefined;
    if (typeof value === 'boolean') return value;
    this.fail(join(path, key), `must be true or false, got ${describe(value)}`);
    return undefined;
  }

  oneOf<T extends string>(parent: Json, key: string, path: string, allowed: readonly T[]): T | undefined {
    const value = this.field(parent, key, path);
    if (value === undefined) return undefined;
    if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
    this.fail(join(path, key), `must be one of ${allowed.join(', ')}, got ${describe(value)}`);
    return undefined;
  }

  array(parent: Json, key: string, path: string, nonEmpty = false): unknown[] | undefined {
    const value = this.field(parent, key, path);
    if (value === undefined) return undefined;
    if (!Array.isArray(value)) {
      this.fail(join(path, key), `must be an array, got ${describe(value)}`);
      return undefined;
    }
    if (nonEmpty && value.length === 0) this.fail(join(path, key), 'must not be empty');
    return value;
  }

  child(parent: Json, key: string, path: string): Json | undefined {
    const value = this.field(parent, key, path);
    return value === undefined ? undefined : this.object(value, join(path, key));
  }
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

// Ranks and layers are bounded by world.candidates and model.layers; when those are themselves invalid
// (undefined here) only the lower bound is checked, so one bad field does not cascade into dozens.
function rankRule(candidates: number | undefined): NumberRule {
  return candidates === undefined ? { min: 1 } : { min: 1, max: candidates };
}

function layerRule(layers: number | undefined): NumberRule {
  return layers === undefined ? { min: 0, integer: true } : { min: 0, max: layers, integer: true };
}

function checkIncreasing(c: Checker, values: (number | undefined)[], path: string, what: string): void {
  for (let i = 1; i < values.length; i++) {
    const previous = values[i - 1];
    const current = values[i];
    if (previous !== undefined && current !== undefined && current <= previous) {
      c.fail(`${path}[${i}]`, `${what} must increase, got ${current} after ${previous}`);
    }
  }
}

function checkProbeLayers(c: Checker, list: unknown[], path: string, layers: number | undefined): void {
  list.forEach((entry, i) => {
    const p = join(path, i);
    const probe = c.object(entry, p);
    if (!probe) return;
    c.number(probe, 'layer', p, layerRule(layers));
    c.oneOf(probe, 'design', p, PROBE_DESIGNS);
    c.oneOf(probe, 'kind', p, PROBE_KINDS);
    c.number(probe, 'accuracy', p, FRACTION);
    c.number(probe, 'majority', p, FRACTION);
    c.number(probe, 'selectivity', p, { min: -1, max: 1 });
  });
}

function checkMethods(
  c: Checker,
  root: Json,
  layers: number | undefined,
  candidates: number | undefined,
): void {
  const list = c.array(root, 'methods', '', true);
  if (!list) return;
  const seen = new Set<string>();
  const rank = rankRule(candidates);
  list.forEach((entry, i) => {
    const p = join('methods', i);
    const method = c.object(entry, p);
    if (!method) return;
    const id = c.oneOf(method, 'id', p, METHOD_IDS);
    if (id !== undefined) {
      if (seen.has(id)) c.fail(join(p, 'id'), `duplicate method "${id}"`);
      seen.add(id);
    }
    c.number(method, 'train_seconds', p, { min: 0 });
    const metrics = c.child(method, 'metrics', p);
    if (metrics) {
      const mp = join(p, 'metrics');
      for (const key of ['forget_heldout', 'forget_train', 'retain', 'rag', 'logic', 'multihop']) {
        c.number(metrics, key, mp, FRACTION);
      }
      c.number(metrics, 'forget_rank_heldout', mp, rank);
      c.number(metrics, 'forget_rank_train', mp, rank);
      c.number(metrics, 'forget_p_above_chance', mp, FRACTION);
      c.number(metrics, 'forget_rank_p', mp, FRACTION);
    }
    const probes = c.array(method, 'probe_layers', p);
    if (probes) {
      checkProbeLayers(c, probes, join(p, 'probe_layers'), layers);
      // The before/after probe chart needs the main audit for both models it compares.
      const hasMain = probes.some((x) => isObject(x) && x.design === 'cross_entity' && x.kind === 'linear');
      if ((id === 'base' || id === 'rlcp') && !hasMain) {
        c.fail(join(p, 'probe_layers'), 'needs at least one cross_entity linear probe');
      }
    }
  });
  for (const required of ['base', 'rlcp']) {
    if (!seen.has(required)) c.fail('methods', `needs an entry with id "${required}"`);
  }
}

function checkTraining(
  c: Checker,
  root: Json,
  layers: number | undefined,
  candidates: number | undefined,
): void {
  const training = c.child(root, 'training', '');
  if (!training) return;
  const probeLayers = c.array(training, 'probe_layers', 'training', true);
  probeLayers?.forEach((layer, i) => c.numberValue(layer, `training.probe_layers[${i}]`, layerRule(layers)));
  const steps = c.array(training, 'steps', 'training', true);
  if (steps) {
    const stepNumbers = steps.map((entry, i) => {
      const p = `training.steps[${i}]`;
      const step = c.object(entry, p);
      if (!step) return undefined;
      c.number(step, 'lambda', p);
      for (const key of ['forget_heldout', 'probe_accuracy', 'retain']) c.number(step, key, p, FRACTION);
      c.number(step, 'forget_rank_heldout', p, rankRule(candidates));
      const loss = c.child(step, 'loss', p);
      if (loss) {
        if (Object.keys(loss).length === 0) c.fail(join(p, 'loss'), 'must name at least one loss');
        for (const key of Object.keys(loss)) c.number(loss, key, join(p, 'loss'));
      }
      return c.number(step, 'step', p, COUNT);
    });
    checkIncreasing(c, stepNumbers, 'training.steps', 'step');
  }
  const collapse = c.field(training, 'collapse', 'training');
  if (collapse !== null && collapse !== undefined) {
    const value = c.object(collapse, 'training.collapse');
    if (value) {
      c.number(value, 'step', 'training.collapse', COUNT);
      c.number(value, 'lambda', 'training.collapse');
      c.number(value, 'width_steps', 'training.collapse', { min: 0 });
    }
  }
}

function checkRelearning(c: Checker, root: Json): void {
  const relearning = c.child(root, 'relearning', '');
  if (!relearning) return;
  c.number(relearning, 'train_facts', 'relearning', COUNT);
  c.number(relearning, 'eval_facts', 'relearning', COUNT);
  const steps = c.array(relearning, 'steps', 'relearning', true);
  if (steps) {
    const values = steps.map((s, i) => c.numberValue(s, `relearning.steps[${i}]`, COUNT));
    checkIncreasing(c, values, 'relearning.steps', 'step');
  }
  const curves = c.array(relearning, 'curves', 'relearning', true);
  if (!curves) return;
  const seen = new Set<string>();
  curves.forEach((entry, i) => {
    const p = `relearning.curves[${i}]`;
    const curve = c.object(entry, p);
    if (!curve) return;
    const id = c.oneOf(curve, 'id', p, [...METHOD_IDS, 'oracle'] as const);
    if (id !== undefined) {
      if (seen.has(id)) c.fail(join(p, 'id'), `duplicate curve "${id}"`);
      seen.add(id);
    }
    const accuracy = c.array(curve, 'accuracy', p);
    if (!accuracy) return;
    accuracy.forEach((a, j) => c.numberValue(a, `${p}.accuracy[${j}]`, FRACTION));
    if (steps && accuracy.length !== steps.length) {
      c.fail(join(p, 'accuracy'), `has ${accuracy.length} values but relearning.steps has ${steps.length}`);
    }
    if (curve.mean_rank === undefined) return;
    const ranks = c.array(curve, 'mean_rank', p);
    ranks?.forEach((r, j) => c.numberValue(r, `${p}.mean_rank[${j}]`, { min: 1 }));
    if (ranks && steps && ranks.length !== steps.length)
      c.fail(join(p, 'mean_rank'), `has ${ranks.length} values but relearning.steps has ${steps.length}`);
  });
  if (relearning.splits !== undefined)
    c.number(relearning, 'splits', 'relearning', { min: 1, integer: true });
  for (const required of ['rlcp', 'base']) {
    if (!seen.has(required)) c.fail('relearning.curves', `needs a curve with id "${required}"`);
  }
}

function checkTamperCheck(c: Checker, check: Json, p: string, candidates: number | undefined): void {
  for (const key of ['accuracy', 'p_above_chance', 'rank_p']) c.number(check, key, p, FRACTION);
  c.number(check, 'mean_rank', p, rankRule(candidates));
  c.boolean(check, 'at_chance', p);
  c.number(check, 'retain_recall', p, FRACTION);
}

function checkTamper(c: Checker, root: Json, candidates: number | undefined): void {
  const tamper = c.child(root, 'tamper', '');
  if (!tamper) return;
  const options = c.child(tamper, 'options', 'tamper');
  if (options) {
    for (const key of ['splits', 'relearn_steps', 'every', 'checkpoint', 'benign_steps', 'batch_size'])
      c.number(options, key, 'tamper.options', { min: 1, integer: true });
    c.number(options, 'lr', 'tamper.options', { min: 0 });
    c.number(options, 'seed', 'tamper.options', { integer: true });
    const bits = c.array(options, 'quant_bits', 'tamper.options', true);
    bits?.forEach((b, i) => {
      if (b !== 4 && b !== 8) c.fail(`tamper.options.quant_bits[${i}]`, `must be 4 or 8, got ${describe(b)}`);
    });
  }
  c.array(tamper, 'splits', 'tamper', true)?.forEach((entry, i) => {
    const p = `tamper.splits[${i}]`;
    const split = c.object(entry, p);
    if (!split) return;
    const halves = ['train_facts', 'eval_facts'].map((key) => c.array(split, key, p, true) ?? []);
    const both = halves[0]!.filter((f) => halves[1]!.includes(f));
    if (both.length > 0) c.fail(p, `fact(s) ${both.join(', ')} are in both halves`);
  });
  const seen = new Set<string>();
  c.array(tamper, 'models', 'tamper', true)?.forEach((entry, i) => {
    const p = `tamper.models[${i}]`;
    const row = c.object(entry, p);
    if (!row) return;
    const id = c.oneOf(row, 'id', p, [...METHOD_IDS, 'oracle'] as const);
    if (id !== undefined) {
      if (seen.has(id)) c.fail(join(p, 'id'), `duplicate model "${id}"`);
      seen.add(id);
    }
    c.number(row, 'seconds', p, { min: 0 });
    const benign = c.child(row, 'benign', p);
    if (benign) checkTamperCheck(c, benign, `${p}.benign`, candidates);
    c.array(row, 'quantization', p)?.forEach((q, j) => {
      const qp = `${p}.quantization[${j}]`;
      const check = c.object(q, qp);
      if (!check) return;
      checkTamperCheck(c, check, qp, candidates);
      const bits = c.field(check, 'bits', qp);
      if (bits !== undefined && bits !== 4 && bits !== 8)
        c.fail(join(qp, 'bits'), `must be 4 or 8, got ${describe(bits)}`);
      const probe = c.field(check, 'probe_max_accuracy', qp);
      if (probe !== null && probe !== undefined)
        c.numberValue(probe, join(qp, 'probe_max_accuracy'), FRACTION);
    });
    const vs = c.field(row, 'vs_oracle', p);
    if (vs === null || vs === undefined) return;
    const v = c.object(vs, `${p}.vs_oracle`);
    if (!v) return;
    for (const at of ['checkpoint', 'end']) {
      const ap = `${p}.vs_oracle.${at}`;
      const r = c.child(v, at, `${p}.vs_oracle`);
      if (!r) continue;
      c.number(r, 'step', ap, COUNT);
      for (const key of ['mean_rank', 'oracle_mean_rank']) c.number(r, key, ap, rankRule(candidates));
      for (const key of ['rank_p', 'accuracy', 'oracle_accuracy']) c.number(r, key, ap, FRACTION);
      c.number(r, 'accuracy_excess_facts', ap);
      c.number(r, 'area', ap);
    }
    const fq = c.child(v, 'forget_quality', `${p}.vs_oracle`);
    if (fq)
      for (const key of ['statistic', 'p']) c.number(fq, key, `${p}.vs_oracle.forget_quality`, FRACTION);
    const holds = c.child(v, 'holds', `${p}.vs_oracle`);
    if (holds)
      for (const key of [
        'relearn_checkpoint',
        'relearn_end',
        'benign',
        'quantization',
        'forget_quality',
        'all',
      ])
        c.boolean(holds, key, `${p}.vs_oracle.holds`);
  });
}

function checkCrystallization(c: Checker, root: Json, layers: number | undefined): void {
  const crystal = c.child(root, 'crystallization', '');
  if (!crystal) return;
  c.string(crystal, 'probe_set', 'crystallization');
  const list = c.array(crystal, 'layers', 'crystallization', true);
  if (!list) return;
  const layerNumbers = list.map((entry, i) => {
    const p = `crystallization.layers[${i}]`;
    const layer = c.object(entry, p);
    if (!layer) return undefined;
    for (const side of ['before', 'after']) {
      const stats = c.child(layer, side, p);
      if (!stats) continue;
      c.number(stats, 'effective_rank', join(p, side), { min: 0 });
      c.number(stats, 'participation_ratio', join(p, side), { min: 0 });
      c.number(stats, 'mean_cosine', join(p, side), { min: -1, max: 1 });
    }
    return c.number(layer, 'layer', p, layerRule(layers));
  });
  checkIncreasing(c, layerNumbers, 'crystallization.layers', 'layer');
}

function checkChainOfThought(c: Checker, root: Json): void {
  const cot = c.child(root, 'chain_of_thought', '');
  if (!cot) return;
  c.string(cot, 'source', 'chain_of_thought');
  c.number(cot, 'n', 'chain_of_thought', { min: 1, integer: true });
  for (const side of ['before', 'after']) {
    const p = `chain_of_thought.${side}`;
    const stats = c.child(cot, side, 'chain_of_thought');
    if (!stats) continue;
    c.number(stats, 'cot_rate', p, FRACTION);
    c.number(stats, 'mean_tokens', p, { min: 0 });
    c.number(stats, 'strict_accuracy', p, FRACTION);
    c.number(stats, 'flexible_accuracy', p, FRACTION);
  }
  if (cot.methods === undefined) return;
  c.array(cot, 'methods', 'chain_of_thought')?.forEach((entry, i) => {
    const p = `chain_of_thought.methods[${i}]`;
    const change = c.object(entry, p);
    if (!change) return;
    c.oneOf(change, 'id', p, [...METHOD_IDS, 'oracle']);
    for (const key of ['cot_rate', 'accuracy', 'p_two_sided']) c.number(change, key, p, FRACTION);
    for (const key of ['direct_to_cot', 'cot_to_direct']) c.number(change, key, p, COUNT);
  });
}

const VERDICTS = ['supported', 'not supported', 'not testable here'] as const;

/** A p-value field: a fraction, or null where the claim could not be tested. */
function nullableP(c: Checker, parent: Json, key: string, path: string): void {
  if (parent[key] !== null) c.number(parent, key, path, FRACTION);
}

function checkClaims(c: Checker, root: Json): void {
  const claims = c.child(root, 'claims', '');
  if (!claims) return;
  c.number(claims, 'alpha', 'claims', { min: 0, max: 1 });
  const seeds = c.array(claims, 'seeds', 'claims', true);
  seeds?.forEach((s, i) => c.numberValue(s, `claims.seeds[${i}]`, { integer: true }));
  c.string(claims, 'crystallization_definition', 'claims');
  for (const side of ['base', 'oracle']) {
    const m = c.child(claims, side, 'claims');
    if (m)
      for (const key of ['forget_recall_heldout', 'cot_rate', 'logic_accuracy'])
        c.number(m, key, `claims.${side}`, FRACTION);
  }
  const seen = new Set<string>();
  c.array(claims, 'claims', 'claims', true)?.forEach((entry, i) => {
    const p = `claims.claims[${i}]`;
    const claim = c.object(entry, p);
    if (!claim) return;
    const id = c.oneOf(claim, 'id', p, CLAIM_IDS);
    if (id !== undefined) {
      if (seen.has(id)) c.fail(join(p, 'id'), `duplicate claim "${id}"`);
      seen.add(id);
    }
    c.string(claim, 'claim', p);
    c.string(claim, 'measurement', p);
    c.oneOf(claim, 'verdict', p, VERDICTS);
    nullableP(c, claim, 'p_value', p);
    c.string(claim, 'note', p, true);
    const perSeed = c.array(claim, 'seeds', p, true);
    if (perSeed && seeds && perSeed.length !== seeds.length)
      c.fail(join(p, 'seeds'), `has ${perSeed.length} entries for ${seeds.length} seeds`);
    perSeed?.forEach((e, j) => {
      const q = `${p}.seeds[${j}]`;
      const seed = c.object(e, q);
      if (!seed) return;
      c.number(seed, 'seed', q, { integer: true });
      if (seed.value !== null) c.number(seed, 'value', q);
      nullableP(c, seed, 'p', q);
      c.boolean(seed, 'holds', q);
    });
  });
}

function checkExamples(c: Checker, root: Json): void {
  const list = c.array(root, 'examples', '', true);
  list?.forEach((entry, i) => {
    const p = `examples[${i}]`;
    const example = c.object(entry, p);
    if (!example) return;
    c.string(example, 'suite', p);
    c.string(example, 'prompt', p);
    c.string(example, 'expected', p);
    for (const side of ['base', 'rlcp']) {
      const answer = c.child(example, side, p);
      if (!answer) continue;
      // A model may generate nothing at all; an empty answer is a result, not a schema error.
      c.string(answer, 'answer', join(p, side), true);
      c.boolean(answer, 'correct', join(p, side));
    }
  });
}

function checkTargets(c: Checker, root: Json): void {
  const list = c.array(root, 'targets', '');
  const seen = new Set<string>();
  list?.forEach((entry, i) => {
    const p = `targets[${i}]`;
    const target = c.object(entry, p);
    if (!target) return;
    const id = c.string(target, 'id', p);
    if (id !== undefined) {
      if (seen.has(id)) c.fail(join(p, 'id'), `duplicate target "${id}"`);
      seen.add(id);
    }
    c.string(target, 'label', p);
    c.number(target, 'value', p);
    c.oneOf(target, 'op', p, TARGET_OPS);
    c.number(target, 'threshold', p);
    c.oneOf(target, 'unit', p, TARGET_UNITS);
  });
}

/** Item files must stay inside the run folder's items/ and be safe to use as a link. */
const ITEM_PATH = /^items\/[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*\.jsonl$/;

function checkItemFiles(c: Checker, root: Json): void {
  const list = c.array(root, 'item_files', '');
  list?.forEach((entry, i) => {
    const p = `item_files[${i}]`;
    const item = c.object(entry, p);
    if (!item) return;
    const path = c.string(item, 'path', p);
    if (path !== undefined && (!ITEM_PATH.test(path) || path.split('/').includes('..'))) {
      c.fail(
        join(p, 'path'),
        `must look like items/NAME.jsonl (letters, digits, . _ -), got ${describe(path)}`,
      );
    }
    c.string(item, 'description', p);
    c.number(item, 'records', p, COUNT);
  });
}

/**
 * Checks that `value` (parsed from `file`) is a complete results.json and returns it typed.
 * Throws one Error listing every problem as `FILE: field.path: problem`.
 */
export function validateResults(value: unknown, file: string): RunResults {
  const c = new Checker();
  const root = c.object(value, '(top level)');
  if (root) {
    const version = c.field(root, 'schema_version', '');
    if (version !== undefined && version !== SCHEMA_VERSION) {
      c.fail(
        'schema_version',
        `must be ${SCHEMA_VERSION} (the version this rlcp reads), got ${describe(version)}`,
      );
    }
    if (root.fixture !== undefined && typeof root.fixture !== 'boolean') {
      c.fail('fixture', `must be true or false when present, got ${describe(root.fixture)}`);
    }
    const createdAt = c.string(root, 'created_at', '');
    if (createdAt !== undefined && Number.isNaN(Date.parse(createdAt))) {
      c.fail('created_at', `must be an ISO 8601 date-time, got ${describe(createdAt)}`);
    }
    c.string(root, 'command', '');
    c.number(root, 'seed', '', { integer: true });
    c.number(root, 'duration_seconds', '', { min: 0 });

    const model = c.child(root, 'model', '');
    let layers: number | undefined;
    if (model) {
      c.string(model, 'name', 'model');
      layers = c.number(model, 'layers', 'model', { min: 1, integer: true });
      c.number(model, 'hidden_size', 'model', { min: 1, integer: true });
      c.number(model, 'parameters', 'model', { min: 1, integer: true });
    }
    const world = c.child(root, 'world', '');
    let candidates: number | undefined;
    if (world) {
      c.string(world, 'relation', 'world');
      candidates = c.number(world, 'candidates', 'world', { min: 2, integer: true });
      c.number(world, 'forget_facts', 'world', { min: 1, integer: true });
      c.number(world, 'retain_facts', 'world', COUNT);
    }
    const sizes = c.child(root, 'suite_sizes', '');
    if (sizes) {
      for (const key of ['forget_heldout', 'forget_train', 'retain', 'rag', 'logic', 'multihop']) {
        c.number(sizes, key, 'suite_sizes', COUNT);
      }
    }

    checkMethods(c, root, layers, candidates);
    if (root.untrained_probe_layers !== undefined) {
      const list = c.array(root, 'untrained_probe_layers', '');
      if (list) checkProbeLayers(c, list, 'untrained_probe_layers', layers);
    }
    checkTraining(c, root, layers, candidates);
    checkRelearning(c, root);
    if (root.tamper !== undefined) checkTamper(c, root, candidates);
    checkCrystallization(c, root, layers);
    checkChainOfThought(c, root);
    if (root.claims !== undefined) checkClaims(c, root);
    checkExamples(c, root);
    checkTargets(c, root);
    checkItemFiles(c, root);
    if (root.notes !== undefined) {
      const notes = c.array(root, 'notes', '');
      notes?.forEach((note, i) => {
        if (typeof note !== 'string' || note.trim().length === 0) {
          c.fail(`notes[${i}]`, `must be a non-empty string, got ${describe(note)}`);
        }
      });
    }
  }
  if (c.problems.length > 0) {
    const shown = c.problems.slice(0, MAX_REPORTED_PROBLEMS).map((problem) => `${file}: ${problem}`);
    const hidden = c.problems.length - shown.length;
    if (hidden > 0) shown.push(`${file}: ... and ${hidden} more problems`);
    const heading =
      c.problems.length === 1 ? '' : `${file}: invalid results (${c.problems.length} problems)\n`;
    throw new Error(heading + shown.join('\n'));
  }
  return value as RunResults;
}
