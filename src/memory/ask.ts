// The model half of "Neural CPU + Symbolic RAM": a question goes to the fact store (retrieval.ts), the
// facts found are rendered into the RAG prompt the model was trained on (src/data/format.ts `ragPrompt`),
// and the model answers greedily. `Answerer` is the narrow interface the evaluation needs from a model:
// batched greedy answers and log p(" " + candidate | prompt); `ModelAnswerer` implements it for a Qwen2
// model folder.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { closedBookPrompt } from '../data/format.ts';
import { Inference } from '../eval/suites/inference.ts';
import { checkTokenizerMatchesConfig, loadTokenizer, type RlcpTokenizer } from '../io/tokenizer.ts';
import { Qwen2ForCausalLM } from '../nn/qwen2.ts';
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
    label?: string,
  ): number[][];
}

export interface AnswerOptions {
  /** Most tokens generated per answer (default: the answerer's, 32 for ModelAnswerer). */
  maxNewTokens?: number;
  /** Label of the progress bar (when the answerer draws one). */
  label?: string;
}

export interface ModelAnswererOptions {
  /** Prompts per forward pass (default 32). */
  batchSize?: number;
  /** Default `maxNewTokens` of `answer` (default 32: room for a worked answer "… The answer is X."). */
  maxNewTokens?: number;
  /** Progress bars on stderr (default false). */
  progress?: boolean;
  /**
   * Where to read the tokenizer when the model folder has no tokenizer.json (training checkpoints do
   * not carry one; a world folder holds its model's tokenizer).
   */
  tokenizerDir?: string;
}

/**
 * Greedy answering and candidate scoring with a Qwen2 model and its tokenizer, through the evaluation
 * suites' batched inference (src/eval/suites/inference.ts: prompts sorted by length, left padding, KV
 * cache; single-token candidates ranked from one forward).
 */
export class ModelAnswerer implements Answerer {
  readonly maxNewTokens: number;
  readonly inference: Inference;

  constructor(
    readonly name: string,
    model: Qwen2ForCausalLM,
    tokenizer: RlcpTokenizer,
    options: ModelAnswererOptions = {},
  ) {
    this.maxNewTokens = options.maxNewTokens ?? 32;
    if (!(Number.isInteger(this.maxNewTokens) && this.maxNewTokens >= 1)) {
      throw new Error(`max new tokens must be a positive integer, got ${this.maxNewTokens}`);
    }
    checkTokenizerMatchesConfig(tokenizer, model.config, name);
    // The EOS of the tokenizer (which the world's records are trained to end with) is a stop token too.
    this.inference = new Inference(model, tokenizer, {
      batchSize: options.batchSize,
      progress: options.progress ?? false,
    });
  }

  /** Loads a model folder (config.json, weights, tokenizer.json or `options.tokenizerDir`). */
  static async load(dir: string, options: ModelAnswererOptions = {}): Promise<ModelAnswerer> {
    const model = Qwen2ForCausalLM.fromPretrained(dir);
    const fallback = options.tokenizerDir;
    const tokenizer = await loadTokenizer(
      fallback !== undefined && !existsSync(join(dir, 'tokenizer.json')) ? fallback : dir,
    );
    return new ModelAnswerer(dir, model, tokenizer, options);
  }

  answer(prompts: readonly string[], options: AnswerOptions = {}): string[] {
    return this.inference
      .generate(prompts, {
        maxNewTokens: options.maxNewTokens ?? this.maxNewTokens,
        stopStrings: ['\n'],
        label: options.label ?? 'answers',
      })
      .map((g) => g.text.trim());
  }

  candidateLogProbs(
    prompts: readonly string[],
    candidates: readonly (readonly string[])[],
    label = 'candidate scores',
  ): number[][] {
    if (prompts.length !== candidates.length) {
      throw new Error(
        `candidateLogProbs: ${prompts.length} prompts but ${candidates.length} candidate lists`,
      );
    }
    return this.inference.candidateLogProbs(prompts, candidates, label);
  }
}

/** The answer inside a completion, keeping its case: after the last "The answer is", else the first line. */
export function displayAnswer(generated: string): string {
  const firstLine = (generated.split('\n')[0] ?? '').trim();
  const match = /the answer is\s+(.+?)\.?\s*$/i.exec(firstLine);
  return (match ? match[1]! : firstLine).replace(/[.,;:!?]+$/, '').trim();
}

export interface RamPromptOptions {
  /** Facts put into the context (default 1: the default world's RAG records state the asked fact alone). */
  k?: number;
  /** A relation the question is known to ask about (ranks its facts first). */
  relationHint?: string;
}

export const DEFAULT_ASK_K = 1;

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
