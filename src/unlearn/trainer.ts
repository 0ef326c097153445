// The unlearning trainer behind `rlcp metabolize`: RLCP's dual-stream training (a fact stream with
// gradient-reversed adversarial probes; logic, retain and reading anchor streams with KL to a frozen copy
// of the starting model) and every other method through its plugin (./methods: a forget term, trainable
// parameters, or a closed-form fit) in one loop, with progress bar, metrics.jsonl, atomic checkpoints and
// exact resume. Design notes: docs/rlcp.md.
import { join } from 'node:path';
import { ProgressBar } from '../cli/progress.ts';
import { Qwen2ForCausalLM } from '../nn/qwen2.ts';
import { Tensor, noGrad } from '../tensor/tensor.ts';
import { add, crossEntropy, gatherRows, klDiv, scale } from '../tensor/ops.ts';
import {
  adamw,
  chain,
  clipByGlobalNorm,
  scaleByLearningRate,
  warmupCosineSchedule,
  type Optimizer,
  type Schedule,
} from '../tensor/optim.ts';
import { EpochSampler, type EncodedExample, type SamplerState, type TextEncoder } from '../train/batches.ts';
import { hasCheckpoint, loadCheckpoint, saveCheckpoint } from '../train/checkpoint.ts';
import { MetricsLog } from '../train/run-dir.ts';
import {
  withPlaceholderSubject,
  collateRows,
  encodeAnchors,
  encodeFact,
  trainedRows,
  type EncodedFact,
} from './batching.ts';
import { lambdaAt, resolveProbeLayers, type UnlearnConfig } from './config.ts';
import type { UnlearnData } from './data.ts';
import { evalSets, evaluateDuringTraining, prepareKlProbe, type EvalTokenizer } from './evaluate.ts';
import { forgetRows, pooledFeatures } from './features.ts';
import { unlikelihoodLoss } from './losses.ts';
import { UNLEARN_METHODS } from './methods/index.ts';
import type { ForgetTerm } from './methods/types.ts';
import { LoraAdapters } from './lora.ts';
import { Rng } from '../tensor/random.ts';
import { adversaryLoss, ProbeSet } from './probes.ts';

export type UnlearnTokenizer = EvalTokenizer &
  TextEncoder & {
    /** The id of a whole token (e.g. "<unk>"), when the vocabulary has it. */
    tokenToId?(token: string): number | undefined;
  };

export interface MetabolizeOptions {
  /** The starting model; it is trained in place (except under LoRA). */
  model: Qwen2ForCausalLM;
  tokenizer: UnlearnTokenizer;
  data: UnlearnData;
  config: UnlearnConfig;
  runDir: string;
  /** Continue from the newest checkpoint in runDir (`model` must be the same starting model). */
  resume?: boolean;
  /** Stop (after checkpointing) once this step is done: an interrupted run, for tests. */
  stopAfterStep?: number;
  progress?: boolean;
}

export interface MetabolizeResult {
  /** The final model (LoRA merged). */
  model: Qwen2ForCausalLM;
  stepsRun: number;
  lastStep: number;
  stoppedEarly: boolean;
  /** The last evaluation record (null if none ran). */
  lastEval: Record<string, number> | null;
  /** Wall time of the training steps run, evaluations excluded, per step. */
  secondsPerStep: number;
  referenceMode: 'precompute' | 'per-step' | 'none';
}

interface TrainerState {
  samplers: Record<string, SamplerState>;
  optimizerStep: number;
  probeReinits: number;
  probeSteps: Record<string, number>;
  atChanceEvals: number;
  stoppedEarly: boolean;
  /** Loss sums since the last metrics record (so a resumed run writes the same averages). */
  sums: [string, number][];
  sumCount: number;
}

const STREAMS = ['forget', 'probe', 'logic', 'multihop', 'retain', 'ragRetain', 'ragForget'] as const;
type StreamName = (typeof STREAMS)[number];

function streamSeed(seed: number, name: string): number {
  let h = 0x811c9dc5;
  for (const c of name) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193);
  return (h ^ Math.imul(seed + 1, 0x9e3779b1)) | 0;
}

/** Which parameter names train (backbone), by `params`. */
function trainablePredicate(config: UnlearnConfig, numLayers: number): (name: string) => boolean {
  const { mode, layers, embeddings } = config.params;
  if (mode === 'lora') return () => false;
  const [first, last] = layers ?? [0, numLayers - 1];
  if (last >= numLayers)
    throw new Error(`params.layers: layer ${last} does not exist (the model has 0..${numLayers - 1})`);
  return (name) => {
    const m = /^model\.layers\.(\d+)\./.exec(name);
    if (m) return mode === 'all' && layers === null ? true : Number(m[1]) >= first && Number(m[1]) <= last;
    return mode === 'all' && embeddings;
  };
}

/** A frozen copy of the trainable tensors; frozen ones are shared (they never change). */
function referenceOf(model: Qwen2ForCausalLM, trainable: (name: string) => boolean): Qwen2ForCausalLM {
  const params = new Map<string, Tensor>();
  for (const [name, t] of model.namedParameters()) {
    params.set(name, trainable(name) ? Tensor.from(Float32Array.from(t.data), t.shape) : t);
  }
  const ref = new Qwen2ForCausalLM(model.config, params);
  ref.setTrainable(() => false);
  return ref;
}

function makeSchedule(config: UnlearnConfig): Schedule {
  const { lr, schedule, warmupSteps, minLrRatio } = config.optimizer;
  const total = Math.max(1, config.steps);
  const warmup = Math.min(warmupSteps, total);
  if (schedule === 'constant') {
    return (step) => (step < warmup ? (lr * (step + 1)) / (warmup + 1) : lr);
  }
  return warmupCosineSchedule({ peak: lr, warmupSteps: warmup, totalSteps: total, end: lr * minLrRatio });
}

export function metabolize(options: MetabolizeOptions): MetabolizeResult {
  const { tokenizer, data, config, runDir } = options;
  const method = config.method;
  const L = options.model.config.numHiddenLayers;
  const D = options.model.config.hiddenSize;
  const V = options.model.config.vocabSize;
  const layers = resolveProbeLayers(config.fact.layers, L);
  const plugin = UNLEARN_METHODS[method];
  const trainable = plugin.trainable ? plugin.trainable(config, L) : trainablePredicate(config, L);
  const useAdversary = method === 'rlcp' && config.fact.lambda > 0;
  if (plugin.fit && config.steps > 0)
    throw new Error(
      `method "${method}" is closed-form and trains nothing: steps must be 0, got ${config.steps}`,
    );
  const useUnlikelihood = config.fact.unlikelihood > 0 && method !== 'rag';
  const useGeneric = config.fact.generic > 0 && method !== 'rag';
  const training = method !== 'rag' && config.steps > 0;
  const beta = config.anchors.beta;
  const anchors = {
    logic: config.anchors.logic.weight > 0,
    retain: config.anchors.retain.weight > 0,
    rag: config.anchors.rag.weight > 0,
  };
  const useRef = training && beta > 0 && (anchors.logic || anchors.retain || anchors.rag);

  // ---- model, reference, trainable parameters ----
  let model = options.model;
  const metrics = new MetricsLog(runDir);
  let startStep = 0;
  let checkpoint: ReturnType<typeof loadCheckpoint<TrainerState>> | null = null;
  if (options.resume && hasCheckpoint(runDir)) {
    checkpoint = loadCheckpoint<TrainerState>(runDir);
    startStep = checkpoint.step;
  }
  // The reference is the *starting* model, also on resume.
  const reference = referenceOf(options.model, config.params.mode === 'lora' ? () => false : trainable);
  if (checkpoint?.model) model = checkpoint.model;
  model.setTrainable(trainable);
  const lora =
    config.params.mode === 'lora'
      ? new LoraAdapters(model, loraOptions(config), streamSeed(config.seed, 'lora'))
      : null;
  const trainParams = lora ? lora.params : model.trainableParameters();
  if (training && trainParams.size === 0) throw new Error('params: no parameter is trainable');
  const schedule = makeSchedule(config);
  const optimizer: Optimizer = chain(
    clipByGlobalNorm(config.optimizer.clipNorm),
    adamw({ weightDecay: config.optimizer.weightDecay }),
    scaleByLearningRate(schedule),
  );

  // ---- data ----
  const maxLength = config.maxLength;
  const forgetExamples = config.fact.statements
    ? [...data.forgetTrain, ...data.forgetStatements]
    : data.forgetTrain;
  const probeExamples = config.fact.statements
    ? [...data.probeRetain, ...data.retainStatements]
    : data.probeRetain;
  const encodedForget: EncodedFact[] = forgetExamples.map((e) =>
    encodeFact(tokenizer, e, data.classes.get(e.relation)!, maxLength),
  );
  const encodedProbe: EncodedFact[] = probeExamples.map((e) =>
    encodeFact(tokenizer, e, data.classes.get(e.relation)!, maxLength),
  );
  // Multi-hop records are the logic stream's: pooled with its records, or a part of its batch of their own.
  const multihopApart = config.anchors.logic.multihopBatchSize > 0;
  const encoded: Record<'logic' | 'multihop' | 'retain' | 'ragRetain' | 'ragForget', EncodedExample[]> = {
    logic: encodeAnchors(
      tokenizer,
      multihopApart ? data.logic : [...data.logic, ...data.multihop],
      maxLength,
    ),
    multihop: multihopApart ? encodeAnchors(tokenizer, data.multihop, maxLength) : [],
    retain: encodeAnchors(
      tokenizer,
      data.retainTrain.map((e) => ({ prompt: e.prompt, completion: ` ${e.answer}` })),
      maxLength,
    ),
    ragRetain: encodeAnchors(tokenizer, data.ragRetain, maxLength),
    ragForget: encodeAnchors(tokenizer, data.ragForget, maxLength),
  };
  const sizes: Record<StreamName, number> = {
    forget: encodedForget.length,
    probe: encodedProbe.length,
    logic: encoded.logic.length,
    multihop: encoded.multihop.length,
    retain: encoded.retain.length,
    ragRetain: encoded.ragRetain.length,
    ragForget: encoded.ragForget.length,
  };
  const samplers = new Map<StreamName, EpochSampler>();
  for (const name of STREAMS)
    if (sizes[name] > 0) samplers.set(name, new EpochSampler(sizes[name], streamSeed(config.seed, name)));
  const needs = (name: StreamName, why: string) => {
    if (!samplers.has(name)) throw new Error(`${why} needs ${name} data, and there is none`);
    return samplers.get(name)!;
  };

  // ---- probes ----
  const probeCount =
    (config.fact.probe === 'mean' ? 1 : layers.length) * (config.fact.position === 'both' ? 2 : 1);
  const probeSets = new Map<string, ProbeSet>();
  for (const relation of data.forgetRelations) {
    probeSets.set(
      relation,
      new ProbeSet(
        relation,
        data.classes.get(relation)!.length,
        D,
        probeCount,
        config.fact.probeLr,
        config.fact.probeWeightDecay,
      ),
    );
  }
  let probeReinits = 0;
  const resetProbes = (index: number) => {
    let r = 0;
    for (const set of probeSets.values())
      set.reset(streamSeed(config.seed + 1000 * index + r++, 'probe-init'));
  };
  resetProbes(0);

  let atChanceEvals = 0;
  let stoppedEarly = false;
  if (checkpoint) {
    const state = checkpoint.state;
    for (const [name, s] of Object.entries(state.samplers)) samplers.get(name as StreamName)?.setState(s);
    probeReinits = state.probeReinits;
    resetProbes(probeReinits);
    const optTensors = new Map<string, Float32Array>();
    for (const [name, buf] of checkpoint.tensors) {
      if (name.startsWith('opt.')) optTensors.set(name.slice(4), buf);
    }
    optimizer.loadState({ step: state.optimizerStep, tensors: optTensors });
    for (const [relation, set] of probeSets) {
      for (const [name, p] of set.namedParameters()) {
        const saved = checkpoint.tensors.get(`probe.${name}`);
        if (!saved || saved.length !== p.size) throw new Error(`checkpoint: probe tensor ${name} missing`);
        p.data.set(saved);
      }
      const popt = new Map<string, Float32Array>();
      const prefix = `popt.${relation}.`;
      for (const [name, buf] of checkpoint.tensors)
        if (name.startsWith(prefix)) popt.set(name.slice(prefix.length), buf);
      set.optimizer.loadState({ step: state.probeSteps[relation] ?? 0, tensors: popt });
    }
    if (lora) {
      const loraTensors = new Map<string, Float32Array>();
      for (const [name, buf] of checkpoint.tensors) if (name.startsWith('lora.')) loraTensors.set(name, buf);
      lora.load(loraTensors);
    }
    atChanceEvals = state.atChanceEvals;
    stoppedEarly = state.stoppedEarly;
    metrics.truncateAfter(startStep);
  }

  // ---- reference logits of the anchor streams ----
  const anchorStreams = (['logic', 'multihop', 'retain', 'ragRetain', 'ragForget'] as const).filter((s) =>
    s === 'logic' || s === 'multihop'
      ? anchors.logic && encoded[s].length > 0
      : s === 'retain'
        ? anchors.retain
        : anchors.rag && (s === 'ragRetain' ? true : config.anchors.rag.forgetFraction > 0),
  );
  let referenceMode: MetabolizeResult['referenceMode'] = 'none';
  const cachedRef = new Map<string, Float32Array[]>();
  const teachers = useRef && plugin.anchorTeachers ? plugin.anchorTeachers(config, reference) : {};
  // The RAG stream's two halves share the 'rag' teacher; multi-hop records are the logic stream's.
  const TEACHER_STREAM = {
    logic: 'logic',
    multihop: 'logic',
    retain: 'retain',
    ragRetain: 'rag',
    ragForget: 'rag',
  } as const;
  const teacherOf = (stream: (typeof anchorStreams)[number]): Qwen2ForCausalLM =>
    teachers[TEACHER_STREAM[stream]] ?? reference;
  if (useRef) {
    const rows = anchorStreams.reduce((n, s) => n + encoded[s].reduce((m, e) => m + trainedRows(e), 0), 0);
    const mib = (rows * V * 4) / 2 ** 20;
    const mode = config.anchors.reference;
    referenceMode =
      mode === 'auto' ? (mib <= config.anchors.precomputeMaxMiB ? 'precompute' : 'per-step') : mode;
    if (referenceMode === 'precompute' && startStep < config.steps) {
      const total = anchorStreams.reduce((n, s) => n + encoded[s].length, 0);
      const bar =
        options.progress === false
          ? null
          : new ProgressBar({ label: `reference logits (${mib.toFixed(0)} MiB)`, total });
      noGrad(() => {
        for (const s of anchorStreams) {
          const list: Float32Array[] = [];
          const examples = encoded[s];
          for (let i = 0; i < examples.length; i += 32) {
            const chunk = examples.slice(i, i + 32);
            const b = collateRows(chunk, tokenizer.padTokenId);
            const logits = teacherOf(s).forward(b.ids, {
              batch: b.batch,
              seq: b.seq,
              attentionMask: b.attentionMask,
              logits: b.rows,
            }).logits!;
            let row = 0;
            chunk.forEach((_, j) => {
              let n = 0;
              while (row + n < b.rows.length && b.rowOwner[row + n] === j) n++;
              list.push(Float32Array.from(logits.data.subarray(row * V, (row + n) * V)));
              row += n;
            });
            logits.dispose();
            bar?.tick(chunk.length);
          }
          cachedRef.set(s, list);
        }
      });
      bar?.finish();
    }
  }
  // Generic-answer targets: the reference's answer distribution with the subject replaced by a placeholder.
  // Per forget example: target logits for its answer rows, and which rows the term covers.
  let genericTargets: { logits: Float32Array; rows: Uint8Array }[] | null = null;
  if (training && useGeneric && config.fact.genericTarget === 'placeholder') {
    const placeholder = placeholderIds(tokenizer, config.fact.genericSubject);
    genericTargets = noGrad(() =>
      encodedForget.map((f) => {
        const g = withPlaceholderSubject(f, placeholder);
        const b = forgetRows(collateRows([g], tokenizer.padTokenId), tokenizer.eosTokenId);
        const out = reference.forward(b.ids, {
          batch: 1,
          seq: b.seq,
          attentionMask: b.attentionMask,
          logits: b.rows,
        });
        return { logits: Float32Array.from(out.logits!.data), rows: new Uint8Array(b.rows.length).fill(1) };
      }),
    );
  } else if (training && useGeneric) {
    genericTargets = randomTargets(encodedForget, tokenizer, V, config);
  }

  // The method's own forget term, or its closed-form change of the model.
  const methodContext = {
    config,
    reference,
    tokenizer,
    data,
    forget: encodedForget,
    probe: encodedProbe,
    draw: (stream: 'logic' | 'retain', count: number) =>
      count > 0
        ? needs(stream, `method "${method}"`)
            .next(count)
            .map((i) => encoded[stream][i]!)
        : [],
  };
  const forgetTerm: ForgetTerm | null =
    training && plugin.forgetTerm ? plugin.forgetTerm(methodContext) : null;
  if (plugin.fit && startStep === 0) plugin.fit(model, methodContext);
  if (plugin.start && training && startStep === 0) plugin.start(model, methodContext);
  const klRowMask = training && plugin.klRowMask ? plugin.klRowMask(methodContext) : null;
  const droppedTokens =
    training && plugin.teacherDroppedTokens ? plugin.teacherDroppedTokens(methodContext) : [];
  const beforeUpdate = training && plugin.beforeUpdate ? plugin.beforeUpdate(model, methodContext) : null;

  // ---- evaluation ----
  const sets = evalSets(data, config.eval);
  const klProbe = prepareKlProbe(
    reference,
    tokenizer,
    data,
    config.eval.klItems,
    config.eval.batchSize,
    maxLength,
  );
  // Under LoRA the adapters stay separate until the final save (no weight-sized copy per evaluation).
  const runModel = () => (lora ? lora.model() : model);
  let lastEval: Record<string, number> | null = null;
  let evalMs = 0;
  const runEval = (step: number, extra: Record<string, number>) => {
    const evalStarted = Date.now();
    const result = evaluateDuringTraining(runModel(), tokenizer, sets, klProbe, config.eval.batchSize);
    evalMs += Date.now() - evalStarted;
    lastEval = { step, ...extra, ...result };
    metrics.append(lastEval);
    return result;
  };
  if (startStep === 0 && (config.eval.atStart || !training)) {
    metrics.truncateAfter(-1);
    runEval(0, { lambda: lambdaAt(config, 0) });
  }

  // ---- training loop ----
  const progress =
    options.progress === false || !training
      ? null
      : new ProgressBar({ label: `metabolize ${method}`, total: config.steps, unit: 'tok' });
  progress?.tick(startStep);
  const sums = new Map<string, number>(checkpoint?.state.sums ?? []);
  let sumCount = checkpoint?.state.sumCount ?? 0;
  const addMetric = (key: string, value: number) => sums.set(key, (sums.get(key) ?? 0) + value);
  const started = Date.now();
  evalMs = 0;
  let stepsRun = 0;
  let lastStep = startStep;
  const stopAt = Math.min(config.steps, options.stopAfterStep ?? Infinity);

  const saveState = (step: number) => {
    const tensors = new Map<string, { data: Float32Array; shape: number[] }>();
    const opt = optimizer.state();
    for (const [name, data] of opt.tensors) tensors.set(`opt.${name}`, { data, shape: [data.length] });
    const probeSteps: Record<string, number> = {};
    for (const [relation, set] of probeSets) {
      for (const [name, p] of set.namedParameters())
        tensors.set(`probe.${name}`, { data: p.data, shape: [...p.shape] });
      const ps = set.optimizer.state();
      probeSteps[relation] = ps.step;
      for (const [name, data] of ps.tensors)
        tensors.set(`popt.${relation}.${name}`, { data, shape: [data.length] });
    }
    if (lora) for (const [name, p] of lora.params) tensors.set(name, { data: p.data, shape: [...p.shape] });
    const samplerStates: Record<string, SamplerState> = {};
    for (const [name, s] of samplers) samplerStates[name] = s.getState();
    saveCheckpoint<TrainerState>(runDir, step, {
      // Under LoRA the base never changes: a resume rebuilds it from the starting model.
      model: lora ? null : model,
      tensors,
      state: {
        samplers: samplerStates,
        optimizerStep: opt.step,
        probeReinits,
        probeSteps,
        atChanceEvals,
        stoppedEarly,
        sums: [...sums],
        sumCount,
      },
    });
  };

  for (let step = startStep + 1; training && !stoppedEarly && step <= stopAt; step++) {
    const lambda = lambdaAt(config, step - 1);
    if (
      useAdversary &&
      config.fact.reinitEvery > 0 &&
      (step - 1) % config.fact.reinitEvery === 0 &&
      step > 1
    ) {
      probeReinits = Math.floor((step - 1) / config.fact.reinitEvery);
      resetProbes(probeReinits);
    }
    const m = runModel();
    let tokens = 0;
    let stepLoss = 0;

    // -- fact stream --
    if (useAdversary || useUnlikelihood || useGeneric || forgetTerm) {
      const picked = needs('forget', 'the fact stream').next(config.fact.batchSize);
      const facts = picked.map((i) => encodedForget[i]!);
      const batch = collateRows(
        facts.map((f) => f.encoded),
        tokenizer.padTokenId,
      );
      const answer = forgetRows(batch, tokenizer.eosTokenId);
      const needLogits = useUnlikelihood || useGeneric || (forgetTerm?.logits ?? false);
      const maxLayer = Math.max(...layers);
      const needHidden = useAdversary || forgetTerm?.hiddenState !== undefined;
      const deepest = Math.max(useAdversary ? maxLayer : 0, forgetTerm?.hiddenState ?? 0);
      const out = m.forward(batch.ids, {
        batch: batch.batch,
        seq: batch.seq,
        attentionMask: batch.attentionMask,
        outputHiddenStates: needHidden,
        ...(needLogits
          ? { logits: answer.rows }
          : needHidden && deepest < L
            ? { untilHiddenState: deepest }
            : { logits: 'none' as const }),
      });
      const terms: Tensor[] = [];
      if (useAdversary) {
        const hidden = out.hiddenStates!;
        const probeBatch =
          config.fact.probeBatchSize > 0 && samplers.has('probe')
            ? samplers
                .get('probe')!
                .next(config.fact.probeBatchSize)
                .map((i) => encodedProbe[i]!)
            : [];
        const retainFeatures =
          probeBatch.length > 0
            ? noGrad(() => probeFeatures(m, probeBatch, layers, config, tokenizer.padTokenId, maxLayer, L))
            : null;
        const forget = pooledFeatures(hidden, facts, batch.seq, layers, config);
        let accSum = 0;
        let probeLossSum = 0;
        let advSum = 0;
        for (const [relation, set] of probeSets) {
          const idx = [...forget.owner]
            .map((b, r) => (facts[b]!.example.relation === relation ? r : -1))
            .filter((r) => r >= 0);
          if (idx.length === 0) continue;
          const labels = Int32Array.from(idx.map((r) => facts[forget.owner[r]!]!.label));
          const own = forget.features.map((h) =>
            idx.length === forget.owner.length ? h : gatherRows(h, Int32Array.from(idx)),
          );
          const ownData = own.map((h) => Float32Array.from(h.data));
          accSum += set.accuracy(ownData, labels);
          // Probe training data: this step's forget rows (unless probeData = retain) and retain entities.
          const ridx = retainFeatures
            ? [...retainFeatures.owner]
                .map((b, r) => (probeBatch[b]!.example.relation === relation ? r : -1))
                .filter((r) => r >= 0)
            : [];
          const feats: Float32Array[] = [];
          const trainLabels: number[] = [];
          const withForget = config.fact.probeData === 'retain+forget';
          for (let p = 0; p < own.length; p++) {
            const parts: Float32Array[] = [];
            if (withForget) parts.push(ownData[p]!);
            if (ridx.length > 0) parts.push(selectRows(retainFeatures!.features[p]!, ridx, D));
            feats.push(concatArrays(parts));
          }
          if (withForget) trainLabels.push(...labels);
          for (const r of ridx) trainLabels.push(probeBatch[retainFeatures!.owner[r]!]!.label);
          if (trainLabels.length > 0) {
            for (let k = 0; k < config.fact.probeStepsPerStep; k++)
              probeLossSum += set.train(feats, Int32Array.from(trainLabels)) / config.fact.probeStepsPerStep;
          }
          const adv = adversaryLoss(set, own, labels, config.fact.objective, lambda);
          advSum += adv.adversaryValue;
          terms.push(adv.loss);
        }
        addMetric('probe_accuracy', accSum / probeSets.size);
        addMetric('loss_probe', probeLossSum / probeSets.size);
        addMetric('loss_adversary', advSum / probeSets.size);
      }
      if (needLogits) {
        const logits = out.logits!;
        if (useUnlikelihood) {
          const ul = unlikelihoodLoss(logits, answer.rowTargets);
          addMetric('loss_unlikelihood', ul.item());
          terms.push(scale(ul, config.fact.unlikelihood));
        }
        if (useGeneric) {
          const chosen = picked.map((i) => genericTargets![i]!);
          const target = Tensor.from(concatArrays(chosen.map((t) => t.logits)), logits.shape);
          const mask = Uint8Array.from(chosen.flatMap((t) => [...t.rows]));
          const generic = klDiv(target, logits, mask);
          addMetric('loss_generic', generic.item());
          terms.push(scale(generic, config.fact.generic));
        }
      }
      if (forgetTerm) terms.push(forgetTerm.loss(out, { picked, batch, answer, model: m }, addMetric));
      if (terms.length > 0) {
        const loss = terms.reduce((a, b) => add(a, b));
        stepLoss += loss.item();
        loss.backward({ releaseActivations: true });
      }
      tokens += answer.rows.length;
    }

    // -- anchor streams --
    const anchorStep = (
      name: 'logic' | 'retain' | 'rag',
      parts: { stream: (typeof anchorStreams)[number]; count: number }[],
      weight: number,
    ) => {
      const chosen: EncodedExample[] = [];
      const refRows: Float32Array[] = [];
      const teacher = teachers[name] ?? reference;
      for (const { stream, count } of parts) {
        if (count <= 0) continue;
        for (const i of needs(stream, `the ${name} stream`).next(count)) {
          chosen.push(encoded[stream][i]!);
          if (referenceMode === 'precompute') refRows.push(cachedRef.get(stream)![i]!);
        }
      }
      if (chosen.length === 0) return;
      const b = collateRows(chosen, tokenizer.padTokenId);
      const logits = m.forward(b.ids, {
        batch: b.batch,
        seq: b.seq,
        attentionMask: b.attentionMask,
        logits: b.rows,
      }).logits!;
      const lm = crossEntropy(logits, b.rowTargets);
      addMetric(`loss_${name}_lm`, lm.item());
      let loss = lm;
      if (useRef) {
        const ref =
          referenceMode === 'precompute'
            ? Tensor.from(concatArrays(refRows), logits.shape)
            : noGrad(
                () =>
                  teacher.forward(b.ids, {
                    batch: b.batch,
                    seq: b.seq,
                    attentionMask: b.attentionMask,
                    logits: b.rows,
                  }).logits!,
              );
        // exp(−1e9) is 0 in float32 while p·log p stays finite (0), unlike −Infinity.
        if (droppedTokens.length > 0) {
          const vocab = logits.shape[logits.shape.length - 1]!;
          for (let r = 0; r < ref.size / vocab; r++)
            for (const t of droppedTokens) ref.data[r * vocab + t] = -1e9;
        }
        const kl = klDiv(ref, logits, klRowMask?.(b));
        addMetric(`loss_${name}_kl`, kl.item());
        loss = add(lm, scale(kl, beta));
      }
      loss = scale(loss, weight);
      stepLoss += loss.item();
      loss.backward({ releaseActivations: true });
      tokens += b.trainedTokens;
    };
    if (anchors.logic)
      anchorStep(
        'logic',
        [
          { stream: 'logic', count: config.anchors.logic.batchSize },
          { stream: 'multihop', count: multihopApart ? config.anchors.logic.multihopBatchSize : 0 },
        ],
        config.anchors.logic.weight,
      );
    if (anchors.retain)
      anchorStep(
        'retain',
        [{ stream: 'retain', count: config.anchors.retain.batchSize }],
        config.anchors.retain.weight,
      );
    if (anchors.rag) {
      const n = config.anchors.rag.batchSize;
      const nForget = sizes.ragForget > 0 ? Math.round(n * config.anchors.rag.forgetFraction) : 0;
      anchorStep(
        'rag',
        [
          { stream: 'ragForget', count: nForget },
          { stream: 'ragRetain', count: n - nForget },
        ],
        config.anchors.rag.weight,
      );
    }

    if (!Number.isFinite(stepLoss)) {
      throw new Error(
        `loss became ${stepLoss} at step ${step}; the last checkpoint in ${join(runDir, 'checkpoints')} is intact (try a lower optimizer.lr)`,
      );
    }
    beforeUpdate?.();
    const info = optimizer.step(trainParams);
    addMetric('loss_total', stepLoss);
    addMetric('grad_norm', info.gradNorm ?? Number.NaN);
    sumCount++;
    stepsRun++;
    lastStep = step;
    progress?.tick(1, tokens, { loss: stepLoss, λ: lambda });

    const isEval = step === config.steps || (config.eval.every > 0 && step % config.eval.every === 0);
    const isLog = isEval || step % config.logEvery === 0;
    if (isLog) {
      const record: Record<string, number> = { lambda, lr: info.lr ?? schedule(step - 1) };
      for (const [key, value] of sums) record[key] = value / sumCount;
      sums.clear();
      sumCount = 0;
      if (isEval) {
        const result = runEval(step, record);
        if (config.earlyStop.enabled) {
          const a = config.earlyStop.alpha;
          const atChance =
            (result.forget_heldout_p_above_chance ?? 0) >= a && (result.forget_heldout_rank_p ?? 0) >= a;
          atChanceEvals = atChance ? atChanceEvals + 1 : 0;
          if (step >= config.earlyStop.minStep && atChanceEvals >= config.earlyStop.patience)
            stoppedEarly = true;
        }
      } else {
        metrics.append({ step, ...record });
      }
    }
    if (step % config.checkpointEvery === 0 || step === config.steps || stoppedEarly || step === stopAt)
      saveState(step);
  }
  progress?.finish();
  const elapsed = (Date.now() - started - evalMs) / 1000;
  const finalModel = lora ? lora.merged() : model;
  return {
    model: finalModel,
    stepsRun,
    lastStep,
    stoppedEarly,
    lastEval,
    secondsPerStep: stepsRun > 0 ? elapsed / stepsRun : 0,
    referenceMode,
  };
}

/**
 * Random generic targets: per forget fact a fixed z ~ N(0, σ²) over the relation's candidates (seeded by
 * the run seed and the fact id), as logits over the vocabulary on the first answer row (other tokens
 * −1e9, so the target puts all mass on the candidates); later answer rows are left out.
 */
export function randomTargets(
  facts: readonly EncodedFact[],
  tokenizer: UnlearnTokenizer,
  V: number,
  config: UnlearnConfig,
): { logits: Float32Array; rows: Uint8Array }[] {
  return facts.map((f) => {
    const firstIds = f.example.candidates.map(
      (c) => tokenizer.encode(` ${c}`, { addSpecialTokens: false })[0]!,
    );
    if (new Set(firstIds).size !== firstIds.length) {
      throw new Error(
        `fact.genericTarget "random" needs candidates with distinct first tokens; "${f.example.relation}" has shared ones`,
      );
    }
    const rng = new Rng(streamSeed(config.seed, `random-target:${f.example.factId}`) >>> 0);
    let rows = 0;
    for (let t = f.promptLength; t < f.encoded.ids.length; t++)
      if (f.encoded.ids[t] !== tokenizer.eosTokenId) rows++;
    const logits = new Float32Array(rows * V).fill(-1e9);
    firstIds.forEach((id) => (logits[id] = config.fact.genericSpread * rng.normal()));
    const mask = new Uint8Array(rows);
    mask[0] = 1;
    return { logits, rows: mask };
  });
}

/** Token ids standing in for a subject: one vocabulary token if `text` is one, else its encoding. */
function placeholderIds(tokenizer: UnlearnTokenizer, text: string): number[] {
  const id = tokenizer.tokenToId?.(text);
  if (id !== undefined) return [id];
  const ids = tokenizer.encode(` ${text}`, { addSpecialTokens: false });
  if (ids.length === 0) throw new Error(`fact.genericSubject "${text}" encodes to no tokens`);
  return ids;
}

function loraOptions(config: UnlearnConfig) {
  return {
    rank: config.params.loraRank,
    alpha: config.params.loraAlpha,
    targets: config.params.loraTargets,
    layers: config.params.layers,
  };
}

/** Probe features of retain-entity prompts (no gradient): per probe, [n, D] values. */
function probeFeatures(
  model: Qwen2ForCausalLM,
  facts: readonly EncodedFact[],
  layers: readonly number[],
  config: UnlearnConfig,
  padId: number,
  maxLayer: number,
  L: number,
): { features: Float32Array[]; owner: Int32Array } {
  const batch = collateRows(
    facts.map((f) => f.encoded),
    padId,
  );
  const out = model.forward(batch.ids, {
    batch: batch.batch,
    seq: batch.seq,
    attentionMask: batch.attentionMask,
    ...(maxLayer < L
      ? { untilHiddenState: maxLayer }
      : { outputHiddenStates: true, logits: 'none' as const }),
  });
  const pooled = pooledFeatures(out.hiddenStates!, facts, batch.seq, layers, config);
  return { features: pooled.features.map((t) => Float32Array.from(t.data)), owner: pooled.owner };
}

function selectRows(data: Float32Array, rows: readonly number[], d: number): Float32Array {
  const out = new Float32Array(rows.length * d);
  rows.forEach((r, i) => out.set(data.subarray(r * d, (r + 1) * d), i * d));
  return out;
}

function concatArrays(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
