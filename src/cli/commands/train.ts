// `rlcp train` (plain causal-LM fine-tuning) and `rlcp pretrain` (a small Qwen2 trained on a world).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { registerCommand } from '../main.ts';
import { optFlag, optNumber, requireString, type ParsedArgs } from '../args.ts';
import { readJsonl } from '../../io/jsonl.ts';
import { loadTokenizer, checkTokenizerMatchesConfig, type RlcpTokenizer } from '../../io/tokenizer.ts';
import { writeJsonAtomic } from '../../io/atomic.ts';
import { Qwen2ForCausalLM } from '../../nn/qwen2.ts';
import { loadWorld } from '../../data/world.ts';
import { DEFAULT_LM_TRAIN_CONFIG, trainCausalLm, type LmTrainConfig } from '../../train/lm-trainer.ts';
import type { TextEncoder, TrainRecord } from '../../train/batches.ts';
import {
  worldModelConfig,
  DEFAULT_PRETRAIN_CONFIG,
  DEFAULT_WORLD_MODEL,
  type WorldModelShape,
} from '../../train/world-model.ts';

function trainConfigFromArgs(args: ParsedArgs, defaults: LmTrainConfig): LmTrainConfig {
  return {
    steps: optNumber(args, 'steps', defaults.steps),
    batchSize: optNumber(args, 'batch', defaults.batchSize),
    lr: optNumber(args, 'lr', defaults.lr),
    warmupSteps: optNumber(args, 'warmup', defaults.warmupSteps),
    minLrRatio: optNumber(args, 'min-lr-ratio', defaults.minLrRatio),
    weightDecay: optNumber(args, 'weight-decay', defaults.weightDecay),
    clipNorm: optNumber(args, 'clip', defaults.clipNorm),
    maxLength: optNumber(args, 'max-length', defaults.maxLength),
    lengthGroupBatches: optNumber(args, 'length-group', defaults.lengthGroupBatches),
    seed: optNumber(args, 'seed', defaults.seed),
    checkpointEvery: optNumber(args, 'checkpoint-every', defaults.checkpointEvery),
    logEvery: optNumber(args, 'log-every', defaults.logEvery),
  };
}

export function textEncoder(tokenizer: RlcpTokenizer): TextEncoder {
  const eos = tokenizer.eosTokenId;
  if (eos === null)
    throw new Error(`${tokenizer.dir}: tokenizer_config.json names no eos_token; training needs one`);
  return {
    encode: (text, o) => tokenizer.encode(text, o),
    eosTokenId: eos,
    padTokenId: tokenizer.padTokenId ?? eos,
  };
}

function validateTrainRecord(value: unknown): TrainRecord {
  if (typeof value !== 'object' || value === null) throw new Error('each line must be a JSON object');
  const record = value as Record<string, unknown>;
  if (typeof record.text === 'string') return { text: record.text };
  if (typeof record.prompt === 'string' && typeof record.completion === 'string') {
    return { prompt: record.prompt, completion: record.completion };
  }
  throw new Error('each line needs "text", or "prompt" and "completion" (strings)');
}

/** The command line as typed (shell-quoted where needed), recorded so a run can be reproduced. */
function commandLine(): string {
  const quote = (word: string) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`);
  return ['rlcp', ...process.argv.slice(2)].map(quote).join(' ');
}

/** Trains `model`, saves OUT as a Hugging Face folder; train_config.json records the command and config. */
function trainAndSave(options: {
  verb: string;
  out: string;
  model: Qwen2ForCausalLM;
  records: readonly TrainRecord[];
  tokenizer: RlcpTokenizer;
  tokenizerDir: string;
  config: LmTrainConfig;
  resume: boolean;
  label: string;
  recorded: Record<string, unknown>;
}): void {
  const { out, config } = options;
  writeJsonAtomic(join(out, 'train_config.json'), { command: commandLine(), ...options.recorded, ...config });
  const result = trainCausalLm({
    model: options.model,
    records: options.records,
    tokenizer: textEncoder(options.tokenizer),
    config,
    runDir: out,
    resume: options.resume,
    label: options.label,
    tokenizerDir: options.tokenizerDir,
  });
  result.model.saveToDir(out, { dtype: 'F32', tokenizerDir: options.tokenizerDir });
  console.log(
    `${options.verb} ${result.stepsRun} steps, final loss ${result.finalLoss.toFixed(4)}; model written to ${out}`,
  );
}

registerCommand('train', async () => ({
  summary: 'fine-tune a model with the causal-LM loss on a JSONL file',
  usage:
    'rlcp train --model DIR --data FILE.jsonl --out DIR [--steps N --batch B --lr LR --warmup N --seed S --resume]\n' +
    '  [--length-group N]  cut each batch from a window of N length-sorted batches: less padding, but\n' +
    '                      homogeneous batches that learn slower (default 0: uniform batches)\n' +
    '  FILE.jsonl lines: {"prompt","completion"} (loss on the completion) or {"text"}.\n' +
    '  OUT becomes a Hugging Face model folder, with train_config.json, metrics.jsonl and checkpoints/.',
  flags: ['resume'],
  async run(args) {
    const modelDir = requireString(args, 'model');
    const out = requireString(args, 'out');
    const dataPath = requireString(args, 'data');
    const config = trainConfigFromArgs(args, {
      ...DEFAULT_LM_TRAIN_CONFIG,
      steps: 100,
      lr: 1e-4,
      warmupSteps: 10,
    });
    const model = Qwen2ForCausalLM.fromPretrained(modelDir);
    const tokenizer = await loadTokenizer(modelDir);
    checkTokenizerMatchesConfig(tokenizer, model.config, modelDir);
    const records = readJsonl(dataPath, validateTrainRecord);
    trainAndSave({
      verb: 'trained',
      out,
      model,
      records,
      tokenizer,
      tokenizerDir: modelDir,
      config,
      resume: optFlag(args, 'resume'),
      label: 'train',
      recorded: { model: modelDir, data: dataPath },
    });
  },
}));

registerCommand('pretrain', async () => ({
  summary: 'initialise a small Qwen2 model and train it on a world (the base or, with --oracle, the oracle)',
  usage:
    'rlcp pretrain --world DIR --out DIR [--oracle] [--steps N --batch B --lr LR --warmup N --seed S --resume]\n' +
    '  [--hidden H --layers L --heads A --kv-heads K --intermediate I] [--length-group N]\n' +
    '  Defaults (the first stage of the shipped models/world-base recipe; its model card has the second):\n' +
    '  1500 steps, batch 64, lr 3e-3 (cosine to 10 %), uniform batches,\n' +
    '  warmup 100, seed 1; hidden 128, 4 layers, 4 heads / 2 KV heads, MLP 384.',
  flags: ['oracle', 'resume'],
  async run(args) {
    const worldDir = requireString(args, 'world');
    const out = requireString(args, 'out');
    const oracle = optFlag(args, 'oracle');
    const world = loadWorld(worldDir);
    const tokenizer = await loadTokenizer(worldDir);
    const shape: WorldModelShape = {
      hidden: optNumber(args, 'hidden', DEFAULT_WORLD_MODEL.hidden),
      layers: optNumber(args, 'layers', DEFAULT_WORLD_MODEL.layers),
      heads: optNumber(args, 'heads', DEFAULT_WORLD_MODEL.heads),
      kvHeads: optNumber(args, 'kv-heads', DEFAULT_WORLD_MODEL.kvHeads),
      intermediate: optNumber(args, 'intermediate', DEFAULT_WORLD_MODEL.intermediate),
    };
    const modelConfig = worldModelConfig(shape, tokenizer);
    const config = trainConfigFromArgs(args, DEFAULT_PRETRAIN_CONFIG);
    const resume = optFlag(args, 'resume');
    if (!resume && existsSync(join(out, 'checkpoints'))) {
      throw new Error(`${out} already holds a run; pass --resume to continue it or choose another --out`);
    }
    const model = Qwen2ForCausalLM.initRandom(modelConfig, config.seed);
    trainAndSave({
      verb: 'pretrained',
      out,
      model,
      records: oracle ? world.pretrainOracle : world.pretrain,
      tokenizer,
      tokenizerDir: worldDir,
      config,
      resume,
      label: oracle ? 'pretrain oracle' : 'pretrain',
      recorded: { world: worldDir, oracle, shape },
    });
  },
}));
