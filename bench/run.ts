// `rlcp bench` (npm run bench): rlcp against PyTorch in one run, same shapes, same weights, same tokens.
//
// - Training step (issue 2): forward + backward + clip-by-global-norm + AdamW at two sizes. rlcp on 2
//   threads; PyTorch at 1 and 2 threads, with the machine's environment and with OPENBLAS_CORETYPE /
//   OPENBLAS_L2_SIZE unset in that process alone (the peer's best case).
// - Native SGEMM throughput (1024³) through the engine's GEMM, and torch.mm for reference.
// - Inference (issue 3): Qwen2.5-0.5B shapes, BF16 weights on disk: load, prefill, greedy decode with the
//   KV cache, per-token decode time early vs late, peak RSS.
//
// Every side runs in its own child process (peak RSS = VmHWM of that process). Steps of all
// configurations are interleaved round-robin, so load from other work on the machine hits every side
// alike; ratios come from medians measured in the same rounds.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, homedir, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { optFlag, optNumber, optString, type ParsedArgs } from '../src/cli/args.ts';
import { ProgressBar } from '../src/cli/progress.ts';
import { Rng } from '../src/tensor/random.ts';
import { BenchWorker, type Reply } from './protocol.ts';
import {
  QWEN25_05B,
  TRAIN_SHAPES,
  TRAIN_SIZES,
  RLCP_05B_LORA,
  RLCP_ANCHORS,
  isTrainSize,
  resolveSizes,
  rlcpStepFlops,
  trainGemmShapes,
  trainStepFlops,
  type TrainSize,
} from './sizes.ts';
import { groupOf, type ProfileSummary } from './profile.ts';
import {
  GSM8K_05B,
  QWEN_TOKENIZER_DIR,
  generationFlops,
  gsm8kBenchOptions,
  gsm8kBenchPrompts,
  type Gsm8kBenchOptions,
} from './gsm8k.ts';
import { loadTokenizer } from '../src/io/tokenizer.ts';
import { sharedPrefixLength } from '../src/nn/generate.ts';
import { peerBlas, ratioCell, ratioValidity, type PeerBlas } from './peer-blas.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = dirname(HERE);
const OPENBLAS_VARS = ['OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE'];
const SEED = 20240601;

export const BENCH_USAGE = `rlcp bench [--size small|qwen0.5b-2L|world|all|NAME,NAME] [--skip-inference] [--skip-train]
            [--json] [--profile | --profile-only] [--steps N] [--warmup N] [--prompt-tokens 128]
            [--decode-tokens 128] [--prefill-rounds 3] [--threads 2] [--python /usr/bin/python3]
            [--torch-blas DIR] [--allow-reference-blas] [--prompts 32] [--max-new-tokens 256] [--gsm8k FILE]

  --size            sizes to run, comma-separated (default all = small and qwen0.5b-2L; by name only: world =
                    the world model, rlcp-0.5b-lora = one RLCP step at Qwen2.5-0.5B's shape, gsm8k-0.5b =
                    batched greedy GSM8K generation at that shape)
  --prompts/--max-new-tokens/--gsm8k  gsm8k-0.5b: GSM8K test prompts (default 32), new tokens per prompt
                    (default 256), the GSM8K JSONL (default ../shared/data/gsm8k/test.jsonl)
  --skip-inference  leave out the batch-1 Qwen2.5-0.5B inference benchmark (the slow part)
  --skip-train      only the inference benchmark (and SGEMM)
  --profile         also profile rlcp's training step (V8 sampler) and print where the time goes
  --profile-only    only that profile, rlcp alone (no PyTorch, no inference): quick engine work
  --steps/--warmup  measured / warm-up steps per configuration (default small and world 10/3, qwen0.5b-2L 5/1)
  --threads         rlcp's native threads (default 2)
  --python          the PyTorch interpreter (default /usr/bin/python3, Debian's python3-torch)
  --torch-blas      a folder holding libblas.so.3 to put first on the peer's LD_LIBRARY_PATH (default:
                    Debian's OpenBLAS if installed, else ~/.cache/rlcp-bench/openblas/...; see README)
  --json            print one JSON object as the last line
  --allow-reference-blas  go on when PyTorch runs on the netlib reference BLAS (refused otherwise): every
                    ratio is then marked invalid (ratio_valid: false)`;

// ---- small statistics ----

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const round = (value: number, digits = 3): number =>
  Number.isFinite(value) ? Number(value.toPrecision(digits + 2)) : value;

function fmt(value: number | undefined, digits = 1): string {
  if (value === undefined || !Number.isFinite(value)) return '—';
  return value.toFixed(digits);
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

// ---- workers ----

interface PeerSetup {
  python: string;
  /** Folder prepended to LD_LIBRARY_PATH (an OpenBLAS build of libblas.so.3), or null. */
  blasDir: string | null;
}

function tsxLoader(): string {
  return pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
}

function rlcpWorker(label: string): BenchWorker {
  return new BenchWorker({
    label,
    command: process.execPath,
    // Source maps let the profiler name the op around an anonymous backward closure.
    args: ['--enable-source-maps', '--import', tsxLoader(), join(HERE, 'rlcp-worker.ts')],
    env: process.env,
    cwd: REPO,
  });
}

function torchWorker(label: string, peer: PeerSetup, unsetOpenblas: boolean): BenchWorker {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONUNBUFFERED: '1' };
  if (peer.blasDir) env.LD_LIBRARY_PATH = [peer.blasDir, env.LD_LIBRARY_PATH].filter(Boolean).join(':');
  if (unsetOpenblas) for (const key of OPENBLAS_VARS) delete env[key];
  return new BenchWorker({
    label,
    command: peer.python,
    args: [join(HERE, 'torch_peer.py')],
    env,
    cwd: REPO,
  });
}

/** Where an OpenBLAS libblas.so.3 lives for the peer, if anywhere (see README: PyTorch's BLAS). */
function findBlasDir(args: ParsedArgs): string | null {
  const explicit = optString(args, 'torch-blas') ?? process.env.RLCP_BENCH_TORCH_BLAS;
  if (explicit) {
    if (!existsSync(join(explicit, 'libblas.so.3')))
      throw new Error(`--torch-blas ${explicit}: no libblas.so.3`);
    return explicit;
  }
  const candidates = [
    '/usr/lib/x86_64-linux-gnu/openblas-pthread',
    '/usr/lib/x86_64-linux-gnu/openblas-openmp',
    join(homedir(), '.cache/rlcp-bench/openblas/usr/lib/x86_64-linux-gnu/openblas-pthread'),
  ];
  return candidates.find((dir) => existsSync(join(dir, 'libblas.so.3'))) ?? null;
}

/** The BLAS of the peer's two processes (machine environment, OPENBLAS_* unset), asked before any work. */
async function preflightPeer(peer: PeerSetup): Promise<{ torch: string; blas: PeerBlas }> {
  const torch = torchWorker('torch (info)', peer, false);
  const best = torchWorker('torch (OPENBLAS_* unset, info)', peer, true);
  try {
    const [torchInfo, bestInfo] = await Promise.all([torch.call('info'), best.call('info')]);
    return { torch: String(torchInfo.torch), blas: peerBlas(torchInfo, bestInfo) };
  } finally {
    await Promise.all([torch, best].map((w) => w.close().catch(() => w.kill())));
  }
}

/** One thing to time: a worker at a thread count. */
interface Config {
  key: string;
  side: 'rlcp' | 'torch' | 'torch_best';
  worker: BenchWorker;
  threads: number;
}

function configs(rlcp: BenchWorker, torch: BenchWorker, best: BenchWorker, threads: number): Config[] {
  return [
    { key: `rlcp@${threads}`, side: 'rlcp', worker: rlcp, threads },
    { key: 'torch@1', side: 'torch', worker: torch, threads: 1 },
    { key: 'torch@2', side: 'torch', worker: torch, threads: 2 },
    { key: 'best@1', side: 'torch_best', worker: best, threads: 1 },
    { key: 'best@2', side: 'torch_best', worker: best, threads: 2 },
  ];
}

/** Round r visits the configurations rotated by r, so none always follows the same neighbour. */
function rotated<T>(items: readonly T[], r: number): T[] {
  const k = r % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/**
 * After a first timed round: of each PyTorch process's two thread counts, drops one whose time is more
 * than PRUNE_FACTOR × the other's, so a hopeless configuration (2 threads on a loaded 2-core machine can
 * be 5× slower) does not dominate the run. Its median then rests on that first round alone.
 */
const PRUNE_FACTOR = 1.5;
function prune(active: Config[], ms: Record<string, number[]>, what: string): Config[] {
  const dropped = new Set<string>();
  for (const side of ['torch', 'torch_best'] as const) {
    const pair = active.filter((c) => c.side === side);
    if (pair.length !== 2) continue;
    const [a, b] = pair.map((c) => median(ms[c.key]!)) as [number, number];
    if (a > PRUNE_FACTOR * b) dropped.add(pair[0]!.key);
    else if (b > PRUNE_FACTOR * a) dropped.add(pair[1]!.key);
  }
  if (dropped.size > 0)
    log(`${what}: ${[...dropped].join(', ')} > ${PRUNE_FACTOR}× slower, measured once only`);
  return active.filter((c) => !dropped.has(c.key));
}

function writeIds(path: string, count: number, vocab: number, seed: number): Int32Array {
  const rng = new Rng(seed);
  const ids = Int32Array.from({ length: count }, () => rng.int(vocab));
  writeFileSync(path, ids);
  return ids;
}

async function initModel(dir: string, config: Record<string, unknown>, dtype: string): Promise<Reply> {
  const prep = rlcpWorker('rlcp (init)');
  try {
    return await prep.call('init_model', { config, seed: SEED, dir, dtype });
  } finally {
    await prep.close();
  }
}

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

// ---- SGEMM ----

interface SgemmResult {
  rlcp: number[];
  torch: number[];
  torchBest: number[];
}

async function measureSgemm(rlcp: BenchWorker, torch: BenchWorker, best: BenchWorker, threads: number) {
  const result: SgemmResult = { rlcp: [], torch: [], torchBest: [] };
  for (let r = 0; r < 3; r++) {
    const rep = async (w: BenchWorker) =>
      (await w.call('sgemm', { threads, n: 1024, reps: 3 })).gflops as number[];
    result.rlcp.push(...(await rep(rlcp)));
    result.torch.push(...(await rep(torch)));
    result.torchBest.push(...(await rep(best)));
  }
  return result;
}

// ---- the step's GEMM shapes (with --profile) ----

interface GemmShapeResult {
  name: string;
  flops: number;
  rlcp: number[];
  /** rlcp on one thread (for comparison; empty when --threads is 1). */
  rlcp1: number[];
  /** PyTorch (the configuration rlcp is compared with), or empty with --profile-only. */
  torch: number[];
}

async function measureGemmShapes(
  size: TrainSize,
  rlcp: { worker: BenchWorker; threads: number },
  torch: { worker: BenchWorker; threads: number; key: string } | null,
): Promise<{ torchKey: string | null; rows: GemmShapeResult[] }> {
  const shape = TRAIN_SHAPES[size];
  const shapes = trainGemmShapes(shape.config, shape.batch, shape.seq);
  const rows: GemmShapeResult[] = shapes.map((s) => ({
    name: s.name,
    flops: s.flops,
    rlcp: [],
    rlcp1: [],
    torch: [],
  }));
  log(`${size}: GEMMs of the step's linear layers, ${torch ? 'rlcp and PyTorch interleaved' : 'rlcp'}`);
  for (let r = 0; r < 2; r++) {
    const sides: ['rlcp' | 'rlcp1' | 'torch', { worker: BenchWorker; threads: number }][] = [['rlcp', rlcp]];
    if (rlcp.threads !== 1) sides.push(['rlcp1', { worker: rlcp.worker, threads: 1 }]);
    if (torch) sides.push(['torch', torch]);
    for (const [side, w] of sides) {
      const reply = await w.worker.call('gemm_shapes', { threads: w.threads, shapes, reps: 3 });
      const gflops = reply.gflops as Record<string, number[]>;
      for (const row of rows) row[side].push(...gflops[row.name]!);
    }
  }
  return { torchKey: torch ? torch.key : null, rows };
}

// ---- training ----

interface TrainResult {
  size: TrainSize;
  batch: number;
  seq: number;
  params: number;
  warmup: number;
  steps: number;
  flops: number;
  /** Step milliseconds by configuration key. */
  ms: Record<string, number[]>;
  firstLoss: Record<string, number>;
  rss: { rlcp: number; torch: number; torchBest: number };
  profile?: { stepsMs: number[]; summary: ProfileSummary };
  gemmShapes?: { torchKey: string | null; rows: GemmShapeResult[] };
}

async function benchTrain(
  size: TrainSize,
  ctx: { dir: string; peer: PeerSetup; threads: number; steps?: number; warmup?: number; profile: boolean },
  onWorkers: (rlcp: BenchWorker, torch: BenchWorker, best: BenchWorker) => Promise<void>,
): Promise<TrainResult> {
  const shape = TRAIN_SHAPES[size];
  const steps = ctx.steps ?? shape.steps;
  const warmup = ctx.warmup ?? shape.warmup;
  const modelDir = join(ctx.dir, `train-${size}`);
  const idsPath = join(ctx.dir, `train-${size}.ids`);
  log(`${size}: writing the shared F32 init with rlcp's saveToDir`);
  const init = await initModel(modelDir, shape.config, 'F32');
  writeIds(idsPath, shape.batch * shape.seq, shape.config.vocab_size as number, SEED + 1);

  const rlcp = rlcpWorker(`rlcp ${size}`);
  const torch = torchWorker(`torch ${size}`, ctx.peer, false);
  const best = torchWorker(`torch (OPENBLAS_* unset) ${size}`, ctx.peer, true);
  const workers = [rlcp, torch, best];
  try {
    const params = { dir: modelDir, ids_path: idsPath, batch: shape.batch, seq: shape.seq };
    const hyper = { lr: 1e-4, weight_decay: 0.01, clip: 1.0 };
    for (const w of workers) await w.call('train_init', { ...params, ...hyper });
    await onWorkers(rlcp, torch, best);

    const all = configs(rlcp, torch, best, ctx.threads);
    const ms: Record<string, number[]> = Object.fromEntries(all.map((c) => [c.key, []]));
    const firstLoss: Record<string, number> = {};
    let active = all;
    let bar = new ProgressBar({ label: `train ${size}`, total: (warmup + 1) * all.length, unit: 'step' });
    for (let r = 0; r < warmup + steps; r++) {
      for (const c of rotated(active, r)) {
        const reply = await c.worker.call('train_step', { threads: c.threads });
        const loss = reply.loss as number;
        // Each process's first step sees the shared initial weights.
        if (!(c.worker.label in firstLoss)) firstLoss[c.worker.label] = loss;
        if (r >= warmup) ms[c.key]!.push(reply.ms as number);
        bar.tick(1, 1, { loss });
      }
      if (r === warmup && steps > 1) {
        bar.finish();
        active = prune(active, ms, `train ${size}`);
        bar = new ProgressBar({ label: `train ${size}`, total: (steps - 1) * active.length, unit: 'step' });
      }
    }
    bar.finish();

    let profile: TrainResult['profile'];
    if (ctx.profile) {
      log(`${size}: profiling rlcp's step`);
      const reply = await rlcp.call('profile_steps', {
        threads: ctx.threads,
        steps: Math.max(2, Math.min(steps, 5)),
        interval_us: 250,
      });
      profile = { stepsMs: reply.steps_ms as number[], summary: reply.breakdown as ProfileSummary };
    }
    const rss = async (w: BenchWorker) => (await w.call('status')).vmhwm_mb as number;
    const result: TrainResult = {
      size,
      batch: shape.batch,
      seq: shape.seq,
      params: init.params as number,
      warmup,
      steps,
      flops: trainStepFlops(shape.config, shape.batch, shape.seq),
      ms,
      firstLoss: {
        rlcp: firstLoss[rlcp.label]!,
        torch: firstLoss[torch.label]!,
        torch_best: firstLoss[best.label]!,
      },
      rss: { rlcp: await rss(rlcp), torch: await rss(torch), torchBest: await rss(best) },
    };
    if (profile) {
      result.profile = profile;
      // Same-shape GEMMs against the PyTorch process and thread count that won (after the RSS reading).
      const bestKey = bestOf(ms, ['best@1', 'best@2'], 1).key;
      result.gemmShapes = await measureGemmShapes(
        size,
        { worker: rlcp, threads: ctx.threads },
        { worker: best, threads: bestKey === 'best@1' ? 1 : 2, key: `${bestKey} (OPENBLAS_* unset)` },
      );
    }
    return result;
  } finally {
    await Promise.all(workers.map((w) => w.close().catch(() => w.kill())));
    rmSync(modelDir, { recursive: true, force: true });
  }
}

interface ProfileResult {
  size: TrainSize;
  flops: number;
  rssMb: number;
  profile: { stepsMs: number[]; summary: ProfileSummary };
  gemmShapes: { torchKey: string | null; rows: GemmShapeResult[] };
}

/** rlcp alone: warm-up steps, then profiled steps (--profile-only, for working on the engine). */
async function profileTrain(
  size: TrainSize,
  ctx: { dir: string; threads: number; steps?: number; warmup?: number },
): Promise<ProfileResult> {
  const shape = TRAIN_SHAPES[size];
  const modelDir = join(ctx.dir, `train-${size}`);
  const idsPath = join(ctx.dir, `train-${size}.ids`);
  await initModel(modelDir, shape.config, 'F32');
  writeIds(idsPath, shape.batch * shape.seq, shape.config.vocab_size as number, SEED + 1);
  const rlcp = rlcpWorker(`rlcp ${size}`);
  try {
    await rlcp.call('train_init', {
      dir: modelDir,
      ids_path: idsPath,
      batch: shape.batch,
      seq: shape.seq,
      lr: 1e-4,
      weight_decay: 0.01,
      clip: 1.0,
    });
    const warmup = ctx.warmup ?? shape.warmup;
    for (let i = 0; i < warmup; i++) await rlcp.call('train_step', { threads: ctx.threads });
    log(`${size}: profiling rlcp's step`);
    const reply = await rlcp.call('profile_steps', {
      threads: ctx.threads,
      steps: ctx.steps ?? Math.min(shape.steps, 3),
      interval_us: 250,
    });
    const rssMb = (await rlcp.call('status')).vmhwm_mb as number;
    return {
      size,
      flops: trainStepFlops(shape.config, shape.batch, shape.seq),
      rssMb,
      profile: { stepsMs: reply.steps_ms as number[], summary: reply.breakdown as ProfileSummary },
      gemmShapes: await measureGemmShapes(size, { worker: rlcp, threads: ctx.threads }, null),
    };
  } finally {
    await rlcp.close().catch(() => rlcp.kill());
    rmSync(modelDir, { recursive: true, force: true });
  }
}

// ---- rlcp-0.5b-lora: one RLCP step at Qwen2.5-0.5B's shape ----

interface RlcpResult {
  params: number;
  loraParams: number;
  warmup: number;
  steps: number;
  flops: ReturnType<typeof rlcpStepFlops>;
  ms: Record<string, number[]>;
  firstLoss: { rlcp: number; torch_best: number };
  rss: { rlcp: number; torchBest: number };
}

/** Token ids of every stream and the probes' labels, seeded, for both sides (rlcp-worker.ts RlcpInputs). */
function writeRlcpInputs(path: string, seed: number): void {
  const spec = RLCP_05B_LORA;
  const rng = new Rng(seed);
  const ids = (s: { batch: number; seq: number }) =>
    Array.from({ length: s.batch * s.seq }, () => rng.int(spec.config.vocab_size));
  const labels = (n: number) => Array.from({ length: n }, () => rng.int(spec.probeClasses));
  const inputs = {
    fact: ids(spec.fact),
    probe: ids(spec.probe),
    ...Object.fromEntries(RLCP_ANCHORS.map((name) => [name, ids(spec[name])])),
    fact_labels: labels(spec.fact.batch),
    probe_labels: labels(spec.probe.batch),
  };
  writeFileSync(path, JSON.stringify(inputs));
}

/**
 * rlcp against PyTorch with OPENBLAS_* unset (the peer's best case) at 1 and 2 threads; the peer's other
 * process only joins the SGEMM (three 0.5B processes of 5–6 GB each would not leave room for a fourth).
 */
async function benchRlcpStep(
  ctx: { dir: string; peer: PeerSetup; threads: number; steps?: number; warmup?: number },
  onWorkers: (rlcp: BenchWorker, torch: BenchWorker, best: BenchWorker) => Promise<void>,
): Promise<RlcpResult> {
  const spec = RLCP_05B_LORA;
  const steps = ctx.steps ?? spec.steps;
  const warmup = ctx.warmup ?? spec.warmup;
  const modelDir = join(ctx.dir, 'rlcp-0.5b-lora');
  const inputsPath = join(ctx.dir, 'rlcp-0.5b-lora.json');
  log(`rlcp-0.5b-lora: writing Qwen2.5-0.5B-shaped random weights as BF16 (saveToDir)`);
  await initModel(modelDir, spec.config, 'BF16');
  writeRlcpInputs(inputsPath, SEED + 3);
  const rlcp = rlcpWorker('rlcp rlcp-0.5b-lora');
  const torch = torchWorker('torch rlcp-0.5b-lora (SGEMM only)', ctx.peer, false);
  const best = torchWorker('torch (OPENBLAS_* unset) rlcp-0.5b-lora', ctx.peer, true);
  const workers = [rlcp, torch, best];
  try {
    const init = { dir: modelDir, inputs_path: inputsPath, seed: SEED, spec };
    const rlcpInit = await rlcp.call('rlcp_init', init);
    await best.call('rlcp_init', init);
    await onWorkers(rlcp, torch, best);
    await torch.close();
    const all = configs(rlcp, torch, best, ctx.threads).filter((c) => c.side !== 'torch');
    const ms: Record<string, number[]> = Object.fromEntries(all.map((c) => [c.key, []]));
    const firstLoss: Record<string, number> = {};
    let active = all;
    let bar = new ProgressBar({ label: 'rlcp-0.5b-lora', total: (warmup + 1) * all.length, unit: 'step' });
    for (let r = 0; r < warmup + steps; r++) {
      for (const c of rotated(active, r)) {
        const reply = await c.worker.call('rlcp_step', { threads: c.threads });
        if (!(c.worker.label in firstLoss)) firstLoss[c.worker.label] = reply.loss as number;
        if (r >= warmup) ms[c.key]!.push(reply.ms as number);
        bar.tick(1, 1, { loss: reply.loss as number });
      }
      if (r === warmup && steps > 1) {
        bar.finish();
        active = prune(active, ms, 'rlcp-0.5b-lora');
        bar = new ProgressBar({ label: 'rlcp-0.5b-lora', total: (steps - 1) * active.length, unit: 'step' });
      }
    }
    bar.finish();
    const rss = async (w: BenchWorker) => (await w.call('status')).vmhwm_mb as number;
    return {
      params: rlcpInit.params as number,
      loraParams: rlcpInit.lora_params as number,
      warmup,
      steps,
      flops: rlcpStepFlops(spec),
      ms,
      firstLoss: { rlcp: firstLoss[rlcp.label]!, torch_best: firstLoss[best.label]! },
      rss: { rlcp: await rss(rlcp), torchBest: await rss(best) },
    };
  } finally {
    await Promise.all(workers.map((w) => w.close().catch(() => w.kill())));
    rmSync(modelDir, { recursive: true, force: true });
  }
}

interface RlcpProfile {
  rssMb: number;
  flops: number;
  profile: { stepsMs: number[]; summary: ProfileSummary };
  /** Per profiled step: each stage's ms and the resident set after it (rlcp-worker.ts RlcpStages). */
  stages: { stage: string; ms: number; rss_mb: number }[][];
}

/** rlcp alone (--profile-only --size rlcp-0.5b-lora): warm-up steps, then profiled steps with stage timers. */
async function profileRlcpStep(ctx: {
  dir: string;
  threads: number;
  steps?: number;
  warmup?: number;
}): Promise<RlcpProfile> {
  const spec = RLCP_05B_LORA;
  const modelDir = join(ctx.dir, 'rlcp-0.5b-lora');
  const inputsPath = join(ctx.dir, 'rlcp-0.5b-lora.json');
  await initModel(modelDir, spec.config, 'BF16');
  writeRlcpInputs(inputsPath, SEED + 3);
  const rlcp = rlcpWorker('rlcp rlcp-0.5b-lora');
  try {
    await rlcp.call('rlcp_init', { dir: modelDir, inputs_path: inputsPath, seed: SEED, spec });
    const warmup = ctx.warmup ?? spec.warmup;
    for (let i = 0; i < warmup; i++) await rlcp.call('rlcp_step', { threads: ctx.threads });
    log("rlcp-0.5b-lora: profiling rlcp's step");
    const reply = await rlcp.call('profile_rlcp', {
      threads: ctx.threads,
      steps: ctx.steps ?? 1,
      interval_us: 1000,
    });
    return {
      rssMb: (await rlcp.call('status')).vmhwm_mb as number,
      flops: rlcpStepFlops(spec).total,
      profile: { stepsMs: reply.steps_ms as number[], summary: reply.breakdown as ProfileSummary },
      stages: reply.stages as RlcpProfile['stages'],
    };
  } finally {
    await rlcp.close().catch(() => rlcp.kill());
    rmSync(modelDir, { recursive: true, force: true });
  }
}

/** The stage table of an RLCP step profile: median ms over the profiled steps, the resident set after each. */
function printRlcpStages(stages: RlcpProfile['stages']): void {
  const total = stages[0]!.reduce((sum, _, i) => sum + median(stages.map((s) => s[i]!.ms)), 0);
  console.log(
    '\nrlcp-0.5b-lora step by stage (median ms of the profiled steps; RSS after the stage, last step)',
  );
  console.log(
    table(
      ['stage', 'ms', 'share', 'RSS MB'],
      stages[0]!.map((row, i) => {
        const ms = median(stages.map((s) => s[i]!.ms));
        return [row.stage, fmt(ms), `${fmt((100 * ms) / total)}%`, fmt(stages.at(-1)![i]!.rss_mb, 0)];
      }),
    ),
  );
}

/** The JSON row of rlcp-0.5b-lora: step times, FLOPs, model-FLOP utilisation against each side's SGEMM. */
function rlcpSummary(r: RlcpResult, rlcpKey: string, sgemm: SgemmResult) {
  const best = bestOf(r.ms, ['best@1', 'best@2'], 1);
  const rlcpS = median(r.ms[rlcpKey]!) / 1000;
  const bestS = 1 / best.perS;
  // The best SGEMM of the run, not the median: the host's speed drifts, and a median caught in a slow
  // moment let MFU read above 100 % (134.5 % on 2026-12-07).
  const rlcpSgemm = Math.max(...sgemm.rlcp) * 1e9;
  const torchSgemm = Math.max(...sgemm.torchBest) * 1e9;
  return {
    json: {
      size: 'rlcp-0.5b-lora',
      rlcp_step_s: round(rlcpS),
      torch_best_step_s: round(bestS),
      torch_best_config: best.key,
      ratio_best: round(bestS / rlcpS),
      flops_forward: r.flops.forward,
      flops_backward: r.flops.backward,
      flops_reference: r.flops.reference,
      flops_total: r.flops.total,
      rlcp_gflops: round(r.flops.total / rlcpS / 1e9),
      torch_best_gflops: round(r.flops.total / bestS / 1e9),
      rlcp_sgemm_gflops: round(rlcpSgemm / 1e9),
      torch_best_sgemm_gflops: round(torchSgemm / 1e9),
      rlcp_mfu: round(r.flops.total / rlcpS / rlcpSgemm),
      torch_best_mfu: round(r.flops.total / bestS / torchSgemm),
      rlcp_peak_rss_mb: round(r.rss.rlcp, 1),
      torch_best_peak_rss_mb: round(r.rss.torchBest, 1),
      rlcp_loss_first: round(r.firstLoss.rlcp, 6),
      torch_best_loss_first: round(r.firstLoss.torch_best, 6),
      params: r.params,
      lora_params: r.loraParams,
      steps: r.steps,
      warmup: r.warmup,
    },
    bestKey: best.key,
  };
}

// ---- gsm8k-0.5b: batched greedy GSM8K generation at Qwen2.5-0.5B's shape ----

interface GenerationRun {
  prefillMs: number;
  stepMs: number[];
  totalMs: number;
  tokens: number[][];
  stopReasons: string[];
}

interface Gsm8kResult {
  options: Gsm8kBenchOptions;
  params: number;
  torchKey: string;
  /** Prompt lengths, the shared prefix (run once) and the rest left-padded to `suffix`. */
  promptTokens: { min: number; max: number; shared: number; suffix: number };
  flops: ReturnType<typeof generationFlops>;
  loadS: { rlcp: number; torch_best: number };
  sgemm: { rlcp: number[]; torchBest: number[] };
  runs: { rlcp: GenerationRun; torch_best: GenerationRun };
  rss: { rlcp: number; torchBest: number };
}

/**
 * rlcp's `generate` against the PyTorch peer with OPENBLAS_* unset (its best case) at the same thread
 * count, one generation each, back to back (each is minutes), SGEMM measured in the same processes.
 */
async function benchGsm8k(ctx: {
  dir: string;
  peer: PeerSetup;
  threads: number;
  options: Gsm8kBenchOptions;
}): Promise<Gsm8kResult> {
  const { options } = ctx;
  const modelDir = join(ctx.dir, 'gsm8k-0.5b');
  const promptsPath = join(ctx.dir, 'gsm8k-prompts.json');
  const piecesPath = join(ctx.dir, 'gsm8k-pieces.json');
  log(`gsm8k-0.5b: writing Qwen2.5-0.5B-shaped random weights as BF16 (saveToDir)`);
  const init = await initModel(modelDir, GSM8K_05B.config, 'BF16');
  const tokenizer = await loadTokenizer(QWEN_TOKENIZER_DIR);
  // As src/eval/suites/inference.ts: prompts without special tokens, EOS = config's ∪ tokenizer's.
  const prompts = gsm8kBenchPrompts(options.data, options.prompts).map((p) =>
    tokenizer.encode(p, { addSpecialTokens: false }),
  );
  const eos = [
    ...new Set([
      GSM8K_05B.config.eos_token_id,
      ...(tokenizer.eosTokenId === null ? [] : [tokenizer.eosTokenId]),
    ]),
  ];
  const vocabLimit = tokenizer.vocabSize;
  writeFileSync(promptsPath, JSON.stringify(prompts));
  // The peer has no tokenizer: it checks the stop strings on the concatenated text of each id.
  writeFileSync(
    piecesPath,
    JSON.stringify(
      Array.from({ length: vocabLimit }, (_, id) => tokenizer.decode([id], { skipSpecialTokens: true })),
    ),
  );
  const lengths = prompts.map((p) => p.length);
  const shared = sharedPrefixLength(prompts);
  const suffix = Math.max(...lengths) - shared;
  const command = {
    threads: ctx.threads,
    prompts_path: promptsPath,
    pieces_path: piecesPath,
    tokenizer_dir: QWEN_TOKENIZER_DIR,
    max_new: options.maxNewTokens,
    stop: GSM8K_05B.stopStrings,
    eos,
    pad: tokenizer.padTokenId ?? eos[0]!,
    vocab_limit: vocabLimit,
    share_prefix: true,
  };
  const rlcp = rlcpWorker('rlcp gsm8k-0.5b');
  const best = torchWorker('torch (OPENBLAS_* unset) gsm8k-0.5b', ctx.peer, true);
  const workers = [rlcp, best];
  try {
    const loadS = {
      rlcp: (await rlcp.call('infer_init', { dir: modelDir })).load_s as number,
      torch_best: (await best.call('infer_init', { dir: modelDir })).load_s as number,
    };
    const sgemm = { rlcp: [] as number[], torchBest: [] as number[] };
    for (let r = 0; r < 3; r++) {
      for (const [w, out] of [
        [rlcp, sgemm.rlcp],
        [best, sgemm.torchBest],
      ] as const) {
        out.push(...((await w.call('sgemm', { threads: ctx.threads, n: 1024, reps: 3 })).gflops as number[]));
      }
    }
    const run = async (w: BenchWorker): Promise<GenerationRun> => {
      log(`gsm8k-0.5b: ${w.label}: ${prompts.length} prompts × ${options.maxNewTokens} new tokens`);
      const reply = await w.call('generate', command);
      return {
        prefillMs: reply.prefill_ms as number,
        stepMs: reply.step_ms as number[],
        totalMs: reply.total_ms as number,
        tokens: reply.tokens as number[][],
        stopReasons: reply.stop_reasons as string[],
      };
    };
    const runs = { rlcp: await run(rlcp), torch_best: await run(best) };
    const rss = async (w: BenchWorker) => (await w.call('status')).vmhwm_mb as number;
    return {
      options,
      params: init.params as number,
      torchKey: `best@${ctx.threads}`,
      promptTokens: { min: Math.min(...lengths), max: Math.max(...lengths), shared, suffix },
      flops: generationFlops(prompts.length, shared, suffix, options.maxNewTokens),
      loadS,
      sgemm,
      runs,
      rss: { rlcp: await rss(rlcp), torchBest: await rss(best) },
    };
  } finally {
    await Promise.all(workers.map((w) => w.close().catch(() => w.kill())));
    rmSync(modelDir, { recursive: true, force: true });
  }
}

/** The JSON row of gsm8k-0.5b: generated tokens/s (end to end and decode only), FLOPs, MFU, parity. */
function gsm8kSummary(g: Gsm8kResult) {
  const side = (run: GenerationRun, sgemm: number[]) => {
    const generated = run.tokens.reduce((n, t) => n + t.length, 0);
    const decodeMs = run.stepMs.reduce((a, b) => a + b, 0);
    return {
      generated,
      tokensPerS: generated / (run.totalMs / 1000),
      // Decode steps make every token after each row's first (chosen by the prefill).
      decodeTokensPerS: (g.options.prompts * run.stepMs.length) / (decodeMs / 1000),
      prefillS: run.prefillMs / 1000,
      decodeS: decodeMs / 1000,
      totalS: run.totalMs / 1000,
      gflops: g.flops.total / (run.totalMs / 1000) / 1e9,
      mfu: g.flops.total / (run.totalMs / 1000) / (Math.max(...sgemm) * 1e9),
      stopped: run.stopReasons.filter((r) => r !== 'max_new_tokens').length,
    };
  };
  const rlcp = side(g.runs.rlcp, g.sgemm.rlcp);
  const torch = side(g.runs.torch_best, g.sgemm.torchBest);
  const [a, b] = [g.runs.rlcp.tokens, g.runs.torch_best.tokens];
  // Per row: how many leading tokens both sides generated alike (random weights leave near-ties).
  const prefixes = a.map((row, i) => {
    let n = 0;
    while (n < row.length && row[n] === b[i]![n]) n++;
    return n;
  });
  const rowsAgree = prefixes.filter((n, i) => n === a[i]!.length && n === b[i]!.length).length;
  return {
    rlcp,
    torch,
    json: {
      size: 'gsm8k-0.5b',
      prompts: g.options.prompts,
      max_new_tokens: g.options.maxNewTokens,
      prompt_tokens_min: g.promptTokens.min,
      prompt_tokens_max: g.promptTokens.max,
      prompt_tokens_shared: g.promptTokens.shared,
      prompt_tokens_rest_padded: g.promptTokens.suffix,
      torch_config: g.torchKey,
      rlcp_tokens_per_s: round(rlcp.tokensPerS),
      torch_best_tokens_per_s: round(torch.tokensPerS),
      ratio_best: round(rlcp.tokensPerS / torch.tokensPerS),
      rlcp_decode_tokens_per_s: round(rlcp.decodeTokensPerS),
      torch_best_decode_tokens_per_s: round(torch.decodeTokensPerS),
      decode_ratio_best: round(rlcp.decodeTokensPerS / torch.decodeTokensPerS),
      rlcp_prefill_s: round(rlcp.prefillS),
      torch_best_prefill_s: round(torch.prefillS),
      rlcp_total_s: round(rlcp.totalS),
      torch_best_total_s: round(torch.totalS),
      flops_prefill: g.flops.prefill,
      flops_decode: g.flops.decode,
      flops_total: g.flops.total,
      rlcp_gflops: round(rlcp.gflops),
      torch_best_gflops: round(torch.gflops),
      rlcp_sgemm_gflops: round(Math.max(...g.sgemm.rlcp)),
      torch_best_sgemm_gflops: round(Math.max(...g.sgemm.torchBest)),
      rlcp_mfu: round(rlcp.mfu),
      torch_best_mfu: round(torch.mfu),
      rlcp_generated_tokens: rlcp.generated,
      torch_best_generated_tokens: torch.generated,
      rlcp_rows_stopped_early: rlcp.stopped,
      torch_best_rows_stopped_early: torch.stopped,
      rows_tokens_identical: rowsAgree,
      tokens_agree_prefix_min: Math.min(...prefixes),
      tokens_agree_prefix_mean: round(prefixes.reduce((x, y) => x + y, 0) / prefixes.length, 1),
      rlcp_load_s: round(g.loadS.rlcp),
      torch_best_load_s: round(g.loadS.torch_best),
      rlcp_peak_rss_mb: round(g.rss.rlcp, 1),
      torch_best_peak_rss_mb: round(g.rss.torchBest, 1),
      params: g.params,
    },
  };
}

// ---- inference ----

interface InferenceResult {
  params: number;
  promptTokens: number;
  decodeTokens: number;
  loadS: Record<string, number>;
  prefillMs: Record<string, number[]>;
  decodeMs: Record<string, number[]>;
  tokens: Record<string, number[]>;
  rss: { rlcp: number; torch: number; torchBest: number };
  logitsMaxAbsDiff: number;
  logitsMaxAbs: number;
}

async function benchInference(
  ctx: {
    dir: string;
    peer: PeerSetup;
    threads: number;
    prompt: number;
    decode: number;
    prefillRounds: number;
  },
  onWorkers: (rlcp: BenchWorker, torch: BenchWorker, best: BenchWorker) => Promise<void>,
): Promise<InferenceResult> {
  const modelDir = join(ctx.dir, 'qwen2.5-0.5b-bf16');
  const idsPath = join(ctx.dir, 'prompt.ids');
  log(`inference: writing Qwen2.5-0.5B-shaped random weights as BF16 (saveToDir)`);
  const init = await initModel(modelDir, QWEN25_05B, 'BF16');
  writeIds(idsPath, ctx.prompt, QWEN25_05B.vocab_size, SEED + 2);
  const maxNew = ctx.decode + 1;

  const rlcp = rlcpWorker('rlcp inference');
  const torch = torchWorker('torch inference', ctx.peer, false);
  const best = torchWorker('torch (OPENBLAS_* unset) inference', ctx.peer, true);
  const workers = [rlcp, torch, best];
  try {
    const loadS: Record<string, number> = {};
    for (const w of workers)
      loadS[w.label] = (await w.call('infer_init', { dir: modelDir })).load_s as number;
    await onWorkers(rlcp, torch, best);
    const all = configs(rlcp, torch, best, ctx.threads);
    const prefillMs: Record<string, number[]> = Object.fromEntries(all.map((c) => [c.key, []]));
    const decodeMs: Record<string, number[]> = Object.fromEntries(all.map((c) => [c.key, []]));
    const tokens: Record<string, number[]> = Object.fromEntries(all.map((c) => [c.key, []]));
    const logitsPath = (c: Config) => join(ctx.dir, `logits-${c.side}.f32`);

    const chunk = 16;
    const chunks = Math.ceil(ctx.decode / chunk);
    // One warm-up prefill each (first-call costs: graph compilation, page faults), then timed rounds;
    // the last prefill's KV cache is the one decoding continues from.
    let active = all;
    let bar = new ProgressBar({ label: 'prefill', total: 2 * all.length, unit: 'call' });
    for (let r = -1; r < ctx.prefillRounds; r++) {
      for (const c of rotated(active, r + 1)) {
        const write = r === -1 && (c.side === 'rlcp' || c.key === 'torch@2');
        const reply = await c.worker.call('prefill', {
          threads: c.threads,
          ids_path: idsPath,
          session: c.key,
          max_new: maxNew,
          ...(write ? { logits_path: logitsPath(c) } : {}),
        });
        if (r >= 0) prefillMs[c.key]!.push(reply.ms as number);
        tokens[c.key] = [reply.token as number];
        bar.tick(1, 1);
      }
      if (r === 0 && ctx.prefillRounds > 1) {
        bar.finish();
        active = prune(active, prefillMs, 'prefill');
        bar = new ProgressBar({
          label: 'prefill',
          total: (ctx.prefillRounds - 1) * active.length,
          unit: 'call',
        });
      }
    }
    bar.finish();
    active = all;
    bar = new ProgressBar({ label: 'decode', total: all.length, unit: 'tok' });
    for (let k = 0; k < chunks; k++) {
      const n = Math.min(chunk, ctx.decode - k * chunk);
      for (const c of rotated(active, k)) {
        const reply = await c.worker.call('decode', { threads: c.threads, session: c.key, n });
        decodeMs[c.key]!.push(...(reply.ms as number[]));
        tokens[c.key]!.push(...(reply.tokens as number[]));
        bar.tick(1, n);
      }
      if (k === 0 && chunks > 1) {
        bar.finish();
        active = prune(active, decodeMs, 'decode');
        bar = new ProgressBar({ label: 'decode', total: (chunks - 1) * active.length, unit: 'tok' });
      }
    }
    bar.finish();
    const rlcpLogits = new Float32Array(readFileSync(logitsPath(all[0]!)).buffer.slice(0));
    const torchLogits = new Float32Array(readFileSync(logitsPath(all[2]!)).buffer.slice(0));
    let maxDiff = 0;
    let maxAbs = 0;
    for (let i = 0; i < rlcpLogits.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(rlcpLogits[i]! - torchLogits[i]!));
      maxAbs = Math.max(maxAbs, Math.abs(torchLogits[i]!));
    }
    const rss = async (w: BenchWorker) => (await w.call('status')).vmhwm_mb as number;
    return {
      params: init.params as number,
      promptTokens: ctx.prompt,
      decodeTokens: ctx.decode,
      loadS: { rlcp: loadS[rlcp.label]!, torch: loadS[torch.label]!, torch_best: loadS[best.label]! },
      prefillMs,
      decodeMs,
      tokens,
      rss: { rlcp: await rss(rlcp), torch: await rss(torch), torchBest: await rss(best) },
      logitsMaxAbsDiff: maxDiff,
      logitsMaxAbs: maxAbs,
    };
  } finally {
    await Promise.all(workers.map((w) => w.close().catch(() => w.kill())));
    rmSync(modelDir, { recursive: true, force: true });
  }
}

// ---- reporting ----

/** Throughput (units/s) of the better of two configurations by median time, and which one it was. */
function bestOf(perUnitMs: Record<string, number[]>, keys: string[], units: number) {
  let bestKey = keys[0]!;
  for (const key of keys) if (median(perUnitMs[key]!) < median(perUnitMs[bestKey]!)) bestKey = key;
  return { key: bestKey, perS: (units * 1000) / median(perUnitMs[bestKey]!) };
}

function trainSummary(t: TrainResult, rlcpKey: string) {
  const tokens = t.batch * t.seq;
  const rlcp = (tokens * 1000) / median(t.ms[rlcpKey]!);
  const torch = bestOf(t.ms, ['torch@1', 'torch@2'], tokens);
  const best = bestOf(t.ms, ['best@1', 'best@2'], tokens);
  return {
    json: {
      size: t.size,
      rlcp_tokens_per_s: round(rlcp),
      torch_tokens_per_s: round(torch.perS),
      torch_best_tokens_per_s: round(best.perS),
      ratio: round(rlcp / torch.perS),
      ratio_best: round(rlcp / best.perS),
      rlcp_peak_rss_mb: round(t.rss.rlcp, 1),
      torch_peak_rss_mb: round(t.rss.torch, 1),
    },
    torchKey: torch.key,
    bestKey: best.key,
  };
}

function relDiff(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);
}

function inferenceSummary(inf: InferenceResult, rlcpKey: string) {
  const prefill = (key: string) => (inf.promptTokens * 1000) / median(inf.prefillMs[key]!);
  const decode = (key: string) => 1000 / median(inf.decodeMs[key]!);
  const torchPrefill = bestOf(inf.prefillMs, ['torch@1', 'torch@2'], inf.promptTokens);
  const bestPrefill = bestOf(inf.prefillMs, ['best@1', 'best@2'], inf.promptTokens);
  const torchDecode = bestOf(inf.decodeMs, ['torch@1', 'torch@2'], 1);
  const bestDecode = bestOf(inf.decodeMs, ['best@1', 'best@2'], 1);
  const window = Math.min(16, Math.floor(inf.decodeTokens / 2));
  const early = (key: string) => median(inf.decodeMs[key]!.slice(0, window));
  // Only configurations that decoded every token have a late window.
  const late = (key: string) =>
    inf.decodeMs[key]!.length === inf.decodeTokens ? median(inf.decodeMs[key]!.slice(-window)) : Number.NaN;
  const a = inf.tokens[rlcpKey]!;
  const b = inf.tokens[torchDecode.key]!;
  let agree = 0;
  while (agree < a.length && a[agree] === b[agree]) agree++;
  return {
    json: {
      model: 'Qwen2.5-0.5B shapes (random init)',
      layers: QWEN25_05B.num_hidden_layers,
      params: inf.params,
      weights_dtype: 'BF16',
      prompt_tokens: inf.promptTokens,
      decode_tokens: inf.decodeTokens,
      rlcp_load_s: round(inf.loadS.rlcp!),
      torch_load_s: round(inf.loadS.torch!),
      rlcp_prefill_tokens_per_s: round(prefill(rlcpKey)),
      torch_prefill_tokens_per_s: round(torchPrefill.perS),
      torch_best_prefill_tokens_per_s: round(bestPrefill.perS),
      prefill_ratio: round(prefill(rlcpKey) / torchPrefill.perS),
      prefill_ratio_best: round(prefill(rlcpKey) / bestPrefill.perS),
      rlcp_decode_tokens_per_s: round(decode(rlcpKey)),
      torch_decode_tokens_per_s: round(torchDecode.perS),
      torch_best_decode_tokens_per_s: round(bestDecode.perS),
      decode_ratio: round(decode(rlcpKey) / torchDecode.perS),
      decode_ratio_best: round(decode(rlcpKey) / bestDecode.perS),
      rlcp_decode_ms_first: round(early(rlcpKey)),
      rlcp_decode_ms_last: round(late(rlcpKey)),
      torch_decode_ms_first: round(early(torchDecode.key)),
      torch_decode_ms_last: round(late(torchDecode.key)),
      decode_window_tokens: window,
      rlcp_peak_rss_mb: round(inf.rss.rlcp, 1),
      torch_peak_rss_mb: round(inf.rss.torch, 1),
      logits_max_abs_diff: round(inf.logitsMaxAbsDiff),
      greedy_tokens_agree: agree,
    },
    torchPrefillKey: torchPrefill.key,
    torchDecodeKey: torchDecode.key,
    early,
    late,
    prefill,
    decode,
    window,
  };
}

function printProfile(
  t: {
    size: string;
    flops: number;
    profile?: TrainResult['profile'];
    gemmShapes?: TrainResult['gemmShapes'];
  },
  ratioValid = true,
): void {
  const p = t.profile!;
  const total = p.summary.sampledMs;
  const gemmMs = p.summary.groups['GEMM (native)'] ?? 0;
  console.log(
    `\nrlcp step profile, ${t.size} (V8 sampling over ${p.stepsMs.length} steps of ${p.stepsMs
      .map((ms) => ms.toFixed(0))
      .join(', ')} ms; ms per step)`,
  );
  const groups = Object.entries(p.summary.groups).sort((a, b) => b[1] - a[1]);
  console.log(
    table(
      ['group', 'ms/step', 'share'],
      groups.map(([g, ms]) => [g, fmt(ms), `${fmt((100 * ms) / total)}%`]),
    ),
  );
  console.log(
    `GEMM FLOPs per step ${(t.flops / 1e9).toFixed(1)} G → ${fmt(t.flops / (gemmMs / 1000) / 1e9)} GFLOP/s while in GEMM`,
  );
  console.log('\nlargest (phase, op, kernel) rows:');
  console.log(
    table(
      ['phase', 'op', 'kernel', 'group', 'ms/step', 'share'],
      p.summary.rows
        .slice(0, 24)
        .map((r) => [r.phase, r.op, r.kernel, groupOf(r), fmt(r.ms), `${fmt((100 * r.ms) / total)}%`]),
    ),
  );
  if (t.gemmShapes) {
    const { torchKey, rows } = t.gemmShapes;
    console.log(
      `\nGEMMs of the step's linear layers, GFLOP/s median of ${rows[0]?.rlcp.length ?? 0}` +
        (torchKey ? ` (PyTorch: ${torchKey}, interleaved)` : ''),
    );
    console.log(
      table(
        ['GEMM', 'GFLOP', 'rlcp', 'rlcp@1', ...(torchKey ? ['torch', 'rlcp/torch'] : [])],
        rows.map((r) => [
          r.name,
          fmt(r.flops / 1e9, 2),
          fmt(median(r.rlcp)),
          fmt(median(r.rlcp1)),
          ...(torchKey
            ? [fmt(median(r.torch)), ratioCell(median(r.rlcp) / median(r.torch), ratioValid)]
            : []),
        ]),
      ),
    );
  }
}

// ---- entry ----

export async function runBench(args: ParsedArgs): Promise<number> {
  const requested = resolveSizes(optString(args, 'size') ?? 'all');
  const sizes = optFlag(args, 'skip-train') ? [] : requested.filter(isTrainSize);
  const withRlcpStep = !optFlag(args, 'skip-train') && requested.includes('rlcp-0.5b-lora');
  const gsm8kOptions = requested.includes('gsm8k-0.5b') ? gsm8kBenchOptions(args) : null;
  const skipInference = optFlag(args, 'skip-inference');
  const threads = optNumber(args, 'threads', 2);
  const positiveInt = (key: string, fallback: number | undefined) => {
    const value = args.options.has(key) ? optNumber(args, key, 0) : fallback;
    if (value !== undefined && !(Number.isInteger(value) && value >= (key === 'warmup' ? 0 : 1))) {
      throw new Error(`--${key} must be a ${key === 'warmup' ? 'non-negative' : 'positive'} integer`);
    }
    return value;
  };
  const steps = positiveInt('steps', undefined);
  const warmup = positiveInt('warmup', undefined);
  const prompt = positiveInt('prompt-tokens', 128)!;
  const decode = positiveInt('decode-tokens', 128)!;
  const prefillRounds = positiveInt('prefill-rounds', 3)!;
  if (!(Number.isInteger(threads) && threads >= 1)) throw new Error('--threads must be a positive integer');
  const python = optString(args, 'python') ?? '/usr/bin/python3';
  if (!existsSync(python))
    throw new Error(`--python ${python}: not found (Debian's python3-torch lives there)`);
  const peer: PeerSetup = { python, blasDir: findBlasDir(args) };
  const profile = optFlag(args, 'profile');
  const asJson = optFlag(args, 'json');
  if (optFlag(args, 'profile-only')) {
    const dir = mkdtempSync(join(tmpdir(), 'rlcp-bench-'));
    try {
      if (requested.includes('rlcp-0.5b-lora')) {
        const p = await profileRlcpStep({ dir, threads, steps, warmup });
        console.log(
          `load average ${loadavg()
            .map((l) => l.toFixed(1))
            .join(' ')}; peak RSS ${fmt(p.rssMb, 0)} MB`,
        );
        printRlcpStages(p.stages);
        printProfile({ size: 'rlcp-0.5b-lora', flops: p.flops, profile: p.profile });
      }
      const trainSizes = sizes.length > 0 || requested.includes('rlcp-0.5b-lora') ? sizes : [...TRAIN_SIZES];
      for (const size of trainSizes) {
        const p = await profileTrain(size, { dir, threads, steps, warmup });
        console.log(
          `load average ${loadavg()
            .map((l) => l.toFixed(1))
            .join(' ')}; peak RSS ${fmt(p.rssMb, 0)} MB`,
        );
        printProfile(p);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return 0;
  }
  if (sizes.length === 0 && !withRlcpStep && !gsm8kOptions && skipInference)
    throw new Error('nothing to run (--skip-train and --skip-inference)');

  // Before any work: a peer on the reference BLAS is refused (or, when allowed, its ratios marked invalid).
  const peerInfo = await preflightPeer(peer);
  const { ratioValid } = ratioValidity(peerInfo.blas, optFlag(args, 'allow-reference-blas'));
  const peerJson = { peer_blas: peerInfo.blas, ratio_valid: ratioValid };
  const ratio = (value: number, digits = 2) => ratioCell(value, ratioValid, digits);

  const started = new Date();
  const loadBefore = loadavg();
  const dir = mkdtempSync(join(tmpdir(), 'rlcp-bench-'));
  let sgemm: SgemmResult | null = null;
  const once = async (rlcp: BenchWorker, torch: BenchWorker, best: BenchWorker) => {
    if (sgemm) return;
    log('SGEMM 1024³ (rlcp, torch, torch with OPENBLAS_* unset, interleaved)');
    sgemm = await measureSgemm(rlcp, torch, best, threads);
  };
  const train: TrainResult[] = [];
  let rlcpStep: RlcpResult | null = null;
  let inference: InferenceResult | null = null;
  let gsm8k: Gsm8kResult | null = null;
  try {
    for (const size of sizes) {
      train.push(await benchTrain(size, { dir, peer, threads, steps, warmup, profile }, once));
    }
    if (withRlcpStep) rlcpStep = await benchRlcpStep({ dir, peer, threads, steps, warmup }, once);
    if (gsm8kOptions) gsm8k = await benchGsm8k({ dir, peer, threads, options: gsm8kOptions });
    if (!skipInference) {
      inference = await benchInference({ dir, peer, threads, prompt, decode, prefillRounds }, once);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const loadAfter = loadavg();
  const sg = sgemm as SgemmResult | null;
  const rlcpKey = `rlcp@${threads}`;

  // ---- the table ----
  const blas = peerInfo.blas;
  console.log(
    `rlcp bench — ${started.toISOString()}, load average ${loadBefore.map((l) => l.toFixed(1)).join(' ')} ` +
      `at start, ${loadAfter.map((l) => l.toFixed(1)).join(' ')} at end (${cpus().length} CPUs)`,
  );
  console.log(
    `rlcp: onnxruntime MLAS GEMM, ${threads} threads. PyTorch ${peerInfo.torch} (${python}), BLAS ` +
      `${blas.library}${blas.core ? ` core ${blas.core}` : ''}; with OPENBLAS_* unset: core ` +
      `${blas.core_openblas_unset ?? '?'}${peer.blasDir ? `; LD_LIBRARY_PATH=${peer.blasDir}` : ''}`,
  );
  const invalidNote =
    '\nINVALID RATIOS (--allow-reference-blas): PyTorch runs on the netlib reference BLAS, so every ' +
    'rlcp/PyTorch ratio below is marked INVALID (ratio_valid: false in the JSON).';
  if (!ratioValid) console.log(invalidNote);
  if (sg) {
    console.log(
      `\nSGEMM 1024³ GFLOP/s, median (best) of ${sg.rlcp.length}: rlcp ${fmt(median(sg.rlcp))} ` +
        `(${fmt(Math.max(...sg.rlcp))}), torch.mm ${fmt(median(sg.torch))} (${fmt(Math.max(...sg.torch))}), ` +
        `torch.mm OPENBLAS_* unset ${fmt(median(sg.torchBest))} (${fmt(Math.max(...sg.torchBest))}); ` +
        `all at ${threads} threads`,
    );
  }
  const trainJson = train.map((t) => trainSummary(t, rlcpKey));
  if (train.length > 0) {
    console.log(
      '\nTraining step = forward + backward + clip-by-global-norm + AdamW; median step time (ms) of N ' +
        'steps after W warm-up, all configurations interleaved round-robin; tok/s = batch·seq / step time.',
    );
    console.log(
      table(
        [
          'size',
          'B×T',
          'params',
          'N/W',
          `rlcp@${threads}`,
          'torch@1',
          'torch@2',
          'best@1',
          'best@2',
          'rlcp tok/s',
          'torch tok/s',
          'best tok/s',
          'ratio',
          'ratio_best',
        ],
        train.map((t, i) => {
          const j = trainJson[i]!.json;
          return [
            t.size,
            `${t.batch}×${t.seq}`,
            `${(t.params / 1e6).toFixed(1)}M`,
            `${t.steps}/${t.warmup}`,
            ...[rlcpKey, 'torch@1', 'torch@2', 'best@1', 'best@2'].map((key) => {
              const n = t.ms[key]!.length;
              return `${fmt(median(t.ms[key]!), 0)}${n < t.steps ? ` (n=${n})` : ''}`;
            }),
            fmt(j.rlcp_tokens_per_s, 0),
            fmt(j.torch_tokens_per_s, 0),
            fmt(j.torch_best_tokens_per_s, 0),
            ratio(j.ratio),
            ratio(j.ratio_best),
          ];
        }),
      ),
    );
    console.log(
      `(n=1: slower than ${PRUNE_FACTOR}× the other thread count in the first timed round, not repeated; ` +
        '"torch" = better of torch@1/torch@2 with this machine\'s environment; best = better of best@1/best@2 ' +
        'with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset; ratio = rlcp / torch, ratio_best = rlcp / best)',
    );
    console.log(
      '\n' +
        table(
          [
            'size',
            'rlcp RSS MB',
            'torch RSS MB',
            'best RSS MB',
            'RSS rlcp/torch',
            'loss₀ rlcp',
            'loss₀ torch',
            'rel. diff',
            'rlcp GFLOP/s',
          ],
          train.map((t) => [
            t.size,
            fmt(t.rss.rlcp, 0),
            fmt(t.rss.torch, 0),
            fmt(t.rss.torchBest, 0),
            fmt(t.rss.rlcp / t.rss.torch, 2),
            t.firstLoss.rlcp!.toFixed(6),
            t.firstLoss.torch!.toFixed(6),
            relDiff(t.firstLoss.rlcp!, t.firstLoss.torch!).toExponential(1),
            fmt(t.flops / (median(t.ms[rlcpKey]!) / 1000) / 1e9),
          ]),
        ),
    );
    console.log('(peak RSS = VmHWM of each process; loss₀ = first step, identical weights and tokens)');
    for (const t of train) if (t.profile) printProfile(t, ratioValid);
  }
  let rlcpStepJson: Record<string, unknown> | null = null;
  if (rlcpStep && sg) {
    const r = rlcpStep as RlcpResult;
    const s = rlcpSummary(r, rlcpKey, sg);
    rlcpStepJson = s.json;
    const j = s.json;
    console.log(
      `\nrlcp-0.5b-lora: one RLCP step at Qwen2.5-0.5B's shape (random init, BF16 on disk, LoRA r 8 on ` +
        `all projections: ${(r.loraParams / 1e6).toFixed(2)}M trained), configs/qwen2.5-0.5b-lora.json's ` +
        'streams (fact 4 + probe prompts 32, logic 2, retain 4, RAG 4), per-step reference; median of N steps ' +
        "after W warm-up, interleaved; MFU = step FLOP/s ÷ the same side's SGEMM 1024³ FLOP/s in this run.",
    );
    console.log(
      `FLOPs per step: forward ${(r.flops.forward / 1e12).toFixed(3)} T, backward ` +
        `${(r.flops.backward / 1e12).toFixed(3)} T, reference ${(r.flops.reference / 1e12).toFixed(3)} T, ` +
        `total ${(r.flops.total / 1e12).toFixed(3)} T (formula: bench/README.md)`,
    );
    const keys = Object.keys(r.ms);
    console.log(
      table(
        ['config', 'N/W', 'step s', 'GFLOP/s', 'MFU', 'loss₀', 'peak RSS MB'],
        keys.map((key) => {
          const sec = median(r.ms[key]!) / 1000;
          const isRlcp = key === rlcpKey;
          const sgemmFlops = median(isRlcp ? sg.rlcp : sg.torchBest) * 1e9;
          return [
            key,
            `${r.ms[key]!.length}/${r.warmup}`,
            fmt(sec, 2),
            fmt(r.flops.total / sec / 1e9),
            `${fmt((100 * r.flops.total) / sec / sgemmFlops)}%`,
            (isRlcp ? r.firstLoss.rlcp : r.firstLoss.torch_best).toFixed(4),
            fmt(isRlcp ? r.rss.rlcp : r.rss.torchBest, 0),
          ];
        }),
      ),
    );
    console.log(
      `ratio_best (PyTorch ${s.bestKey} step time / rlcp's) ${ratio(j.ratio_best)} (target ≥ 2.0); ` +
        `rlcp MFU ${fmt(100 * j.rlcp_mfu)}% (target ≥ 50%); rlcp peak RSS ${fmt(j.rlcp_peak_rss_mb, 0)} MB ` +
        "(target ≤ 6144). loss₀ differs: the probes and LoRA A are initialised by each side's own RNG.",
    );
  }
  let inferenceJson: Record<string, unknown> | null = null;
  if (inference) {
    const inf = inference as InferenceResult;
    const s = inferenceSummary(inf, rlcpKey);
    inferenceJson = s.json;
    const w = s.window;
    console.log(
      `\nInference, Qwen2.5-0.5B shapes (${QWEN25_05B.num_hidden_layers} layers, ` +
        `${(inf.params / 1e6).toFixed(0)}M params, random init, BF16 safetensors), batch 1: prefill ` +
        `${inf.promptTokens} tokens (median of ${prefillRounds} after 1 warm-up), then ${inf.decodeTokens} ` +
        'greedy tokens with the KV cache (decode tok/s = 1 / median per-token time).',
    );
    const keys = Object.keys(inf.prefillMs);
    console.log(
      table(
        [
          'config',
          'load s',
          'prefill ms (n)',
          'prefill tok/s',
          'decode tokens',
          'decode tok/s',
          `ms/token 1–${w}`,
          `ms/token ${inf.decodeTokens - w + 1}–${inf.decodeTokens}`,
        ],
        keys.map((key) => {
          const side = key.startsWith('rlcp') ? 'rlcp' : key.startsWith('torch') ? 'torch' : 'torch_best';
          return [
            key,
            fmt(inf.loadS[side], 2),
            `${fmt(median(inf.prefillMs[key]!), 0)} (${inf.prefillMs[key]!.length})`,
            fmt(s.prefill(key), 0),
            String(inf.decodeMs[key]!.length),
            fmt(s.decode(key), 2),
            fmt(s.early(key)),
            fmt(s.late(key)),
          ];
        }),
      ),
    );
    const j = s.json;
    console.log(
      `prefill ratio ${ratio(j.prefill_ratio)} (vs ${s.torchPrefillKey}), ratio_best ` +
        `${ratio(j.prefill_ratio_best)}; decode ratio ${ratio(j.decode_ratio)} (vs ${s.torchDecodeKey}), ` +
        `ratio_best ${ratio(j.decode_ratio_best)}`,
    );
    console.log(
      `peak RSS MB: rlcp ${fmt(inf.rss.rlcp, 0)} (target ≤ 3072), torch ${fmt(inf.rss.torch, 0)}, ` +
        `torch OPENBLAS_* unset ${fmt(inf.rss.torchBest, 0)}`,
    );
    console.log(
      `parity: last-position logits max |rlcp − torch| = ${inf.logitsMaxAbsDiff.toExponential(2)} ` +
        `(max |logit| ${inf.logitsMaxAbs.toFixed(3)}); greedy tokens identical for the first ` +
        `${j.greedy_tokens_agree} of ${inf.decodeTokens + 1}`,
    );
  }
  let gsm8kJson: Record<string, unknown> | null = null;
  if (gsm8k) {
    const g = gsm8k as Gsm8kResult;
    const s = gsm8kSummary(g);
    gsm8kJson = s.json;
    const o = g.options;
    console.log(
      `\ngsm8k-0.5b: batched greedy generation, ${o.prompts} GSM8K test prompts (8-shot CoT, ` +
        `${g.promptTokens.min}–${g.promptTokens.max} tokens: the ${g.promptTokens.shared} all share run once, the ` +
        `rest left-padded to ${g.promptTokens.suffix}) × ` +
        `${o.maxNewTokens} new tokens, stop strings ${GSM8K_05B.stopStrings.map((x) => JSON.stringify(x)).join(' ')}; ` +
        'Qwen2.5-0.5B shapes, random init, BF16 on disk; one KV cache for the batch on both sides; one ' +
        `generation each, back to back; PyTorch ${g.torchKey} (OPENBLAS_* unset). tok/s = generated tokens / ` +
        'whole generate() time (prefill included); decode tok/s = batch × decode steps / their time.',
    );
    console.log(
      `FLOPs: prefill ${(g.flops.prefill / 1e12).toFixed(3)} T, decode ${(g.flops.decode / 1e12).toFixed(3)} T, ` +
        `total ${(g.flops.total / 1e12).toFixed(3)} T (formula: bench/README.md); MFU = FLOP/s ÷ the same ` +
        "side's SGEMM 1024³ FLOP/s in this run.",
    );
    const row = (
      key: string,
      r: ReturnType<typeof gsm8kSummary>['rlcp'],
      load: number,
      sgemm: number[],
      rss: number,
    ) => [
      key,
      fmt(load, 2),
      fmt(r.prefillS, 2),
      fmt(r.decodeS, 2),
      fmt(r.totalS, 2),
      String(r.generated),
      fmt(r.tokensPerS, 1),
      fmt(r.decodeTokensPerS, 1),
      fmt(r.gflops),
      `${fmt(100 * r.mfu)}% (SGEMM ${fmt(median(sgemm))})`,
      String(r.stopped),
      fmt(rss, 0),
    ];
    console.log(
      table(
        [
          'config',
          'load s',
          'prefill s',
          'decode s',
          'total s',
          'tokens',
          'tok/s',
          'decode tok/s',
          'GFLOP/s',
          'MFU',
          'stopped',
          'peak RSS MB',
        ],
        [
          row(rlcpKey, s.rlcp, g.loadS.rlcp, g.sgemm.rlcp, g.rss.rlcp),
          row(g.torchKey, s.torch, g.loadS.torch_best, g.sgemm.torchBest, g.rss.torchBest),
        ],
      ),
    );
    const j = s.json;
    console.log(
      `ratio_best (tok/s rlcp / PyTorch) ${ratio(j.ratio_best)} (target ≥ 1.5), decode only ` +
        `${ratio(j.decode_ratio_best)}; rlcp ${fmt(j.rlcp_tokens_per_s)} tok/s (target ≥ 60). Rows stopped ` +
        `early (EOS or a stop string): rlcp ${j.rlcp_rows_stopped_early}, PyTorch ${j.torch_best_rows_stopped_early} ` +
        `of ${o.prompts} (random weights). Greedy tokens: ${j.rows_tokens_identical} of ${o.prompts} rows ` +
        `identical; leading tokens alike per row: min ${j.tokens_agree_prefix_min}, mean ` +
        `${j.tokens_agree_prefix_mean} of ${o.maxNewTokens}.`,
    );
  }
  if (asJson) {
    const out = {
      train_step: trainJson.map((t) => ({ ...t.json, ...peerJson })),
      rlcp_step: rlcpStepJson ? { ...rlcpStepJson, ...peerJson } : null,
      sgemm_gflops: sg ? round(median(sg.rlcp)) : null,
      torch_sgemm_gflops: sg ? round(median(sg.torch)) : null,
      inference: inferenceJson ? { ...inferenceJson, ...peerJson } : null,
      gsm8k: gsm8kJson ? { ...gsm8kJson, ...peerJson } : null,
      ...peerJson,
    };
    console.log(JSON.stringify(out));
  }
  return 0;
}
