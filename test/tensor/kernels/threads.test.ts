import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runInFreshProcess } from '../../helpers/fresh-process.ts';

// The thread count is read once at import, so each case runs in a fresh process.
function threadsWith(value: string) {
  const script =
    "import { getNumThreads } from './src/tensor/kernels/onnx.ts'; console.log(getNumThreads());";
  return runInFreshProcess(script, { RLCP_NUM_THREADS: value });
}

test('RLCP_NUM_THREADS sets the native kernels thread count', () => {
  const result = threadsWith('1');
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout, '1');
});

test('a malformed RLCP_NUM_THREADS is refused by name', () => {
  const result = threadsWith('two');
  assert.notEqual(result.status, 0);
  assert.match(result.stderr, /RLCP_NUM_THREADS must be a positive integer, got "two"/);
});
