// `rlcp demo`: the paper's experiment end to end on the shipped base model, in one time-budgeted run —
// evaluate the base, unlearn with RLCP (default config) and the baselines (fast configs), evaluate every
// result with the same suites, attack with relearning (RLCP, base, oracle), print a summary table and write
// runs/<timestamp>/ (results.json, items/, config.json, report.html, one sub-run per method). The stages and
// their budgets: src/demo/README.md.
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { loadWorld, type World } from '../data/world.ts';
import { evaluateModel, type EvalResults } from '../eval/suites/runner.ts';
import { factSuitesFromWorld } from '../eval/suites/items.ts';
import type { LogicItemResult } from '../eval/suites/recall.ts';
import { relearnSplits } from '../eval/suites/relearn.ts';
import { claimsMeasures, claimsProbePrompts, claimsSuites } from '../eval/suites/claims.ts';
import { evaluateClaims, formatClaimsTable } from '../eval/claims.ts';
import { compareToOracle, runTamperBattery, type TamperModelResult } from '../eval/suites/tamper.ts';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic.ts';
import { toJsonl } from '../io/jsonl.ts';
import { checkTokenizerMatchesConfig, loadTokenizer, type RlcpTokenizer } from '../io/tokenizer.ts';
import { Qwen2ForCausalLM } from '../nn/qwen2.ts';
import {
  SCHEMA_VERSION,
  validateResults,
  type ItemFile,
  type MethodId,
  type MethodResult,
  type RunResults,
} from '../report/schema.ts';
import { writeReport } from '../report/write.ts';
import { createTimestampedDir, MetricsLog } from '../train/run-dir.ts';
import { DEFAULT_CONFIG, resolveProbeLayers } from '../unlearn/config.ts';
import { runMetabolize } from '../unlearn/run.ts';
import {
  makePlan,
  reproduceCommand,
  type Baseline,
  type DemoOptions,
  type DemoPlan,
  type StageName,
} from './plan.ts';
import {
  chainOfThought,
  crystallizationOf,
  examples,
  formatSummaryTable,
  formatTamperTable,
  tamperSection,
  itemDescription,
  markdownSummary,
  meanProbeAccuracy,
  methodMetrics,
  probeEntries,
  targets,
  trainingCurve,
  type SummaryRow,
} from './results.ts';

export interface StageTiming {
  name: StageName;
  budget: number;
  /** Wall-clock seconds. */
  seconds: number;
  /** CPU seconds of this process (user + system, every thread): a load-independent measure of the work. */
  cpuSeconds: number;
}

export interface DemoOutcome {
  runDir: string;
  results: RunResults;
  table: string;
  timings: StageTiming[];
  totalSeconds: number;
  report: string;
}

/** Wall-clock per stage against its budget; `behind()` is how far the run is past its schedule so far. */
export class StageClock {
  readonly timings: StageTiming[] = [];
  private readonly started = performance.now();
  private current: { name: StageName; budget: number; start: number; cpu: NodeJS.CpuUsage } | null = null;

  constructor(
    private readonly plan: DemoPlan,
    private readonly log: (line: string) => void,
  ) {}

  begin(name: StageName): void {
    this.end();
    const stage = this.plan.stages.find((s) => s.name === name)!;
    const index = this.plan.stages.indexOf(stage) + 1;
    this.log(
      `\n[${index}/${this.plan.stages.length}] ${stage.what} (budget ${formatSeconds(stage.budget)}, ` +
        `${formatSeconds(this.elapsed())} elapsed)`,
    );
    this.current = { name, budget: stage.budget, start: performance.now(), cpu: process.cpuUsage() };
  }

  end(): void {
    if (!this.current) return;
    const seconds = (performance.now() - this.current.start) / 1000;
    const cpu = process.cpuUsage(this.current.cpu);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    this.timings.push({ name: this.current.name, budget: this.current.budget, seconds, cpuSeconds });
    const over =
      seconds > this.current.budget
        ? ` — over budget by ${formatSeconds(seconds - this.current.budget)}`
        : '';
    this.log(
      `    ${this.current.name}: ${formatSeconds(seconds)} of ${formatSeconds(this.current.budget)}${over} ` +
        `(CPU ${formatSeconds(cpuSeconds)})`,
    );
    this.current = null;
  }

  elapsed(): number {
    return (performance.now() - this.started) / 1000;
  }

  /**
   * Seconds past the schedule: elapsed time minus the budgets of the finished stages and of the running
   * stage's share `fraction` (0..1) of its budget. Positive = behind.
   */
  behind(fraction: number): number {
    const done = this.timings.reduce((a, t) => a + t.budget, 0);
    const running = this.current ? this.current.budget * fraction : 0;
    return this.elapsed() - done - running;
  }
}

export function formatSeconds(seconds: number): string {
  const s = Math.round(seconds);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

function checkFolder(path: string, what: string, flag: string): void {
  if (!existsSync(path) || !statSync(path).isDirectory()) {
    throw new Error(
      `${what} not found at ${path}. Pass ${flag} DIR (the shipped models live in models/: see README.md).`,
    );
  }
}

function loadModel(dir: string, tokenizer: RlcpTokenizer, what: string): Qwen2ForCausalLM {
  if (!existsSync(join(dir, 'config.json')))
    throw new Error(`${what} ${dir}: no config.json (not a model folder)`);
  const model = Qwen2ForCausalLM.fromPretrained(dir);
  checkTokenizerMatchesConfig(tokenizer, model.config, dir);
  return model;
}

function relationLabel(relation: string): string {
  const parts = relation.split('_');
  return parts.length === 2 ? `${parts[0]} → ${parts[1]}` : relation;
}

/** Size of a folder tree in bytes (for the log line about a sub-run). */
function folderBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = statSync(path);
    total += st.isDirectory() ? folderBytes(path) : st.size;
  }
  return total;
}

export async function runDemo(
  options: DemoOptions,
  log: (line: string) => void = (line) => console.error(line),
): Promise<DemoOutcome> {
  const createdAt = new Date();
  const plan = makePlan(options);
  const clock = new StageClock(plan, log);
  const notes: string[] = [];
  const modelDir = resolve(options.model);
  const worldDir = resolve(options.world);
  const oracleDir = resolve(options.oracle);
  checkFolder(modelDir, 'The base model', '--model');
  checkFolder(worldDir, 'The world', '--world');
  // The oracle is the relearning attack's reference; without one the demo still runs and says so.
  const hasOracle = existsSync(oracleDir);
  if (!hasOracle) {
    notes.push(
      `No oracle model at ${oracleDir} (pretrain one with \`rlcp pretrain --oracle\`): the tamper battery runs without its reference, so nothing is compared with an oracle.`,
    );
  }

  const runDir = createTimestampedDir(resolve(options.outRoot), createdAt);
  log(
    `rlcp demo (${plan.mode}): ${basename(modelDir)} on ${worldDir}, seed ${options.seed}; ` +
      `budget ${formatSeconds(plan.totalBudget)} on 2 idle cores; writing ${runDir}`,
  );
  const baseConfig = {
    format: 'rlcp-demo',
    version: 1,
    created_at: createdAt.toISOString(),
    command: reproduceCommand(options),
    cwd: process.cwd(),
    seed: options.seed,
    mode: plan.mode,
    model: modelDir,
    world: worldDir,
    oracle: hasOracle ? oracleDir : null,
    rlcp_config_file: options.config,
    stages: plan.stages,
    total_budget_seconds: plan.totalBudget,
    evaluation: {
      suites: plan.fullSuites,
      baseline_suites: plan.baselineSuites,
      probe_kinds: plan.probeKinds,
      baseline_probe_kinds: plan.baselineProbeKinds,
      probe_seed: options.seed,
    },
    tamper: plan.tamper,
    methods: plan.methods,
    claims_control: plan.claimsControl,
  };
  writeJsonAtomic(join(runDir, 'config.json'), { ...baseConfig, status: 'running' });

  // ---- 1. load ----
  clock.begin('load');
  const tokenizerDir = existsSync(join(modelDir, 'tokenizer.json')) ? modelDir : worldDir;
  const tokenizer = await loadTokenizer(tokenizerDir);
  const world: World = loadWorld(worldDir);
  const base = loadModel(modelDir, tokenizer, 'base model');
  const oracle = hasOracle ? loadModel(oracleDir, tokenizer, 'oracle model') : null;
  const L = base.config.numHiddenLayers;
  const suites = factSuitesFromWorld(world);
  const evalBatch = 32;

  const items: { method: string; name: string; records: readonly unknown[] }[] = [];
  const keepItems = (method: string, result: EvalResults) => {
    for (const [name, records] of Object.entries(result.items)) items.push({ method, name, records });
  };
  const evaluate = async (
    method: string,
    model: Qwen2ForCausalLM,
    suitesToRun: DemoPlan['fullSuites'],
    kinds: DemoPlan['probeKinds'],
    reference?: Qwen2ForCausalLM,
  ): Promise<EvalResults> => {
    log(
      `    evaluating ${method}: ${suitesToRun.join(', ')}${suitesToRun.includes('probes') ? ` (${kinds.join(' + ')} probes)` : ''}`,
    );
    const result = await evaluateModel({
      model,
      tokenizer,
      world,
      suites: suitesToRun,
      ...(reference ? { reference } : {}),
      probes: { kinds, seed: options.seed },
      batchSize: evalBatch,
      progress: options.progress,
    });
    writeJsonAtomic(join(runDir, method, 'eval.json'), result.aggregate);
    keepItems(method, result);
    return result;
  };

  // ---- 2. base ----
  clock.begin('base-eval');
  const baseEval = await evaluate('base', base, plan.fullSuites, plan.probeKinds);
  const baseMetrics = methodMetrics(baseEval.aggregate, 'base');
  const methods: MethodResult[] = [
    { id: 'base', metrics: baseMetrics, probe_layers: probeEntries(baseEval.aggregate), train_seconds: 0 },
  ];

  // ---- 3. RLCP ----
  clock.begin('rlcp-train');
  const train = async (method: 'rlcp' | 'regen' | Baseline, startFrom = modelDir) => {
    const started = performance.now();
    const outcome = await runMetabolize({
      runDir: join(runDir, method),
      model: startFrom,
      data: { world: worldDir },
      config: plan.methods[method],
      progress: options.progress,
    });
    const seconds = (performance.now() - started) / 1000;
    // Checkpoints only serve `--resume` of an interrupted sub-run; the finished model is in model/.
    rmSync(join(runDir, method, 'checkpoints'), { recursive: true, force: true });
    log(
      `    ${method}: ${outcome.stepsRun} steps, ${formatSeconds(seconds)} ` +
        `(${outcome.secondsPerStep.toFixed(2)} s/step, reference ${outcome.referenceMode}); ` +
        `sub-run ${(folderBytes(join(runDir, method)) / 2 ** 20).toFixed(1)} MiB`,
    );
    return { model: outcome.model, seconds };
  };
  const rlcpRun = await train('rlcp');
  // Every trained model stays in memory for the tamper battery (world models are a few MB each).
  const tamperModels: { id: string; model: Qwen2ForCausalLM }[] = [{ id: 'rlcp', model: rlcpRun.model }];
  const rlcpConfigResolved = plan.methods.rlcp;

  clock.begin('rlcp-eval');
  const rlcpEval = await evaluate('rlcp', rlcpRun.model, plan.fullSuites, plan.probeKinds, base);
  const rlcpMetrics = methodMetrics(rlcpEval.aggregate, 'rlcp');
  const rlcpProbes = probeEntries(rlcpEval.aggregate);
  methods.push({
    id: 'rlcp',
    metrics: rlcpMetrics,
    probe_layers: rlcpProbes,
    train_seconds: rlcpRun.seconds,
  });

  // ---- 4. regeneration: the RLCP model noised toward a fresh init and distilled from itself ----
  clock.begin('regen');
  const regenRun = await train('regen', join(runDir, 'rlcp', 'model'));
  tamperModels.push({ id: 'regen', model: regenRun.model });
  const regenEval = await evaluate('regen', regenRun.model, plan.baselineSuites, plan.baselineProbeKinds);
  methods.push({
    id: 'regen',
    metrics: methodMetrics(regenEval.aggregate, 'regen'),
    probe_layers: probeEntries(regenEval.aggregate),
    train_seconds: regenRun.seconds,
  });
  notes.push(
    `Regeneration (regen) starts from this run's RLCP model, which is also its teacher: ${plan.methods.regen.steps} steps of ${options.regenConfig}; evaluated like the baselines (recall, RAG, logic, multi-hop, linear fresh probes).`,
  );

  // ---- 5. baselines ----
  clock.begin('baselines');
  const probesFor: Baseline[] = [];
  const requested = options.baselineProbes;
  for (const [i, method] of options.baselines.entries()) {
    if (method === 'rag') {
      // Just-RAG trains nothing: its model is the base model, so its evaluation is the base's (the same
      // weights give the same numbers); the sub-run still records the config and a step-0 evaluation.
      await train('rag');
      methods.push({
        id: 'rag',
        metrics: baseMetrics,
        probe_layers: probeEntries(baseEval.aggregate),
        train_seconds: 0,
      });
      continue;
    }
    const run = await train(method);
    tamperModels.push({ id: method, model: run.model });
    // Auto: probes while the stage keeps to its schedule (this baseline's share of the stage budget).
    const share = (i + 1) / options.baselines.length;
    const withProbes =
      requested === 'on' ||
      (Array.isArray(requested) && requested.includes(method)) ||
      (requested === 'auto' && clock.behind(share) <= 0);
    if (withProbes) probesFor.push(method);
    const result = await evaluate(
      method,
      run.model,
      withProbes ? plan.baselineSuites : plan.baselineSuites.filter((s) => s !== 'probes'),
      plan.baselineProbeKinds,
    );
    methods.push({
      id: method,
      metrics: methodMetrics(result.aggregate, method),
      probe_layers: probeEntries(result.aggregate),
      train_seconds: run.seconds,
    });
  }
  const trained = options.baselines.filter((b) => b !== 'rag');
  const skippedProbes = trained.filter((b) => !probesFor.includes(b));
  if (skippedProbes.length > 0) {
    notes.push(
      `Fresh probes were skipped on ${skippedProbes.join(', ')} ` +
        (requested === 'auto' ? 'to keep the run within its time budget' : '(--baseline-probes)') +
        '; their probe columns are empty. The baselines never run the logit-lens and crystallization suites.',
    );
  } else if (trained.length > 0) {
    notes.push(
      'Baselines are evaluated with recall, RAG, logic, multi-hop and linear fresh probes; the logit-lens and crystallization suites run on the base and RLCP models only.',
    );
  }

  // ---- 6. tamper battery ----
  clock.begin('tamper');
  tamperModels.push({ id: 'base', model: base }, ...(oracle ? [{ id: 'oracle', model: oracle }] : []));
  const splits = relearnSplits(suites, plan.tamper.splits, plan.tamper.seed);
  const batteries: TamperModelResult[] = tamperModels.map(({ id, model }) => {
    const battery = runTamperBattery(model, tokenizer, suites, world, plan.tamper, id, splits);
    log(`    tamper ${id}: ${formatSeconds(battery.seconds)}`);
    return battery;
  });
  const oracleBattery = batteries.find((b) => b.id === 'oracle');
  const vsOracle = oracleBattery
    ? batteries
        .filter((b) => b.id !== 'oracle')
        .map((b) => compareToOracle(b, oracleBattery, plan.tamper.checkpoint))
    : [];
  items.push({
    method: 'tamper',
    name: 'relearn',
    records: batteries.flatMap((b) =>
      b.relearn.splits.flatMap((split, s) =>
        b.relearn.steps.map((step, i) => ({
          id: b.id,
          split: s,
          step,
          accuracy: split.accuracy[i],
          mean_rank: split.mean_rank[i],
          item_ranks: split.item_ranks[i],
        })),
      ),
    ),
  });
  if (options.baselines.includes('rag'))
    notes.push('Tamper battery: Just-RAG has the base model’s weights, so its battery is the base’s row.');

  /**
   * The four claims (src/eval/claims.ts) on the demo's one seed: base and RLCP from their evaluations
   * above, the oracle and an anchor-streams-only control of RLCP's length measured here.
   */
  const claimsOfThisSeed = async (oracleModel: Qwen2ForCausalLM) => {
    const control = await runMetabolize({
      runDir: join(runDir, 'anchors-control'),
      model: modelDir,
      data: { world: worldDir },
      config: plan.claimsControl,
      progress: options.progress,
    });
    rmSync(join(runDir, 'anchors-control', 'checkpoints'), { recursive: true, force: true });
    log(`    anchors-only control: ${control.stepsRun} steps`);
    const probePrompts = claimsProbePrompts(suites);
    const deepLayers = resolveProbeLayers(plan.methods.rlcp.fact.layers, L);
    const opts = { batchSize: evalBatch, progress: options.progress };
    const measured = (model: Qwen2ForCausalLM, evaluated: EvalResults) =>
      claimsMeasures(model, tokenizer, evaluated.items, probePrompts, deepLayers, opts);
    const claimSuites = claimsSuites(world);
    const oracleEval = await evaluate('oracle', oracleModel, claimSuites, plan.probeKinds);
    const controlEval = await evaluate('anchors-control', control.model, claimSuites, plan.probeKinds);
    // Suites the claims read that the base and RLCP evaluations did not run (derivable, on such a world).
    const missing = claimSuites.filter((suite) => !plan.fullSuites.includes(suite));
    const completed = async (method: string, model: Qwen2ForCausalLM, evaluated: EvalResults) =>
      missing.length === 0
        ? evaluated
        : {
            ...evaluated,
            items: {
              ...evaluated.items,
              ...(await evaluate(`${method}-claims`, model, missing, plan.probeKinds)).items,
            },
          };
    const report = evaluateClaims({
      base: measured(base, await completed('base', base, baseEval)),
      oracle: measured(oracleModel, oracleEval),
      runs: [
        {
          seed: options.seed,
          rlcp: measured(rlcpRun.model, await completed('rlcp', rlcpRun.model, rlcpEval)),
          control: measured(control.model, controlEval),
          metrics,
        },
      ],
      deepLayers,
      heldoutItems: suites.forgetHeldout.length,
      bootstrapSeed: options.seed,
    });
    notes.push(
      `Claims: tested on this run's seed only; the 3-seed table is \`rlcp claims\` (README.md, "The paper's claims"). ${report.crystallization_definition}`,
    );
    return report;
  };

  // ---- 7. the paper's claims on this seed ----
  clock.begin('claims');
  const metrics = new MetricsLog(join(runDir, 'rlcp')).read();
  const claims = oracle ? await claimsOfThisSeed(oracle) : undefined;
  if (!oracle) notes.push('Claims: not tested (they need the oracle model).');

  // ---- 8. results ----
  clock.begin('write');
  const adversaryLayers = resolveProbeLayers(rlcpConfigResolved.fact.layers, L);
  const initialProbe = meanProbeAccuracy(probeEntries(baseEval.aggregate), adversaryLayers) ?? 0;
  notes.push(
    'Training curve, step 0: there is no adversarial probe before the first step, so its probe accuracy is the base model’s fresh cross-entity linear probe (mean over the adversary’s layers).',
  );
  if (plan.mode === 'fast' || options.rlcpSteps !== undefined) {
    notes.push(
      `RLCP ran ${rlcpConfigResolved.steps} steps (the default config has ${DEFAULT_CONFIG.steps}).`,
    );
  }
  const baselineSteps = trained.filter((b) => b !== 'leace').map((b) => plan.methods[b]!.steps);
  if (baselineSteps.length > 0) {
    notes.push(
      `Baselines ran a fast configuration: ${baselineSteps[0]} steps each (RLCP: ${rlcpConfigResolved.steps}), the reference computed per step, one evaluation at the end; everything else is the method's definition in src/unlearn/config.ts.`,
    );
  }
  if (options.baselines.includes('leace')) {
    notes.push(
      `LEACE trains nothing: its erasers are fitted in closed form at RLCP's hidden states ${resolveProbeLayers(plan.methods.leace!.fact.layers, L).join(', ')} and applied at every position (stored beside the weights in leace/model/leace.safetensors).`,
    );
  }
  if (options.baselines.includes('rag')) {
    notes.push('Just-RAG trains nothing: its row is the base model’s evaluation (same weights).');
  }
  if (baseMetrics.forget_p_above_chance >= 0.05) {
    notes.push(
      `The base model does not recall the forget facts above chance (held-out ${(100 * baseMetrics.forget_heldout).toFixed(1)}%, p = ${baseMetrics.forget_p_above_chance.toFixed(3)}): there is nothing to unlearn, so this run exercises the pipeline and its numbers say nothing about forgetting.`,
    );
  }
  const computed = targets({
    base: baseMetrics,
    rlcp: rlcpMetrics,
    rlcpAggregate: rlcpEval.aggregate,
    rlcpProbes,
    adversaryLayers,
    trainSeconds: rlcpRun.seconds,
    rlcpSteps: rlcpConfigResolved.steps,
    defaultSteps: DEFAULT_CONFIG.steps,
  });
  notes.push(...computed.notes);

  const itemFiles: ItemFile[] = [];
  for (const { method, name, records } of items) {
    const path = `items/${method}/${name}.jsonl`;
    writeFileAtomic(join(runDir, path), toJsonl(records));
    itemFiles.push({
      path,
      description:
        method === 'tamper'
          ? 'tamper battery relearning curves: per model, split and step, held-out recall, mean rank and every item’s rank'
          : itemDescription(method, name),
      records: records.length,
    });
  }
  const forgetFacts = new Set(suites.forgetTrain.map((i) => i.fact_id)).size;
  const retainFacts = new Set(suites.retainTrain.map((i) => i.fact_id)).size;
  const sizes = (key: string) => (baseEval.items[key] ?? []).length;
  const totalSeconds = clock.elapsed();
  const results: RunResults = {
    schema_version: SCHEMA_VERSION,
    created_at: createdAt.toISOString(),
    command: reproduceCommand({ ...options, baselineProbes: requested === 'auto' ? probesFor : requested }),
    seed: options.seed,
    duration_seconds: totalSeconds,
    model: {
      name: basename(modelDir),
      layers: L,
      hidden_size: base.config.hiddenSize,
      parameters: base.numParameters(),
    },
    world: {
      relation: relationLabel(suites.forgetRelation),
      candidates: suites.forgetCandidates.length,
      forget_facts: forgetFacts,
      retain_facts: retainFacts,
    },
    suite_sizes: {
      forget_heldout: sizes('forget_heldout'),
      forget_train: sizes('forget_train'),
      retain: sizes('retain_train'),
      rag: sizes('rag_test'),
      logic: sizes('logic_test'),
      multihop: sizes('multihop_test'),
    },
    methods,
    untrained_probe_layers: probeEntries(baseEval.aggregate, 'untrained_probe_layers'),
    training: trainingCurve(metrics, adversaryLayers, initialProbe),
    relearning: {
      train_facts: splits[0]!.trainFacts.length,
      eval_facts: splits[0]!.evalFacts.length,
      splits: splits.length,
      steps: batteries[0]!.relearn.steps,
      curves: batteries.map((b) => ({
        id: b.id as MethodId | 'oracle',
        accuracy: b.relearn.accuracy,
        mean_rank: b.relearn.mean_rank,
      })),
    },
    tamper: tamperSection(plan.tamper, splits, batteries, vsOracle),
    crystallization: crystallizationOf(rlcpEval.aggregate),
    chain_of_thought: chainOfThought(
      baseEval.items.logic_test as LogicItemResult[],
      rlcpEval.items.logic_test as LogicItemResult[],
      items
        .filter((i) => i.name === 'logic_test' && i.method !== 'base' && i.method !== 'anchors-control')
        .map((i) => ({ id: i.method as MethodId | 'oracle', items: i.records as LogicItemResult[] })),
    ),
    ...(claims ? { claims } : {}),
    examples: examples(baseEval.items, rlcpEval.items),
    targets: computed.targets,
    item_files: itemFiles,
    notes,
  };
  const resultsPath = join(runDir, 'results.json');
  validateResults(JSON.parse(JSON.stringify(results)), resultsPath);
  writeJsonAtomic(resultsPath, results);
  clock.end();
  const timings = clock.timings;
  writeJsonAtomic(join(runDir, 'config.json'), {
    ...baseConfig,
    command: results.command,
    status: 'finished',
    baseline_probes: probesFor,
    timings: timings.map((t) => ({
      stage: t.name,
      budget_seconds: t.budget,
      seconds: round(t.seconds),
      cpu_seconds: round(t.cpuSeconds),
    })),
    duration_seconds: round(clock.elapsed()),
  });
  const report = writeReport(runDir);
  writeFileAtomic(join(runDir, 'summary.md'), markdownSummary(results, timings));

  const rows: SummaryRow[] = methods.map((m) => ({ id: m.id, metrics: m.metrics, probes: m.probe_layers }));
  const table = [
    formatSummaryTable(rows, results.world.candidates),
    formatTamperTable(results.tamper),
    ...(claims ? [formatClaimsTable(claims)] : []),
  ].join('\n\n');
  return { runDir, results, table, timings, totalSeconds: clock.elapsed(), report };
}

function round(v: number): number {
  return Math.round(v * 10) / 10;
}
