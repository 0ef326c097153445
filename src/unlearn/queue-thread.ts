// The thread in which a queue worker trains its runs (see queue.ts): started with the worker, it loads the
// trainer's modules before the first job, and stays up between runs, so a worker pays the thread's start
// (modules, compiled code, onnxruntime sessions) once, not per run, as the in-process sweep does. Each
// message is a job's data; the thread answers when the run is done, with the error's message and stack if
// it threw.
import { parentPort } from 'node:worker_threads';
import { join } from 'node:path';
import type { SweepJobData } from './queue.ts';
import { trainSweepRun } from './sweep.ts';

/** The thread's answer to one job. */
export type TrainingReply = { ok: true } | { ok: false; message: string; stack?: string };

parentPort!.on('message', async (job: SweepJobData) => {
  let reply: TrainingReply;
  try {
    await trainSweepRun({
      dir: join(job.sweepDir, job.run),
      model: job.model,
      data: job.data,
      config: job.config,
    });
    reply = { ok: true };
  } catch (error) {
    reply =
      error instanceof Error
        ? { ok: false, message: error.message, stack: error.stack }
        : { ok: false, message: String(error) };
  }
  parentPort!.postMessage(reply);
});
