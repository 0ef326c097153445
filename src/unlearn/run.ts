// A run directory of `rlcp metabolize`: RUN/config.json (the resolved config, the model and the data it
// used), RUN/metrics.jsonl, RUN/checkpoints/, and at the end RUN/model/ (a Hugging Face folder with the
// tokenizer) and RUN/summary.json. `--resume RUN` needs nothing but the folder.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../io/atomic.ts';
import { readJson } from '../io/jsonl.ts';
import { loadTokenizer, checkTokenizerMatchesConfig, type RlcpTokenizer } from '../io/tokenizer.ts';
import { loadWorld } from '../data/world.ts';
import { Qwen2ForCausalLM } from '../nn/qwen2.ts';
import { hasCheckpoint } from '../train/checkpoint.ts';
import { resolveProbeLayers, type UnlearnConfig } from './config.ts';
import { dataFromFiles, dataFromWorld, type FactFiles, type UnlearnData } from './data.ts';
import { metabolize, type MetabolizeResult, type UnlearnTokenizer } from './trainer.ts';

export type DataSpec = { world: string } | FactFiles;

export interface RunConfigFile {
  format: 'rlcp-metabolize';
  version: 1;
  model: string;
  data: DataSpec;
  config: UnlearnConfig;
}

export function unlearnTokenizer(tokenizer: RlcpTokenizer): UnlearnTokenizer {
  const eos = tokenizer.eosTokenId;
  if (eos === null)
    throw new Error(`${tokenizer.dir}: tokenizer_config.json names no eos_token; training needs one`);
  return {
    encode: (text, o) => tokenizer.encode(text, o),
    decode: (ids, o) => tokenizer.decode(ids, o),
    eosTokenId: eos,
    padTokenId: tokenizer.padTokenId ?? eos,
    tokenToId: (token) => tokenizer.tokenToId(token),
  };
}

export function loadUnlearnData(spec: DataSpec, config: UnlearnConfig): UnlearnData {
  const options = {
    ragVariants: config.anchors.rag.variants,
    logicMultihop: config.anchors.logic.multihop,
    ragCounterfactual: config.anchors.rag.counterfactualFraction,
    seed: config.seed,
  };
  if (config.anchors.logic.multihopBatchSize > 0 && !config.anchors.logic.multihop)
    throw new Error(
      `anchors.logic.multihopBatchSize: ${config.anchors.logic.multihopBatchSize} multi-hop records per logic batch need anchors.logic.multihop true`,
    );
  if (config.anchors.logic.multihop && !('world' in spec))
    throw new Error(
      'anchors.logic.multihop: the multi-hop records come from a world (--world DIR); fact-set files have none',
    );
  return 'world' in spec ? dataFromWorld(loadWorld(spec.world), options) : dataFromFiles(spec, options);
}

/** The folder whose tokenizer files go with the model (the model's own, else the world's). */
function tokenizerDirOf(modelDir: string, spec: DataSpec): string {
  if (existsSync(join(modelDir, 'tokenizer.json'))) return modelDir;
  if ('world' in spec && existsSync(join(spec.world, 'tokenizer.json'))) return spec.world;
  throw new Error(`${modelDir}: no tokenizer.json (nor in the world folder)`);
}

export interface RunOutcome extends MetabolizeResult {
  runDir: string;
}

/**
 * Starts a run in `runDir` (which must not hold one yet), or with `resume` continues the run there from
 * its config.json and newest checkpoint.
 */
export async function runMetabolize(options: {
  runDir: string;
  resume?: boolean;
  /** For a new run: */
  model?: string;
  data?: DataSpec;
  config?: UnlearnConfig;
  progress?: boolean;
  stopAfterStep?: number;
}): Promise<RunOutcome> {
  const { runDir } = options;
  const configPath = join(runDir, 'config.json');
  let file: RunConfigFile;
  // Loaded once: a second copy of a 0.5B model would hold 2 GB more until garbage collection.
  let model: Qwen2ForCausalLM;
  if (options.resume) {
    if (!existsSync(configPath)) throw new Error(`${runDir}: no config.json to resume from`);
    file = readJson<RunConfigFile>(configPath);
    if (file.format !== 'rlcp-metabolize') throw new Error(`${configPath}: not an rlcp metabolize run`);
    model = Qwen2ForCausalLM.fromPretrained(file.model);
  } else {
    if (!options.model || !options.data || !options.config)
      throw new Error('a new run needs model, data and config');
    if (
      hasCheckpoint(runDir) ||
      existsSync(join(runDir, 'model')) ||
      (existsSync(runDir) && existsSync(configPath))
    ) {
      throw new Error(
        `${runDir} already holds a run; pass --resume ${runDir} to continue it or choose another --out`,
      );
    }
    model = Qwen2ForCausalLM.fromPretrained(options.model);
    const config = {
      ...options.config,
      fact: {
        ...options.config.fact,
        layers: resolveProbeLayers(options.config.fact.layers, model.config.numHiddenLayers),
      },
    };
    file = { format: 'rlcp-metabolize', version: 1, model: options.model, data: options.data, config };
    writeJsonAtomic(configPath, file);
  }
  const tokenizerDir = tokenizerDirOf(file.model, file.data);
  const rawTokenizer = await loadTokenizer(tokenizerDir);
  checkTokenizerMatchesConfig(rawTokenizer, model.config, tokenizerDir);
  const tokenizer = unlearnTokenizer(rawTokenizer);
  const data = loadUnlearnData(file.data, file.config);
  const result = metabolize({
    model,
    tokenizer,
    data,
    config: file.config,
    runDir,
    resume: options.resume,
    stopAfterStep: options.stopAfterStep,
    progress: options.progress,
  });
  const finished = result.stoppedEarly || result.lastStep >= file.config.steps;
  if (finished) {
    result.model.saveToDir(join(runDir, 'model'), { dtype: 'F32', tokenizerDir });
    writeJsonAtomic(join(runDir, 'summary.json'), {
      method: file.config.method,
      seed: file.config.seed,
      steps: file.config.steps,
      last_step: result.lastStep,
      stopped_early: result.stoppedEarly,
      seconds_per_step: result.secondsPerStep,
      reference_mode: result.referenceMode,
      final: result.lastEval,
    });
  }
  return { ...result, runDir };
}

/** True when `dir` holds a finished run (its model folder and summary are written). */
export function runFinished(dir: string): boolean {
  return existsSync(join(dir, 'summary.json')) && existsSync(join(dir, 'model', 'config.json'));
}

export function readRunConfig(dir: string): RunConfigFile | null {
  const path = join(dir, 'config.json');
  if (!existsSync(path)) return null;
  const file = readJson<RunConfigFile>(path);
  return file.format === 'rlcp-metabolize' ? file : null;
}
