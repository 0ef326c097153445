// Settings read once at import (RLCP_NUM_THREADS, RLCP_POOL_MIB) are tested in a fresh Node process.
import { spawnSync } from 'node:child_process';

/** Runs an ES module snippet (imports relative to the repository root) with extra environment variables. */
export function runInFreshProcess(
  script: string,
  env: Record<string, string>,
): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  return { status: result.status, stdout: result.stdout.trim(), stderr: result.stderr };
}
