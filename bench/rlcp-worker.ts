// rlcp's side of `rlcp bench`, run as a child process (see protocol.ts) so that its peak RSS is its own.
// Started by bench/run.ts as `node --import tsx bench/rlcp-worker.ts`; commands:
//   init_model {config, seed, dir, dtype}        random HF init, saved with saveToDir (the shared init)
//   train_init {dir, ids_path, batch, seq, lr, weight_decay, clip}
//   train_step {threads}                         forward + backward + clip + AdamW; {ms, loss}
//   profile_steps {threads, steps}               the same steps under V8's sampling profiler: breakdown
//   infer_init {dir}                             fromPretrained; {load_s}
//   prefill {threads, ids_path, session, max_new, logits_path?}   fresh KV cache; {ms, token}
//   decode {threads, session, n}                 greedy with the KV cache; {ms: [...], tokens: [...]}
//   sgemm {threads, n, reps}                     native GEMM through the engine; {gflops: [...]}
//   gemm_shapes {threads, shapes, reps}          the step's GEMM shapes; {gflops: {name: [...]}}
//   rlcp_init {dir, inputs_path, seed}           rlcp-0.5b-lora: LoRA, probes, the generic targets
//   rlcp_step {threads}                          one RLCP step (sizes.ts RLCP_05B_LORA); {ms, loss, stages}
//   profile_rlcp {threads, steps, interval_us}   the same steps under V8's sampling profiler: breakdown, stages
//   generate {threads, prompts_path, tokenizer_dir, max_new, stop, eos, pad, vocab_limit, share_prefix}
//                                                gsm8k-0.5b: batched greedy `generate` (after infer_init);
//                                                {prefill_ms, step_ms: [...], total_ms, tokens, stop_reasons}
//   status                                       {vmhwm_mb, vmrss_mb}
import { readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Session } from 'node:inspector/promises';
import { KVCache, Qwen2ForCausalLM, tokenRows } from '../src/nn/qwen2.ts';
import { generate } from '../src/nn/generate.ts';
import { loadTokenizer } from '../src/io/tokenizer.ts';
import { add, crossEntropy, klDiv, scale } from '../src/tensor/ops.ts';
import { LoraAdapters } from '../src/unlearn/lora.ts';
import { adversaryLoss, ProbeSet } from '../src/unlearn/probes.ts';
import { parseModelConfig } from '../src/io/config.ts';
import type { WritableDtype } from '../src/io/safetensors.ts';
import { setNumThreads } from '../src/tensor/kernels/onnx.ts';
import { gemm } from '../src/tensor/kernels/gemm.ts';
import { noGrad, Tensor } from '../src/tensor/tensor.ts';
import { adamw, chain, clipByGlobalNorm, scaleByLearningRate, type Optimizer } from '../src/tensor/optim.ts';
import { REPLY_PREFIX, type Reply } from './protocol.ts';
import { RLCP_05B_LORA, RLCP_ANCHORS, streamRows, type RlcpStream } from './sizes.ts';
import { snapshotSources, summariseProfile, type CpuProfile } from './profile.ts';

type Command = Record<string, unknown> & { cmd: string };

interface Training {
  model: Qwen2ForCausalLM;
  params: Map<string, Tensor>;
  optimizer: Optimizer;
  ids: Int32Array;
  batch: number;
  seq: number;
}

interface Decoding {
  cache: KVCache;
  next: number;
}

/** rlcp-0.5b-lora's state: the frozen base (also the reference), its LoRA view, the probes. */
interface RlcpStep {
  base: Qwen2ForCausalLM;
  lora: LoraAdapters;
  probes: ProbeSet;
  optimizer: Optimizer;
  inputs: RlcpInputs;
  /** The generic-answer KL's fixed targets on the fact rows (the trainer computes them once, before step 1). */
  genericTargets: Tensor;
}

/** bench/run.ts writeRlcpInputs: token ids per stream, probe labels. */
interface RlcpInputs {
  fact: number[];
  probe: number[];
  logic: number[];
  retain: number[];
  rag: number[];
  fact_labels: number[];
  probe_labels: number[];
}

let training: Training | null = null;
let rlcp: RlcpStep | null = null;
let inference: Qwen2ForCausalLM | null = null;
const sessions = new Map<string, Decoding>();

/** VmHWM (peak resident set) and VmRSS of this process, in MB. */
function memoryStatus(): { vmhwm_mb: number; vmrss_mb: number } {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { vmhwm_mb: kb('VmHWM') / 1024, vmrss_mb: kb('VmRSS') / 1024 };
}

function readIds(path: string): Int32Array {
  const bytes = readFileSync(path);
  return new Int32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

function num(command: Command, key: string): number {
  const value = command[key];
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`${command.cmd}: ${key} missing`);
  return value;
}

function str(command: Command, key: string): string {
  const value = command[key];
  if (typeof value !== 'string') throw new Error(`${command.cmd}: ${key} missing`);
  return value;
}

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

function trainStep(t: Training): { ms: number; loss: number } {
  const start = performance.now();
  const { loss } = t.model.forward(t.ids, { batch: t.batch, seq: t.seq, labels: t.ids });
  const value = loss!.item();
  loss!.backward({ releaseActivations: true });
  t.optimizer.step(t.params);
  return { ms: performance.now() - start, loss: value };
}

/** The probes' features of a stream: hidden states of the probe layers at each sequence's last prompt token. */
function probeFeatures(hidden: readonly Tensor[], s: RlcpStream): Tensor[] {
  const last = Int32Array.from({ length: s.batch }, (_, b) => b * s.seq + s.seq - 1 - s.rows);
  return RLCP_05B_LORA.probeLayers.map((l) => tokenRows(hidden[l]!, last));
}

/** Milliseconds and the resident set (MB) at the end of each stage of an RLCP step, in order. */
export type RlcpStages = { stage: string; ms: number; rss_mb: number }[];

/**
 * One RLCP step, the trainer's work in the trainer's order (src/unlearn/trainer.ts): the fact stream
 * (probe update on detached features, adversary through gradient reversal + generic KL, backward), then
 * each anchor stream (CE + β·KL to the reference's logits, backward), then clip + AdamW on the adapters.
 */
function rlcpStep(t: RlcpStep): { ms: number; loss: number; stages: RlcpStages } {
  const spec = RLCP_05B_LORA;
  const start = performance.now();
  const stages: RlcpStages = [];
  let last = start;
  const mark = (stage: string) => {
    const now = performance.now();
    stages.push({ stage, ms: now - last, rss_mb: memoryStatus().vmrss_mb });
    last = now;
  };
  const m = t.lora.model();
  const ids = (name: keyof RlcpInputs) => Int32Array.from(t.inputs[name]);
  let total = 0;
  const fact = spec.fact;
  const out = m.forward(ids('fact'), {
    batch: fact.batch,
    seq: fact.seq,
    outputHiddenStates: true,
    logits: streamRows(fact),
  });
  const own = probeFeatures(out.hiddenStates!, fact);
  mark('fact forward');
  const retain = noGrad(() => {
    const hidden = m.forward(ids('probe'), {
      batch: spec.probe.batch,
      seq: spec.probe.seq,
      outputHiddenStates: true,
      logits: 'none',
    }).hiddenStates!;
    return probeFeatures(hidden, spec.probe).map((h) => Float32Array.from(h.data));
  });
  mark('probe prompts forward (no grad)');
  const factLabels = Int32Array.from(t.inputs.fact_labels);
  const feats = own.map((h, i) => {
    const both = new Float32Array(h.size + retain[i]!.length);
    both.set(h.data);
    both.set(retain[i]!, h.size);
    return both;
  });
  t.probes.train(feats, Int32Array.from([...factLabels, ...t.inputs.probe_labels]));
  const adv = adversaryLoss(t.probes, own, factLabels, 'uniform', spec.lambda);
  const factLoss = add(adv.loss, scale(klDiv(t.genericTargets, out.logits!), spec.generic));
  total += factLoss.item();
  mark('probe update + losses');
  factLoss.backward({ releaseActivations: true });
  mark('fact backward');
  for (const name of RLCP_ANCHORS) {
    const s = spec[name];
    const rows = streamRows(s);
    const tokens = ids(name);
    const targets = Int32Array.from(rows, (r) => tokens[r + 1]!);
    const logits = m.forward(tokens, { batch: s.batch, seq: s.seq, logits: rows }).logits!;
    mark(`${name} forward`);
    const ref = noGrad(() => t.base.forward(tokens, { batch: s.batch, seq: s.seq, logits: rows }).logits!);
    mark(`${name} reference forward`);
    const loss = add(crossEntropy(logits, targets), scale(klDiv(ref, logits), spec.beta));
    total += loss.item();
    loss.backward({ releaseActivations: true });
    mark(`${name} backward`);
  }
  t.optimizer.step(t.lora.params);
  mark('clip + AdamW');
  return { ms: performance.now() - start, loss: total, stages };
}

/** `steps` of fn under V8's sampling profiler: the per-step breakdown (profile.ts) and fn's results. */
async function profiled<T extends { ms: number }>(
  command: Command,
  fn: () => T,
): Promise<{ steps_ms: number[]; results: T[]; breakdown: ReturnType<typeof summariseProfile> }> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: num(command, 'interval_us') });
  await session.post('Profiler.start');
  const results: T[] = [];
  for (let i = 0; i < num(command, 'steps'); i++) results.push(fn());
  const { profile } = (await session.post('Profiler.stop')) as { profile: CpuProfile };
  session.disconnect();
  return {
    steps_ms: results.map((r) => r.ms),
    results,
    breakdown: summariseProfile(profile, results.length),
  };
}

async function handle(command: Command): Promise<Reply> {
  if (typeof command.threads === 'number') setNumThreads(command.threads);
  switch (command.cmd) {
    case 'init_model': {
      const start = performance.now();
      const config = parseModelConfig(command.config as Record<string, unknown>);
      const model = Qwen2ForCausalLM.initRandom(config, num(command, 'seed'));
      model.saveToDir(str(command, 'dir'), { dtype: str(command, 'dtype') as WritableDtype });
      return { params: model.numParameters(), seconds: (performance.now() - start) / 1000 };
    }
    case 'train_init': {
      const model = Qwen2ForCausalLM.fromPretrained(str(command, 'dir'));
      const params = model.namedParameters();
      const optimizer = chain(
        clipByGlobalNorm(num(command, 'clip')),
        adamw({ weightDecay: num(command, 'weight_decay') }),
        scaleByLearningRate(num(command, 'lr')),
      );
      training = {
        model,
        params,
        optimizer,
        ids: readIds(str(command, 'ids_path')),
        batch: num(command, 'batch'),
        seq: num(command, 'seq'),
      };
      return { params: model.numParameters() };
    }
    case 'train_step': {
      if (!training) throw new Error('train_step before train_init');
      return trainStep(training);
    }
    case 'profile_steps': {
      const t = training;
      if (!t) throw new Error('profile_steps before train_init');
      const { steps_ms, breakdown } = await profiled(command, () => trainStep(t));
      return { steps_ms, breakdown };
    }
    case 'infer_init': {
      const start = performance.now();
      inference = Qwen2ForCausalLM.fromPretrained(str(command, 'dir'));
      return { load_s: (performance.now() - start) / 1000, params: inference.numParameters() };
    }
    case 'prefill': {
      const model = inference;
      if (!model) throw new Error('prefill before infer_init');
      const ids = readIds(str(command, 'ids_path'));
      const cache = new KVCache(model.config, 1, ids.length + num(command, 'max_new'));
      const start = performance.now();
      const logits = noGrad(
        () => model.forward(ids, { batch: 1, seq: ids.length, kvCache: cache, logits: 'last' }).logits!,
      );
      const next = argmax(logits.data);
      const ms = performance.now() - start;
      if (typeof command.logits_path === 'string') writeFileSync(command.logits_path, logits.data);
      sessions.set(str(command, 'session'), { cache, next });
      return { ms, token: next };
    }
    case 'decode': {
      const model = inference;
      const state = sessions.get(str(command, 'session'));
      if (!model || !state) throw new Error('decode before prefill');
      const ms: number[] = [];
      const tokens: number[] = [];
      noGrad(() => {
        for (let i = 0; i < num(command, 'n'); i++) {
          const start = performance.now();
          const ids = Int32Array.of(state.next);
          const logits = model.forward(ids, {
            batch: 1,
            seq: 1,
            kvCache: state.cache,
            logits: 'last',
          }).logits!;
          state.next = argmax(logits.data);
          ms.push(performance.now() - start);
          tokens.push(state.next);
        }
      });
      return { ms, tokens };
    }
    case 'sgemm': {
      const n = num(command, 'n');
      const a = new Float32Array(n * n).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
      const b = new Float32Array(n * n).map((_, i) => ((i * 104729) % 1000) / 1000 - 0.5);
      const out = new Float32Array(n * n);
      gemm(a, [n, n], b, [n, n], {}, out); // compiles the graph, faults in pages
      const gflops: number[] = [];
      for (let r = 0; r < num(command, 'reps'); r++) {
        const start = performance.now();
        gemm(a, [n, n], b, [n, n], {}, out);
        gflops.push((2 * n * n * n) / ((performance.now() - start) / 1000) / 1e9);
      }
      return { gflops };
    }
    case 'gemm_shapes': {
      // Same-shape GEMMs as the training step's linear layers (sizes.ts trainGemmShapes).
      const shapes = command.shapes as {
        name: string;
        a: number[];
        b: number[];
        transA: boolean;
        transB: boolean;
      }[];
      const gflops: Record<string, number[]> = {};
      for (const s of shapes) {
        const a = new Float32Array(s.a[0]! * s.a[1]!).fill(0.01);
        const b = new Float32Array(s.b[0]! * s.b[1]!).fill(0.02);
        const m = s.transA ? s.a[1]! : s.a[0]!;
        const k = s.transA ? s.a[0]! : s.a[1]!;
        const n = s.transB ? s.b[0]! : s.b[1]!;
        const out = new Float32Array(m * n);
        const opts = { transA: s.transA, transB: s.transB };
        gemm(a, s.a, b, s.b, opts, out);
        gflops[s.name] = [];
        for (let r = 0; r < num(command, 'reps'); r++) {
          const start = performance.now();
          gemm(a, s.a, b, s.b, opts, out);
          gflops[s.name]!.push((2 * m * n * k) / ((performance.now() - start) / 1000) / 1e9);
        }
      }
      return { gflops };
    }
    case 'rlcp_init': {
      const spec = RLCP_05B_LORA;
      const base = Qwen2ForCausalLM.fromPretrained(str(command, 'dir'));
      base.setTrainable(() => false);
      const seed = num(command, 'seed');
      const lora = new LoraAdapters(base, { ...spec.lora, layers: null }, seed);
      const probes = new ProbeSet(
        'bench',
        spec.probeClasses,
        base.config.hiddenSize,
        spec.probeLayers.length,
        spec.probeLr,
        0,
      );
      probes.reset(seed + 1);
      const inputs = JSON.parse(readFileSync(str(command, 'inputs_path'), 'utf8')) as RlcpInputs;
      const genericTargets = noGrad(() => {
        const logits = base.forward(Int32Array.from(inputs.fact), {
          batch: spec.fact.batch,
          seq: spec.fact.seq,
          logits: streamRows(spec.fact),
        }).logits!;
        return Tensor.from(Float32Array.from(logits.data), logits.shape);
      });
      const optimizer = chain(
        clipByGlobalNorm(spec.clip),
        adamw({ weightDecay: 0 }),
        scaleByLearningRate(spec.lr),
      );
      rlcp = { base, lora, probes, optimizer, inputs, genericTargets };
      return {
        params: base.numParameters(),
        lora_params: [...lora.params.values()].reduce((n, p) => n + p.size, 0),
      };
    }
    case 'rlcp_step': {
      if (!rlcp) throw new Error('rlcp_step before rlcp_init');
      return rlcpStep(rlcp);
    }
    case 'profile_rlcp': {
      const t = rlcp;
      if (!t) throw new Error('profile_rlcp before rlcp_init');
      const { steps_ms, results, breakdown } = await profiled(command, () => rlcpStep(t));
      return { steps_ms, stages: results.map((r) => r.stages), breakdown };
    }
    case 'generate': {
      const model = inference;
      if (!model) throw new Error('generate before infer_init');
      const prompts = JSON.parse(readFileSync(str(command, 'prompts_path'), 'utf8')) as number[][];
      const tokenizer = await loadTokenizer(str(command, 'tokenizer_dir'));
      // The options src/eval/suites/inference.ts passes, timed after every forward.
      const marks: number[] = [];
      const start = performance.now();
      const results = generate(model, prompts, {
        maxNewTokens: num(command, 'max_new'),
        eosTokenIds: command.eos as number[],
        stopStrings: command.stop as string[],
        decoder: tokenizer,
        padTokenId: num(command, 'pad'),
        vocabLimit: num(command, 'vocab_limit'),
        sharePrefix: command.share_prefix === true,
        onForward: () => marks.push(performance.now()),
      });
      const end = performance.now();
      return {
        prefill_ms: marks[0]! - start,
        step_ms: marks.slice(1).map((t, i) => t - marks[i]!),
        total_ms: end - start,
        tokens: results.map((r) => r.tokens),
        stop_reasons: results.map((r) => r.stopReason),
      };
    }
    case 'status':
      return memoryStatus();
    default:
      throw new Error(`unknown command ${command.cmd}`);
  }
}

function reply(body: Reply): void {
  process.stdout.write(`${REPLY_PREFIX}${JSON.stringify(body)}\n`);
}

// The code is loaded now: keep the source text its source maps refer to (see profile.ts).
snapshotSources(fileURLToPath(new URL('../src', import.meta.url)));

const lines = createInterface({ input: process.stdin });
// One command at a time, in order: the orchestrator waits for each reply anyway.
let queue: Promise<void> = Promise.resolve();
lines.on('line', (line) => {
  queue = queue.then(async () => {
    const command = JSON.parse(line) as Command;
    if (command.cmd === 'exit') process.exit(0);
    try {
      reply(await handle(command));
    } catch (error) {
      reply({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    }
  });
});
