// Subcommands of the engine area (see src/cli/commands.ts).
import { registerCommand } from '../main.ts';

registerCommand('bench', async () => {
  const { runBench, BENCH_USAGE } = await import('../../../bench/run.ts');
  return {
    summary: 'benchmark rlcp against PyTorch: training step, SGEMM, Qwen2.5-0.5B inference',
    usage: BENCH_USAGE,
    flags: ['json', 'profile', 'profile-only', 'skip-inference', 'skip-train'],
    run: (args) => runBench(args),
  };
});
