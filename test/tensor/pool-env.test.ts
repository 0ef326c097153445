import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runInFreshProcess } from '../helpers/fresh-process.ts';

// The pool's limit is read once at import, so each case runs in a fresh process: it releases eight
// 1 MiB buffers and prints the idle bytes the pool kept.
function idleBytesWith(value: string) {
  const script = [
    "import { allocUninit, poolStats, release } from './src/tensor/pool.ts';",
    'const buffers = Array.from({ length: 8 }, () => allocUninit(262144));',
    'for (const b of buffers) release(b);',
    'console.log(poolStats().idleBytes);',
  ].join('\n');
  return runInFreshProcess(script, { RLCP_POOL_MIB: value });
}

test('RLCP_POOL_MIB caps the idle memory the buffer pool keeps', () => {
  const capped = idleBytesWith('2');
  assert.equal(capped.status, 0, capped.stderr);
  assert.equal(Number(capped.stdout), 2 * 1024 ** 2);
  const uncapped = idleBytesWith('');
  assert.equal(uncapped.status, 0, uncapped.stderr);
  assert.equal(Number(uncapped.stdout), 8 * 1024 ** 2);
});

test('a malformed RLCP_POOL_MIB is refused by name', () => {
  const result = idleBytesWith('lots');
  assert.notEqual(result.status, 0);
  assert.match(result.stderr, /RLCP_POOL_MIB must be a whole number of MiB \(0 or more\), got "lots"/);
});
