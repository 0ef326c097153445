// GSM8K: prompts, answer extraction and scoring as lm-evaluation-harness does it (tasks `gsm8k` and
// `gsm8k_cot`, version 3.0), plus the chain-of-thought adoption measure. Definitions: src/eval/README.md.
import { readJsonl } from '../io/jsonl.ts';
import { wilsonInterval, type Interval } from './stats.ts';

export interface Gsm8kItem {
  /** 0-based line number in the GSM8K file. */
  index: number;
  question: string;
  /** The reference solution, ending in `#### N`. */
  answer: string;
  /** The normalised gold number (text after the last `####`). */
  gold: string;
}

/** Loads GSM8K JSONL (`{"question": ..., "answer": "... #### N"}` per line). */
export function loadGsm8k(path: string): Gsm8kItem[] {
  return readJsonl(path, (record, line) => {
    if (typeof record !== 'object' || record === null) throw new Error('expected an object');
    const { question, answer } = record as Record<string, unknown>;
    if (typeof question !== 'string' || question.length === 0)
      throw new Error('missing string field "question"');
    if (typeof answer !== 'string') throw new Error('missing string field "answer"');
    return { index: line - 1, question, answer, gold: goldAnswer(answer) };
  });
}

/**
 * A GSM8K training item as a prompt/completion pair for a reasoning (logic) stream: the zero-shot prompt
 * "Q: …\nA:" and the reference solution on one line, calculator annotations ("<<48/2=24>>") removed,
 * ending "The answer is N." — the form lm-evaluation-harness's strict chain-of-thought filter extracts.
 */
export function gsm8kTrainingRecord(
  question: string,
  answer: string,
): { prompt: string; completion: string } {
  const at = answer.lastIndexOf('####');
  if (at < 0) throw new Error('answer has no "#### N" final line');
  const solution = answer
    .slice(0, at)
    .replace(/<<[^>]*>>/g, '')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .join(' ');
  return {
    prompt: gsm8kPrompt(question, 'zero-shot'),
    completion: ` ${solution} The answer is ${goldAnswer(answer)}.`,
  };
}

/** The gold answer: the text after the last `####`, normalised. */
export function goldAnswer(answer: string): string {
  const at = answer.lastIndexOf('####');
  if (at < 0) throw new Error('answer has no "#### N" final line');
  const gold = normalizeGsm8kAnswer(answer.slice(at + 4).trim());
  if (gold.length === 0) throw new Error('answer has an empty "####" line');
  return gold;
}

/**
 * The harness's exact-match normalisation (regexes_to_ignore `,`, `\$`, `(?s).*#### `, `\.$`, then
 * ignore_case), so "$1,000." and "1000" compare equal but "18.00" and "18" do not.
 */
export function normalizeGsm8kAnswer(text: string): string {
  return text
    .replace(/,/g, '')
    .replace(/\$/g, '')
    .replace(/^[\s\S]*#### /, '')
    .replace(/\.$/, '')
    .toLowerCase();
}

/** The eight Wei et al. (2022) exemplars of the harness's gsm8k-cot.yaml, verbatim. */
export const COT_EXEMPLARS: readonly { question: string; target: string }[] = [
  {
    question:
      'There are 15 trees in the grove. Grove workers will plant trees in the grove today. After they are done, there will be 21 trees. How many trees did the grove workers plant today?',
    target:
      'There are 15 trees originally. Then there were 21 trees after some more were planted. So there must have been 21 - 15 = 6. The answer is 6.',
  },
  {
    question:
      'If there are 3 cars in the parking lot and 2 more cars arrive, how many cars are in the parking lot?',
    target: 'There are originally 3 cars. 2 more cars arrive. 3 + 2 = 5. The answer is 5.',
  },
  {
    question:
      'Leah had 32 chocolates and her sister had 42. If they ate 35, how many pieces do they have left in total?',
    target:
      'Originally, Leah had 32 chocolates. Her sister had 42. So in total they had 32 + 42 = 74. After eating 35, they had 74 - 35 = 39. The answer is 39.',
  },
  {
    question:
      'Jason had 20 lollipops. He gave Denny some lollipops. Now Jason has 12 lollipops. How many lollipops did Jason give to Denny?',
    target:
      'Jason started with 20 lollipops. Then he had 12 after giving some to Denny. So he gave Denny 20 - 12 = 8. The answer is 8.',
  },
  {
    question:
      'Shawn has five toys. For Christmas, he got two toys each from his mom and dad. How many toys does he have now?',
    target:
      'Shawn started with 5 toys. If he got 2 toys each from his mom and dad, then that is 4 more toys. 5 + 4 = 9. The answer is 9.',
  },
  {
    question:
      'There were nine computers in the server room. Five more computers were installed each day, from monday to thursday. How many computers are now in the server room?',
    target:
      'There were originally 9 computers. For each of 4 days, 5 more computers were added. So 5 * 4 = 20 computers were added. 9 + 20 is 29. The answer is 29.',
  },
  {
    question:
      'Michael had 58 golf balls. On tuesday, he lost 23 golf balls. On wednesday, he lost 2 more. How many golf balls did he have at the end of wednesday?',
    target:
      'Michael started with 58 golf balls. After losing 23 on tuesday, he had 58 - 23 = 35. After losing 2 more, he had 35 - 2 = 33 golf balls. The answer is 33.',
  },
  {
    question: 'Olivia has $23. She bought five bagels for $3 each. How much money does she have left?',
    target:
      'Olivia had 23 dollars. 5 bagels for 3 dollars each will be 5 x 3 = 15 dollars. So she has 23 - 15 dollars left. 23 - 15 is 8. The answer is 8.',
  },
];

/**
 * Prompt styles:
 * - `zero-shot`: "Q: …\nA:" alone — no exemplars and no trigger phrase, so any chain of thought is spontaneous;
 * - `zero-shot-cot`: the harness's gsm8k_cot_zeroshot, "Q: …\nA: Let's think step by step.";
 * - `cot-8shot`: the harness's gsm8k_cot, the eight exemplars then "Q: …\nA:";
 * - `plain`: the harness's gsm8k, "Question: …\nAnswer:", after optional exemplars (the harness samples 5
 *   training items at random; pass yours as `plainShots`).
 */
export type Gsm8kPromptStyle = 'zero-shot' | 'zero-shot-cot' | 'cot-8shot' | 'plain';

export const GSM8K_PROMPT_STYLES: readonly Gsm8kPromptStyle[] = [
  'zero-shot',
  'zero-shot-cot',
  'cot-8shot',
  'plain',
];

/** Generation stops at the first of these (harness `until`); `\n\n` is not a stop in version 3.0. */
export const GSM8K_STOP_SEQUENCES: Record<Gsm8kPromptStyle, readonly string[]> = {
  'zero-shot': ['Q:', '</s>', '<|im_end|>'],
  'zero-shot-cot': ['Q:', '</s>', '<|im_end|>'],
  'cot-8shot': ['Q:', '</s>', '<|im_end|>'],
  plain: ['Question:', '</s>', '<|im_end|>'],
};

/** Harness layout: exemplars joined by "\n\n", each "<text> <target>"; the model continues after the last "A:". */
export function gsm8kPrompt(
  question: string,
  style: Gsm8kPromptStyle,
  plainShots: readonly { question: string; answer: string }[] = [],
): string {
  switch (style) {
    case 'zero-shot':
      return `Q: ${question}\nA:`;
    case 'zero-shot-cot':
      return `Q: ${question}\nA: Let's think step by step.`;
    case 'cot-8shot':
      return [...COT_EXEMPLARS.map((e) => `Q: ${e.question}\nA: ${e.target}`), `Q: ${question}\nA:`].join(
        '\n\n',
      );
    case 'plain':
      return [
        ...plainShots.map((e) => `Question: ${e.question}\nAnswer: ${e.answer}`),
        `Question: ${question}\nAnswer:`,
      ].join('\n\n');
  }
}

/** Cuts a generation at the earliest stop sequence. */
export function truncateAtStop(text: string, stops: readonly string[]): string {
  let end = text.length;
  for (const stop of stops) {
    const at = text.indexOf(stop);
    if (at >= 0 && at < end) end = at;
  }
  return text.slice(0, end);
}

// Union of the two harness strict regexes (gsm8k: "#### N"; gsm8k_cot: "The answer is N."). Kept verbatim
// for comparability, quirk included: the final "." is any character, so a response ending exactly in
// "The answer is 18" backtracks to "1" (flexible extraction still reads 18).
const STRICT = /#### (-?[0-9.,]+)|The answer is (-?[0-9.,]+)./g;
const FLEXIBLE = /(-?[$0-9.,]{2,})|(-?[0-9]+)/g;

interface Extraction {
  value: string;
  /** Where the whole match starts in the response. */
  start: number;
}

function firstGroup(match: RegExpMatchArray): string {
  return (match[1] ?? match[2] ?? '').trim();
}

function strictMatch(response: string): Extraction | null {
  const match = response.matchAll(STRICT).next();
  return match.done ? null : { value: firstGroup(match.value), start: match.value.index! };
}

/** Strict extraction: the first `#### N` or `The answer is N` (null when absent: the harness's "[invalid]"). */
export function extractStrict(response: string): string | null {
  return strictMatch(response)?.value ?? null;
}

/** Flexible extraction: the last match of `(-?[$0-9.,]{2,})|(-?[0-9]+)`, null when the response has none. */
export function extractFlexible(response: string): string | null {
  let last: RegExpMatchArray | null = null;
  for (const match of response.matchAll(FLEXIBLE)) last = match;
  return last === null ? null : firstGroup(last);
}

// A computation: numbers joined by at least one arithmetic operator, then "=", "equals" or "is", then a
// number — "16 - 3 - 4 = 9", "5 x 3 = 15", "9 + 20 is 29", "(3 + 4) * 2 = 14", "<<9*2=18>>".
const NUMBER = String.raw`\$?(?:\d[\d,]*(?:\.\d+)?|\.\d+)%?`;
const OPERAND = String.raw`\(*${NUMBER}\)*`;
const OPERATOR = String.raw`(?:[-+*/×÷x]|\btimes\b|\bplus\b|\bminus\b|\bdivided by\b|\bmultiplied by\b)`;
const RESULT = String.raw`(?:=|\bequals\b|\bis\b)`;
const COMPUTATION = new RegExp(
  String.raw`${OPERAND}(?:\s*${OPERATOR}\s*${OPERAND})+\s*${RESULT}\s*\(*\$?-?\d`,
  'i',
);

/**
 * Chain-of-thought adoption: the response shows at least one computation (see COMPUTATION) before its final
 * answer statement — the first strict match (`#### N` / `The answer is N`); without such a statement the
 * final answer is the last number, so a computation anywhere in the response counts. Restated numbers
 * ("She makes $18. The answer is 18.") and verbal steps without an operator are not computations.
 */
export function hasChainOfThought(response: string): boolean {
  const statement = strictMatch(response);
  return COMPUTATION.test(statement === null ? response : response.slice(0, statement.start));
}

/** Default token count: whitespace-separated words (a model's tokenizer gives more; pass `countTokens`). */
export function whitespaceTokenCount(text: string): number {
  const trimmed = text.trim();
  return trimmed.length === 0 ? 0 : trimmed.split(/\s+/).length;
}

export interface Gsm8kItemScore {
  index: number;
  gold: string;
  strict: string | null;
  flexible: string | null;
  strict_correct: boolean;
  flexible_correct: boolean;
  cot: boolean;
  tokens: number;
}

export interface ScoreOptions {
  /** Cut each response at these first (when the generator did not stop itself); default none. */
  stopSequences?: readonly string[];
  /** Tokens of a response; default whitespaceTokenCount. */
  countTokens?: (text: string) => number;
}

export function scoreGsm8kResponse(
  index: number,
  response: string,
  gold: string,
  options: ScoreOptions = {},
): Gsm8kItemScore {
  const text = truncateAtStop(response, options.stopSequences ?? []);
  const strict = extractStrict(text);
  const flexible = extractFlexible(text);
  const target = normalizeGsm8kAnswer(gold);
  return {
    index,
    gold: target,
    strict,
    flexible,
    strict_correct: strict !== null && normalizeGsm8kAnswer(strict) === target,
    flexible_correct: flexible !== null && normalizeGsm8kAnswer(flexible) === target,
    cot: hasChainOfThought(text),
    tokens: (options.countTokens ?? whitespaceTokenCount)(text),
  };
}

export interface Gsm8kSummary {
  n: number;
  strict_accuracy: number;
  flexible_accuracy: number;
  cot_rate: number;
  mean_tokens: number;
  n_cot: number;
  strict_accuracy_cot: number | null;
  flexible_accuracy_cot: number | null;
  strict_accuracy_no_cot: number | null;
  flexible_accuracy_no_cot: number | null;
  strict_ci95: Interval;
  flexible_ci95: Interval;
}

function share(items: readonly Gsm8kItemScore[], pick: (s: Gsm8kItemScore) => boolean): number | null {
  return items.length === 0 ? null : items.filter(pick).length / items.length;
}

export function summarizeGsm8k(scores: readonly Gsm8kItemScore[]): Gsm8kSummary {
  if (scores.length === 0) throw new Error('no GSM8K responses to score');
  const n = scores.length;
  const strictHits = scores.filter((s) => s.strict_correct).length;
  const flexibleHits = scores.filter((s) => s.flexible_correct).length;
  const withCot = scores.filter((s) => s.cot);
  const withoutCot = scores.filter((s) => !s.cot);
  return {
    n,
    strict_accuracy: strictHits / n,
    flexible_accuracy: flexibleHits / n,
    cot_rate: withCot.length / n,
    mean_tokens: scores.reduce((a, s) => a + s.tokens, 0) / n,
    n_cot: withCot.length,
    strict_accuracy_cot: share(withCot, (s) => s.strict_correct),
    flexible_accuracy_cot: share(withCot, (s) => s.flexible_correct),
    strict_accuracy_no_cot: share(withoutCot, (s) => s.strict_correct),
    flexible_accuracy_no_cot: share(withoutCot, (s) => s.flexible_correct),
    strict_ci95: wilsonInterval(strictHits, n),
    flexible_ci95: wilsonInterval(flexibleHits, n),
  };
}

export interface Gsm8kResponse {
  index: number;
  response: string;
}

/** Reads `{"index": i, "response": "..."}` lines; an index outside the GSM8K file or repeated is an error. */
export function readGsm8kResponses(
  path: string,
  items: ReadonlyMap<number, Gsm8kItem>,
  itemsPath: string,
): Gsm8kResponse[] {
  const seen = new Map<number, number>();
  return readJsonl(path, (record, line) => {
    if (typeof record !== 'object' || record === null) throw new Error('expected an object');
    const { index, response } = record as Record<string, unknown>;
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0) {
      throw new Error(`"index" must be a non-negative integer, got ${JSON.stringify(index)}`);
    }
    if (typeof response !== 'string') throw new Error('missing string field "response"');
    if (!items.has(index)) throw new Error(`index ${index} is not a question line of ${itemsPath}`);
    const earlier = seen.get(index);
    if (earlier !== undefined) throw new Error(`duplicate index ${index} (first at line ${earlier})`);
    seen.set(index, line);
    return { index, response };
  });
}

export interface Gsm8kScoreResult {
  summary: Gsm8kSummary;
  items: Gsm8kItemScore[];
}

/** Scores saved responses against the GSM8K file they answer (response index = 0-based line number). */
export function scoreGsm8kResponses(
  gsm8kPath: string,
  responsesPath: string,
  options: ScoreOptions = {},
): Gsm8kScoreResult {
  const items = new Map(loadGsm8k(gsm8kPath).map((item) => [item.index, item]));
  const responses = readGsm8kResponses(responsesPath, items, gsm8kPath);
  if (responses.length === 0) throw new Error(`${responsesPath}: no responses`);
  const scores = responses.map((r) =>
    scoreGsm8kResponse(r.index, r.response, items.get(r.index)!.gold, options),
  );
  return { summary: summarizeGsm8k(scores), items: scores };
}
