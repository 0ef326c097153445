// Shared by the concurrency test and its reader worker: a digest of everything a reader sees in the
// store, from one SELECT (so from one snapshot), and the layout of their shared control array.
import { createHash } from 'node:crypto';
import type { FactStore } from '../../src/memory/store.ts';

export function snapshotDigest(store: FactStore): string {
  const hash = createHash('sha256');
  for (const f of store.list())
    hash.update(`${f.id}\t${f.subject}\t${f.relation}\t${f.object}\t${f.statement}\n`);
  return hash.digest('hex');
}

/** Slots of the Int32Array shared between the importing test and its reader worker. */
export const SLOT = {
  /** Set to 1 by the test to end the reader's loop. */
  stop: 0,
  /** Reads the worker has finished (it notifies after each). */
  reads: 1,
  /** Odd while the importer is paused inside its open transaction. */
  pause: 2,
} as const;
