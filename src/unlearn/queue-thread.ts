// The thread in which a queue worker trains one run (see queue.ts): it gets the job's data and exits when
// the run is done; an error it throws reaches the worker as the job's failure.
import { workerData } from 'node:worker_threads';
import { join } from 'node:path';
import type { SweepJobData } from './queue.ts';
import { trainSweepRun } from './sweep.ts';

const job = workerData as SweepJobData;
await trainSweepRun({
  dir: join(job.sweepDir, job.run),
  model: job.model,
  data: job.data,
  config: job.config,
});
