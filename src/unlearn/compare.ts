// `rlcp compare`: every run (and the base model) evaluated the same way by the evaluation suites'
// `evaluateModel` (closed-book recall and rank on training and held-out templates, reading with facts in
// context, logic, fresh cross-entity probes at every layer), then one row per run with the targets
// checked against the base model.
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { loadFactSet } from '../data/facts.ts';
import { loadWorld, type World } from '../data/world.ts';
import { checkTokenizerMatchesConfig, loadTokenizer } from '../io/tokenizer.ts';
import { Qwen2ForCausalLM } from '../nn/qwen2.ts';
import { evaluateModel, type Aggregate, type SuiteName } from '../eval/suites/runner.ts';
import { readJson, readJsonl } from '../io/jsonl.ts';
import type { LogicItemResult } from '../eval/suites/recall.ts';
import { mcNemarTest } from '../eval/stats.ts';
import type { ProbeKind } from '../eval/probes.ts';
import { readRunConfig } from './run.ts';
import { resolveProbeLayers } from './config.ts';

export const COMPARE_SUITES: SuiteName[] = ['recall', 'rag', 'logic', 'probes'];

export interface CompareRow {
  run: string;
  dir: string;
  method: string | null;
  seed: number | null;
  forget_recall_heldout: number | null;
  forget_p_above_chance: number | null;
  forget_rank_heldout: number | null;
  forget_rank_chance: number | null;
  forget_rank_p: number | null;
  forget_inverted: boolean | null;
  forget_recall_train: number | null;
  forget_rank_train: number | null;
  forget_rank_p_train: number | null;
  retain_recall: number | null;
  retain_recall_heldout: number | null;
  rag_accuracy: number | null;
  rag_forget_accuracy: number | null;
  logic_accuracy: number | null;
  /** Share of logic answers that write a computation before the answer (the CoT claim). */
  cot_rate: number | null;
  /** Exact McNemar p of the CoT change against the base on the same logic items. */
  cot_change_p: number | null;
  /** Shares of the base model's accuracy. */
  retain_ratio: number | null;
  retain_heldout_ratio: number | null;
  rag_ratio: number | null;
  logic_ratio: number | null;
  /**
   * Largest (accuracy − majority) of the fresh cross-entity probes (linear and MLP) over the layers the
   * adversary trained on (every layer for a plain model or a baseline); `_all`: over every layer.
   */
  probe_excess_trained: number | null;
  probe_excess_all: number | null;
  targets: Record<string, boolean | null>;
  all_targets: boolean | null;
}

/** Runs that differ only by seed, summarised: mean and sample standard deviation of each metric. */
export interface SeedGroup {
  runs: string[];
  seeds: number[];
  metrics: Record<(typeof SEED_METRICS)[number], { mean: number; sd: number } | null>;
}

export interface CompareReport {
  base: { dir: string; aggregate: Aggregate };
  rows: CompareRow[];
  /** One entry per set of ≥ 2 runs whose resolved configs are equal but for the seed. */
  seedGroups: SeedGroup[];
}

const SEED_METRICS = [
  'forget_recall_heldout',
  'forget_rank_heldout',
  'forget_rank_train',
  'retain_ratio',
  'rag_ratio',
  'logic_ratio',
  'probe_excess_trained',
  'probe_excess_all',
] as const;

function meanSd(values: number[]): { mean: number; sd: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / Math.max(1, values.length - 1);
  return { mean, sd: Math.sqrt(variance) };
}

/** Groups rows whose runs have the same resolved config except the seed (same base model too). */
export function seedGroups(rows: readonly CompareRow[]): SeedGroup[] {
  const groups = new Map<string, CompareRow[]>();
  for (const row of rows) {
    const run = readRunConfig(row.dir);
    if (!run) continue;
    const { seed: _seed, ...rest } = run.config;
    const key = JSON.stringify([run.model, run.data, rest]);
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  return [...groups.values()]
    .filter((group) => group.length >= 2)
    .map((group) => {
      const metrics = {} as SeedGroup['metrics'];
      for (const key of SEED_METRICS) {
        const values = group.map((r) => r[key]);
        metrics[key] = values.every((v): v is number => v !== null) ? meanSd(values) : null;
      }
      return { runs: group.map((r) => r.run), seeds: group.map((r) => r.seed ?? NaN), metrics };
    });
}

function num(a: Aggregate, key: string): number | null {
  const v = a[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function ratio(a: number | null, b: number | null): number | null {
  return a === null || b === null || b === 0 ? null : a / b;
}

/**
 * The "trained layers" of a run: the hidden states its RLCP adversary was trained on (fact.layers).
 * Null for a plain model or a method without an adversary (its row then uses every layer).
 */
function adversaryLayers(dir: string, L: number): number[] | null {
  const run = readRunConfig(dir);
  if (!run || run.config.method !== 'rlcp' || run.config.steps === 0) return null;
  return resolveProbeLayers(run.config.fact.layers, L);
}

function probeExcess(a: Aggregate, layers: number[] | null): number | null {
  const list = a.probe_layers as
    { layer: number; design: string; accuracy: number; majority: number }[] | undefined;
  if (!list) return null;
  const chosen = list.filter(
    (p) => p.design === 'cross_entity' && (layers === null || layers.includes(p.layer)),
  );
  if (chosen.length === 0) return null;
  return Math.max(...chosen.map((p) => p.accuracy - p.majority));
}

/** One model's evaluation as compare uses it: the aggregate and, with the logic suite, per-item CoT. */
export interface Evaluated {
  aggregate: Aggregate;
  logicCot: boolean[] | null;
}

export function compareRow(
  name: string,
  dir: string,
  evaluated: Evaluated,
  baseEvaluated: Evaluated,
  L: number,
  alpha = 0.05,
): CompareRow {
  const a = evaluated.aggregate;
  const base = baseEvaluated.aggregate;
  const cot = evaluated.logicCot;
  const baseCot = baseEvaluated.logicCot;
  const run = readRunConfig(dir);
  const layers = adversaryLayers(dir, L);
  const row: CompareRow = {
    run: name,
    dir,
    method: run?.config.method ?? null,
    seed: run?.config.seed ?? null,
    forget_recall_heldout: num(a, 'forget_recall_heldout'),
    forget_p_above_chance: num(a, 'forget_p_above_chance'),
    forget_rank_heldout: num(a, 'forget_rank_heldout'),
    forget_rank_chance: num(a, 'forget_rank_chance'),
    forget_rank_p: num(a, 'forget_rank_p'),
    forget_inverted: typeof a.forget_inverted === 'boolean' ? a.forget_inverted : null,
    forget_recall_train: num(a, 'forget_recall'),
    forget_rank_train: num(a, 'forget_rank_train'),
    forget_rank_p_train: num(a, 'forget_rank_p_train'),
    retain_recall: num(a, 'retain_recall'),
    retain_recall_heldout: num(a, 'retain_recall_heldout'),
    rag_accuracy: num(a, 'rag_accuracy'),
    rag_forget_accuracy: num(a, 'rag_forget_accuracy'),
    logic_accuracy: num(a, 'logic_accuracy'),
    cot_rate: cot === null ? null : cot.filter(Boolean).length / cot.length,
    cot_change_p: cot && baseCot ? mcNemarTest(baseCot, cot).p_two_sided : null,
    retain_ratio: ratio(num(a, 'retain_recall'), num(base, 'retain_recall')),
    retain_heldout_ratio: ratio(num(a, 'retain_recall_heldout'), num(base, 'retain_recall_heldout')),
    rag_ratio: ratio(num(a, 'rag_accuracy'), num(base, 'rag_accuracy')),
    logic_ratio: ratio(num(a, 'logic_accuracy'), num(base, 'logic_accuracy')),
    probe_excess_trained: probeExcess(a, layers),
    probe_excess_all: probeExcess(a, null),
    targets: {},
    all_targets: null,
  };
  const check = (v: number | null, ok: (x: number) => boolean) => (v === null ? null : ok(v));
  row.targets = {
    forget_accuracy_at_chance: check(row.forget_p_above_chance, (p) => p >= alpha),
    forget_rank_at_chance: check(row.forget_rank_p, (p) => p >= alpha),
    probe_cross_entity: check(row.probe_excess_trained, (e) => e <= 0.05),
    retain_90: check(row.retain_ratio, (r) => r >= 0.9),
    rag_95: check(row.rag_ratio, (r) => r >= 0.95),
    logic_95: check(row.logic_ratio, (r) => r >= 0.95),
  };
  const values = Object.values(row.targets);
  row.all_targets = values.some((v) => v === null) ? null : values.every(Boolean);
  return row;
}

function modelDirOf(run: string): string {
  const inner = join(run, 'model');
  if (existsSync(join(inner, 'config.json'))) return inner;
  if (existsSync(join(run, 'config.json')) && !readRunConfig(run)) return run;
  throw new Error(`${run}: neither a finished run (no model/) nor a model folder`);
}

export async function compareRuns(options: {
  world?: string;
  facts?: { forget: string; retain: string };
  runs: string[];
  base?: string;
  out?: string;
  suites?: SuiteName[];
  probeKinds?: ProbeKind[];
  progress?: boolean;
  log?: (line: string) => void;
}): Promise<CompareReport> {
  if ((options.world === undefined) === (options.facts === undefined))
    throw new Error('compare needs --world DIR or --forget/--retain fact files');
  if (options.runs.length === 0) throw new Error('compare needs at least one --runs RUN');
  const world: World | undefined = options.world !== undefined ? loadWorld(options.world) : undefined;
  const facts = options.facts
    ? {
        facts: [
          ...loadFactSet(options.facts.forget).map((f) => ({ ...f, split: 'forget' as const })),
          ...loadFactSet(options.facts.retain).map((f) => ({ ...f, split: 'retain' as const })),
        ],
        source: `${options.facts.forget} + ${options.facts.retain}`,
      }
    : undefined;
  const baseDir = options.base ?? readRunConfig(options.runs[0]!)?.model;
  if (!baseDir) throw new Error('compare: no --base model given and the first run names none');
  const log = options.log ?? ((line: string) => console.error(line));
  const suites = options.suites ?? (world ? COMPARE_SUITES : ['recall', 'probes']);
  const cotOf = (records: readonly LogicItemResult[] | undefined) => records?.map((r) => r.cot) ?? null;
  const evaluate = async (label: string, modelDir: string, out: string | undefined): Promise<Evaluated> => {
    if (out && existsSync(join(out, 'results.json'))) {
      log(`compare: ${label} already evaluated (${out}/results.json)`);
      const items = join(out, 'items', 'logic_test.jsonl');
      return {
        aggregate: readJson<Aggregate>(join(out, 'results.json')),
        logicCot: existsSync(items) ? cotOf(readJsonl<LogicItemResult>(items)) : null,
      };
    }
    log(`compare: evaluating ${label} (${modelDir})`);
    const model = Qwen2ForCausalLM.fromPretrained(modelDir);
    const tokDir = existsSync(join(modelDir, 'tokenizer.json')) ? modelDir : options.world;
    if (!tokDir) throw new Error(`${modelDir}: no tokenizer.json`);
    const tokenizer = await loadTokenizer(tokDir);
    checkTokenizerMatchesConfig(tokenizer, model.config, tokDir);
    const result = await evaluateModel({
      model,
      tokenizer,
      ...(world ? { world } : { facts }),
      suites,
      probes: { kinds: options.probeKinds ?? ['linear'] },
      progress: options.progress,
      ...(out ? { out } : {}),
    });
    return {
      aggregate: result.aggregate,
      logicCot: cotOf(result.items.logic_test as LogicItemResult[] | undefined),
    };
  };
  const base = await evaluate('base', baseDir, options.out ? join(options.out, 'base') : undefined);
  const L = Qwen2ForCausalLM.fromPretrained(baseDir).config.numHiddenLayers;
  const rows: CompareRow[] = [];
  const used = new Set<string>(['base']);
  for (const run of options.runs) {
    let name = basename(run.replace(/\/+$/, ''));
    for (let i = 2; used.has(name); i++) name = `${basename(run)}-${i}`;
    used.add(name);
    const aggregate = await evaluate(
      name,
      modelDirOf(run),
      options.out ? join(options.out, name) : undefined,
    );
    rows.push(compareRow(name, run, aggregate, base, L));
  }
  return { base: { dir: baseDir, aggregate: base.aggregate }, rows, seedGroups: seedGroups(rows) };
}

/** A plain-text table of the rows (one line per run). */
export function formatCompareTable(report: CompareReport): string {
  const f = (v: number | null, d = 3) => (v === null ? '-' : v.toFixed(d));
  const b = (v: boolean | null) => (v === null ? '-' : v ? 'yes' : 'NO');
  const header = [
    'run'.padEnd(28),
    'method'.padEnd(12),
    'fgt_acc',
    'p_acc',
    'rank(ch)',
    'p_rank',
    'rank_tr',
    'p_tr',
    'retain%',
    'rag%',
    'logic%',
    'cot(p)'.padEnd(11),
    'probe+',
    'all',
  ].join(' ');
  const lines = [header];
  for (const r of report.rows) {
    lines.push(
      [
        r.run.slice(0, 28).padEnd(28),
        (r.method ?? '-').padEnd(12),
        f(r.forget_recall_heldout).padStart(7),
        f(r.forget_p_above_chance).padStart(5),
        `${f(r.forget_rank_heldout, 1)}(${f(r.forget_rank_chance, 1)})`.padStart(8),
        f(r.forget_rank_p).padStart(6),
        f(r.forget_rank_train, 1).padStart(7),
        f(r.forget_rank_p_train).padStart(5),
        f(r.retain_ratio === null ? null : 100 * r.retain_ratio, 1).padStart(7),
        f(r.rag_ratio === null ? null : 100 * r.rag_ratio, 1).padStart(5),
        f(r.logic_ratio === null ? null : 100 * r.logic_ratio, 1).padStart(6),
        (r.cot_rate === null ? '-' : `${f(r.cot_rate, 2)}(${f(r.cot_change_p, 2)})`).padEnd(11),
        f(r.probe_excess_trained).padStart(6),
        b(r.all_targets).padStart(4),
      ].join(' '),
    );
  }
  for (const group of report.seedGroups) {
    const m = group.metrics;
    const pm = (v: { mean: number; sd: number } | null, scale = 1, d = 3) =>
      v === null ? '-' : `${(scale * v.mean).toFixed(d)} ± ${(scale * v.sd).toFixed(d)}`;
    lines.push(
      `mean ± sd over seeds ${group.seeds.join(', ')} (${group.runs.join(', ')}): ` +
        `fgt_acc ${pm(m.forget_recall_heldout)}, rank ${pm(m.forget_rank_heldout, 1, 2)}, ` +
        `rank_tr ${pm(m.forget_rank_train, 1, 2)}, retain% ${pm(m.retain_ratio, 100, 1)}, ` +
        `rag% ${pm(m.rag_ratio, 100, 1)}, logic% ${pm(m.logic_ratio, 100, 1)}, ` +
        `probe+ ${pm(m.probe_excess_trained)} (every layer ${pm(m.probe_excess_all)})`,
    );
  }
  return lines.join('\n');
}
