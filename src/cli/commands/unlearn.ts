// Subcommands of the unlearn area (see src/cli/commands.ts): `rlcp metabolize`, `rlcp sweep`, `rlcp compare`.
import { registerCommand } from '../main.ts';
import { optFlag, optList, optNumber, optString, requireString, type ParsedArgs } from '../args.ts';
import { readConfigFile, resolveConfig, setDotted, type UnlearnConfig } from '../../unlearn/config.ts';
import { runMetabolize, type DataSpec } from '../../unlearn/run.ts';

function dataSpecFromArgs(args: ParsedArgs): DataSpec {
  const world = optString(args, 'world');
  const forget = optString(args, 'forget');
  if (world !== undefined && forget !== undefined)
    throw new Error('give either --world or --forget/--retain/--logic, not both');
  if (world !== undefined) return { world };
  if (forget === undefined)
    throw new Error('missing data: --world DIR, or --forget FILE --retain FILE --logic FILE [--rag FILE]');
  const rag = optString(args, 'rag');
  return {
    forget,
    retain: requireString(args, 'retain'),
    logic: requireString(args, 'logic'),
    ...(rag !== undefined ? { rag } : {}),
  };
}

/** `--set key=value` (dotted key; the value is parsed as JSON when it can be, else kept as a string). */
function setPatch(args: ParsedArgs): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  for (const item of args.options.get('set') ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new Error(`--set expects key=value, got "${item}"`);
    const raw = item.slice(eq + 1);
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
    setDotted(patch, item.slice(0, eq), value);
  }
  return patch;
}

export function configFromArgs(args: ParsedArgs): UnlearnConfig {
  const patches: { patch: unknown; source: string }[] = [];
  const file = optString(args, 'config');
  if (file !== undefined) patches.push(readConfigFile(file));
  const cli: Record<string, unknown> = setPatch(args);
  const seed = optString(args, 'seed');
  if (seed !== undefined) cli.seed = Number(seed);
  const steps = optString(args, 'steps');
  if (steps !== undefined) cli.steps = Number(steps);
  patches.push({ patch: cli, source: 'command line' });
  return resolveConfig(patches, optString(args, 'method'));
}

registerCommand('metabolize', async () => ({
  summary: 'unlearn facts with RLCP (or a baseline) while anchoring logic, retain facts and reading',
  usage:
    'rlcp metabolize --model DIR (--world DIR | --forget FILE --retain FILE --logic FILE [--rag FILE]) --out RUN\n' +
    '                [--config FILE.json] [--method rlcp|unlikelihood|ga|graddiff|npo|simnpo|rmu|leace|regen|rag] [--seed S] [--steps N]\n' +
    '                [--set key=value ...] [--json]\n' +
    '       rlcp metabolize --resume RUN [--json]\n' +
    '  Writes RUN/config.json (resolved config), RUN/metrics.jsonl, RUN/checkpoints/, and at the end RUN/model/\n' +
    '  (a Hugging Face folder with the tokenizer) and RUN/summary.json. Config keys: docs/rlcp.md;\n' +
    '  defaults in configs/rlcp-default.json. --set takes dotted keys, e.g. --set fact.lambda=1.',
  flags: ['json'],
  async run(args) {
    const resume = optString(args, 'resume');
    let outcome;
    if (resume !== undefined) {
      outcome = await runMetabolize({ runDir: resume, resume: true });
    } else {
      const model = requireString(args, 'model');
      const out = requireString(args, 'out');
      outcome = await runMetabolize({
        runDir: out,
        model,
        data: dataSpecFromArgs(args),
        config: configFromArgs(args),
      });
    }
    const e = outcome.lastEval;
    const fmt = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(3));
    console.log(
      `${outcome.stepsRun} steps run (last step ${outcome.lastStep}${outcome.stoppedEarly ? ', stopped early' : ''}, ` +
        `${outcome.secondsPerStep.toFixed(2)} s/step); model in ${outcome.runDir}/model`,
    );
    if (e) {
      console.log(
        `forget held-out recall ${fmt(e.forget_recall_heldout)} rank ${fmt(e.forget_rank_heldout)} (chance ${fmt(e.forget_heldout_rank_chance)}, p ${fmt(e.forget_heldout_rank_p)}) | ` +
          `retain ${fmt(e.retain_recall)} | rag ${fmt(e.rag_accuracy)} | logic ${fmt(e.logic_accuracy)} | kl ${fmt(e.kl)}`,
      );
    }
    if (optFlag(args, 'json')) console.log(JSON.stringify(e ?? {}));
  },
}));

registerCommand('sweep', async () => ({
  summary:
    'run metabolize over a grid or list of settings (λ, β, layers, objective, …) and mark the Pareto front',
  usage:
    'rlcp sweep --config SWEEP.json --model DIR (--world DIR | --forget FILE --retain FILE --logic FILE [--rag FILE]) --out DIR\n' +
    '           [--queue redis://HOST:PORT/DB [--attempts 3]] [--json]\n' +
    '       rlcp sweep --status --queue redis://HOST:PORT/DB [--out DIR] [--json]\n' +
    '  SWEEP.json: {"baseConfig": "rlcp-default.json", "base": {...}, "grid": {"fact.lambda": [0.25, 0.5, 1]},\n' +
    '               "runs": [{"name": "ce", "fact.objective": "ce"}, ...], "seeds": [0, 1, 2]}\n' +
    '  Runs go to DIR/<name>/ (finished ones skipped, interrupted ones resumed); DIR/sweep.json lists each\n' +
    "  run's last evaluation with a Pareto flag. Example: configs/sweep-example.json.\n" +
    '  --queue: put the runs on a Redis queue for `rlcp worker`s (DIR on a folder every worker reaches);\n' +
    '  the worker ending the last run writes DIR/sweep.json. --status: the queued sweeps (or the one in DIR).',
  flags: ['json', 'status'],
  async run(args) {
    const queueUrl = optString(args, 'queue');
    if (optFlag(args, 'status')) {
      if (queueUrl === undefined) throw new Error('--status needs --queue redis://HOST:PORT/DB');
      const { queueStatus, formatQueueStatus } = await import('../../unlearn/queue.ts');
      const statuses = await queueStatus({ url: queueUrl, sweepDir: optString(args, 'out') });
      for (const line of formatQueueStatus(statuses)) console.log(line);
      if (optFlag(args, 'json')) console.log(JSON.stringify(statuses));
      return;
    }
    const { planSweep, runSweep } = await import('../../unlearn/sweep.ts');
    const options = {
      sweepPath: requireString(args, 'config'),
      model: requireString(args, 'model'),
      data: dataSpecFromArgs(args),
      out: requireString(args, 'out'),
    };
    if (queueUrl !== undefined) {
      const { enqueueSweep } = await import('../../unlearn/queue.ts');
      const plan = planSweep(options);
      const outcome = await enqueueSweep({ plan, url: queueUrl, attempts: optNumber(args, 'attempts', 3) });
      console.log(
        `${plan.runs.length} runs: ${outcome.added} queued, ${outcome.alreadyQueued} already on the queue, ` +
          `${outcome.retried} failed ones queued again; \`rlcp worker --queue URL\` trains them`,
      );
      if (optFlag(args, 'json')) console.log(JSON.stringify(outcome));
      return;
    }
    const results = await runSweep(options);
    const f = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(3));
    for (const r of results) {
      const e = r.final ?? {};
      console.log(
        `${r.pareto ? '*' : ' '} ${r.name.padEnd(40)} forget ${f(e.forget_recall_heldout)} rank ${f(e.forget_rank_heldout)} ` +
          `(p ${f(e.forget_heldout_rank_p)}) retain ${f(e.retain_recall)} rag ${f(e.rag_accuracy)} logic ${f(e.logic_accuracy)}`,
      );
    }
    console.log('* = on the Pareto front (forget recall, |rank − chance|, retain, rag, logic)');
    if (optFlag(args, 'json')) console.log(JSON.stringify(results));
  },
}));

registerCommand('compare', async () => ({
  summary: 'evaluate unlearning runs (and their base model) the same way and check the targets',
  usage:
    'rlcp compare (--world DIR | --forget FILE --retain FILE) --runs RUN [RUN ...] [--base DIR] [--out DIR]\n' +
    '             [--suite recall,rag,logic,probes] [--probe-kinds linear,mlp] [--json]\n' +
    '  RUN: a metabolize run folder (its model/) or a plain model folder. --base: the model before unlearning\n' +
    "  (default: the first run's --model). --out DIR keeps each evaluation (DIR/<run>/results.json, items/)\n" +
    '  and reuses it on a re-run. The last line with --json is {"base": ..., "rows": [...], "seed_groups": [...]}\n' +
    '  (runs equal but for the seed are summarised as mean ± sd). cot(p): the share of logic answers with a chain\n' +
    "  of thought and the exact McNemar p of its change from the base's on the same items.",
  flags: ['json'],
  async run(args) {
    const { compareRuns, formatCompareTable } = await import('../../unlearn/compare.ts');
    const runs = [...optList(args, 'runs'), ...args.positional];
    const world = optString(args, 'world');
    const forget = optString(args, 'forget');
    const suites = optList(args, 'suite');
    const kinds = optList(args, 'probe-kinds');
    const report = await compareRuns({
      ...(world !== undefined ? { world } : {}),
      ...(forget !== undefined ? { facts: { forget, retain: requireString(args, 'retain') } } : {}),
      runs,
      base: optString(args, 'base'),
      out: optString(args, 'out'),
      ...(suites.length > 0 ? { suites: suites as never } : {}),
      ...(kinds.length > 0 ? { probeKinds: kinds as never } : {}),
    });
    console.log(formatCompareTable(report));
    if (optFlag(args, 'json')) {
      const { aggregate } = report.base;
      const pick = (k: string) => aggregate[k] ?? null;
      console.log(
        JSON.stringify({
          base: {
            dir: report.base.dir,
            forget_recall_heldout: pick('forget_recall_heldout'),
            forget_rank_heldout: pick('forget_rank_heldout'),
            retain_recall: pick('retain_recall'),
            rag_accuracy: pick('rag_accuracy'),
            logic_accuracy: pick('logic_accuracy'),
            cot_rate: pick('cot_rate'),
          },
          rows: report.rows,
          seed_groups: report.seedGroups,
        }),
      );
    }
  },
}));
