// `rlcp demo` (= `npm start`): the whole experiment in one command (src/demo/README.md).
import { registerCommand } from '../main.ts';
import { optFlag, optList, optString, type ParsedArgs } from '../args.ts';

const USAGE = [
  'rlcp demo [--model DIR] [--world DIR] [--oracle DIR] [--config FILE.json|none] [--regen-config FILE.json]',
  '          [--out-root DIR] [--seed S] [--fast] [--rlcp-steps N] [--regen-steps N] [--baseline-steps N]',
  '          [--relearn-steps N] [--baselines unlikelihood,ga,graddiff,npo,simnpo,rmu,leace,rag|none]',
  '          [--baseline-probes auto|on|off|LIST]',
  '  Evaluates the base model, runs RLCP (default config), regenerates the RLCP model (regen config) and',
  '  runs the baselines (fast configs), evaluates every result the same way, runs the tamper battery on',
  '  every model, the base and the oracle, prints a summary table and writes OUT-ROOT/<timestamp>/',
  '  (results.json, items/, config.json, report.html, one sub-run per method).',
  '  Defaults: --model models/world-base --world models/world-base/world --oracle models/world-oracle',
  '  --config configs/rlcp-default.json --regen-config configs/regen-default.json --out-root runs --seed 0.',
  '  Stages and budgets: src/demo/README.md.',
].join('\n');

const KNOWN = new Set([
  'model',
  'world',
  'oracle',
  'config',
  'regen-config',
  'out-root',
  'seed',
  'fast',
  'rlcp-steps',
  'regen-steps',
  'baseline-steps',
  'relearn-steps',
  'baselines',
  'baseline-probes',
  'no-progress',
]);

function count(args: ParsedArgs, key: string, min: number): number | undefined {
  const raw = optString(args, key);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min)
    throw new Error(`--${key} must be an integer ≥ ${min}, got "${raw}"`);
  return value;
}

registerCommand('demo', async () => ({
  summary:
    'the whole experiment: base, RLCP, regeneration and baselines evaluated, tamper battery, report (npm start)',
  usage: USAGE,
  flags: ['fast', 'no-progress'],
  async run(args) {
    for (const key of args.options.keys()) {
      if (!KNOWN.has(key)) throw new Error(`unknown option --${key}\n\nUsage: ${USAGE}`);
    }
    if (args.positional.length > 0)
      throw new Error(`unexpected argument "${args.positional[0]}"\n\nUsage: ${USAGE}`);
    const { BASELINES, DEFAULT_PATHS, defaultConfigPath } = await import('../../demo/plan.ts');
    type Baseline = (typeof BASELINES)[number];
    const baselinesArg = optList(args, 'baselines');
    const baselines: Baseline[] =
      baselinesArg.length === 0
        ? [...BASELINES]
        : baselinesArg[0] === 'none'
          ? []
          : baselinesArg.map((b) => {
              if (!(BASELINES as readonly string[]).includes(b))
                throw new Error(`--baselines: unknown method "${b}" (one of ${BASELINES.join(', ')})`);
              return b as Baseline;
            });
    const probesArg = optString(args, 'baseline-probes') ?? 'auto';
    let baselineProbes: 'auto' | 'on' | 'off' | Baseline[];
    if (probesArg === 'auto' || probesArg === 'on' || probesArg === 'off') baselineProbes = probesArg;
    else {
      baselineProbes = probesArg.split(',').map((b) => {
        if (!baselines.includes(b as Baseline))
          throw new Error(
            `--baseline-probes: "${b}" is not one of the baselines run (${baselines.join(', ')})`,
          );
        return b as Baseline;
      });
    }
    const configArg = optString(args, 'config');
    const seed = count(args, 'seed', 0) ?? 0;
    const { runDemo, formatSeconds } = await import('../../demo/pipeline.ts');
    const outcome = await runDemo({
      model: optString(args, 'model') ?? DEFAULT_PATHS.model,
      world: optString(args, 'world') ?? DEFAULT_PATHS.world,
      oracle: optString(args, 'oracle') ?? DEFAULT_PATHS.oracle,
      config: configArg === 'none' ? null : (configArg ?? defaultConfigPath()),
      regenConfig: optString(args, 'regen-config') ?? DEFAULT_PATHS.regenConfig,
      outRoot: optString(args, 'out-root') ?? 'runs',
      seed,
      fast: optFlag(args, 'fast'),
      rlcpSteps: count(args, 'rlcp-steps', 1),
      regenSteps: count(args, 'regen-steps', 1),
      baselineSteps: count(args, 'baseline-steps', 1),
      relearnSteps: count(args, 'relearn-steps', 1),
      baselines,
      baselineProbes,
      progress: !optFlag(args, 'no-progress'),
    });
    console.log('');
    console.log(outcome.table);
    console.log('');
    console.log('stage           wall s  budget s   CPU s');
    for (const t of outcome.timings) {
      const cells = [
        t.seconds.toFixed(1).padStart(6),
        String(t.budget).padStart(8),
        t.cpuSeconds.toFixed(1).padStart(7),
      ];
      console.log(`${t.name.padEnd(14)} ${cells.join('  ')}`);
    }
    const cpu = outcome.timings.reduce((a, t) => a + t.cpuSeconds, 0);
    console.log(
      `total wall time ${formatSeconds(outcome.totalSeconds)} (process ${formatSeconds(process.uptime())}, ` +
        `CPU ${formatSeconds(cpu)}); budget ${formatSeconds(outcome.timings.reduce((a, t) => a + t.budget, 0))}`,
    );
    console.log(`report: ${outcome.report}`);
    console.log(`run folder: ${outcome.runDir}`);
  },
}));
