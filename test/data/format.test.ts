import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  answersMatch,
  closedBookPrompt,
  extractAnswer,
  normalizeAnswer,
  ragPrompt,
} from '../../src/data/format.ts';

test('prompts follow the documented layout', () => {
  assert.equal(closedBookPrompt('What country is Velora in?'), 'Q: What country is Velora in?\nA:');
  assert.equal(
    ragPrompt(['A is in B.', 'C is in D.'], 'Where is A?'),
    'Context: A is in B. C is in D.\nQ: Where is A?\nA:',
  );
});

test('answers are normalised and extracted', () => {
  assert.equal(normalizeAnswer(' $1,234. '), '1234');
  assert.equal(extractAnswer(' 3 + 4 = 7. The answer is 7.'), '7');
  assert.equal(extractAnswer(' Marvania\nQ: next'), 'marvania');
  assert.ok(answersMatch(' The answer is 14.', '14'));
  assert.ok(!answersMatch(' The answer is 15.', '14'));
});
