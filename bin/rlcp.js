#!/usr/bin/env node
// Entry point for the `rlcp` command: registers the TypeScript loader, then runs the CLI.
//
// On Linux it first re-runs itself once with glibc malloc tuned. onnxruntime-node copies every kernel
// output into a fresh ArrayBuffer; with glibc's default (dynamic) thresholds those buffers keep coming
// from newly mapped pages, and the page faults made a training step of the world model 1.5–2× slower
// (measured: `bench/README.md`, "malloc"). Values already in the environment are kept.
import { spawn } from 'node:child_process';

const MALLOC_TUNING = {
  // Below 32 MiB (glibc's maximum for this setting) allocations come from the heap, not fresh mmaps…
  MALLOC_MMAP_THRESHOLD_: String(32 * 1024 * 1024),
  // …and up to 64 MiB freed at the heap's top stays mapped for the next allocation.
  MALLOC_TRIM_THRESHOLD_: String(64 * 1024 * 1024),
};
const TUNED_MARK = 'RLCP_MALLOC_TUNED';

if (process.platform === 'linux' && !process.env[TUNED_MARK]) {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...MALLOC_TUNING, ...process.env, [TUNED_MARK]: '1' },
  });
  // Ctrl-C reaches the child through the terminal's process group; other signals are passed on.
  process.on('SIGINT', () => {});
  for (const signal of ['SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    } else process.exit(code ?? 1);
  });
} else {
  // The TypeScript loader only in the process that runs the CLI, not in the launcher.
  const { register } = await import('tsx/esm/api');
  register();
  const { main } = await import('../src/cli/main.ts');
  process.exitCode = await main(process.argv.slice(2));
}
