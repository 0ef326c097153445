// Text generation with a KV cache (prefill the prompt in one forward, then one token per step), greedy
// or sampled (temperature, top-p, seed), batched with left padding; and log-probability scoring of
// candidate continuations for evaluation.
import { noGrad } from '../tensor/tensor.ts';
import { Rng } from '../tensor/random.ts';
import { KVCache, eosTokenIds, type Qwen2ForCausalLM } from './qwen2.ts';

/** The part of a tokenizer generation needs (src/io/tokenizer.ts provides it). */
export interface TokenDecoder {
  decode(ids: number[], options?: { skipSpecialTokens?: boolean }): string;
}

export interface GenerateOptions {
  maxNewTokens: number;
  /** 0 (default) = greedy; otherwise sample from softmax(logits / temperature). */
  temperature?: number;
  /** Nucleus sampling: keep the most likely tokens whose probabilities sum to at least topP. Default 1. */
  topP?: number;
  /** Seed of the sampling RNG (default 0); greedy decoding ignores it. */
  seed?: number;
  /** Tokens that end a sequence; default the config's eos_token_id(s). */
  eosTokenIds?: number[];
  /** End a sequence once its decoded text contains one of these (needs `decoder`). */
  stopStrings?: string[];
  /** Turns the new tokens into `text`; required for `stopStrings`. */
  decoder?: TokenDecoder;
  /** Id placed in left-padding positions (masked, so any valid id works). Default 0. */
  padTokenId?: number;
  /**
   * Generate only ids below this (default: the whole vocabulary). Embedding tables are often padded past
   * the tokenizer's last id (Qwen2.5: 151936 vs 151665); ids there could not be decoded.
   */
  vocabLimit?: number;
  /** Also return the raw next-token logits of every step. */
  outputLogits?: boolean;
  /** Called after each forward (the prompts', then one per new token), e.g. to time them. */
  onForward?: () => void;
  /**
   * Run the token prefix all prompts share (few-shot exemplars) once, at batch 1, and copy its keys and
   * values into every row of the cache; only the rest is prefilled per row. Same attention and positions
   * as prefilling everything (the cache holds [prefix][padding][rest] instead of [padding][prefix][rest]),
   * equal up to float rounding. Default false.
   */
  sharePrefix?: boolean;
}

export type StopReason = 'eos' | 'stop_string' | 'max_new_tokens';

export interface Generation {
  /** New tokens only, including the EOS or the token that completed a stop string. */
  tokens: number[];
  /** Decoded new tokens without special tokens, cut before the stop string (when a decoder is given). */
  text?: string;
  stopReason: StopReason;
  /** Raw logits [vocab] that chose each token in `tokens` (with `outputLogits`). */
  logits?: Float32Array[];
}

/** Generates continuations of token-id prompts, batched with left padding. */
export function generate(
  model: Qwen2ForCausalLM,
  prompts: number[][],
  options: GenerateOptions,
): Generation[] {
  const { maxNewTokens } = options;
  const temperature = options.temperature ?? 0;
  const topP = options.topP ?? 1;
  const stopStrings = options.stopStrings ?? [];
  const eos = new Set(options.eosTokenIds ?? eosTokenIds(model.config));
  if (!(Number.isInteger(maxNewTokens) && maxNewTokens >= 1)) {
    throw new Error(`generate: maxNewTokens must be a positive integer, got ${maxNewTokens}`);
  }
  if (!(temperature >= 0)) throw new Error(`generate: temperature must be ≥ 0, got ${temperature}`);
  if (!(topP > 0 && topP <= 1)) throw new Error(`generate: topP must be in (0, 1], got ${topP}`);
  if (stopStrings.length > 0 && !options.decoder) throw new Error('generate: stopStrings need a decoder');
  const vocab = model.config.vocabSize;
  const limit = options.vocabLimit ?? vocab;
  if (!(Number.isInteger(limit) && limit >= 1 && limit <= vocab)) {
    throw new Error(`generate: vocabLimit must be an integer in 1..${vocab}, got ${limit}`);
  }
  if (prompts.length === 0) return [];
  prompts.forEach((p, i) => {
    if (p.length === 0) throw new Error(`generate: prompt ${i} is empty`);
  });

  const batch = prompts.length;
  // Every row keeps at least one token of its own, whose logits choose its first new token.
  const shared = options.sharePrefix && batch > 1 ? sharedPrefixLength(prompts) : 0;
  const { ids, mask, seq } = leftPad(
    prompts.map((p) => p.slice(shared)),
    options.padTokenId ?? 0,
  );
  const rng = new Rng(options.seed ?? 0);
  const results: Generation[] = prompts.map(() => ({
    tokens: [],
    stopReason: 'max_new_tokens',
    ...(options.outputLogits ? { logits: [] } : {}),
  }));
  const done = new Array<boolean>(batch).fill(false);

  return noGrad(() => {
    const cache = new KVCache(model.config, batch, shared + seq + maxNewTokens);
    if (shared > 0) {
      const prefix = new KVCache(model.config, 1, shared);
      model.forward(Int32Array.from(prompts[0]!.slice(0, shared)), {
        batch: 1,
        seq: shared,
        kvCache: prefix,
        logits: 'none',
      });
      cache.repeatRowsOf(prefix);
    }
    let logits = model.forward(ids, {
      batch,
      seq,
      attentionMask: mask,
      kvCache: cache,
      logits: 'last',
    }).logits!;
    options.onForward?.();
    for (let step = 0; step < maxNewTokens; step++) {
      const next = new Int32Array(batch);
      for (let b = 0; b < batch; b++) {
        if (done[b]) continue;
        const row = logits.data.subarray(b * vocab, (b + 1) * vocab);
        const allowed = row.subarray(0, limit);
        const token = temperature === 0 ? argmax(allowed) : sample(allowed, temperature, topP, rng);
        const result = results[b]!;
        result.tokens.push(token);
        result.logits?.push(row.slice());
        next[b] = token;
        if (eos.has(token)) {
          result.stopReason = 'eos';
          done[b] = true;
        } else if (stopStrings.length > 0) {
          const text = options.decoder!.decode(result.tokens, { skipSpecialTokens: true });
          if (firstStop(text, stopStrings) >= 0) {
            result.stopReason = 'stop_string';
            done[b] = true;
          }
        }
      }
      // Back to the pool: a fresh [batch, vocab] buffer every step would fault in its pages each time.
      logits.dispose();
      if (step === maxNewTokens - 1 || done.every(Boolean)) break;
      // Finished rows keep stepping (their output is discarded) so the batch stays rectangular.
      logits = model.forward(next, { batch, seq: 1, kvCache: cache, logits: 'last' }).logits!;
      options.onForward?.();
    }
    if (options.decoder) {
      for (const result of results) {
        const text = options.decoder.decode(result.tokens, { skipSpecialTokens: true });
        const cut = result.stopReason === 'stop_string' ? firstStop(text, stopStrings) : -1;
        result.text = cut >= 0 ? text.slice(0, cut) : text;
      }
    }
    return results;
  });
}

export interface ScoreOptions {
  /** Pairs per forward pass (default 8). */
  batchSize?: number;
  padTokenId?: number;
}

/**
 * Sum of log p(continuation | prompt) over the continuation's tokens, for each pair
 * (prompts[i], continuations[i]); batched with left padding, logits computed only where needed.
 */
export function scoreContinuations(
  model: Qwen2ForCausalLM,
  prompts: number[][],
  continuations: number[][],
  options: ScoreOptions = {},
): number[] {
  if (prompts.length !== continuations.length) {
    throw new Error(
      `scoreContinuations: ${prompts.length} prompts but ${continuations.length} continuations`,
    );
  }
  const batchSize = options.batchSize ?? 8;
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) {
    throw new Error(`scoreContinuations: batchSize must be a positive integer, got ${batchSize}`);
  }
  prompts.forEach((p, i) => {
    if (p.length === 0)
      throw new Error(`scoreContinuations: prompt ${i} is empty (nothing predicts its first token)`);
  });
  const vocab = model.config.vocabSize;
  const scores = new Array<number>(prompts.length).fill(0);
  return noGrad(() => {
    for (let first = 0; first < prompts.length; first += batchSize) {
      const pairs = prompts
        .slice(first, first + batchSize)
        .map((p, i) => [...p, ...continuations[first + i]!]);
      const { ids, mask, seq } = leftPad(pairs, options.padTokenId ?? 0);
      // Row b·T + t predicts the token at t + 1; collect the rows that predict continuation tokens.
      const rows: number[] = [];
      const targets: number[] = [];
      const owner: number[] = [];
      pairs.forEach((pair, b) => {
        const promptLength = prompts[first + b]!.length;
        const offset = seq - pair.length;
        for (let j = promptLength; j < pair.length; j++) {
          rows.push(b * seq + offset + j - 1);
          targets.push(pair[j]!);
          owner.push(first + b);
        }
      });
      if (rows.length === 0) continue;
      const logits = model.forward(ids, {
        batch: pairs.length,
        seq,
        attentionMask: mask,
        logits: Int32Array.from(rows),
      }).logits!;
      for (let r = 0; r < rows.length; r++) {
        const row = logits.data.subarray(r * vocab, (r + 1) * vocab);
        scores[owner[r]!]! += row[targets[r]!]! - logSumExp(row);
      }
    }
    return scores;
  });
}

/** Length of the token prefix all prompts share, leaving every prompt at least one token after it. */
export function sharedPrefixLength(prompts: readonly number[][]): number {
  const limit = Math.min(...prompts.map((p) => p.length)) - 1;
  let n = 0;
  while (n < limit && prompts.every((p) => p[n] === prompts[0]![n])) n++;
  return n;
}

/** Left-pads sequences to a common length: ids and mask [B·T], T = longest. */
export function leftPad(
  sequences: number[][],
  padTokenId: number,
): { ids: Int32Array; mask: Uint8Array; seq: number } {
  const seq = Math.max(...sequences.map((s) => s.length));
  const ids = new Int32Array(sequences.length * seq).fill(padTokenId);
  const mask = new Uint8Array(sequences.length * seq);
  sequences.forEach((s, b) => {
    const offset = b * seq + seq - s.length;
    ids.set(s, offset);
    mask.fill(1, offset, offset + s.length);
  });
  return { ids, mask, seq };
}

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

function logSumExp(row: Float32Array): number {
  let max = -Infinity;
  for (const x of row) if (x > max) max = x;
  let sum = 0;
  for (const x of row) sum += Math.exp(x - max);
  return max + Math.log(sum);
}

/** Draws from softmax(row / temperature) restricted to the top-p nucleus (at least one token). */
export function sample(row: Float32Array, temperature: number, topP: number, rng: Rng): number {
  let max = -Infinity;
  for (const x of row) if (x > max) max = x;
  const probs = new Float64Array(row.length);
  let total = 0;
  for (let i = 0; i < row.length; i++) total += probs[i] = Math.exp((row[i]! - max) / temperature);
  let candidates: number[];
  let mass = total;
  if (topP < 1) {
    const order = Array.from(row.keys()).sort((a, b) => probs[b]! - probs[a]! || a - b);
    candidates = [];
    let cumulative = 0;
    for (const i of order) {
      candidates.push(i);
      cumulative += probs[i]!;
      if (cumulative >= topP * total) break;
    }
    mass = cumulative;
  } else {
    candidates = Array.from(row.keys());
  }
  let u = rng.uniform() * mass;
  for (const i of candidates) {
    u -= probs[i]!;
    if (u < 0) return i;
  }
  return candidates[candidates.length - 1]!;
}

function firstStop(text: string, stops: string[]): number {
  let first = -1;
  for (const stop of stops) {
    const at = text.indexOf(stop);
    if (at >= 0 && (first < 0 || at < first)) first = at;
  }
  return first;
}
