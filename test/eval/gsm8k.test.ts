import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  COT_EXEMPLARS,
  extractFlexible,
  extractStrict,
  goldAnswer,
  gsm8kPrompt,
  hasChainOfThought,
  loadGsm8k,
  normalizeGsm8kAnswer,
  scoreGsm8kResponse,
  scoreGsm8kResponses,
  summarizeGsm8k,
  truncateAtStop,
  whitespaceTokenCount,
} from '../../src/eval/gsm8k.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const SHARED_TEST = '/work/shared/data/gsm8k/test.jsonl';
const dir = tempDir('rlcp-gsm8k-');

function writeLines(name: string, lines: readonly unknown[]): string {
  const path = join(dir, name);
  writeFileSync(path, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
  return path;
}

const ITEMS = [
  {
    question: 'Janet has 16 eggs and eats 3. How many are left?',
    answer: 'She has 16 - 3 = <<16-3=13>>13.\n#### 13',
  },
  {
    question: 'A shop sells 1,200 pens a day. How many in 2 days?',
    answer: '1200 * 2 = <<1200*2=2400>>2400\n#### 2,400',
  },
  { question: 'What is 5 + 5?', answer: '5 + 5 = 10\n#### 10' },
];

test('gold answers and harness normalisation', () => {
  assert.equal(goldAnswer('work\n#### 18'), '18');
  assert.equal(goldAnswer('x #### 1 #### 2,400'), '2400');
  assert.equal(goldAnswer('#### $5.'), '5');
  assert.throws(() => goldAnswer('no final line'), /no "#### N"/);
  assert.equal(normalizeGsm8kAnswer('$1,000.'), '1000');
  assert.equal(normalizeGsm8kAnswer('18.00'), '18.00', 'numbers are compared as strings, like the harness');
  assert.equal(normalizeGsm8kAnswer('The sum\n#### 42'), '42');
});

test('loadGsm8k reads the shared test set and names file:line on bad records', () => {
  const items = loadGsm8k(SHARED_TEST);
  assert.equal(items.length, 1319);
  assert.equal(items[0]!.gold, '18');
  assert.equal(items[0]!.index, 0);
  assert.ok(items.every((item, i) => item.index === i && /^-?[0-9.]+$/.test(item.gold)));
  const bad = writeLines('bad.jsonl', [ITEMS[0], { question: 'q', answer: 'no hashes' }]);
  assert.throws(() => loadGsm8k(bad), new RegExp(`${bad}:2: answer has no "#### N"`));
  const missing = writeLines('missing.jsonl', [{ answer: '#### 1' }]);
  assert.throws(() => loadGsm8k(missing), new RegExp(`${missing}:1: missing string field "question"`));
});

test('prompts follow the harness layouts', () => {
  assert.equal(gsm8kPrompt('What is 2+2?', 'zero-shot'), 'Q: What is 2+2?\nA:');
  assert.equal(gsm8kPrompt('What is 2+2?', 'zero-shot-cot'), "Q: What is 2+2?\nA: Let's think step by step.");
  assert.equal(gsm8kPrompt('What is 2+2?', 'plain'), 'Question: What is 2+2?\nAnswer:');
  assert.equal(
    gsm8kPrompt('Q2', 'plain', [{ question: 'Q1', answer: 'A1\n#### 1' }]),
    'Question: Q1\nAnswer: A1\n#### 1\n\nQuestion: Q2\nAnswer:',
  );
  const cot = gsm8kPrompt('What is 2+2?', 'cot-8shot');
  assert.equal(COT_EXEMPLARS.length, 8);
  assert.ok(cot.startsWith('Q: There are 15 trees in the grove.'));
  assert.ok(cot.includes('The answer is 6.\n\nQ: If there are 3 cars'));
  assert.ok(cot.endsWith('23 - 15 is 8. The answer is 8.\n\nQ: What is 2+2?\nA:'));
  assert.equal(cot.split('\nA: ').length, 9);
  // Every exemplar is scored correct by its own extraction and shows a computation.
  for (const e of COT_EXEMPLARS) assert.ok(hasChainOfThought(e.target), e.target);
});

test('strict and flexible extraction match the harness regexes', () => {
  assert.equal(extractStrict('3 + 4 = 7. The answer is 7.'), '7');
  assert.equal(extractStrict('so #### 1,234\nmore'), '1,234');
  // The greedy group takes the period and the pattern's final "." takes the space; normalisation drops it.
  assert.equal(extractStrict('The answer is 5. Later: The answer is 6.'), '5.', 'first match wins');
  // The pattern's final "." must consume a character, so at the very end the group backtracks to "1",
  // exactly as Python's re does with the harness regex.
  assert.equal(extractStrict('The answer is 18'), '1');
  assert.equal(extractStrict('the answer is 18.'), null, 'case-sensitive, as in the harness');
  assert.equal(extractStrict('I think 18.'), null);
  assert.equal(extractFlexible('I think 18.'), '18.');
  assert.equal(extractFlexible('It costs $1,200 in total, so 3 items.'), '3');
  assert.equal(extractFlexible('first 12 then $5.50'), '$5.50');
  assert.equal(extractFlexible('no digits here'), null);
  assert.equal(extractFlexible('x -7'), '-7');
});

test('truncation at stop sequences and token counting', () => {
  assert.equal(truncateAtStop(' 18.\n\nQuestion: next', ['Question:', '</s>']), ' 18.\n\n');
  assert.equal(truncateAtStop('a</s>b<|im_end|>', ['<|im_end|>', '</s>']), 'a');
  assert.equal(truncateAtStop('abc', []), 'abc');
  assert.equal(whitespaceTokenCount('  The answer is 7.\n'), 4);
  assert.equal(whitespaceTokenCount(''), 0);
});

test('chain-of-thought adoption on example responses', () => {
  const positive = [
    'Janet has 16 - 3 - 4 = 9 eggs. She makes 9 * 2 = $18. The answer is 18.',
    'There are 5 x 3 = 15 dollars spent. The answer is 15.',
    '9 + 20 is 29. The answer is 29.',
    '(3 + 4) * 2 = 14\n#### 14',
    'She sells 16-3-4 = <<16-3-4=9>>9 eggs.\n#### 9',
    'He earns 12 times 4 equals 48 dollars.', // no statement: a computation anywhere counts
    '20% of the 50 pupils: 50 * 0.2 = 10. So 10 pupils. The answer is 10.',
    'Half of 30 is 30 / 2 = 15 apples. The answer is 15.',
    'Soda costs 2 - .5 = 1.5 dollars. The answer is 1.5.',
  ];
  const negative = [
    'The answer is 18.',
    '18',
    '#### 42',
    'She makes $18 every day. The answer is 18.', // a restated number, no computation
    'The answer is 18. Because 9 * 2 = 18.', // the computation comes after the answer
    'She has 16 eggs, eats 3 and bakes 4, so 9 are left. The answer is 9.', // verbal, no operator
    'Between 3-4 hours. The answer is 4.', // an operator without a result
    'Page 12, line 3 = the end. The answer is 3.', // "=" without arithmetic
  ];
  for (const response of positive) assert.equal(hasChainOfThought(response), true, response);
  for (const response of negative) assert.equal(hasChainOfThought(response), false, response);
});

test('reference solutions of the shared test set score perfectly and mostly show computations', () => {
  const items = loadGsm8k(SHARED_TEST).slice(0, 200);
  const scores = items.map((item) => scoreGsm8kResponse(item.index, item.answer, item.gold));
  const summary = summarizeGsm8k(scores);
  assert.equal(summary.strict_accuracy, 1);
  assert.equal(summary.flexible_accuracy, 1);
  assert.ok(summary.cot_rate > 0.95, `cot_rate ${summary.cot_rate}`);
});

test('scoreGsm8kResponses: accuracy, CoT split, tokens, and index errors', () => {
  const gsm8k = writeLines('items.jsonl', ITEMS);
  const responses = writeLines('responses.jsonl', [
    { index: 1, response: ' 1200 * 2 = 2400. The answer is 2,400.\n\nQ: next question 7' },
    { index: 0, response: ' The answer is 12.' },
    { index: 2, response: ' I am not sure, maybe 10' },
  ]);
  const { summary, items } = scoreGsm8kResponses(gsm8k, responses);
  assert.deepEqual(
    items.map((s) => [s.index, s.strict, s.flexible, s.strict_correct, s.flexible_correct, s.cot]),
    [
      [1, '2,400', '7', true, false, true],
      [0, '12', '12.', false, false, false],
      [2, null, '10', false, true, false],
    ],
  );
  assert.equal(summary.n, 3);
  assert.equal(summary.strict_accuracy, 1 / 3);
  assert.equal(summary.flexible_accuracy, 1 / 3);
  assert.equal(summary.cot_rate, 1 / 3);
  assert.equal(summary.strict_accuracy_cot, 1);
  assert.equal(summary.strict_accuracy_no_cot, 0);
  assert.equal(summary.flexible_accuracy_no_cot, 0.5);
  assert.equal(summary.mean_tokens, (13 + 4 + 6) / 3);

  // Cutting at the cot stop sequences removes the runaway "Q:" so flexible now reads 2,400.
  const cut = scoreGsm8kResponses(gsm8k, responses, { stopSequences: ['Q:'], countTokens: (t) => t.length });
  assert.equal(cut.items[0]!.flexible, '2,400.');
  assert.equal(cut.items[0]!.flexible_correct, true);
  assert.equal(cut.items[1]!.tokens, ' The answer is 12.'.length);

  const outOfRange = writeLines('oor.jsonl', [
    { index: 0, response: 'a' },
    { index: 3, response: 'b' },
  ]);
  assert.throws(
    () => scoreGsm8kResponses(gsm8k, outOfRange),
    new RegExp(`${outOfRange}:2: index 3 is not a question line`),
  );
  const duplicate = writeLines('dup.jsonl', [
    { index: 0, response: 'a' },
    { index: 0, response: 'b' },
  ]);
  assert.throws(
    () => scoreGsm8kResponses(gsm8k, duplicate),
    new RegExp(`${duplicate}:2: duplicate index 0 \\(first at line 1\\)`),
  );
  const badIndex = writeLines('bad-index.jsonl', [{ index: 1.5, response: 'a' }]);
  assert.throws(
    () => scoreGsm8kResponses(gsm8k, badIndex),
    /bad-index\.jsonl:1: "index" must be a non-negative integer/,
  );
  const empty = writeLines('empty.jsonl', []);
  assert.throws(() => scoreGsm8kResponses(gsm8k, empty), /no responses/);
});
