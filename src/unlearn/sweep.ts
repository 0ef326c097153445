// `rlcp sweep`: many metabolize runs from one file — a grid (every combination of the listed values of
// dotted config keys), a list of settings, or both (each listed setting × the grid), times seeds. Runs go
// to OUT/<name>/; finished ones are skipped and interrupted ones resumed, so a sweep can be re-run after a
// kill. OUT/sweep.json collects each run's last evaluation and marks the Pareto front. The runs are trained
// here one after another, or by workers on a Redis queue (queue.ts); both share what is below.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { writeJsonAtomic } from '../io/atomic.ts';
import { readJson } from '../io/jsonl.ts';
import { resolveConfig, setDotted, type UnlearnConfig } from './config.ts';
import { readRunConfig, runFinished, runMetabolize, type DataSpec } from './run.ts';

export interface SweepFile {
  /** A config patch (nested, as in a --config file) applied to every run. */
  base?: Record<string, unknown>;
  /** A config file applied before `base` (relative to the sweep file). */
  baseConfig?: string;
  /** Dotted key → values; every combination is run. */
  grid?: Record<string, unknown[]>;
  /** Settings run one by one (× the grid): dotted keys → value, optionally with a "name". */
  runs?: Record<string, unknown>[];
  seeds?: number[];
}

export interface SweepRun {
  name: string;
  /** Dotted key → value of this run (grid, list entry and seed). */
  settings: Record<string, unknown>;
  config: UnlearnConfig;
}

const KNOWN = new Set(['base', 'baseConfig', 'grid', 'runs', 'seeds']);

function label(key: string, value: unknown): string {
  const short = key.split('.').at(-1)!;
  const text =
    typeof value === 'string' ? value : Array.isArray(value) ? value.join('-') : JSON.stringify(value);
  return `${short}=${text}`.replace(/[^A-Za-z0-9=.,+-]+/g, '-');
}

/** Expands a sweep file into runs with resolved configs (validated before anything trains). */
export function expandSweep(sweep: SweepFile, source: string): SweepRun[] {
  if (typeof sweep !== 'object' || sweep === null || Array.isArray(sweep))
    throw new Error(`${source}: must be a JSON object`);
  for (const key of Object.keys(sweep)) {
    if (!KNOWN.has(key))
      throw new Error(`${source}: unknown sweep key "${key}" (known: ${[...KNOWN].join(', ')})`);
  }
  const basePatches: { patch: unknown; source: string }[] = [];
  if (sweep.baseConfig !== undefined) {
    const path = resolve(dirname(source), sweep.baseConfig);
    basePatches.push({ patch: readJson(path), source: path });
  }
  if (sweep.base !== undefined) basePatches.push({ patch: sweep.base, source: `${source}: "base"` });
  let combos: Record<string, unknown>[] = [{}];
  for (const [key, values] of Object.entries(sweep.grid ?? {})) {
    if (!Array.isArray(values) || values.length === 0)
      throw new Error(`${source}: grid "${key}" needs a non-empty list`);
    combos = combos.flatMap((c) => values.map((v) => ({ ...c, [key]: v })));
  }
  const list = sweep.runs ?? [{}];
  if (!Array.isArray(list) || list.length === 0)
    throw new Error(`${source}: "runs" must be a non-empty list`);
  const seeds = sweep.seeds ?? [undefined];
  const runs: SweepRun[] = [];
  const names = new Set<string>();
  for (const entry of list) {
    const { name: entryName, ...entrySettings } = entry as { name?: unknown } & Record<string, unknown>;
    for (const combo of combos) {
      for (const seed of seeds) {
        const settings: Record<string, unknown> = { ...entrySettings, ...combo };
        if (seed !== undefined) settings.seed = seed;
        const patch: Record<string, unknown> = {};
        for (const [key, value] of Object.entries(settings)) setDotted(patch, key, value);
        const where = `${source}: run ${JSON.stringify(settings)}`;
        const config = resolveConfig([...basePatches, { patch, source: where }]);
        const parts = [
          ...(typeof entryName === 'string' ? [entryName] : []),
          ...Object.entries(settings).map(([k, v]) => label(k, v)),
        ];
        let name = parts.length > 0 ? parts.join('_') : 'run';
        for (let i = 2; names.has(name); i++) name = `${parts.join('_')}_${i}`;
        names.add(name);
        runs.push({ name, settings, config });
      }
    }
  }
  return runs;
}

export interface SweepResult {
  name: string;
  dir: string;
  settings: Record<string, unknown>;
  final: Record<string, number> | null;
  pareto?: boolean;
  /** Why the run failed (queued sweeps: after its last retry); its `final` is then null. */
  error?: string;
}

/** Objectives of the Pareto front: all to be maximised. */
function objectives(final: Record<string, number>): number[] {
  const chance = final.forget_heldout_rank_chance ?? final.forget_rank_heldout ?? 0;
  return [
    -(final.forget_recall_heldout ?? 1),
    -Math.abs((final.forget_rank_heldout ?? 0) - chance),
    final.retain_recall ?? 0,
    final.rag_accuracy ?? 0,
    final.logic_accuracy ?? 0,
  ];
}

/** Marks the runs no other run beats on every objective (and strictly on one). */
export function markPareto(results: SweepResult[]): void {
  const scored = results.map((r) => (r.final ? objectives(r.final) : null));
  results.forEach((r, i) => {
    const own = scored[i];
    if (!own) return;
    r.pareto = !scored.some(
      (other, j) =>
        j !== i && other !== null && other.every((v, k) => v >= own[k]!) && other.some((v, k) => v > own[k]!),
    );
  });
}

export interface SweepPlan {
  sweepPath: string;
  model: string;
  data: DataSpec;
  /** The sweep folder: runs go to OUT/<name>/, the summary to OUT/sweep.json. */
  out: string;
  runs: SweepRun[];
}

/** Reads and expands a sweep file; every run's config is validated here, before any run starts. */
export function planSweep(options: {
  sweepPath: string;
  model: string;
  data: DataSpec;
  out: string;
}): SweepPlan {
  const runs = expandSweep(readJson<SweepFile>(options.sweepPath), options.sweepPath);
  return { ...options, runs };
}

export type SweepRunState = 'finished' | 'interrupted' | 'new';

export function sweepRunState(dir: string): SweepRunState {
  return runFinished(dir) ? 'finished' : readRunConfig(dir) ? 'interrupted' : 'new';
}

/**
 * Trains one run of a sweep into `dir`: nothing when it is finished, a resume from its last checkpoint
 * when it was interrupted, else a new run. The in-process sweep and the queue's workers both run this.
 */
export async function trainSweepRun(options: {
  dir: string;
  model: string;
  data: DataSpec;
  config: UnlearnConfig;
  progress?: boolean;
}): Promise<SweepRunState> {
  const { dir } = options;
  const state = sweepRunState(dir);
  if (state === 'finished') return state;
  if (state === 'interrupted') {
    const existing = readRunConfig(dir)!;
    if (
      JSON.stringify(existing.config.method) !== JSON.stringify(options.config.method) ||
      existing.config.seed !== options.config.seed
    ) {
      throw new Error(`${dir} holds a different run; remove it or choose another --out`);
    }
    await runMetabolize({ runDir: dir, resume: true, progress: options.progress });
  } else {
    await runMetabolize({
      runDir: dir,
      model: options.model,
      data: options.data,
      config: options.config,
      progress: options.progress,
    });
  }
  return state;
}

/** A run's entry of sweep.json: its last evaluation when it finished, its error when it failed. */
export function sweepResult(
  out: string,
  run: Pick<SweepRun, 'name' | 'settings'>,
  error?: string,
): SweepResult {
  const dir = join(out, run.name);
  const summaryPath = join(dir, 'summary.json');
  const final = existsSync(summaryPath)
    ? (readJson<{ final: Record<string, number> | null }>(summaryPath).final ?? null)
    : null;
  return { name: run.name, dir, settings: run.settings, final, ...(error !== undefined ? { error } : {}) };
}

/** Marks the Pareto front and writes OUT/sweep.json. */
export function writeSweepSummary(plan: Omit<SweepPlan, 'runs'>, results: SweepResult[]): void {
  markPareto(results);
  writeJsonAtomic(join(plan.out, 'sweep.json'), {
    sweep: plan.sweepPath,
    model: plan.model,
    data: plan.data,
    runs: results,
  });
}

export async function runSweep(options: {
  sweepPath: string;
  model: string;
  data: DataSpec;
  out: string;
  progress?: boolean;
  log?: (line: string) => void;
}): Promise<SweepResult[]> {
  const plan = planSweep(options);
  const log = options.log ?? ((line: string) => console.error(line));
  const results: SweepResult[] = [];
  for (const [i, run] of plan.runs.entries()) {
    const dir = join(plan.out, run.name);
    const state = sweepRunState(dir);
    const note = { finished: ' (finished, skipped)', interrupted: ' (resuming)', new: '' }[state];
    log(`sweep ${i + 1}/${plan.runs.length}: ${run.name}${note}`);
    await trainSweepRun({
      dir,
      model: plan.model,
      data: plan.data,
      config: run.config,
      progress: options.progress,
    });
    results.push(sweepResult(plan.out, run));
  }
  writeSweepSummary(plan, results);
  return results;
}
