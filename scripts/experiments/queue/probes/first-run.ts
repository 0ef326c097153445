// Probe: the same run trained twice in one thread (the first run vs the second), in the main thread or
// in a worker thread started as `rlcp worker` starts its training thread. Prints when the trainer's
// modules were imported and each run's wall time, from the process's start.
// Usage: first-run.sh, which runs it as `node --import tsx first-run.ts main|thread OUT`.
import { isMainThread, parentPort, Worker as Thread, workerData } from 'node:worker_threads';
import { join, resolve } from 'node:path';
import { rmSync } from 'node:fs';

const since = () =>
  ((performance.timeOrigin + performance.now() - Number(process.env.PROBE_T0)) / 1000).toFixed(2);
const say = (line: string) => (parentPort ? parentPort.postMessage(line) : console.log(line));

async function train(out: string) {
  say(`${since()} s: importing the trainer (${isMainThread ? 'main thread' : 'worker thread'})`);
  const { trainSweepRun, planSweep } = await import('../../../../src/unlearn/sweep.ts');
  say(`${since()} s: imported`);
  const plan = planSweep({
    sweepPath: 'scripts/experiments/queue/sweep.json',
    model: resolve('models/world-base'),
    data: { world: resolve('models/world-base/world') },
    out,
  });
  const run = plan.runs.find((r) => r.name === 'lambda=0.5_seed=0')!;
  for (const copy of ['first', 'second']) {
    const dir = join(out, copy);
    rmSync(dir, { recursive: true, force: true });
    const t = performance.now();
    await trainSweepRun({ dir, model: plan.model, data: plan.data, config: run.config });
    say(`${since()} s: ${copy} run ${((performance.now() - t) / 1000).toFixed(2)} s`);
  }
}

const mode = isMainThread ? process.argv[2] : 'in-thread';
const out = resolve(isMainThread ? process.argv[3]! : (workerData as string));
if (mode === 'main') await train(out);
else if (mode === 'thread') {
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = import.meta.url;
  const bootstrap = `import { register } from ${JSON.stringify(tsx)}; register(); await import(${JSON.stringify(entry)});`;
  say(`${since()} s: starting the thread`);
  const thread = new Thread(bootstrap, { eval: true, workerData: out });
  thread.on('message', (line: string) => console.log(line));
  await new Promise((done) => thread.once('exit', done));
} else await train(out);
