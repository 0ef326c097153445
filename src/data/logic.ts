// Multi-step arithmetic word problems: a running count changed step by step ("gets 4 more", "gives
// away 2", "doubles them"). Small operands and results keep them learnable by a tiny model; each number
// is tokenised digit by digit. A solution is either chain-of-thought (one equation per step) or direct.
import type { Rng } from './rng.ts';

export type Op = '+' | '-' | '*';

export interface LogicStep {
  op: Op;
  operand: number;
  result: number;
}

export interface LogicProblem {
  start: number;
  steps: LogicStep[];
  answer: number;
}

export interface LogicOptions {
  /** Largest operand of + and - (and of the starting count). */
  operandMax: number;
  /** Largest value any intermediate or final result may take. */
  resultMax: number;
  /** Share of problems with 3 steps (the rest have 2, or 1; see oneStepFraction). */
  threeStepFraction: number;
  /** Optional (absent = 0): share of problems with 1 step; oneStepFraction + threeStepFraction ≤ 1. */
  oneStepFraction?: number;
}

/** The words a chain-of-thought solution starts with. */
export const COT_LEAD = 'Step by step:';

export const LOGIC_ITEMS = ['apples', 'coins', 'books', 'pens', 'eggs', 'cards', 'shells', 'stamps'];
const MORE_VERBS = ['gets', 'buys', 'finds'];
const LESS_VERBS = ['gives away', 'loses', 'sells'];
const TIMES_VERBS: Record<number, string> = { 2: 'doubles them', 3: 'triples them' };

/** Every word the problems can use (so generated names never collide with them). */
export const LOGIC_WORDS = [
  ...LOGIC_ITEMS,
  ...MORE_VERBS,
  ...LESS_VERBS.flatMap((v) => v.split(' ')),
  ...Object.values(TIMES_VERBS).flatMap((v) => v.split(' ')),
  'has',
  'more',
  'how',
  'many',
  'does',
  'have',
  'now',
  'the',
  'answer',
  'is',
  ...(COT_LEAD.match(/[A-Za-z]+/g) ?? []),
];

export function sampleProblem(rng: Rng, options: LogicOptions): LogicProblem {
  // One draw picks the step count, so a world without 1-step problems samples exactly what it did before.
  const draw = rng.float();
  const oneStep = options.oneStepFraction ?? 0;
  const stepCount = draw < oneStep ? 1 : draw < oneStep + options.threeStepFraction ? 3 : 2;
  for (;;) {
    // Start at 2 or more so the item noun is always plural ("has 1 books" reads wrong).
    const start = rng.int(2, options.operandMax);
    let value = start;
    const steps: LogicStep[] = [];
    for (let i = 0; i < stepCount; i++) {
      const op = rng.pick<Op>(['+', '-', '*']);
      let operand: number;
      if (op === '+') operand = rng.int(1, options.operandMax);
      else if (op === '-') operand = rng.int(1, Math.max(1, Math.min(options.operandMax, value)));
      else operand = rng.int(2, 3);
      value = op === '+' ? value + operand : op === '-' ? value - operand : value * operand;
      steps.push({ op, operand, result: value });
    }
    // Rejection keeps every intermediate result within [0, resultMax] without biasing the op choice.
    if (steps.every((s) => s.result >= 0 && s.result <= options.resultMax)) {
      return { start, steps, answer: value };
    }
  }
}

/** A key identifying the arithmetic of a problem, used to keep test problems out of training. */
export function problemKey(problem: LogicProblem): string {
  return [String(problem.start), ...problem.steps.map((s) => `${s.op}${s.operand}`)].join(' ');
}

/** The question text: a person, an item, one sentence per step, then the question. */
export function problemQuestion(rng: Rng, problem: LogicProblem, person: string): string {
  const item = rng.pick(LOGIC_ITEMS);
  const sentences = [`${person} has ${problem.start} ${item}.`];
  for (const step of problem.steps) {
    if (step.op === '+') sentences.push(`${person} ${rng.pick(MORE_VERBS)} ${step.operand} more.`);
    else if (step.op === '-') sentences.push(`${person} ${rng.pick(LESS_VERBS)} ${step.operand}.`);
    else sentences.push(`${person} ${TIMES_VERBS[step.operand]!}.`);
  }
  sentences.push(`How many ${item} does ${person} have now?`);
  return sentences.join(' ');
}

/**
 * Chain-of-thought solution: " Step by step: 3 + 4 = 7. 7 - 2 = 5. The answer is 5." The lead words make
 * the choice of style one first-token decision ("Step" or "The"), so a model's preference is readable and
 * does not depend on whether it can already copy the problem's first number.
 */
export function cotSolution(problem: LogicProblem): string {
  let previous = problem.start;
  const parts: string[] = [];
  for (const step of problem.steps) {
    parts.push(`${previous} ${step.op} ${step.operand} = ${step.result}.`);
    previous = step.result;
  }
  return ` ${COT_LEAD} ${parts.join(' ')} The answer is ${problem.answer}.`;
}

/** Direct solution: " The answer is 5." */
export function directSolution(problem: LogicProblem): string {
  return ` The answer is ${problem.answer}.`;
}
