// Batched inference for the evaluation suites: greedy generation (left padding, KV cache, stop strings),
// candidate-answer scoring and last-prompt-token hidden states, all over prompts sorted by length so a
// batch wastes little on padding. Progress goes to stderr (src/cli/progress.ts).
import { ProgressBar } from '../../cli/progress.ts';
import { eosTokenIds, type Qwen2ForCausalLM } from '../../nn/qwen2.ts';
import { generate, leftPad, scoreContinuations } from '../../nn/generate.ts';
import { noGrad } from '../../tensor/tensor.ts';

/** What the suites need from a tokenizer (src/io/tokenizer.ts's RlcpTokenizer provides it). */
export interface EvalTokenizer {
  /** One past the largest id the tokenizer can produce (generation never picks an id beyond it). */
  readonly vocabSize: number;
  readonly eosTokenId: number | null;
  readonly padTokenId: number | null;
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
}

export interface InferenceOptions {
  /** Prompts per forward pass (default 32). */
  batchSize?: number;
  /** Draw progress bars on stderr (default true). */
  progress?: boolean;
}

export interface GeneratedText {
  /** Decoded text, cut before the first stop string. */
  text: string;
  /** Generated tokens, not counting a final EOS. */
  tokens: number;
  /** Log-probabilities of the requested ids at the first step (see `generate`). */
  firstTokenLogProbs?: number[];
}

/** A model and its tokenizer, with the batching and encoding shared by every suite. */
export class Inference {
  readonly model: Qwen2ForCausalLM;
  readonly tokenizer: EvalTokenizer;
  readonly batchSize: number;
  readonly progress: boolean;
  private readonly eos: number[];
  private readonly padId: number;
  private readonly encoded = new Map<string, number[]>();

  constructor(model: Qwen2ForCausalLM, tokenizer: EvalTokenizer, options: InferenceOptions = {}) {
    this.model = model;
    this.tokenizer = tokenizer;
    this.batchSize = options.batchSize ?? 32;
    this.progress = options.progress ?? true;
    if (!(Number.isInteger(this.batchSize) && this.batchSize >= 1)) {
      throw new Error(`batch size must be a positive integer, got ${this.batchSize}`);
    }
    if (tokenizer.vocabSize > model.config.vocabSize) {
      throw new Error(
        `the tokenizer produces ids up to ${tokenizer.vocabSize - 1} but the model's vocab_size is ${model.config.vocabSize}`,
      );
    }
    this.eos = [
      ...new Set([
        ...eosTokenIds(model.config),
        ...(tokenizer.eosTokenId === null ? [] : [tokenizer.eosTokenId]),
      ]),
    ];
    this.padId = tokenizer.padTokenId ?? this.eos[0] ?? 0;
  }

  /** Token ids of `text` without special tokens (as the trainer encodes prompts and completions); cached. */
  encode(text: string): number[] {
    let ids = this.encoded.get(text);
    if (!ids) {
      ids = this.tokenizer.encode(text, { addSpecialTokens: false });
      if (ids.length === 0) throw new Error(`text ${JSON.stringify(text.slice(0, 80))} encodes to no tokens`);
      this.encoded.set(text, ids);
    }
    return ids;
  }

  /**
   * Greedy continuations of `prompts`, in their order; stops at EOS, a stop string or `maxNewTokens`. With
   * `firstTokenIds`, also the log-probabilities of those ids at the first step (per prompt, from the
   * prefill that generation runs anyway), so candidates are ranked without another pass over the prompts.
   */
  generate(
    prompts: readonly string[],
    options: {
      maxNewTokens: number;
      stopStrings: readonly string[];
      label: string;
      firstTokenIds?: readonly (readonly number[])[];
    },
  ): GeneratedText[] {
    const out = new Array<GeneratedText>(prompts.length);
    const firstIds = options.firstTokenIds;
    this.inBatches(prompts, options.label, (indices, ids) => {
      const results = generate(this.model, ids, {
        maxNewTokens: options.maxNewTokens,
        eosTokenIds: this.eos,
        stopStrings: [...options.stopStrings],
        decoder: this.tokenizer,
        padTokenId: this.padId,
        vocabLimit: this.tokenizer.vocabSize,
        outputLogits: firstIds !== undefined,
      });
      results.forEach((result, j) => {
        const index = indices[j]!;
        const tokens = result.stopReason === 'eos' ? result.tokens.length - 1 : result.tokens.length;
        out[index] = { text: result.text!, tokens };
        if (firstIds) out[index].firstTokenLogProbs = logProbsOf(result.logits![0]!, firstIds[index]!);
      });
    });
    return out;
  }

  /**
   * Hidden states at the last prompt token for every layer 0..L (HF convention: 0 = embeddings,
   * L = final-norm output): result[layer][prompt] is a row of hidden_size values.
   */
  lastTokenHiddenStates(prompts: readonly string[], label: string): Float32Array[][] {
    const L = this.model.config.numHiddenLayers;
    const H = this.model.config.hiddenSize;
    const layers = Array.from({ length: L + 1 }, () => new Array<Float32Array>(prompts.length));
    this.inBatches(prompts, label, (indices, ids) => {
      const { ids: flat, mask, seq } = leftPad(ids, this.padId);
      const states = noGrad(
        () =>
          this.model.forward(flat, {
            batch: ids.length,
            seq,
            attentionMask: mask,
            outputHiddenStates: true,
            logits: 'none',
          }).hiddenStates!,
      );
      states.forEach((state, layer) => {
        indices.forEach((index, b) => {
          const row = (b * seq + seq - 1) * H;
          layers[layer]![index] = state.data.slice(row, row + H);
        });
      });
    });
    return layers;
  }

  /**
   * Log-probabilities log p(" " + candidate | prompt) of every candidate of every prompt, summed over the
   * candidate's tokens (no EOS). The first token of every candidate comes from one next-token distribution
   * per prompt (`firstTokens[i]`, e.g. from `generate`'s prefill, or one batched forward); only candidates
   * of several tokens are scored further, as (prompt, candidate) pairs through scoreContinuations.
   */
  candidateLogProbs(
    prompts: readonly string[],
    candidates: readonly (readonly string[])[],
    label: string,
    firstTokens?: readonly (readonly number[] | undefined)[],
  ): number[][] {
    const missing = prompts.map((_, i) => i).filter((i) => !firstTokens?.[i]);
    const computed = this.firstTokenLogProbs(
      missing.map((i) => prompts[i]!),
      missing.map((i) => this.firstTokenIds(candidates[i]!)),
      label,
    );
    const scores = prompts.map((_, i) => [...(firstTokens?.[i] ?? computed[missing.indexOf(i)]!)]);
    const pairs: { prompt: number; candidate: number }[] = [];
    candidates.forEach((list, i) =>
      list.forEach((c, j) => {
        if (this.encode(` ${c}`).length > 1) pairs.push({ prompt: i, candidate: j });
      }),
    );
    const bar = pairs.length > 0 ? this.bar(`${label} (multi-token candidates)`, pairs.length) : null;
    for (let first = 0; first < pairs.length; first += this.batchSize) {
      const batch = pairs.slice(first, first + this.batchSize);
      const logProbs = scoreContinuations(
        this.model,
        batch.map((p) => this.encode(prompts[p.prompt]!)),
        batch.map((p) => this.encode(` ${candidates[p.prompt]![p.candidate]!}`)),
        { batchSize: this.batchSize, padTokenId: this.padId },
      );
      batch.forEach((p, k) => (scores[p.prompt]![p.candidate] = logProbs[k]!));
      bar?.tick(batch.length);
    }
    bar?.finish();
    return scores;
  }

  /** The first token of " " + each candidate (the token a greedy answer starts with). */
  firstTokenIds(candidates: readonly string[]): number[] {
    return candidates.map((c) => this.encode(` ${c}`)[0]!);
  }

  /** Log-probabilities of `ids[i]` as the next token after prompt i: one batched forward per batch. */
  firstTokenLogProbs(
    prompts: readonly string[],
    ids: readonly (readonly number[])[],
    label: string,
  ): number[][] {
    const V = this.model.config.vocabSize;
    const out = new Array<number[]>(prompts.length);
    this.inBatches(prompts, label, (indices, batchIds) => {
      const { ids: flat, mask, seq } = leftPad(batchIds, this.padId);
      const logits = noGrad(
        () =>
          this.model.forward(flat, { batch: batchIds.length, seq, attentionMask: mask, logits: 'last' })
            .logits!,
      );
      indices.forEach((index, b) => {
        out[index] = logProbsOf(logits.data.subarray(b * V, (b + 1) * V), ids[index]!);
      });
    });
    return out;
  }

  /** The token id of each candidate when every one of them is a single token, else null. */
  singleTokenIds(candidates: readonly string[]): number[] | null {
    const ids: number[] = [];
    for (const c of candidates) {
      const encoded = this.encode(` ${c}`);
      if (encoded.length !== 1) return null;
      ids.push(encoded[0]!);
    }
    return ids;
  }

  /** Longest candidate (with its leading space) in tokens: bounds the new tokens of a fact answer. */
  longestAnswerTokens(answers: Iterable<string>): number {
    let longest = 1;
    for (const a of answers) longest = Math.max(longest, this.encode(` ${a}`).length);
    return longest;
  }

  private bar(label: string, total: number): ProgressBar | null {
    return this.progress ? new ProgressBar({ label, total }) : null;
  }

  /** Calls `run` on batches of prompts of similar length; `indices` map batch rows back to `prompts`. */
  private inBatches(
    prompts: readonly string[],
    label: string,
    run: (indices: number[], ids: number[][]) => void,
  ): void {
    const ids = prompts.map((p) => this.encode(p));
    const order = ids.map((_, i) => i).sort((a, b) => ids[a]!.length - ids[b]!.length || a - b);
    const bar = this.bar(label, prompts.length);
    for (let first = 0; first < order.length; first += this.batchSize) {
      const indices = order.slice(first, first + this.batchSize);
      run(
        indices,
        indices.map((i) => ids[i]!),
      );
      bar?.tick(indices.length);
    }
    bar?.finish();
  }
}

/** log softmax(row)[id] for each id. */
function logProbsOf(row: Float32Array, ids: readonly number[]): number[] {
  const norm = logSumExp(row);
  return ids.map((id) => row[id]! - norm);
}

export function logSumExp(row: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i]! > max) max = row[i]!;
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - max);
  return max + Math.log(sum);
}

/**
 * 1-based rank of scores[trueIndex] among `scores` (1 = highest). Ties share the mid rank, so a model that
 * scores every candidate alike gets the chance rank, not rank 1.
 */
export function midRank(scores: readonly number[], trueIndex: number): number {
  const own = scores[trueIndex]!;
  let greater = 0;
  let equal = 0;
  scores.forEach((s, i) => {
    if (i === trueIndex) return;
    if (s > own) greater++;
    else if (s === own) equal++;
  });
  return 1 + greater + equal / 2;
}
