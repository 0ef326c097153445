// Reader for the concurrency test: on its own connection, reads the whole store again and again and
// reports every digest it saw, and separately those read entirely while the importer was paused
// mid-transaction.
import { parentPort, workerData } from 'node:worker_threads';
import { FactStore } from '../../src/memory/store.ts';
import { SLOT, snapshotDigest } from './snapshot.ts';

const { path, control } = workerData as { path: string; control: SharedArrayBuffer };
const shared = new Int32Array(control);
const store = FactStore.open(path);
const seen = new Map<string, number>();
const duringPause: string[] = [];
while (Atomics.load(shared, SLOT.stop) === 0) {
  const pauseBefore = Atomics.load(shared, SLOT.pause);
  const digest = snapshotDigest(store);
  const pauseAfter = Atomics.load(shared, SLOT.pause);
  seen.set(digest, (seen.get(digest) ?? 0) + 1);
  if (pauseBefore === pauseAfter && pauseBefore % 2 === 1) duringPause.push(digest);
  Atomics.add(shared, SLOT.reads, 1);
  Atomics.notify(shared, SLOT.reads);
}
store.close();
parentPort!.postMessage({ seen: [...seen], duringPause });
