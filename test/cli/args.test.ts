import { test } from 'node:test';
import assert from 'node:assert/strict';
import { optFlag, optString, parseArgs } from '../../src/cli/args.ts';

test('options take the next word as their value; repeated keys collect', () => {
  const args = parseArgs(['--model', 'm', 'q1', '--set', 'a=1', '--set=b=2', 'q2']);
  assert.deepEqual(args.positional, ['q1', 'q2']);
  assert.equal(optString(args, 'model'), 'm');
  assert.deepEqual(args.options.get('set'), ['a=1', 'b=2']);
});

test('a declared boolean flag never swallows the positional after it', () => {
  const args = parseArgs(['--json', 'What country is Velora in?', '--k', '3'], ['json']);
  assert.deepEqual(args.positional, ['What country is Velora in?']);
  assert.equal(optFlag(args, 'json'), true);
  assert.equal(optString(args, 'k'), '3');
  assert.equal(optFlag(parseArgs(['--json=false'], ['json']), 'json'), false);
});

test('an undeclared option before a positional takes it as its value', () => {
  const args = parseArgs(['--json', 'question']);
  assert.deepEqual(args.positional, []);
  assert.equal(optString(args, 'json'), 'question');
});
