// `rlcp worker`: trains the runs of sweeps queued with `rlcp sweep --queue` (src/unlearn/queue.ts).
import { registerCommand } from '../main.ts';
import { optFlag, optNumber, requireString } from '../args.ts';

registerCommand('worker', async () => ({
  summary:
    'train the runs of sweeps queued with `rlcp sweep --queue` (on any machine that reaches the sweep folder)',
  usage:
    'rlcp worker --queue redis://HOST:PORT/DB [--concurrency 1] [--lock-seconds 30] [--drain]\n' +
    '  Takes runs off the queue and trains them into their sweep folder (which must be at the same path on\n' +
    '  every worker: a shared file system), each resumed from its last checkpoint if it was interrupted.\n' +
    '  --lock-seconds: how soon a run whose worker died goes to another worker (it resumes from its last\n' +
    '  checkpoint). --drain: exit once no run is waiting or active. RLCP_NUM_THREADS sets the threads per run.',
  flags: ['drain'],
  async run(args) {
    const { runWorker } = await import('../../unlearn/queue.ts');
    await runWorker({
      url: requireString(args, 'queue'),
      concurrency: optNumber(args, 'concurrency', 1),
      lockSeconds: optNumber(args, 'lock-seconds', 30),
      drain: optFlag(args, 'drain'),
    });
  },
}));
