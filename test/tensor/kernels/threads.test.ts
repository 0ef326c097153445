import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

// The thread count is read once at import, so each case runs in a fresh process.
function threadsWith(value: string): { status: number | null; stdout: string; stderr: string } {
  const script =
    "import { getNumThreads } from './src/tensor/kernels/onnx.ts'; console.log(getNumThreads());";
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env: { ...process.env, RLCP_NUM_THREADS: value },
    encoding: 'utf8',
  });
  return { status: result.status, stdout: result.stdout.trim(), stderr: result.stderr };
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
