// Issue 8 part 4: an import is all or nothing, for concurrent readers and for a process killed midway.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { FactStore } from '../../src/memory/store.ts';
import { FACTS, TEMPLATES, tempDir, writeJsonl } from './helpers.ts';
import { SLOT, snapshotDigest } from './snapshot.ts';

/** Guards against a deadlock only (a crashed worker); never reached when things work. */
const DEADLOCK_GUARD_MS = 120_000;

function startTsWorker(file: URL, workerData: unknown): Worker {
  // Workers do not inherit the tsx loader of `node --import tsx`; the bootstrap registers it.
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import { register } from ${JSON.stringify(tsx)}; register(); await import(${JSON.stringify(file.href)});`;
  return new Worker(bootstrap, { eval: true, workerData });
}

/** Blocks this thread until the reader has finished `target` reads. */
function waitForReadsSync(shared: Int32Array, target: number): void {
  for (
    let reads = Atomics.load(shared, SLOT.reads);
    reads < target;
    reads = Atomics.load(shared, SLOT.reads)
  ) {
    if (Atomics.wait(shared, SLOT.reads, reads, DEADLOCK_GUARD_MS) === 'timed-out') {
      throw new Error(`reader stalled at ${reads} reads`);
    }
  }
}

// Atomics.waitAsync exists in Node 20; the project's ES2023 lib just does not declare it.
const waitAsync = (
  Atomics as unknown as {
    waitAsync(
      array: Int32Array,
      index: number,
      value: number,
      timeoutMs: number,
    ): { value: Promise<string> | string };
  }
).waitAsync;

async function waitForReads(shared: Int32Array, target: number): Promise<void> {
  for (
    let reads = Atomics.load(shared, SLOT.reads);
    reads < target;
    reads = Atomics.load(shared, SLOT.reads)
  ) {
    const waited = waitAsync(shared, SLOT.reads, reads, DEADLOCK_GUARD_MS);
    if ((await waited.value) === 'timed-out') throw new Error(`reader stalled at ${reads} reads`);
  }
}

/** New facts plus edits of existing ones, so a half-applied import would be visible either way. */
function importRecords(count: number, pad = ''): object[] {
  const records: object[] = [
    { subject: 'Velora', relation: 'city_country', object: 'Quellon' },
    { subject: 'Marvania', relation: 'country_currency', object: 'shell' },
  ];
  for (let i = 0; i < count; i++) {
    records.push({
      subject: `Brisk ${i}`,
      relation: 'city_country',
      object: 'Dostel',
      source: `atlas ${i}${pad}`,
    });
  }
  return records;
}

test('readers during an import see the old facts or the new ones, never a mix', async () => {
  const dir = tempDir();
  const path = join(dir, 'ram.db');
  const store = FactStore.open(path, { templates: TEMPLATES });
  for (const fact of FACTS) store.add(fact);
  const before = snapshotDigest(store);
  const file = writeJsonl(join(dir, 'import.jsonl'), importRecords(3998));

  const shared = new Int32Array(new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT));
  const worker = startTsWorker(new URL('./reader-worker.ts', import.meta.url), {
    path,
    control: shared.buffer,
  });
  const report = new Promise<{ seen: [string, number][]; duringPause: string[] }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`reader exited with ${code} before reporting`)));
  });
  await Promise.race([waitForReads(shared, 1), report]);

  // At every progress point the import stops inside its transaction until the reader has completed a
  // whole read there; the reader notes those reads apart.
  let pauses = 0;
  store.importJsonl(file, {
    progressEvery: 1000,
    onProgress() {
      pauses++;
      Atomics.add(shared, SLOT.pause, 1);
      waitForReadsSync(shared, Atomics.load(shared, SLOT.reads) + 2);
      Atomics.add(shared, SLOT.pause, 1);
    },
  });
  const after = snapshotDigest(store);
  await waitForReads(shared, Atomics.load(shared, SLOT.reads) + 2);
  Atomics.store(shared, SLOT.stop, 1);
  const { seen, duringPause } = await report;
  store.close();

  assert.equal(pauses, 4);
  assert.notEqual(before, after);
  assert.ok(duringPause.length >= pauses, `${duringPause.length} reads inside the transaction`);
  assert.ok(
    duringPause.every((d) => d === before),
    'a read inside the open transaction saw uncommitted facts',
  );
  const digests = new Map(seen);
  assert.ok(digests.has(before) && digests.has(after));
  assert.deepEqual(
    [...digests.keys()].filter((d) => d !== before && d !== after),
    [],
    'a mixed snapshot',
  );
});

test('an import killed before it commits leaves the store as it was, intact and usable', async () => {
  const dir = tempDir();
  const path = join(dir, 'ram.db');
  const store = FactStore.open(path, { templates: TEMPLATES });
  for (const fact of FACTS) store.add(fact);
  const before = store.list();
  store.close();
  // Large sources make the transaction outgrow better-sqlite3's 16 MB page cache, so uncommitted
  // pages are already in the WAL file when the process dies.
  const records = importRecords(1998, ' ' + 'x'.repeat(10_000));
  const file = writeJsonl(join(dir, 'import.jsonl'), records);

  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL('./import-child.ts', import.meta.url)), path, file],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.once('exit', (_code, signal) => resolve(signal)),
  );
  await new Promise<void>((resolve, reject) => {
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('started\n')) resolve();
    });
    child.once('exit', (code) =>
      reject(new Error(`import child exited (${code}) before pausing: ${stderr}`)),
    );
  });
  const walBytes = statSync(`${path}-wal`).size;
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');
  assert.ok(walBytes > 4_000_000, `only ${walBytes} WAL bytes: the transaction never reached the disk`);

  const reopened = FactStore.open(path);
  assert.deepEqual(reopened.list(), before);
  reopened.checkIntegrity();
  const summary = reopened.importJsonl(file);
  assert.deepEqual([summary.added, summary.updated], [records.length - 2, 2]);
  assert.equal(reopened.count(), before.length + records.length - 2);
  reopened.checkIntegrity();
  reopened.close();
});
