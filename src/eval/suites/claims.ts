// `rlcp claims`: the measurements behind src/eval/claims.ts, taken from the base, the oracle, RLCP runs over
// several seeds and, per seed, an anchor-streams-only control run of the same length: forget recall on
// held-out templates, CoT and correctness per logic item (evaluateModel's recall and logic suites), the
// deep-layer hidden states of the crystallization suite's probe set and, on a world with derivable facts,
// the derivable suite's forget items.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadWorld, type World } from '../../data/world.ts';
import { writeFileAtomic, writeJsonAtomic } from '../../io/atomic.ts';
import { readJsonl } from '../../io/jsonl.ts';
import { checkTokenizerMatchesConfig, loadTokenizer, type RlcpTokenizer } from '../../io/tokenizer.ts';
import { Qwen2ForCausalLM } from '../../nn/qwen2.ts';
import { resolveProbeLayers, type UnlearnConfig } from '../../unlearn/config.ts';
import { readRunConfig } from '../../unlearn/run.ts';
import { evaluateClaims, formatClaimsTable, type ClaimsModelMeasures, type ClaimsReport } from '../claims.ts';
import type { DerivableItemResult } from './derivable.ts';
import { Inference } from './inference.ts';
import { factSuitesFromWorld, type FactSuites } from './items.ts';
import type { FactItemResult, LogicItemResult } from './recall.ts';
import { evaluateModel, type EvalResults, type SuiteName } from './runner.ts';

export interface ClaimsRunOptions {
  world: string;
  base: string;
  oracle: string;
  /** RLCP metabolize run folders, one per seed. */
  runs: readonly string[];
  /** Anchor-streams-only run folders, matched to `runs` by seed. */
  controls: readonly string[];
  bootstrapReplicates?: number;
  bootstrapSeed?: number;
  batchSize?: number;
  progress?: boolean;
  /** Writes OUT/claims.json and OUT/claims.md. */
  out?: string;
}

interface LoadedRun {
  dir: string;
  config: UnlearnConfig;
}

function loadRun(dir: string, what: string): LoadedRun {
  const run = readRunConfig(dir);
  if (!run) throw new Error(`${what} ${dir}: no metabolize config.json (a run folder of rlcp metabolize)`);
  if (!existsSync(join(dir, 'model', 'config.json')))
    throw new Error(`${what} ${dir}: no model/ (the run has not finished)`);
  return { dir, config: run.config };
}

/** The control must train the anchor streams only: RLCP's trainer with every forget term off. */
function checkControl(control: LoadedRun, rlcp: LoadedRun): void {
  const c = control.config;
  const off: [string, number][] = [
    ['fact.lambda', c.fact.lambda],
    ['fact.generic', c.fact.generic],
    ['fact.unlikelihood', c.fact.unlikelihood],
  ];
  if (c.method !== 'rlcp')
    throw new Error(
      `control ${control.dir}: method is "${c.method}", expected "rlcp" with its forget terms off`,
    );
  for (const [key, value] of off) {
    if (value !== 0)
      throw new Error(`control ${control.dir}: ${key} is ${value}; an anchors-only run needs 0`);
  }
  if (c.steps !== rlcp.config.steps)
    throw new Error(
      `control ${control.dir}: steps is ${c.steps}, the RLCP run ${rlcp.dir} has ${rlcp.config.steps}`,
    );
}

/** An anchor-streams-only control for an RLCP config: the same run with every forget term off. */
export function anchorsOnlyControl(config: UnlearnConfig): UnlearnConfig {
  return { ...config, fact: { ...config.fact, lambda: 0, generic: 0, unlikelihood: 0 } };
}

/** The crystallization suite's probe set: the forget relation's prompts on training templates. */
export function claimsProbePrompts(suites: FactSuites): string[] {
  return [
    ...suites.forgetTrain,
    ...suites.retainTrain.filter((i) => i.relation === suites.forgetRelation),
  ].map((i) => i.prompt);
}

/**
 * One model's claims measurements from its items of `claimsSuites` (evaluateModel) and its last-token
 * states on the probe set at `deepLayers`.
 */
export function claimsMeasures(
  model: Qwen2ForCausalLM,
  tokenizer: RlcpTokenizer,
  items: EvalResults['items'],
  probePrompts: readonly string[],
  deepLayers: readonly number[],
  options: { batchSize?: number; progress?: boolean } = {},
): ClaimsModelMeasures {
  const forget = items.forget_heldout as readonly FactItemResult[] | undefined;
  const logic = items.logic_test as readonly LogicItemResult[] | undefined;
  if (!forget || !logic) throw new Error('claims: the recall and logic suites must be evaluated first');
  const inference = new Inference(model, tokenizer, {
    batchSize: options.batchSize,
    progress: options.progress ?? false,
  });
  const states = inference.lastTokenHiddenStates(probePrompts, 'hidden states');
  const derivable = (items.derivable as readonly DerivableItemResult[] | undefined)?.filter((i) => i.forget);
  return {
    forgetHeldoutCorrect: forget.map((i) => i.correct),
    logicCot: logic.map((i) => i.cot),
    logicCorrect: logic.map((i) => i.correct),
    deepStates: deepLayers.map((layer) => states[layer]!),
    ...(derivable
      ? {
          derivable: {
            writesLink: derivable.map((i) => i.writes_link),
            correct: derivable.map((i) => i.correct),
            chainCorrect: derivable.map((i) => i.chain_correct),
          },
        }
      : {}),
  };
}

/** The suites the claims read: recall and logic, and the derivable suite on a world with derivable facts. */
export function claimsSuites(world: World): SuiteName[] {
  return world.meta.config.derivable !== undefined ? ['recall', 'logic', 'derivable'] : ['recall', 'logic'];
}

/** Evaluates the claims' suites on `model`, then takes its claims measurements. */
export async function measureForClaims(
  model: Qwen2ForCausalLM,
  tokenizer: RlcpTokenizer,
  world: World,
  probePrompts: readonly string[],
  deepLayers: readonly number[],
  options: { batchSize?: number; progress?: boolean } = {},
): Promise<ClaimsModelMeasures> {
  const { items } = await evaluateModel({
    model,
    tokenizer,
    world,
    suites: claimsSuites(world),
    batchSize: options.batchSize,
    progress: options.progress ?? false,
  });
  return claimsMeasures(model, tokenizer, items, probePrompts, deepLayers, options);
}

export async function runClaims(options: ClaimsRunOptions): Promise<ClaimsReport> {
  const replicates = options.bootstrapReplicates ?? 200;
  if (!(Number.isInteger(replicates) && replicates >= 20))
    throw new Error(`claims: --bootstrap must be an integer ≥ 20, got ${replicates}`);
  if (options.runs.length === 0) throw new Error('claims: give the RLCP runs (--runs RUN ...)');
  if (options.controls.length !== options.runs.length)
    throw new Error(`claims: ${options.runs.length} RLCP runs but ${options.controls.length} control runs`);
  const runs = options.runs.map((dir) => loadRun(dir, 'RLCP run'));
  const controls = options.controls.map((dir) => loadRun(dir, 'control'));
  runs.forEach((run) => {
    if (run.config.method !== 'rlcp' || run.config.fact.lambda === 0)
      throw new Error(
        `RLCP run ${run.dir}: method "${run.config.method}" with fact.lambda ${run.config.fact.lambda}`,
      );
  });
  const pairs = runs.map((run) => {
    const control = controls.find((c) => c.config.seed === run.config.seed);
    if (!control)
      throw new Error(`claims: no control run with seed ${run.config.seed} (RLCP run ${run.dir})`);
    checkControl(control, run);
    return { run, control };
  });
  const world = loadWorld(options.world);
  const tokenizer = await loadTokenizer(
    existsSync(join(options.base, 'tokenizer.json')) ? options.base : options.world,
  );
  const suites = factSuitesFromWorld(world);
  const probePrompts = claimsProbePrompts(suites);
  const L = Qwen2ForCausalLM.fromPretrained(options.base).config.numHiddenLayers;
  const deepLayers = resolveProbeLayers(runs[0]!.config.fact.layers, L);
  const take = (dir: string) => {
    const model = Qwen2ForCausalLM.fromPretrained(dir);
    checkTokenizerMatchesConfig(tokenizer, model.config, dir);
    return measureForClaims(model, tokenizer, world, probePrompts, deepLayers, options);
  };
  const base = await take(options.base);
  const oracle = await take(options.oracle);
  const seedRuns = [];
  for (const { run, control } of pairs) {
    seedRuns.push({
      seed: run.config.seed,
      rlcp: await take(join(run.dir, 'model')),
      control: await take(join(control.dir, 'model')),
      metrics: readJsonl<Record<string, unknown>>(join(run.dir, 'metrics.jsonl')),
    });
  }
  const report = evaluateClaims({
    base,
    oracle,
    runs: seedRuns,
    deepLayers,
    heldoutItems: suites.forgetHeldout.length,
    bootstrapReplicates: replicates,
    bootstrapSeed: options.bootstrapSeed,
  });
  if (options.out !== undefined) {
    writeJsonAtomic(join(options.out, 'claims.json'), {
      ...report,
      inputs: {
        world: options.world,
        base: options.base,
        oracle: options.oracle,
        runs: options.runs,
        controls: options.controls,
      },
    });
    writeFileAtomic(join(options.out, 'claims.md'), `${formatClaimsTable(report)}\n`);
  }
  return report;
}
