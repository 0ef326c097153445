// Where rlcp's training step spends its time: V8's sampling profile of a few steps, each sample
// attributed to (phase, op, kernel) from its call stack.
//
// - phase: forward, backward (under Tensor.backward), optimizer (under src/tensor/optim.ts), other.
// - op: the outermost frame in src/tensor/ops/*.ts (or optim.ts) named by the top-level function that
//   encloses it in the source, so an anonymous backward closure counts for its op (swiglu, rmsNorm, ...).
//   Needs the worker started with --enable-source-maps (tsx's output is one line per file).
// - kernel: GEMM when the stack is inside the native GEMM (src/tensor/kernels/gemm.ts, onnx.ts); autograd
//   when the leaf-most rlcp frame is src/tensor/tensor.ts or pool.ts (gradient accumulation, buffer
//   pool); op otherwise: the op's own TypeScript and the native kernels it calls (src/tensor/kernels/
//   native.ts; V8's profiler has no frame for an addon function and counts its time to the caller).
// The main thread takes part in onnxruntime's and the addon's thread pools, so wall time inside them is
// sampled there.
// The main thread takes part in onnxruntime's thread pool, so wall time inside GEMM is sampled there.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findSourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
    children?: number[];
  }[];
  samples?: number[];
  timeDeltas?: number[];
}

export interface ProfileRow {
  phase: string;
  op: string;
  kernel: 'GEMM' | 'op' | 'autograd';
  /** Milliseconds per step. */
  ms: number;
}

export interface ProfileSummary {
  /** Wall time covered by samples, per step. */
  sampledMs: number;
  /** Headline groups (GEMM, softmax/CE, elementwise, ...) in ms per step. */
  groups: Record<string, number>;
  /** Every (phase, op, kernel) with at least 0.1% of the time, largest first. */
  rows: ProfileRow[];
}

interface Frame {
  name: string;
  /** Path relative to the repository's src/ (e.g. "tensor/ops/attention.ts"), or "" outside src/. */
  file: string;
  /** Enclosing top-level function in the original source (the frame's own name when it is one). */
  top: string;
}

const SRC_MARKER = '/src/';

/** Top-level functions and classes of a source file by line (declarations at column 0). */
const topLevelCache = new Map<string, { line: number; name: string }[]>();
function topLevelFunctions(path: string): { line: number; name: string }[] {
  let list = topLevelCache.get(path);
  if (!list) {
    list = [];
    const lines = (sourceSnapshot.get(path) ?? readFileSync(path, 'utf8')).split('\n');
    lines.forEach((text, line) => {
      const match = /^(?:export )?(?:async )?(?:function\*? ?|class )(\w+)/.exec(text);
      if (match) list!.push({ line, name: match[1]! });
    });
    topLevelCache.set(path, list);
  }
  return list;
}

const sourceSnapshot = new Map<string, string>();

/**
 * Reads every .ts file under `dir` now. Call it when the code is loaded: line numbers from the source
 * maps must be looked up in the text that was compiled, not in a file edited since.
 */
export function snapshotSources(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) snapshotSources(path);
    else if (entry.name.endsWith('.ts')) sourceSnapshot.set(path, readFileSync(path, 'utf8'));
  }
}

const frameCache = new Map<string, Frame>();
function frameOf(callFrame: CpuProfile['nodes'][number]['callFrame']): Frame {
  const key = `${callFrame.url}|${callFrame.lineNumber}|${callFrame.columnNumber}|${callFrame.functionName}`;
  let frame = frameCache.get(key);
  if (frame) return frame;
  const name = callFrame.functionName || '(anonymous)';
  const at = callFrame.url.indexOf(SRC_MARKER);
  if (!callFrame.url.startsWith('file://') || at < 0) {
    frame = { name, file: '', top: name };
  } else {
    const path = fileURLToPath(callFrame.url);
    const file = callFrame.url.slice(at + SRC_MARKER.length);
    let top = name;
    const functions = topLevelFunctions(path);
    const entry = findSourceMap(path)?.findEntry(callFrame.lineNumber, callFrame.columnNumber);
    const line = entry && 'originalLine' in entry ? entry.originalLine : undefined;
    // A top-level function names itself; methods and closures take the one around them.
    if (line !== undefined && !functions.some((f) => f.name === name)) {
      const enclosing = functions.filter((f) => f.line <= line);
      if (enclosing.length > 0) top = enclosing[enclosing.length - 1]!.name;
    }
    frame = { name, file, top };
  }
  frameCache.set(key, frame);
  return frame;
}

const isOps = (f: Frame) => f.file.startsWith('tensor/ops/');
const isGemm = (f: Frame) => f.file === 'tensor/kernels/gemm.ts' || f.file === 'tensor/kernels/onnx.ts';

function classify(stack: Frame[]): { phase: string; op: string; kernel: ProfileRow['kernel'] } {
  // stack[0] is the leaf.
  const leaf = stack[0]!;
  if (leaf.name === '(garbage collector)') return { phase: 'other', op: 'GC', kernel: 'op' };
  let phase = 'other';
  if (stack.some((f) => f.file === 'tensor/tensor.ts' && f.name === 'backward')) phase = 'backward';
  else if (stack.some((f) => f.file === 'tensor/optim.ts')) phase = 'optimizer';
  else if (stack.some((f) => f.file.startsWith('nn/'))) phase = 'forward';

  let op: string;
  if (phase === 'optimizer') {
    const inner = stack.find((f) => f.file === 'tensor/optim.ts')!;
    op = `optim.${inner.top}`;
  } else {
    let outer: Frame | undefined;
    for (const f of stack) if (isOps(f)) outer = f;
    if (outer) op = `${outer.file.slice('tensor/ops/'.length, -3)}.${outer.top}`;
    else {
      const own = stack.find((f) => f.file !== '');
      op = own ? `${own.file}:${own.name === '(anonymous)' ? own.top : own.name}` : leaf.name;
    }
  }
  const firstOwn = stack.find((f) => f.file !== '');
  let kernel: ProfileRow['kernel'] = 'op';
  if (stack.some(isGemm)) kernel = 'GEMM';
  else if (firstOwn && (firstOwn.file === 'tensor/tensor.ts' || firstOwn.file === 'tensor/pool.ts')) {
    kernel = 'autograd';
  }
  return { phase, op, kernel };
}

/** Headline group of a row (what the engine would optimise as one thing). */
export function groupOf(row: Pick<ProfileRow, 'phase' | 'op' | 'kernel'>): string {
  if (row.kernel === 'GEMM') return 'GEMM (native)';
  if (row.op === 'GC') return 'garbage collection';
  if (row.phase === 'optimizer') return 'optimizer (clip + AdamW + apply)';
  if (row.kernel === 'autograd') return 'autograd: grad accumulation, pool';
  const file = row.op.split('.')[0];
  if (file === 'attention') return 'attention softmax/masks';
  if (file === 'losses') return 'cross-entropy softmax';
  if (['nn.rmsNorm', 'nn.rope', 'nn.permuteRope', 'nn.rotary', 'nn.ropeTables'].includes(row.op))
    return 'RMSNorm + RoPE';
  if (file === 'elementwise' || file === 'matmul' || file === 'reduce' || file === 'nn') {
    return 'elementwise: SwiGLU, add, bias';
  }
  if (file === 'shape') return 'layout: permute, embedding, gather';
  return 'other (model code, profiler, idle)';
}

/** Per-step milliseconds by (phase, op, kernel) and by headline group. */
export function summariseProfile(profile: CpuProfile, steps: number): ProfileSummary {
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const classes = new Map<number, ReturnType<typeof classify>>();
  const classOf = (leafId: number) => {
    let c = classes.get(leafId);
    if (!c) {
      const stack: Frame[] = [];
      for (let id: number | undefined = leafId; id !== undefined; id = parent.get(id)) {
        stack.push(frameOf(byId.get(id)!.callFrame));
      }
      c = classify(stack);
      classes.set(leafId, c);
    }
    return c;
  };
  const totals = new Map<string, ProfileRow>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  let sampledUs = 0;
  for (let i = 0; i < samples.length; i++) {
    // timeDeltas[i + 1] is the time from sample i to the next one: the time sample i stands for.
    const us = deltas[i + 1] ?? 0;
    if (us <= 0) continue;
    sampledUs += us;
    const { phase, op, kernel } = classOf(samples[i]!);
    const key = `${phase}|${op}|${kernel}`;
    const row = totals.get(key) ?? { phase, op, kernel, ms: 0 };
    row.ms += us / 1000;
    totals.set(key, row);
  }
  const sampledMs = sampledUs / 1000 / steps;
  const rows = [...totals.values()]
    .map((r) => ({ ...r, ms: r.ms / steps }))
    .filter((r) => r.ms >= sampledMs * 0.001)
    .sort((a, b) => b.ms - a.ms);
  const groups: Record<string, number> = {};
  for (const r of totals.values()) groups[groupOf(r)] = (groups[groupOf(r)] ?? 0) + r.ms / steps;
  return { sampledMs, groups, rows };
}
