// A free list of Float32Array buffers, reused across training steps.
//
// Why: on this VM a first touch of fresh memory costs ~12 µs per 4 KiB page (~330 MB/s), so
// allocating a 300 MB logits gradient every step would cost about a second. Buffers that autograd
// knows to be dead (intermediate gradients, saved activations of finished nodes, released graph
// outputs, zeroed parameter gradients) come back here and the next step reuses them.
//
// Sizes are rounded up to classes (8 per power of two, <= 12.5% slack), so batches whose sequence
// length varies a little share buffers. The pool holds at most `limitBytes` of idle memory and drops
// the oldest buffers beyond that, so shapes that never recur cannot grow RSS without bound.

/** Below this many elements allocation is cheap (V8 heap) and pooling is not worth it. */
const MIN_POOLED_ELEMENTS = 4096;

const freeLists = new Map<number, Float32Array[]>();
// Catches a buffer released twice, which would hand one buffer to two owners.
const idleBuffers = new WeakSet<ArrayBufferLike>();
let idleBytes = 0;
let limitBytes = limitFromEnvironment();
let hits = 0;
let misses = 0;
// Pooled buffers handed out inside the innermost withScratch and not yet released, by their memory.
let scratch: Map<ArrayBufferLike, Float32Array> | null = null;

/**
 * `RLCP_POOL_MIB` (idle MiB the pool may keep; e.g. 512 to fit a 0.5B LoRA run in a small memory
 * budget, at the price of fresh page faults each step), else 4 GiB.
 */
function limitFromEnvironment(): number {
  const value = process.env['RLCP_POOL_MIB'];
  if (value === undefined || value === '') return 4 * 1024 ** 3;
  const mib = Number(value);
  if (!Number.isInteger(mib) || mib < 0) {
    throw new Error(`RLCP_POOL_MIB must be a whole number of MiB (0 or more), got ${JSON.stringify(value)}`);
  }
  return mib * 1024 ** 2;
}

function sizeClass(n: number): number {
  const exponent = Math.floor(Math.log2(n));
  const step = 2 ** Math.max(0, exponent - 3);
  return Math.ceil(n / step) * step;
}

/** A buffer of n elements with unspecified contents (the caller overwrites every element). */
export function allocUninit(n: number): Float32Array {
  if (n < MIN_POOLED_ELEMENTS) return new Float32Array(n);
  const capacity = sizeClass(n);
  const list = freeLists.get(capacity);
  const reused = list?.pop();
  if (reused) {
    idleBuffers.delete(reused.buffer);
    idleBytes -= reused.byteLength;
    hits++;
    scratch?.set(reused.buffer, reused);
    return reused.length === n ? reused : reused.subarray(0, n);
  }
  misses++;
  const fresh = new Float32Array(capacity);
  scratch?.set(fresh.buffer, fresh);
  return capacity === n ? fresh : fresh.subarray(0, n);
}

/** A buffer of n zeros. */
export function allocZeroed(n: number): Float32Array {
  const buf = allocUninit(n);
  buf.fill(0);
  return buf;
}

/**
 * Returns a buffer obtained from allocUninit/allocZeroed. The caller must hold the only reference:
 * its contents will be overwritten by a later allocation.
 */
export function release(buf: Float32Array): void {
  if (buf.length < MIN_POOLED_ELEMENTS || buf.byteOffset !== 0) return;
  const whole = buf.length * 4 === buf.buffer.byteLength ? buf : new Float32Array(buf.buffer);
  const capacity = whole.length;
  if (sizeClass(capacity) !== capacity) return; // not one of ours
  if (idleBuffers.has(whole.buffer)) throw new Error('tensor pool: a buffer was released twice');
  scratch?.delete(whole.buffer);
  idleBuffers.add(whole.buffer);
  let list = freeLists.get(capacity);
  if (!list) {
    list = [];
    freeLists.set(capacity, list);
  }
  list.push(whole);
  idleBytes += whole.byteLength;
  if (idleBytes > limitBytes) evict();
}

function evict(): void {
  // Drop the largest classes first: they dominate RSS and are the least likely to be reused exactly.
  const capacities = [...freeLists.keys()].sort((a, b) => b - a);
  for (const capacity of capacities) {
    const list = freeLists.get(capacity)!;
    while (list.length > 0 && idleBytes > limitBytes) {
      const dropped = list.pop()!;
      idleBuffers.delete(dropped.buffer);
      idleBytes -= dropped.byteLength;
    }
    if (list.length === 0) freeLists.delete(capacity);
    if (idleBytes <= limitBytes) return;
  }
}

/**
 * Runs fn and then recycles every pooled buffer it took and did not release, except those under
 * `keep(result)`: for work that records no graph (a no-grad decoder layer), whose intermediates would
 * otherwise wait for the garbage collector while every later allocation faults in fresh pages. Only for
 * code that keeps no other pooled buffer it allocated; the kept ones count as the enclosing scope's.
 */
export function withScratch<T>(fn: () => T, keep: (result: T) => readonly Float32Array[]): T {
  const outer = scratch;
  const mine = new Map<ArrayBufferLike, Float32Array>();
  scratch = mine;
  let result: T;
  try {
    result = fn();
  } finally {
    scratch = outer;
  }
  for (const buf of keep(result)) {
    const whole = mine.get(buf.buffer);
    if (!whole) continue;
    mine.delete(buf.buffer);
    outer?.set(buf.buffer, whole);
  }
  for (const whole of mine.values()) release(whole);
  return result;
}

/** Caps the idle memory the pool may keep (default: `RLCP_POOL_MIB`, else 4 GiB). */
export function setPoolLimit(bytes: number): void {
  if (!(bytes >= 0)) throw new Error(`setPoolLimit: expected a non-negative byte count, got ${bytes}`);
  limitBytes = bytes;
  evict();
}

/** Drops every idle buffer (e.g. when switching from training to a different workload). */
export function clearPool(): void {
  freeLists.clear();
  idleBytes = 0;
}

export function poolStats(): { idleBytes: number; hits: number; misses: number } {
  return { idleBytes, hits, misses };
}
