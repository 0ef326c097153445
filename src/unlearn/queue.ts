// Queued sweeps: `rlcp sweep --queue URL` puts every run of a sweep on a BullMQ queue in Redis and
// `rlcp worker --queue URL`, on any machine, takes runs off it and trains them into the sweep folder, which
// every worker must reach at the same path (a shared file system). A job's id is derived from the sweep
// folder and the run's name, so re-submitting a sweep adds nothing. A worker trains its runs in threads of
// their own (one per slot of --concurrency, started with the worker and kept between runs): the main
// thread's event loop stays free to renew the job's lock while the (synchronous) trainer runs, and a
// SIGKILL takes the thread with it. A killed worker's job is then found stalled once its lock has expired
// and goes to another worker, which resumes the run from its last checkpoint.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Worker as Thread } from 'node:worker_threads';
import {
  createIORedisClient,
  Queue,
  RedisConnection,
  WaitingError,
  Worker,
  type ConnectionOptions,
  type Job,
} from 'bullmq';
import { Redis } from 'ioredis';
import { writeJsonAtomic } from '../io/atomic.ts';
import { readJson } from '../io/jsonl.ts';
import { barCells } from '../cli/progress.ts';
import type { UnlearnConfig } from './config.ts';
import type { TrainingReply } from './queue-thread.ts';
import { runFinished, type DataSpec } from './run.ts';
import { sweepResult, sweepRunState, writeSweepSummary, type SweepPlan } from './sweep.ts';

// BullMQ loads ioredis with require(), which this ES module has not: hand it the client to build.
RedisConnection.clientFactory = (options) => createIORedisClient(new Redis(options));

/** One queue for every sweep: a worker serves whichever sweep has runs waiting. */
export const QUEUE_NAME = 'rlcp-sweep';
/** How long a command waits for Redis before it gives up, naming the URL. */
export const CONNECT_TIMEOUT_MS = 5000;
/**
 * Times a run may lose its worker (killed machine, Redis out of reach past the lock) before it is failed:
 * a run that keeps killing its worker, e.g. out of memory, ends failed instead of cycling forever.
 */
export const MAX_STALLS = 5;

/** What a worker needs to train one run; every path absolute, as workers run in other folders. */
export interface SweepJobData {
  sweepDir: string;
  run: string;
  model: string;
  data: DataSpec;
  config: UnlearnConfig;
}

/** SWEEP/queue.json: the sweep's runs and their jobs, so the worker ending the last one writes sweep.json. */
interface QueueManifest {
  format: 'rlcp-sweep-queue';
  version: 1;
  sweep: string;
  model: string;
  data: DataSpec;
  runs: { name: string; settings: Record<string, unknown>; jobId: string }[];
}

/** The URL without its password, for messages. */
function shownUrl(url: string): string {
  return url.replace(/\/\/([^/@]*):[^/@]*@/, '//$1:***@');
}

export function redisConnection(url: string): ConnectionOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`--queue ${shownUrl(url)}: not a URL (expected redis://HOST:PORT/DB)`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:')
    throw new Error(`--queue ${shownUrl(url)}: expected redis://HOST:PORT/DB (or rediss:// for TLS)`);
  const dbText = parsed.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0)
    throw new Error(`--queue ${shownUrl(url)}: the database "${dbText}" is not a non-negative integer`);
  return {
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
    port: parsed.port === '' ? 6379 : Number(parsed.port),
    db,
    ...(parsed.username !== '' ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password !== '' ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
    // Commands wait through a reconnect instead of failing: a worker outlives Redis going away.
    maxRetriesPerRequest: null,
  };
}

/**
 * The queue on `url`, once Redis has answered a ping; else an error naming the URL within
 * CONNECT_TIMEOUT_MS. (A BullMQ queue keeps reconnecting to an unreachable server and cannot be closed
 * before it has connected, so a client that tries once asks first.)
 */
async function openQueue(url: string): Promise<Queue> {
  const connection = redisConnection(url);
  const probe = new Redis({
    ...(connection as object),
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  let socketError = '';
  probe.on('error', (error: Error) => (socketError = error.message));
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe.connect().then(() => probe.ping()),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('no answer')), CONNECT_TIMEOUT_MS);
      }),
    ]);
  } catch (error) {
    const why = socketError || (error instanceof Error ? error.message : String(error));
    throw new Error(`cannot reach Redis at ${shownUrl(url)} within ${CONNECT_TIMEOUT_MS / 1000} s (${why})`);
  } finally {
    clearTimeout(timer);
    probe.disconnect();
  }
  const queue = new Queue(QUEUE_NAME, { connection });
  await queue.waitUntilReady();
  return queue;
}

export function jobIdOf(sweepDir: string, run: string): string {
  return createHash('sha256')
    .update(`${resolve(sweepDir)}\n${run}`)
    .digest('hex')
    .slice(0, 32);
}

function absoluteData(data: DataSpec): DataSpec {
  if ('world' in data) return { world: resolve(data.world) };
  return {
    forget: resolve(data.forget),
    retain: resolve(data.retain),
    logic: resolve(data.logic),
    ...(data.rag !== undefined ? { rag: resolve(data.rag) } : {}),
  };
}

export interface EnqueueOutcome {
  added: number;
  alreadyQueued: number;
  /** Failed runs of an earlier submission, put back on the queue. */
  retried: number;
}

/**
 * Puts every run of a validated sweep plan on the queue (a run already there is left as it is, a failed
 * one is retried) and writes SWEEP/queue.json.
 */
export async function enqueueSweep(options: {
  plan: SweepPlan;
  url: string;
  /** Tries per run: a run that throws is retried until it has failed this many times. */
  attempts: number;
}): Promise<EnqueueOutcome> {
  const { plan, attempts } = options;
  if (!Number.isInteger(attempts) || attempts < 1)
    throw new Error(`--attempts must be a positive integer, got ${attempts}`);
  const sweepDir = resolve(plan.out);
  const manifest: QueueManifest = {
    format: 'rlcp-sweep-queue',
    version: 1,
    sweep: resolve(plan.sweepPath),
    model: resolve(plan.model),
    data: absoluteData(plan.data),
    runs: plan.runs.map((run) => ({
      name: run.name,
      settings: run.settings,
      jobId: jobIdOf(sweepDir, run.name),
    })),
  };
  const manifestPath = join(sweepDir, 'queue.json');
  if (existsSync(manifestPath)) {
    const names = (runs: { name: string }[]) => JSON.stringify(runs.map((r) => r.name));
    if (names(readJson<QueueManifest>(manifestPath).runs) !== names(manifest.runs))
      throw new Error(
        `${manifestPath}: this folder holds a queued sweep of other runs; choose another --out`,
      );
  }
  const queue = await openQueue(options.url);
  try {
    // Written before the jobs exist, so that whichever worker ends the last run finds it.
    writeJsonAtomic(manifestPath, manifest);
    const outcome: EnqueueOutcome = { added: 0, alreadyQueued: 0, retried: 0 };
    for (const [i, run] of plan.runs.entries()) {
      const jobId = manifest.runs[i]!.jobId;
      const existing = await queue.getJob(jobId);
      if (existing) {
        if ((await existing.getState()) === 'failed') {
          await existing.retry('failed');
          outcome.retried++;
        } else outcome.alreadyQueued++;
        continue;
      }
      const data: SweepJobData = {
        sweepDir,
        run: run.name,
        model: manifest.model,
        data: manifest.data,
        config: run.config,
      };
      // A job id that exists already makes add() a no-op, so two submissions at once add one job.
      await queue.add(run.name, data, { jobId, attempts, removeOnComplete: false, removeOnFail: false });
      outcome.added++;
    }
    await writeSummaryIfEnded(queue, sweepDir);
    return outcome;
  } finally {
    await queue.close();
  }
}

/** Writes SWEEP/sweep.json when every run of the sweep has completed or failed; true when it did. */
async function writeSummaryIfEnded(queue: Queue, sweepDir: string): Promise<boolean> {
  const manifestPath = join(sweepDir, 'queue.json');
  if (!existsSync(manifestPath)) return false;
  const manifest = readJson<QueueManifest>(manifestPath);
  const jobs = await Promise.all(manifest.runs.map((run) => queue.getJob(run.jobId)));
  const states = await Promise.all(jobs.map((job) => job?.getState() ?? 'missing'));
  if (!states.every((state) => state === 'completed' || state === 'failed')) return false;
  const results = manifest.runs.map((run, i) =>
    sweepResult(sweepDir, run, states[i] === 'failed' ? jobs[i]!.failedReason : undefined),
  );
  writeSweepSummary(
    { sweepPath: manifest.sweep, model: manifest.model, data: manifest.data, out: sweepDir },
    results,
  );
  return true;
}

/** A thread training a job's run. */
interface TrainingThread {
  thread: Thread;
  /** When the job's lock was last renewed (or the job taken). */
  renewedAt: number;
  /** Set when the worker stopped the thread, as the reason it did. */
  stopped?: string;
}

/**
 * Takes runs off the queue until SIGINT/SIGTERM (or, with `drain`, until the queue holds none waiting or
 * active), `concurrency` at a time. `lockSeconds` is how long a job stays with a worker that stopped
 * answering: after that (and one stalled check) another worker takes it and resumes the run, which has
 * then lost at most its last checkpoint interval of training.
 */
export async function runWorker(options: {
  url: string;
  concurrency: number;
  lockSeconds: number;
  drain?: boolean;
  log?: (line: string) => void;
}): Promise<void> {
  const log = options.log ?? ((line: string) => console.error(line));
  const { concurrency, lockSeconds } = options;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new Error(`--concurrency must be a positive integer, got ${concurrency}`);
  if (!(lockSeconds > 0)) throw new Error(`--lock-seconds must be positive, got ${lockSeconds}`);
  const lockDuration = Math.round(lockSeconds * 1000);
  const queue = await openQueue(options.url);
  const threads = new Map<string, TrainingThread>();
  const stop = (jobId: string, reason: string) => {
    const running = threads.get(jobId);
    if (!running || running.stopped) return;
    running.stopped = reason;
    void running.thread.terminate();
  };

  // Threads whose last run ended well, kept for the next run: a thread's start (its modules, their
  // compiled code, the onnxruntime sessions) is paid once per slot, as the in-process sweep pays it once.
  // One per slot is started with the worker, so that its modules load while the worker waits for a job
  // rather than in the job's time.
  const idle = new Set<Thread>();
  const startThread = (): Thread => {
    // Threads do not inherit the tsx loader the rlcp command registered; the bootstrap registers it.
    const tsx = import.meta.resolve('tsx/esm/api');
    const entry = new URL('./queue-thread.ts', import.meta.url).href;
    const bootstrap = `import { register } from ${JSON.stringify(tsx)}; register(); await import(${JSON.stringify(entry)});`;
    const thread = new Thread(bootstrap, { eval: true });
    thread.on('error', (error) => {
      if (idle.has(thread)) log(`worker: an idle training thread failed: ${error.message}`);
    });
    thread.once('exit', () => idle.delete(thread));
    return thread;
  };
  for (let slot = 0; slot < concurrency; slot++) idle.add(startThread());

  const processJob = async (job: Job<SweepJobData>, token?: string): Promise<void> => {
    const { sweepDir, run } = job.data;
    const dir = join(sweepDir, run);
    const tag = `worker: ${run}`;
    // A job can come back after its run finished (its worker died before reporting): never train twice.
    const waited = ((job.processedOn ?? Date.now()) - job.timestamp) / 1000;
    if (runFinished(dir)) {
      log(`${tag}: already finished, not trained again (queued ${waited.toFixed(2)} s)`);
      return;
    }
    const resuming = sweepRunState(dir) === 'interrupted';
    log(
      `${tag}: ${resuming ? 'resuming' : 'starting'} (attempt ${job.attemptsMade + 1}, queued ${waited.toFixed(2)} s)`,
    );
    const started = Date.now();
    const thread = idle.values().next().value ?? startThread();
    idle.delete(thread);
    const stopped = await new Promise<string | undefined>((resolveRun, rejectRun) => {
      const running: TrainingThread = { thread, renewedAt: Date.now() };
      threads.set(job.id!, running);
      let failure: Error | undefined;
      const onError = (error: Error) => (failure = error);
      const onExit = (code: number) => {
        settle();
        if (running.stopped) resolveRun(running.stopped);
        else rejectRun(failure ?? new Error(`training ${run} exited with code ${code} before the run ended`));
      };
      const onMessage = (reply: TrainingReply) => {
        if (running.stopped) return; // being terminated: its exit settles the job
        settle();
        if (reply.ok) {
          idle.add(thread);
          resolveRun(undefined);
          return;
        }
        // A thread whose run threw is not trusted with another.
        void thread.terminate();
        rejectRun(Object.assign(new Error(reply.message), { stack: reply.stack }));
      };
      const settle = () => {
        threads.delete(job.id!);
        thread.off('message', onMessage).off('error', onError).off('exit', onExit);
      };
      thread.on('message', onMessage).on('error', onError).on('exit', onExit);
      thread.postMessage(job.data);
    });
    if (stopped !== undefined) {
      // Not a failure of the run: it goes back to the queue (or already went, if another worker has it)
      // and is resumed from its last checkpoint; no attempt is used up.
      log(`${tag}: stopped (${stopped}); back to the queue`);
      await job.moveToWait(token).catch(() => undefined);
      throw new WaitingError();
    }
    log(`${tag}: finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  };

  const worker = new Worker<SweepJobData>(QUEUE_NAME, processJob, {
    connection: redisConnection(options.url),
    concurrency,
    lockDuration,
    // Renewed several times per lock period, so a slow round trip or two cannot let the lock run out.
    lockRenewTime: lockDuration / 4,
    stalledInterval: lockDuration,
    maxStalledCount: MAX_STALLS,
  });
  worker.on('locksRenewed', ({ jobIds }) => {
    for (const id of jobIds) {
      const running = threads.get(id);
      if (running) running.renewedAt = Date.now();
    }
  });
  // Another worker may own the job now: two trainings must never write one run folder.
  worker.on('lockRenewalFailed', (jobIds) => {
    for (const id of jobIds) stop(id, 'its job lock was lost to another worker');
  });
  // With Redis out of reach no renewal fails, it just never comes back: stop before the lock expires.
  const fence = setInterval(() => {
    const now = Date.now();
    for (const [id, running] of threads) {
      if (now - running.renewedAt > 0.75 * lockDuration)
        stop(
          id,
          `no lock renewal for ${((now - running.renewedAt) / 1000).toFixed(1)} s (Redis out of reach?)`,
        );
    }
  }, lockDuration / 8);
  let lastError = '';
  worker.on('error', (error) => {
    // While Redis is away ioredis reconnects by itself and reports every try: say each new error once.
    if (error.message !== lastError) log(`worker: ${error.message}`);
    lastError = error.message;
  });
  worker.on('ready', () => {
    if (lastError !== '') log('worker: connected to Redis again');
    lastError = '';
  });
  // Summaries being written, which the worker finishes before it closes.
  const summaries = new Set<Promise<void>>();
  const afterJob = (job: Job<SweepJobData> | undefined) => {
    if (!job) return;
    const writing = writeSummaryIfEnded(queue, job.data.sweepDir)
      .then((wrote) => {
        if (wrote) log(`worker: every run of ${job.data.sweepDir} ended; wrote its sweep.json`);
      })
      .catch((error: Error) => log(`worker: writing ${job.data.sweepDir}/sweep.json: ${error.message}`))
      .finally(() => summaries.delete(writing));
    summaries.add(writing);
  };
  worker.on('completed', afterJob);
  worker.on('failed', (job, error) => {
    log(`worker: ${job?.data.run ?? '?'} failed: ${error.message}`);
    afterJob(job);
  });
  log(
    `worker: taking runs from ${shownUrl(options.url)} (concurrency ${concurrency}, lock ${lockSeconds} s)`,
  );

  await new Promise<void>((done) => {
    // A signal stops the runs and puts them back on the queue; if Redis cannot be told in time, their
    // locks expire and they go back anyway, as after a kill.
    const onSignal = (signal: NodeJS.Signals) => {
      log(`worker: ${signal}; stopping ${threads.size} run(s)`);
      for (const id of threads.keys()) stop(id, `the worker got ${signal}`);
      const grace = new Promise((resolveGrace) => setTimeout(resolveGrace, CONNECT_TIMEOUT_MS).unref());
      void Promise.race([worker.close(), grace]).finally(() => process.exit(130));
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    if (options.drain) {
      const poll = setInterval(async () => {
        if (threads.size > 0 || summaries.size > 0) return;
        const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
        if (Object.values(counts).every((n) => n === 0)) {
          clearInterval(poll);
          done();
        }
      }, 1000);
    }
  });
  clearInterval(fence);
  await worker.close();
  await Promise.all([...idle].map((thread) => thread.terminate()));
  await Promise.all(summaries);
  await queue.close();
}

export interface SweepStatus {
  sweepDir: string;
  total: number;
  waiting: string[];
  active: { run: string; step: number | null; steps: number }[];
  done: string[];
  failed: { run: string; error: string }[];
}

/** The state of every queued sweep (or of the one in `sweepDir`). */
export async function queueStatus(options: { url: string; sweepDir?: string }): Promise<SweepStatus[]> {
  const queue = await openQueue(options.url);
  try {
    const only = options.sweepDir === undefined ? undefined : resolve(options.sweepDir);
    const sweeps = new Map<string, SweepStatus>();
    const of = (job: Job<SweepJobData>): SweepStatus | undefined => {
      const dir = job.data.sweepDir;
      if (only !== undefined && dir !== only) return undefined;
      let status = sweeps.get(dir);
      if (!status) {
        status = { sweepDir: dir, total: 0, waiting: [], active: [], done: [], failed: [] };
        sweeps.set(dir, status);
      }
      status.total++;
      return status;
    };
    for (const job of await queue.getJobs(['waiting', 'delayed', 'prioritized']))
      of(job)?.waiting.push(job.data.run);
    for (const job of await queue.getJobs('active')) {
      const latest = join(job.data.sweepDir, job.data.run, 'checkpoints', 'latest.json');
      const step = existsSync(latest) ? readJson<{ step: number }>(latest).step : null;
      of(job)?.active.push({ run: job.data.run, step, steps: job.data.config.steps });
    }
    for (const job of await queue.getJobs('completed')) of(job)?.done.push(job.data.run);
    for (const job of await queue.getJobs('failed'))
      of(job)?.failed.push({ run: job.data.run, error: job.failedReason });
    return [...sweeps.values()];
  } finally {
    await queue.close();
  }
}

export function formatQueueStatus(statuses: SweepStatus[]): string[] {
  if (statuses.length === 0) return ['no queued sweep'];
  const lines: string[] = [];
  for (const s of statuses) {
    const ended = s.done.length + s.failed.length;
    lines.push(
      `${s.sweepDir} ${barCells(s.total > 0 ? ended / s.total : 1)} ${ended}/${s.total} | ` +
        `waiting ${s.waiting.length} | active ${s.active.length} | done ${s.done.length} | failed ${s.failed.length}`,
    );
    for (const a of s.active)
      lines.push(`  active  ${a.run} (checkpoint step ${a.step ?? '-'} of ${a.steps})`);
    for (const f of s.failed) lines.push(`  failed  ${f.run}: ${f.error}`);
  }
  return lines;
}
