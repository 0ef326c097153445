import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validatePretrainLine } from '../../src/data/schema.ts';

test('pretraining lines: text lines, and RAG lines whose untrained prompt is the context only', () => {
  assert.deepEqual(validatePretrainLine({ source: 'logic', text: 'Q: a\nA: b' }), {
    source: 'logic',
    text: 'Q: a\nA: b',
  });
  const rag = { source: 'rag', prompt: 'Context: X is in Y.\n', completion: 'Q: Where is X?\nA: Y' };
  assert.deepEqual(validatePretrainLine(rag), rag);
});

test('malformed pretraining lines are refused with the reason', () => {
  const bad: [unknown, RegExp][] = [
    [
      { source: 'fact', prompt: 'Q: a\nA:', completion: ' b' },
      /"fact" pretraining line must be a "text" line/,
    ],
    [{ source: 'rag', prompt: 'Context: X.\nQ: a\nA:', completion: ' b' }, /must be one "Context: …" line/],
    [{ source: 'rag', prompt: 'Context: X.\n', completion: 'Where is X? Y' }, /must be "Q: …\\nA: answer"/],
    [{ source: 'rag', prompt: 'Context: X.\n', completion: 'Q: a\nA:b' }, /must start with a space/],
    [{ source: 'nope', text: 'x' }, /source/],
    [{ source: 'logic', text: 'x', prompt: 'y' }, /either "text" or "prompt" \+ "completion"/],
  ];
  for (const [line, message] of bad) assert.throws(() => validatePretrainLine(line), message);
});
