import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cotSolution,
  directSolution,
  problemKey,
  problemQuestion,
  sampleProblem,
  type LogicProblem,
} from '../../src/data/logic.ts';
import { Rng } from '../../src/data/rng.ts';
import { answersMatch } from '../../src/data/format.ts';

const PROBLEM: LogicProblem = {
  start: 3,
  steps: [
    { op: '+', operand: 4, result: 7 },
    { op: '*', operand: 2, result: 14 },
  ],
  answer: 14,
};

test('solutions follow the documented layout', () => {
  assert.equal(cotSolution(PROBLEM), ' Step by step: 3 + 4 = 7. 7 * 2 = 14. The answer is 14.');
  assert.equal(directSolution(PROBLEM), ' The answer is 14.');
  assert.ok(answersMatch(cotSolution(PROBLEM), '14'));
  assert.equal(problemKey(PROBLEM), '3 +4 *2');
});

test('questions state one sentence per step and ask about the same item', () => {
  const question = problemQuestion(new Rng(2), PROBLEM, 'Tovin');
  const match =
    /^Tovin has 3 (\w+)\. Tovin \w+ 4 more\. Tovin doubles them\. How many (\w+) does Tovin have now\?$/.exec(
      question,
    );
  assert.ok(match, question);
  assert.equal(match[1], match[2]);
});

test('sampled problems respect the operand and result limits and the step mix', () => {
  const rng = new Rng(4);
  const options = { operandMax: 6, resultMax: 15, threeStepFraction: 0.5 };
  const counts = { 2: 0, 3: 0 } as Record<number, number>;
  for (let i = 0; i < 500; i++) {
    const problem = sampleProblem(rng, options);
    counts[problem.steps.length]!++;
    assert.ok(problem.start >= 2 && problem.start <= 6);
    let value = problem.start;
    for (const step of problem.steps) {
      if (step.op === '*') assert.ok(step.operand === 2 || step.operand === 3);
      else assert.ok(step.operand >= 1 && step.operand <= 6);
      value =
        step.op === '+'
          ? value + step.operand
          : step.op === '-'
            ? value - step.operand
            : value * step.operand;
      assert.equal(step.result, value);
      assert.ok(value >= 0 && value <= 15);
    }
    assert.equal(problem.answer, value);
  }
  assert.ok(counts[2]! > 150 && counts[3]! > 150, JSON.stringify(counts));
});

test('oneStepFraction adds 1-step problems; absent or 0 it samples exactly what it did without it', () => {
  const withoutKey = new Rng(9);
  const withZero = new Rng(9);
  for (let i = 0; i < 200; i++) {
    assert.deepEqual(
      sampleProblem(withZero, { operandMax: 6, resultMax: 24, threeStepFraction: 0.6, oneStepFraction: 0 }),
      sampleProblem(withoutKey, { operandMax: 6, resultMax: 24, threeStepFraction: 0.6 }),
    );
  }
  const rng = new Rng(5);
  const options = { operandMax: 20, resultMax: 40, threeStepFraction: 0.2, oneStepFraction: 0.6 };
  const counts = { 1: 0, 2: 0, 3: 0 } as Record<number, number>;
  for (let i = 0; i < 1000; i++) counts[sampleProblem(rng, options).steps.length]!++;
  // Expected 600 / 200 / 200; the bounds allow ±5 standard deviations.
  assert.ok(Math.abs(counts[1]! - 600) < 80 && Math.abs(counts[3]! - 200) < 65, JSON.stringify(counts));
});
