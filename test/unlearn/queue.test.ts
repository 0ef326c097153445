// Queued sweeps against a real redis-server (test/helpers/redis-server.ts): two workers share a sweep, one
// is SIGKILLed mid-run, and the sweep still ends with every run trained once, the killed run's model byte
// for byte the uninterrupted one's, and sweep.json as the in-process sweep writes it.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { redisMissing, startRedis, type RedisServer } from '../helpers/redis-server.ts';
import { tinyFixture } from './helpers.ts';

const fx = await tinyFixture();
let redis: RedisServer | undefined;
before(async () => {
  if (!redisMissing) redis = await startRedis();
});
after(async () => {
  await redis?.stop();
  rmSync(fx.root, { recursive: true, force: true });
});

// One thread per run everywhere: a run's model depends on the thread count (README).
const env = { ...process.env, CI: '1', RLCP_NUM_THREADS: '1' };

function rlcp(...args: string[]) {
  const started = Date.now();
  const r = spawnSync(process.execPath, ['bin/rlcp.js', ...args], { encoding: 'utf8', env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, seconds: (Date.now() - started) / 1000 };
}

interface WorkerProcess {
  child: ChildProcess;
  log: () => string;
  exited: Promise<number | null>;
}

function startWorker(url: string): WorkerProcess {
  const child = spawn(
    process.execPath,
    ['bin/rlcp.js', 'worker', '--queue', url, '--lock-seconds', '2', '--drain'],
    { env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, log: () => log, exited };
}

async function until(what: string, check: () => boolean, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// Long enough that a worker can be killed between two checkpoints of a run.
const small = join(fx.root, 'small.json');
writeFileSync(
  small,
  JSON.stringify({
    steps: 100,
    checkpointEvery: 5,
    fact: { batchSize: 4, probeBatchSize: 4 },
    anchors: { logic: { batchSize: 2 }, retain: { batchSize: 2 }, rag: { batchSize: 2, variants: 1 } },
    eval: { every: 30, retainLimit: 6, ragLimit: 4, logicLimit: 2, klItems: 2 },
  }),
);
const goodRuns = [
  { name: 'ce', 'fact.objective': 'ce' },
  { name: 'uniform', 'fact.objective': 'uniform' },
];
const referenceSweep = join(fx.root, 'reference.json');
writeFileSync(referenceSweep, JSON.stringify({ baseConfig: 'small.json', runs: goodRuns }));
// The third run passes validation but throws once it sees the model (it has hidden states 0..3 only).
const queuedSweep = join(fx.root, 'queued.json');
writeFileSync(
  queuedSweep,
  JSON.stringify({ baseConfig: 'small.json', runs: [...goodRuns, { name: 'bad', 'fact.layers': [40] }] }),
);
const data = ['--model', fx.modelDir, '--world', fx.worldDir];

test('an unreachable Redis URL fails within 10 s naming the URL', () => {
  const url = 'redis://127.0.0.1:9/0';
  const r = rlcp(
    'sweep',
    '--config',
    referenceSweep,
    ...data,
    '--out',
    join(fx.root, 'never'),
    '--queue',
    url,
  );
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot reach Redis at redis:\/\/127\.0\.0\.1:9\/0/);
  assert.ok(r.seconds < 10, `took ${r.seconds} s`);
  const w = rlcp('worker', '--queue', url);
  assert.equal(w.code, 1);
  assert.match(w.stderr, /cannot reach Redis at redis:\/\/127\.0\.0\.1:9\/0/);
});

test(
  'queued sweep: shared by two workers, one SIGKILLed mid-run, ends as the in-process sweep',
  { skip: redisMissing },
  async () => {
    const url = redis!.url;
    const bad = join(fx.root, 'bad-sweep.json');
    writeFileSync(bad, JSON.stringify({ baseConfig: 'small.json', grid: { 'fact.lamda': [1] } }));
    const refused = rlcp('sweep', '--config', bad, ...data, '--out', join(fx.root, 'q'), '--queue', url);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /bad-sweep\.json: .*unknown config key "fact\.lamda"/);
    const empty = rlcp('sweep', '--status', '--queue', url, '--json');
    assert.equal(empty.code, 0, empty.stderr);
    assert.deepEqual(JSON.parse(empty.stdout.trim().split('\n').at(-1)!), [], 'nothing was enqueued');

    const reference = join(fx.root, 'reference');
    const inProcess = rlcp('sweep', '--config', referenceSweep, ...data, '--out', reference);
    assert.equal(inProcess.code, 0, inProcess.stderr);

    const out = join(fx.root, 'q');
    const submit = (...extra: string[]) =>
      rlcp(
        'sweep',
        '--config',
        queuedSweep,
        ...data,
        '--out',
        out,
        '--queue',
        url,
        '--attempts',
        '2',
        '--json',
        ...extra,
      );
    const first = submit();
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(JSON.parse(first.stdout.trim().split('\n').at(-1)!), {
      added: 3,
      alreadyQueued: 0,
      retried: 0,
    });
    const again = submit();
    assert.deepEqual(JSON.parse(again.stdout.trim().split('\n').at(-1)!), {
      added: 0,
      alreadyQueued: 3,
      retried: 0,
    });

    const killed = startWorker(url);
    // The first run the doomed worker starts is killed once it has a checkpoint and before it ends.
    let victim = '';
    await until('the first worker to start a run', () => {
      const started = [...killed.log().matchAll(/worker: (\S+): starting/g)].map((m) => m[1]!);
      victim = started.find((run) => run !== 'bad_layers=40') ?? '';
      return victim !== '';
    });
    const survivor = startWorker(url);
    await until('a checkpoint of the victim run', () =>
      existsSync(join(out, victim, 'checkpoints', 'latest.json')),
    );
    assert.ok(!existsSync(join(out, victim, 'summary.json')), 'the victim run ended before the kill');
    killed.child.kill('SIGKILL');
    await killed.exited;
    const status = rlcp('sweep', '--status', '--queue', url, '--out', out);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /\/3 \| waiting \d \| active \d \| done \d \| failed \d/);

    assert.equal(await survivor.exited, 0, survivor.log());
    const logs = killed.log() + survivor.log();
    assert.match(survivor.log(), new RegExp(`worker: ${victim.replace(/[.=]/g, '\\$&')}: resuming`));
    for (const run of ['ce_objective=ce', 'uniform_objective=uniform']) {
      const finished = logs.split('\n').filter((line) => line.startsWith(`worker: ${run}: finished`));
      assert.equal(finished.length, 1, `${run} finished ${finished.length} times:\n${logs}`);
      assert.ok(
        readFileSync(join(out, run, 'model', 'model.safetensors')).equals(
          readFileSync(join(reference, run, 'model', 'model.safetensors')),
        ),
        `${run}: the queued model differs from the in-process one`,
      );
    }

    type Entry = { name: string; settings: unknown; final: unknown; pareto?: boolean; error?: string };
    const queued = JSON.parse(readFileSync(join(out, 'sweep.json'), 'utf8')) as { runs: Entry[] };
    const local = JSON.parse(readFileSync(join(reference, 'sweep.json'), 'utf8')) as { runs: Entry[] };
    assert.deepEqual(
      queued.runs.map((r) => r.name),
      ['ce_objective=ce', 'uniform_objective=uniform', 'bad_layers=40'],
    );
    for (const [i, r] of local.runs.entries()) {
      const q = queued.runs[i]!;
      assert.deepEqual([q.settings, q.final], [r.settings, r.final], r.name);
    }
    const failed = queued.runs[2]!;
    assert.equal(failed.final, null);
    assert.match(failed.error ?? '', /fact\.layers: hidden state 40 does not exist/);
    assert.equal((logs.match(/bad_layers=40 failed/g) ?? []).length, 2, 'tried twice (--attempts 2)');
    // The Pareto front is marked over the runs that ended with an evaluation, as in-process.
    assert.deepEqual(
      queued.runs.slice(0, 2).map((r) => r.pareto),
      local.runs.map((r) => r.pareto),
    );

    const resubmit = submit();
    assert.deepEqual(JSON.parse(resubmit.stdout.trim().split('\n').at(-1)!), {
      added: 0,
      alreadyQueued: 2,
      retried: 1,
    });
  },
);

test(
  'Redis out of reach mid-run: the worker stops the run, reconnects and resumes it, the model unchanged',
  { skip: redisMissing },
  async () => {
    const url = redis!.url;
    // Long enough that the run is still training when the worker notices it lost touch with Redis.
    const long = join(fx.root, 'long.json');
    writeFileSync(
      long,
      JSON.stringify({ baseConfig: 'small.json', base: { steps: 300 }, runs: [goodRuns[0]] }),
    );
    const run = 'ce_objective=ce';
    const reference = join(fx.root, 'long-reference');
    assert.equal(rlcp('sweep', '--config', long, ...data, '--out', reference).code, 0);
    const out = join(fx.root, 'long-queued');
    const submitted = rlcp('sweep', '--config', long, ...data, '--out', out, '--queue', url);
    assert.equal(submitted.code, 0, submitted.stderr);
    const worker = startWorker(url);
    await until('a checkpoint of the run', () => existsSync(join(out, run, 'checkpoints', 'latest.json')));
    // A stopped server answers nothing, as one across a broken network: longer than the 2 s lock.
    redis!.process.kill('SIGSTOP');
    await new Promise((resolve) => setTimeout(resolve, 3500));
    redis!.process.kill('SIGCONT');
    assert.equal(await worker.exited, 0, worker.log());
    const log = worker.log();
    assert.match(log, /ce_objective=ce: stopped \((no lock renewal|its job lock was lost)/);
    assert.match(log, new RegExp(`${run.replace('=', '\\=')}: resuming`));
    assert.equal(
      log.split('\n').filter((line) => line.startsWith(`worker: ${run}: finished`)).length,
      1,
      log,
    );
    assert.ok(
      readFileSync(join(out, run, 'model', 'model.safetensors')).equals(
        readFileSync(join(reference, run, 'model', 'model.safetensors')),
      ),
      'the resumed model differs from the uninterrupted one',
    );
    assert.ok(existsSync(join(out, 'sweep.json')));
  },
);
