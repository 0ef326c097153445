// bin/rlcp.js re-runs itself once with glibc malloc tuned (Linux): the child must get the tuning (keeping
// values the user set), and signals to the launcher must not leave the child running.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/temp-dir.ts';

const linux = process.platform === 'linux';

function childOf(pid: number): number | null {
  const result = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
  const first = result.stdout.trim().split('\n')[0];
  return first ? Number(first) : null;
}

function environOf(pid: number): Map<string, string> {
  const entries = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
  return new Map(entries.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('the launcher passes on the exit status of the command', () => {
  const unknown = spawnSync(process.execPath, ['bin/rlcp.js', 'no-such-command'], { encoding: 'utf8' });
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /no-such-command/);
});

test(
  'the CLI runs with malloc tuned, keeps user values, and SIGTERM stops it whole',
  { skip: !linux },
  async () => {
    const dir = tempDir('rlcp-launcher-');
    const config = join(dir, 'small.json');
    writeFileSync(
      config,
      JSON.stringify({ countries: 16, logic: { train: 20, test: 5 }, rag: { train: 20 } }),
    );
    const world = join(dir, 'world');
    const made = spawnSync(process.execPath, [
      'bin/rlcp.js',
      'world',
      '--seed',
      '2',
      '--out',
      world,
      '--config',
      config,
    ]);
    assert.equal(made.status, 0, String(made.stderr));

    const env: NodeJS.ProcessEnv = { ...process.env, MALLOC_TRIM_THRESHOLD_: '12345' };
    delete env.RLCP_MALLOC_TUNED;
    delete env.MALLOC_MMAP_THRESHOLD_;
    const out = join(dir, 'run');
    const launcher = spawn(
      process.execPath,
      ['bin/rlcp.js', 'pretrain', '--world', world, '--out', out, '--steps', '1000000', '--batch', '2'],
      { env, stdio: 'ignore' },
    );
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      launcher.on('exit', (_, signal) => resolve(signal)),
    );
    let child: number | null = null;
    for (let i = 0; i < 100 && !(child && existsSync(join(out, 'train_config.json'))); i++) {
      await sleep(100);
      child = childOf(launcher.pid!);
    }
    assert.ok(child, 'the launcher started no child process');
    const childEnv = environOf(child);
    assert.equal(childEnv.get('MALLOC_MMAP_THRESHOLD_'), String(32 * 1024 * 1024));
    assert.equal(childEnv.get('MALLOC_TRIM_THRESHOLD_'), '12345');

    launcher.kill('SIGTERM');
    assert.equal(await exited, 'SIGTERM');
    for (let i = 0; i < 50 && existsSync(`/proc/${child}`); i++) await sleep(100);
    assert.equal(existsSync(`/proc/${child}`), false, 'the child outlived the launcher');
  },
);
