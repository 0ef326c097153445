// The generation half of GSM8K (issue 6 part 5): greedy responses to the first N questions, zero-shot
// ("Q: …\nA:", so any chain of thought is spontaneous) and 8-shot chain-of-thought (the harness's
// gsm8k_cot), cut at the harness's stop sequences and scored with src/eval/gsm8k.ts.
import {
  GSM8K_STOP_SEQUENCES,
  gsm8kPrompt,
  loadGsm8k,
  scoreGsm8kResponse,
  summarizeGsm8k,
  type Gsm8kItemScore,
  type Gsm8kPromptStyle,
  type Gsm8kSummary,
} from '../gsm8k.ts';
import type { Inference } from './inference.ts';

export const GSM8K_GENERATION_STYLES = [
  'zero-shot',
  'cot-8shot',
] as const satisfies readonly Gsm8kPromptStyle[];
export type Gsm8kGenerationStyle = (typeof GSM8K_GENERATION_STYLES)[number];

/** One line of items/gsm8k_<style>.jsonl: `{index, response}` as `rlcp eval gsm8k --responses` reads, plus its score. */
export interface Gsm8kGenerated extends Gsm8kItemScore {
  response: string;
  style: Gsm8kGenerationStyle;
}

export interface Gsm8kGenerationResult {
  style: Gsm8kGenerationStyle;
  items: Gsm8kGenerated[];
  /** `tokens` / `mean_tokens` count the model's generated tokens (EOS excluded). */
  summary: Gsm8kSummary;
}

export function generateGsm8k(
  inference: Inference,
  path: string,
  limit: number | undefined,
  maxNewTokens: number,
): Gsm8kGenerationResult[] {
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1)) {
    throw new Error(`--limit must be a positive integer, got ${limit}`);
  }
  const questions = loadGsm8k(path).slice(0, limit);
  if (questions.length === 0) throw new Error(`${path}: no GSM8K questions`);
  return GSM8K_GENERATION_STYLES.map((style) => {
    const stops = GSM8K_STOP_SEQUENCES[style];
    const generated = inference.generate(
      questions.map((q) => gsm8kPrompt(q.question, style)),
      { maxNewTokens, stopStrings: stops, label: `gsm8k ${style}` },
    );
    const items = questions.map((q, i): Gsm8kGenerated => {
      const response = generated[i]!.text;
      const score = scoreGsm8kResponse(q.index, response, q.gold, {
        stopSequences: stops,
        countTokens: () => generated[i]!.tokens,
      });
      return { ...score, response, style };
    });
    return { style, items, summary: summarizeGsm8k(items) };
  });
}
