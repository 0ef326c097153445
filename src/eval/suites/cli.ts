// `rlcp eval --model DIR (--world DIR | --facts FILE ...) ...`: loads the models, the tokenizer and the
// items, runs evaluateModel and prints the aggregate (last stdout line = JSON).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { optFlag, optList, optNumber, optString, requireString, type ParsedArgs } from '../../cli/args.ts';
import { loadFactSet, type Fact } from '../../data/facts.ts';
import { loadWorld } from '../../data/world.ts';
import { checkTokenizerMatchesConfig, loadTokenizer, type RlcpTokenizer } from '../../io/tokenizer.ts';
import { Qwen2ForCausalLM } from '../../nn/qwen2.ts';
import type { ProbeKind } from '../probes.ts';
import type { QuantBits } from '../../nn/quantize.ts';
import { DEFAULT_RELEARN_OPTIONS, type RelearnOptions } from './relearn.ts';
import {
  checkTamperOptions,
  DEFAULT_TAMPER_OPTIONS,
  type TamperOptions,
  type TamperVsOracle,
} from './tamper.ts';
import {
  DEFAULT_SUITES,
  evaluateModel,
  SUITES,
  WORLD_ONLY_SUITES,
  type Aggregate,
  type SuiteName,
} from './runner.ts';

export const MODEL_EVAL_USAGE = [
  'rlcp eval --model DIR (--world DIR | --facts FILE ...) [--suite NAME ...] [--out DIR] [--json]',
  '          [--reference DIR] [--oracle DIR] [--relearn-steps K --relearn-every N --relearn-lr LR --relearn-batch B]',
  '          [--gsm8k FILE --limit N --gsm8k-max-tokens T] [--probe-layers 0,3,6 --probe-kinds linear,mlp --seed S]',
  '          [--batch-size B] [--tamper-splits N --tamper-steps K --tamper-checkpoint S --benign-steps N --quant-bits 8,4]',
  '',
  `Suites: ${SUITES.join(', ')}. Default: recall, rag, logic, multihop, probes, logit-lens, crystallization`,
  '(rag, logic and multihop need --world; derivable too, and is a default on a world with derivable facts);',
  'relearn is added by --relearn-steps or --oracle, gsm8k by --gsm8k.',
  '--facts (repeatable) reads fact sets such as data/facts/paper-city-country.jsonl (+ its -retain file).',
  '--reference DIR: the model before unlearning (crystallization before/after). --oracle DIR: a model that never',
  'saw the forget facts, attacked beside the model. --out DIR writes results.json and items/<suite>.jsonl.',
  'tamper: relearning over --tamper-splits splits (default 3) to --tamper-steps (100), read at --tamper-checkpoint',
  '(30), benign fine-tuning (--benign-steps 50), int8/int4 quantization, forget quality; with --oracle, each against it.',
  'The last line printed is the aggregate JSON; --json prints only that line.',
].join('\n');

async function tokenizerFor(modelDir: string, worldDir: string | undefined): Promise<RlcpTokenizer> {
  if (existsSync(join(modelDir, 'tokenizer.json'))) return loadTokenizer(modelDir);
  if (worldDir !== undefined) return loadTokenizer(worldDir);
  throw new Error(`${modelDir}: no tokenizer.json (needed to evaluate on fact sets)`);
}

function loadCompanion(dir: string, model: Qwen2ForCausalLM, role: string): Qwen2ForCausalLM {
  const other = Qwen2ForCausalLM.fromPretrained(dir);
  if (
    other.config.vocabSize !== model.config.vocabSize ||
    other.config.numHiddenLayers !== model.config.numHiddenLayers
  ) {
    throw new Error(
      `${dir}: the ${role} model (vocab ${other.config.vocabSize}, ${other.config.numHiddenLayers} layers) does not match ` +
        `the evaluated model (vocab ${model.config.vocabSize}, ${model.config.numHiddenLayers} layers)`,
    );
  }
  return other;
}

function positiveInteger(args: ParsedArgs, key: string, fallback: number): number {
  const value = optNumber(args, key, fallback);
  if (!(Number.isInteger(value) && value >= 1))
    throw new Error(`--${key} must be a positive integer, got ${value}`);
  return value;
}

function parseSuites(args: ParsedArgs): SuiteName[] | undefined {
  const named = optList(args, 'suite');
  for (const s of named) {
    if (!SUITES.includes(s as SuiteName))
      throw new Error(`unknown --suite "${s}" (one of ${SUITES.join(', ')})`);
  }
  return named.length > 0 ? (named as SuiteName[]) : undefined;
}

export async function runModelEval(args: ParsedArgs): Promise<number> {
  const modelDir = requireString(args, 'model');
  const worldDir = optString(args, 'world');
  const factFiles = optList(args, 'facts');
  if ((worldDir === undefined) === (factFiles.length === 0)) {
    throw new Error(`give exactly one of --world DIR and --facts FILE\n\nUsage: ${MODEL_EVAL_USAGE}`);
  }
  const model = Qwen2ForCausalLM.fromPretrained(modelDir);
  const tokenizer = await tokenizerFor(modelDir, worldDir);
  checkTokenizerMatchesConfig(tokenizer, model.config, modelDir);

  const referenceDir = optString(args, 'reference');
  const oracleDir = optString(args, 'oracle');
  const gsm8kPath = optString(args, 'gsm8k');
  const relearnRequested = args.options.has('relearn-steps') || oracleDir !== undefined;
  let suites = parseSuites(args);
  if (suites === undefined && (relearnRequested || gsm8kPath !== undefined)) {
    suites = DEFAULT_SUITES.filter((s) => worldDir !== undefined || !WORLD_ONLY_SUITES.includes(s));
  }
  if (suites !== undefined) {
    // The tamper battery contains the relearning attack: --oracle then serves it, not a second attack.
    if (relearnRequested && !suites.includes('relearn') && !suites.includes('tamper')) suites.push('relearn');
    if (gsm8kPath !== undefined && !suites.includes('gsm8k')) suites.push('gsm8k');
  }

  const relearn: RelearnOptions = {
    steps: positiveInteger(args, 'relearn-steps', DEFAULT_RELEARN_OPTIONS.steps),
    every: positiveInteger(args, 'relearn-every', DEFAULT_RELEARN_OPTIONS.every),
    lr: optNumber(args, 'relearn-lr', DEFAULT_RELEARN_OPTIONS.lr),
    batchSize: positiveInteger(args, 'relearn-batch', DEFAULT_RELEARN_OPTIONS.batchSize),
    seed: optNumber(args, 'seed', DEFAULT_RELEARN_OPTIONS.seed),
  };
  const quantBits = optList(args, 'quant-bits').map((v) => {
    const bits = Number(v);
    if (bits !== 4 && bits !== 8)
      throw new Error(`--quant-bits: quantization width must be 4 or 8, got "${v}"`);
    return bits as QuantBits;
  });
  const tamper: TamperOptions = {
    splits: positiveInteger(args, 'tamper-splits', DEFAULT_TAMPER_OPTIONS.splits),
    relearnSteps: positiveInteger(args, 'tamper-steps', DEFAULT_TAMPER_OPTIONS.relearnSteps),
    every: relearn.every,
    checkpoint: positiveInteger(args, 'tamper-checkpoint', DEFAULT_TAMPER_OPTIONS.checkpoint),
    benignSteps: positiveInteger(args, 'benign-steps', DEFAULT_TAMPER_OPTIONS.benignSteps),
    lr: relearn.lr,
    batchSize: relearn.batchSize,
    quantBits: quantBits.length > 0 ? quantBits : DEFAULT_TAMPER_OPTIONS.quantBits,
    seed: relearn.seed,
  };
  checkTamperOptions(tamper);
  const probeLayers = optList(args, 'probe-layers').map((v) => {
    const layer = Number(v);
    if (!Number.isInteger(layer)) throw new Error(`--probe-layers: "${v}" is not a layer number`);
    return layer;
  });
  const probeKinds = optList(args, 'probe-kinds');
  for (const kind of probeKinds) {
    if (kind !== 'linear' && kind !== 'mlp') throw new Error(`--probe-kinds: "${kind}" is not linear or mlp`);
  }
  const limit = optString(args, 'limit') === undefined ? undefined : positiveInteger(args, 'limit', 1);

  let facts: { facts: Fact[]; source: string } | undefined;
  if (factFiles.length > 0)
    facts = { facts: factFiles.flatMap((f) => loadFactSet(f)), source: factFiles.join(' + ') };
  const results = await evaluateModel({
    model,
    tokenizer,
    world: worldDir === undefined ? undefined : loadWorld(worldDir),
    facts,
    suites,
    reference: referenceDir === undefined ? undefined : loadCompanion(referenceDir, model, 'reference'),
    oracle: oracleDir === undefined ? undefined : loadCompanion(oracleDir, model, 'oracle'),
    gsm8k:
      gsm8kPath === undefined
        ? undefined
        : { path: gsm8kPath, limit, maxNewTokens: positiveInteger(args, 'gsm8k-max-tokens', 256) },
    relearn,
    tamper,
    probes: {
      ...(probeLayers.length > 0 ? { layers: probeLayers } : {}),
      ...(probeKinds.length > 0 ? { kinds: probeKinds as ProbeKind[] } : {}),
      seed: optNumber(args, 'seed', 0),
    },
    batchSize: positiveInteger(args, 'batch-size', 32),
    out: optString(args, 'out'),
  });
  const aggregate = { model_dir: modelDir, ...results.aggregate };
  if (!optFlag(args, 'json')) console.log(formatTable(aggregate));
  console.log(JSON.stringify(aggregate));
  return 0;
}

const TABLE_KEYS = [
  'chance',
  'forget_recall',
  'forget_recall_heldout',
  'forget_rank_train',
  'forget_rank_heldout',
  'forget_rank_chance',
  'forget_p_above_chance',
  'forget_rank_p',
  'forget_inverted',
  'retain_recall',
  'retain_recall_heldout',
  'rag_accuracy',
  'rag_forget_accuracy',
  'rag_counterfactual_follow',
  'logic_accuracy',
  'cot_rate',
  'mean_answer_tokens',
  'multihop_accuracy',
  'relearn_final_recall',
  'relearn_oracle_final_recall',
];

function formatTable(aggregate: Aggregate): string {
  const lines = [`${aggregate.model_dir} on ${aggregate.source}`];
  for (const key of TABLE_KEYS) {
    const value = aggregate[key];
    if (value === undefined) continue;
    const shown =
      typeof value === 'number'
        ? Number.isInteger(value)
          ? String(value)
          : value.toPrecision(4)
        : String(value);
    lines.push(`${key.padEnd(28)}${shown}`);
  }
  const tamper = aggregate.tamper as { vs_oracle: TamperVsOracle | null } | undefined;
  if (tamper?.vs_oracle) lines.push(...formatTamperLines(tamper.vs_oracle));
  return lines.join('\n');
}

/** The battery against the oracle, one line per test. */
export function formatTamperLines(v: TamperVsOracle): string[] {
  const at = (r: TamperVsOracle['checkpoint']) =>
    `rank ${r.mean_rank.toFixed(2)} vs oracle ${r.oracle_mean_rank.toFixed(2)} (p ${r.rank_p.toPrecision(2)}), ` +
    `${r.accuracy_excess_facts >= 0 ? '+' : ''}${r.accuracy_excess_facts.toFixed(2)} facts, area ${r.area.toFixed(2)}`;
  const mark = (ok: boolean) => (ok ? 'holds' : 'FAILS');
  return [
    `${`tamper relearn @${v.checkpoint.step}`.padEnd(28)}${at(v.checkpoint)}  ${mark(v.holds.relearn_checkpoint)}`,
    `${`tamper relearn @${v.end.step}`.padEnd(28)}${at(v.end)}  ${mark(v.holds.relearn_end)}`,
    `${'tamper benign / quant'.padEnd(28)}benign ${mark(v.holds.benign)}, int8/int4 ${mark(v.holds.quantization)}`,
    `${'tamper forget quality'.padEnd(28)}KS p ${v.forget_quality.p.toPrecision(2)}  ${mark(v.holds.forget_quality)}`,
  ];
}
