// bin/rlcp.js, the `rlcp` command: its exit status is the command's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

test('the launcher passes on the exit status of the command', () => {
  const unknown = spawnSync(process.execPath, ['bin/rlcp.js', 'no-such-command'], { encoding: 'utf8' });
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /no-such-command/);
  const help = spawnSync(process.execPath, ['bin/rlcp.js', '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0, help.stderr);
});
