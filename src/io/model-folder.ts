// A Hugging Face model folder: config.json + model.safetensors (or sharded with
// model.safetensors.index.json) + optional tokenizer files. Reading is lazy (one tensor at a time);
// writing is atomic per file, with config.json written last.
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from './atomic.ts';
import {
  parseModelConfig,
  serializeModelConfig,
  type ParseConfigOptions,
  type Qwen2Config,
} from './config.ts';
import {
  openSafetensors,
  openShardedSafetensors,
  writeShardedSafetensors,
  SAFETENSORS_INDEX,
  type LoadedTensor,
  type SafetensorsSource,
  type TensorInfo,
  type TensorToWrite,
  type WritableDtype,
} from './safetensors.ts';
import { TOKENIZER_FILES } from './tokenizer.ts';

export const CONFIG_FILE = 'config.json';
export const SAFETENSORS_FILE = 'model.safetensors';
const SHARD_PATTERN = /^model-\d{5}-of-\d{5}\.safetensors$/;

export interface ModelFolder {
  readonly dir: string;
  readonly config: Qwen2Config;
  readonly configPath: string;
  /** model.safetensors, or the index of a sharded checkpoint. */
  readonly weightsPath: string;
  readonly tensorNames: string[];
  /** The folder itself when it holds a tokenizer.json, else null. */
  readonly tokenizerDir: string | null;
  tensorInfo(name: string): TensorInfo;
  /** Reads one tensor from disk, converted to float32. */
  loadTensor(name: string): LoadedTensor;
  close(): void;
}

function requireFolder(dir: string): void {
  if (!existsSync(dir)) throw new Error(`${dir}: model folder not found`);
  if (!statSync(dir).isDirectory())
    throw new Error(`${dir}: not a folder (expected a Hugging Face model folder)`);
}

function openWeights(dir: string): SafetensorsSource {
  // Same precedence as transformers: a single file wins over an index.
  const single = join(dir, SAFETENSORS_FILE);
  if (existsSync(single)) return openSafetensors(single);
  const index = join(dir, SAFETENSORS_INDEX);
  if (existsSync(index)) return openShardedSafetensors(index);
  const hint = ['pytorch_model.bin', 'pytorch_model.bin.index.json'].some((f) => existsSync(join(dir, f)))
    ? ' (PyTorch .bin weights are not supported; convert them to safetensors)'
    : '';
  throw new Error(`${dir}: no ${SAFETENSORS_FILE} or ${SAFETENSORS_INDEX}${hint}`);
}

export function readModelFolder(dir: string, options: ParseConfigOptions = {}): ModelFolder {
  requireFolder(dir);
  const configPath = join(dir, CONFIG_FILE);
  if (!existsSync(configPath)) throw new Error(`${dir}: no ${CONFIG_FILE}`);
  const config = parseModelConfig(configPath, options);
  const weights = openWeights(dir);
  return {
    dir,
    config,
    configPath,
    weightsPath: weights.path,
    tensorNames: weights.names,
    tokenizerDir: existsSync(join(dir, 'tokenizer.json')) ? dir : null,
    tensorInfo: (name) => weights.info(name),
    loadTensor: (name) => weights.loadTensor(name),
    close: () => weights.close(),
  };
}

/** Throws `file: tensor "name" has shape [..] but config.json implies [..]` when the shapes differ. */
export function expectShape(
  name: string,
  actual: readonly number[],
  expected: readonly number[],
  file: string,
): void {
  if (actual.length === expected.length && actual.every((d, i) => d === expected[i])) return;
  throw new Error(
    `${file}: tensor "${name}" has shape [${actual.join(', ')}] but config.json implies [${expected.join(', ')}]`,
  );
}

export interface WriteModelFolderOptions {
  /** Storage dtype of the weights (also recorded as torch_dtype in config.json). */
  dtype: WritableDtype;
  /** Split the weights into shards of at most this many bytes (HF max_shard_size); default: one file. */
  maxShardBytes?: number;
  /** Copy the tokenizer files found in this folder. */
  tokenizerDir?: string;
}

const TORCH_DTYPES = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' } as const;

/**
 * Writes an HF-compatible folder. Weight files from an earlier save that the new layout does not use
 * (a stale single file or old shards) are removed, so the folder never mixes two checkpoints.
 * Returns the names of the files written.
 */
export function writeModelFolder(
  dir: string,
  config: Qwen2Config,
  tensors: Map<string, TensorToWrite> | Iterable<readonly [string, TensorToWrite]>,
  options: WriteModelFolderOptions,
): string[] {
  const tokenizerFiles: [string, Buffer][] = [];
  if (options.tokenizerDir !== undefined) {
    const from = options.tokenizerDir;
    if (!existsSync(join(from, 'tokenizer.json'))) throw new Error(`${from}: no tokenizer.json to copy`);
    // Read before writing anything, so copying a folder onto itself is harmless.
    for (const file of TOKENIZER_FILES) {
      if (existsSync(join(from, file))) tokenizerFiles.push([file, readFileSync(join(from, file))]);
    }
  }
  const configJson = serializeModelConfig({ ...config, torchDtype: TORCH_DTYPES[options.dtype] });

  const weights = writeShardedSafetensors(dir, tensors, {
    dtype: options.dtype,
    maxShardBytes: options.maxShardBytes ?? Number.MAX_SAFE_INTEGER,
  });
  const written = weights.indexPath === null ? [...weights.files] : [...weights.files, SAFETENSORS_INDEX];
  for (const file of readdirSync(dir)) {
    const isWeightFile = file === SAFETENSORS_FILE || file === SAFETENSORS_INDEX || SHARD_PATTERN.test(file);
    if (isWeightFile && !written.includes(file)) rmSync(join(dir, file));
  }
  for (const [file, bytes] of tokenizerFiles) {
    writeFileAtomic(join(dir, file), bytes);
    written.push(file);
  }
  writeJsonAtomic(join(dir, CONFIG_FILE), configJson);
  written.push(CONFIG_FILE);
  return written;
}
