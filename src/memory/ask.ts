// The model half of "Neural CPU + Symbolic RAM": a question goes to the fact store (retrieval.ts), the
// facts found are rendered into the RAG prompt the model was trained on (src/data/format.ts `ragPrompt`),
// and the model answers greedily. `Answerer` is the narrow interface the evaluation needs from a model:
// batched greedy answers and log p(" " + candidate | prompt); `ModelAnswerer` implements it for a Qwen2
// model folder (left-padded batches, prompts sorted by length, KV cache — src/nn/generate.ts).
import { ProgressBar } from '../cli/progress.ts';
import { closedBookPrompt } from '../data/format.ts';
import { checkTokenizerMatchesConfig, loadTokenizer, type RlcpTokenizer } from '../io/tokenizer.ts';
import { generate, scoreContinuations } from '../nn/generate.ts';
import { Qwen2ForCausalLM, eosTokenIds } from '../nn/qwen2.ts';
import { buildRagPrompt, retrieve, type RetrievedFact } from './retrieval.ts';
import type { FactStore } from './store.ts';

/** What asking and the evaluation need from a model. */
export interface Answerer {
  /** Where the model came from (a folder), for reports. */
  readonly name: string;
  /**
   * Greedy completions of `prompts`, in order, each cut at the first newline or EOS (the world's records
   * end there) and trimmed of surrounding whitespace.
   */
  answer(prompts: readonly string[], options?: AnswerOptions): string[];
  /** For each prompt, log p(" " + candidate | prompt) of each of its candidates (summed over tokens). */
  candidateLogProbs(
    prompts: readonly string[],
    candidates: readonly (readonly string[])[],
    options?: ProgressOption,
  ): number[][];
}

export interface ProgressOption {
  /** Label of a progress bar on stderr; none when absent. */
  progress?: string;
}

export interface AnswerOptions extends ProgressOption {
  /** Most tokens generated per answer (default: the answerer's default, 32 for ModelAnswerer). */
  maxNewTokens?: number;
}

export interface ModelAnswererOptions {
  /** Prompts per forward pass (default 32). */
  batchSize?: number;
  /** Default `maxNewTokens` of `answer` (default 32: room for a worked answer "… The answer is X."). */
  maxNewTokens?: number;
}

/** Greedy answering and candidate scoring with a Qwen2 model and its tokenizer. */
export class ModelAnswerer implements Answerer {
  readonly batchSize: number;
  readonly maxNewTokens: number;
  private readonly eos: number[];
  private readonly padId: number;

  constructor(
    readonly name: string,
    readonly model: Qwen2ForCausalLM,
    readonly tokenizer: RlcpTokenizer,
    options: ModelAnswererOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 32;
    this.maxNewTokens = options.maxNewTokens ?? 32;
    if (!(Number.isInteger(this.batchSize) && this.batchSize >= 1)) {
      throw new Error(`batch size must be a positive integer, got ${this.batchSize}`);
    }
    if (!(Number.isInteger(this.maxNewTokens) && this.maxNewTokens >= 1)) {
      throw new Error(`max new tokens must be a positive integer, got ${this.maxNewTokens}`);
    }
    checkTokenizerMatchesConfig(tokenizer, model.config, name);
    // The world's records are trained as prompt + completion + the tokenizer's EOS, which config.json
    // may not list.
    const eos = new Set(eosTokenIds(model.config));
    if (tokenizer.eosTokenId !== null) eos.add(tokenizer.eosTokenId);
    this.eos = [...eos];
    this.padId = tokenizer.padTokenId ?? 0;
  }

  /** Loads a model folder (config.json, weights, tokenizer.json). */
  static async load(dir: string, options: ModelAnswererOptions = {}): Promise<ModelAnswerer> {
    const model = Qwen2ForCausalLM.fromPretrained(dir);
    const tokenizer = await loadTokenizer(dir);
    return new ModelAnswerer(dir, model, tokenizer, options);
  }

  private encode(text: string): number[] {
    const ids = this.tokenizer.encode(text, { addSpecialTokens: false });
    if (ids.length === 0) throw new Error(`${this.name}: "${text}" encodes to no tokens`);
    return ids;
  }

  answer(prompts: readonly string[], options: AnswerOptions = {}): string[] {
    const maxNewTokens = options.maxNewTokens ?? this.maxNewTokens;
    const encoded = prompts.map((p) => this.encode(p));
    const out = new Array<string>(prompts.length);
    forBatches(encoded, this.batchSize, options.progress, (indices) => {
      const generations = generate(
        this.model,
        indices.map((i) => encoded[i]!),
        {
          maxNewTokens,
          eosTokenIds: this.eos,
          stopStrings: ['\n'],
          decoder: this.tokenizer,
          padTokenId: this.padId,
          vocabLimit: this.tokenizer.vocabSize,
        },
      );
      generations.forEach((g, j) => (out[indices[j]!] = g.text!.trim()));
    });
    return out;
  }

  candidateLogProbs(
    prompts: readonly string[],
    candidates: readonly (readonly string[])[],
    options: ProgressOption = {},
  ): number[][] {
    if (prompts.length !== candidates.length) {
      throw new Error(
        `candidateLogProbs: ${prompts.length} prompts but ${candidates.length} candidate lists`,
      );
    }
    const encoded = prompts.map((p) => this.encode(p));
    const candidateIds = candidates.map((list) => list.map((c) => this.encode(` ${c}`)));
    const out: number[][] = candidates.map((list) => new Array<number>(list.length).fill(0));
    if (candidateIds.every((list) => list.every((ids) => ids.length === 1))) {
      // Every candidate is one token: one forward per prompt and a log-softmax of its next-token logits.
      forBatches(encoded, this.batchSize, options.progress, (indices) => {
        const generations = generate(
          this.model,
          indices.map((i) => encoded[i]!),
          { maxNewTokens: 1, eosTokenIds: [], padTokenId: this.padId, outputLogits: true },
        );
        generations.forEach((g, j) => {
          const i = indices[j]!;
          const row = g.logits![0]!;
          const norm = logSumExp(row);
          out[i] = candidateIds[i]!.map((ids) => row[ids[0]!]! - norm);
        });
      });
      return out;
    }
    // Multi-token candidates: score every (prompt, candidate) pair.
    const pairs: { prompt: number; candidate: number }[] = [];
    candidateIds.forEach((list, p) => list.forEach((_, c) => pairs.push({ prompt: p, candidate: c })));
    const bar = options.progress ? new ProgressBar({ label: options.progress, total: pairs.length }) : null;
    for (let first = 0; first < pairs.length; first += this.batchSize * 8) {
      const chunk = pairs.slice(first, first + this.batchSize * 8);
      const scores = scoreContinuations(
        this.model,
        chunk.map((x) => encoded[x.prompt]!),
        chunk.map((x) => candidateIds[x.prompt]![x.candidate]!),
        { batchSize: this.batchSize, padTokenId: this.padId },
      );
      chunk.forEach((x, j) => (out[x.prompt]![x.candidate] = scores[j]!));
      bar?.tick(chunk.length);
    }
    bar?.finish();
    return out;
  }
}

/**
 * Runs `work` over batches of indices into `sequences`, sorted by length (longest first) so that a
 * left-padded batch wastes little on padding.
 */
function forBatches(
  sequences: readonly number[][],
  batchSize: number,
  progress: string | undefined,
  work: (indices: number[]) => void,
): void {
  const order = sequences
    .map((_, i) => i)
    .sort((a, b) => sequences[b]!.length - sequences[a]!.length || a - b);
  const bar = progress && order.length > 0 ? new ProgressBar({ label: progress, total: order.length }) : null;
  for (let first = 0; first < order.length; first += batchSize) {
    const indices = order.slice(first, first + batchSize);
    work(indices);
    bar?.tick(indices.length);
  }
  bar?.finish();
}

function logSumExp(row: Float32Array): number {
  let max = -Infinity;
  for (const x of row) if (x > max) max = x;
  let sum = 0;
  for (const x of row) sum += Math.exp(x - max);
  return max + Math.log(sum);
}

/**
 * Rank of candidate `index` by score, 1 = best; tied candidates share their mid rank (so a model that
 * scores every candidate the same ranks the answer at chance, (K+1)/2).
 */
export function midRank(scores: readonly number[], index: number): number {
  const own = scores[index];
  if (own === undefined) throw new Error(`midRank: no score at index ${index}`);
  let better = 0;
  let tied = 0;
  for (const s of scores) {
    if (s > own) better++;
    else if (s === own) tied++;
  }
  return better + (tied + 1) / 2;
}

/** The answer inside a completion, keeping its case: after the last "The answer is", else the first line. */
export function displayAnswer(generated: string): string {
  const firstLine = (generated.split('\n')[0] ?? '').trim();
  const match = /the answer is\s+(.+?)\.?\s*$/i.exec(firstLine);
  return (match ? match[1]! : firstLine).replace(/[.,;:!?]+$/, '').trim();
}

export interface RamPromptOptions {
  /** Facts put into the context (default 3: the world's RAG records hold the fact and 2 distractors). */
  k?: number;
  /** A relation the question is known to ask about (ranks its facts first). */
  relationHint?: string;
}

export const DEFAULT_ASK_K = 3;

export interface RamPrompt {
  question: string;
  /** The facts in the context, in retrieval order. */
  facts: RetrievedFact[];
  /** `Context: s1 s2 s3\nQ: question\nA:` with the statements rendered from the store. */
  prompt: string;
}

/** Retrieves the top-k facts for a question and builds the RAG prompt from their statements. */
export function ramPrompt(store: FactStore, question: string, options: RamPromptOptions = {}): RamPrompt {
  const facts = retrieve(store, question, {
    k: options.k ?? DEFAULT_ASK_K,
    relationHint: options.relationHint,
  });
  const prompt =
    facts.length > 0 ? buildRagPrompt(facts, question, (f) => f.statement) : closedBookPrompt(question);
  return { question, facts, prompt };
}

export interface AskResult extends RamPrompt {
  /** The model's completion (first line). */
  generated: string;
  /** The answer inside it (`displayAnswer`). */
  answer: string;
}

/** Answers questions from the store: retrieval, RAG prompt, one batched greedy generation. */
export function askRam(
  answerer: Answerer,
  store: FactStore,
  questions: readonly string[],
  options: RamPromptOptions & AnswerOptions = {},
): AskResult[] {
  const prompts = questions.map((q) => ramPrompt(store, q, options));
  const generated = answerer.answer(
    prompts.map((p) => p.prompt),
    options,
  );
  return prompts.map((p, i) => ({ ...p, generated: generated[i]!, answer: displayAnswer(generated[i]!) }));
}
