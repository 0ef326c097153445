// Qwen2ForCausalLM (and Llama-family models that differ only by bias flags), written after Hugging Face's
// modeling_qwen2.py: token embedding → L × [RMSNorm → grouped-query attention with RoPE → residual →
// RMSNorm → SwiGLU MLP → residual] → RMSNorm → lm_head (tied to the embedding or not).
// Parameters carry Hugging Face's names so a folder saved here loads back in Python and vice versa.
import { Tensor, isGradEnabled } from '../tensor/tensor.ts';
import { withScratch } from '../tensor/pool.ts';
import {
  add,
  attention,
  embedding,
  gatherRows,
  linear,
  linearCrossEntropy,
  loraLinear,
  permute,
  reshape,
  rmsNorm,
  permuteRope,
  swiglu,
  type LowRankUpdate,
} from '../tensor/ops.ts';
import { expectShape, readModelFolder, writeModelFolder } from '../io/model-folder.ts';
import type { Qwen2Config } from '../io/config.ts';
import type { WritableDtype } from '../io/safetensors.ts';
import { initQwen2Parameters } from './init.ts';
import { readErasers, writeErasers, type ResidualEraser } from './erasers.ts';

export type { Qwen2Config };

/** Which logits `forward` computes: the lm_head over a 151936-token vocabulary dominates the cost. */
export type LogitsSelection =
  | 'all' // [B, T, V]
  | 'last' // [B, V] at position T − 1 of every row (the next token under left padding)
  | 'none'
  | Int32Array; // [N, V] at the given flat rows b·T + t

export interface ForwardOptions {
  batch: number;
  seq: number;
  /** [B·T], 1 = real token, 0 = padding (left padding for generation). Default: all real. */
  attentionMask?: Uint8Array;
  /** [B·T]. Default: derived from the mask as HF generate does (cumsum − 1, pads → 1), or from the cache. */
  positionIds?: Int32Array;
  /** Return the L + 1 hidden states in HF's `output_hidden_states` convention. */
  outputHiddenStates?: boolean;
  /** Default 'all', or 'none' when `labels` are given (the loss computes only the rows it needs). */
  logits?: LogitsSelection;
  /** [B·T] token ids, −100 = ignored; the loss predicts labels[t + 1] from position t (HF's shift). */
  labels?: Int32Array;
  /** Inference only: keys/values of earlier tokens; this call appends the new ones. */
  kvCache?: KVCache;
  /**
   * Start from hidden_states[k] (shape [B, T, hidden]) instead of the embeddings, running layers k..L−1:
   * lets a caller compute frozen lower layers once and train only the top.
   */
  fromHiddenState?: { index: number; hidden: Tensor };
  /** Stop once hidden_states[k] exists: no later layers and no logits or loss (e.g. to feed a probe). */
  untilHiddenState?: number;
}

export interface ForwardOutput {
  logits?: Tensor;
  /** Mean cross-entropy over the labelled tokens, when `labels` were given. */
  loss?: Tensor;
  /**
   * hidden_states[0] = embeddings, [i] = output of layer i (1 ≤ i < L), [L] = final-norm output; each
   * [B, T, hidden] and on the autograd tape (entries below fromHiddenState.index are absent).
   */
  hiddenStates?: Tensor[];
}

/** A low-rank update of one projection (LoRA): y = x·Wᵀ + b + scaling · (x·Aᵀ)·Bᵀ, A [r, in], B [out, r]. */
export type LowRankAdapter = LowRankUpdate;

interface Projection {
  weight: Tensor;
  bias?: Tensor;
  adapter?: LowRankAdapter;
}

interface DecoderLayer {
  qProj: Projection;
  kProj: Projection;
  vProj: Projection;
  oProj: Projection;
  gateProj: Projection;
  upProj: Projection;
  downProj: Projection;
  inputLayernorm: Tensor;
  postAttentionLayernorm: Tensor;
}

/** The shape of every parameter under its HF name, in HF's `named_parameters()` order. */
export function parameterShapes(config: Qwen2Config): Map<string, number[]> {
  const { hiddenSize: h, vocabSize: v, intermediateSize: i, headDim: dh } = config;
  const q = config.numAttentionHeads * dh;
  const kv = config.numKeyValueHeads * dh;
  const shapes = new Map<string, number[]>([['model.embed_tokens.weight', [v, h]]]);
  for (let layer = 0; layer < config.numHiddenLayers; layer++) {
    const p = `model.layers.${layer}.`;
    const attn = (name: string, out: number, inp: number, bias: boolean) => {
      shapes.set(`${p}self_attn.${name}.weight`, [out, inp]);
      if (bias) shapes.set(`${p}self_attn.${name}.bias`, [out]);
    };
    attn('q_proj', q, h, config.qkvBias);
    attn('k_proj', kv, h, config.qkvBias);
    attn('v_proj', kv, h, config.qkvBias);
    attn('o_proj', h, q, config.oProjBias);
    const mlp = (name: string, out: number, inp: number) => {
      shapes.set(`${p}mlp.${name}.weight`, [out, inp]);
      if (config.mlpBias) shapes.set(`${p}mlp.${name}.bias`, [out]);
    };
    mlp('gate_proj', i, h);
    mlp('up_proj', i, h);
    mlp('down_proj', h, i);
    shapes.set(`${p}input_layernorm.weight`, [h]);
    shapes.set(`${p}post_attention_layernorm.weight`, [h]);
  }
  shapes.set('model.norm.weight', [h]);
  if (!config.tieWordEmbeddings) shapes.set('lm_head.weight', [v, h]);
  return shapes;
}

export class Qwen2ForCausalLM {
  readonly config: Qwen2Config;
  private readonly params: Map<string, Tensor>;
  private readonly embedTokens: Tensor;
  private readonly layers: DecoderLayer[];
  private readonly finalNorm: Tensor;
  private readonly lmHead: Tensor;
  private readonly adapters: ReadonlyMap<string, LowRankAdapter>;
  /** Residual-stream erasers by hidden-state index, as linear(h, I − P, P·μ) (see ./erasers.ts). */
  private erasers: ResidualEraser[] = [];
  private eraserMaps = new Map<number, { weight: Tensor; bias: Tensor }>();

  /**
   * Builds the model around `parameters` (HF names; every expected tensor present with its shape) and
   * optional low-rank `adapters` keyed by the projection weight they update (see `withAdapters`).
   */
  constructor(
    config: Qwen2Config,
    parameters: Map<string, Tensor>,
    adapters: ReadonlyMap<string, LowRankAdapter> = new Map(),
  ) {
    this.config = config;
    const shapes = parameterShapes(config);
    for (const [name, shape] of shapes) {
      const tensor = parameters.get(name);
      if (!tensor) throw new Error(`missing parameter "${name}" (expected shape [${shape.join(', ')}])`);
      if (!sameShape(tensor.shape, shape)) {
        throw new Error(
          `parameter "${name}" has shape [${tensor.shape.join(', ')}] but the config needs [${shape.join(', ')}]`,
        );
      }
    }
    const unexpected = [...parameters.keys()].filter((name) => !shapes.has(name));
    if (unexpected.length > 0) throw new Error(`unexpected parameters: ${unexpected.join(', ')}`);
    this.params = new Map([...shapes.keys()].map((name) => [name, parameters.get(name)!]));
    for (const [name, { a, b }] of adapters) {
      const shape = PROJECTION_WEIGHT.test(name) ? shapes.get(name) : undefined;
      if (!shape) throw new Error(`adapter for "${name}": not a projection weight of this model`);
      const [out, inp] = shape as [number, number];
      const rank = a.shape[0];
      if (!(sameShape(a.shape, [rank!, inp]) && sameShape(b.shape, [out, rank!]))) {
        throw new Error(
          `adapter for "${name}": A [${a.shape.join(', ')}] and B [${b.shape.join(', ')}] do not fit [${out}, ${inp}]`,
        );
      }
    }
    this.adapters = adapters;

    const get = (name: string) => this.params.get(name)!;
    const proj = (name: string): Projection => ({
      weight: get(`${name}.weight`),
      bias: this.params.get(`${name}.bias`),
      adapter: adapters.get(`${name}.weight`),
    });
    this.embedTokens = get('model.embed_tokens.weight');
    this.layers = [];
    for (let layer = 0; layer < config.numHiddenLayers; layer++) {
      const p = `model.layers.${layer}.`;
      this.layers.push({
        qProj: proj(`${p}self_attn.q_proj`),
        kProj: proj(`${p}self_attn.k_proj`),
        vProj: proj(`${p}self_attn.v_proj`),
        oProj: proj(`${p}self_attn.o_proj`),
        gateProj: proj(`${p}mlp.gate_proj`),
        upProj: proj(`${p}mlp.up_proj`),
        downProj: proj(`${p}mlp.down_proj`),
        inputLayernorm: get(`${p}input_layernorm.weight`),
        postAttentionLayernorm: get(`${p}post_attention_layernorm.weight`),
      });
    }
    this.finalNorm = get('model.norm.weight');
    // Tied: the very same tensor, so its gradient collects both uses (as in PyTorch).
    this.lmHead = config.tieWordEmbeddings ? this.embedTokens : get('lm_head.weight');
  }

  /** A randomly initialised model, as HF's `_init_weights`: normal(0, initializer_range), norms 1, biases 0. */
  static initRandom(config: Qwen2Config, seed: number): Qwen2ForCausalLM {
    return new Qwen2ForCausalLM(config, initQwen2Parameters(config, parameterShapes(config), seed));
  }

  /** Loads a Hugging Face model folder (config.json + model.safetensors or a sharded index). */
  static fromPretrained(dir: string): Qwen2ForCausalLM {
    const folder = readModelFolder(dir);
    try {
      const config = folder.config;
      const shapes = parameterShapes(config);
      const file = folder.weightsPath;
      const present = new Set(folder.tensorNames);
      const missing = [...shapes.keys()].filter((name) => !present.has(name));
      if (missing.length > 0) {
        const list = missing.map((name) => `"${name}" [${shapes.get(name)!.join(', ')}]`).join(', ');
        throw new Error(`${file}: missing tensor(s) that config.json implies: ${list}`);
      }
      const unexpected = folder.tensorNames.filter(
        (name) => !shapes.has(name) && !ignoredOnLoad(name, config),
      );
      if (unexpected.length > 0) {
        throw new Error(
          `${file}: tensor(s) not in a ${config.modelType} model with this config.json: ${unexpected.join(', ')}`,
        );
      }
      // Check every shape before loading anything, then load one tensor at a time.
      for (const [name, shape] of shapes) expectShape(name, folder.tensorInfo(name).shape, shape, file);
      const parameters = new Map<string, Tensor>();
      for (const [name, shape] of shapes)
        parameters.set(name, Tensor.param(folder.loadTensor(name).data, shape));
      const model = new Qwen2ForCausalLM(config, parameters);
      model.setErasers(readErasers(dir, config.hiddenSize, config.numHiddenLayers));
      return model;
    } finally {
      folder.close();
    }
  }

  /**
   * Writes config.json + model.safetensors (weights converted to `dtype`, default F32; sharded with an
   * index above `maxShardBytes`), copying the tokenizer files of `tokenizerDir` when given.
   */
  saveToDir(
    dir: string,
    options: { dtype?: WritableDtype; maxShardBytes?: number; tokenizerDir?: string } = {},
  ): void {
    const tensors = new Map([...this.params].map(([name, t]) => [name, { data: t.data, shape: t.shape }]));
    writeModelFolder(dir, this.config, tensors, { ...options, dtype: options.dtype ?? 'F32' });
    writeErasers(dir, this.erasers, this.config.hiddenSize);
  }

  /** The residual-stream erasers this model applies (none for a plain Hugging Face model). */
  residualErasers(): readonly ResidualEraser[] {
    return this.erasers;
  }

  /** Replaces the residual-stream erasers (at most one per hidden state, each sized to the model). */
  setErasers(erasers: readonly ResidualEraser[]): void {
    const D = this.config.hiddenSize;
    const maps = new Map<number, { weight: Tensor; bias: Tensor }>();
    for (const e of erasers) {
      if (!(
        Number.isInteger(e.hiddenState) &&
        e.hiddenState >= 0 &&
        e.hiddenState <= this.config.numHiddenLayers
      ))
        throw new Error(
          `eraser: hidden state ${e.hiddenState} does not exist (the model has 0..${this.config.numHiddenLayers})`,
        );
      if (maps.has(e.hiddenState)) throw new Error(`eraser: hidden state ${e.hiddenState} given twice`);
      if (e.mean.length !== D || e.projection.length !== D * D)
        throw new Error(`eraser at hidden state ${e.hiddenState}: sized for another hidden size than ${D}`);
      const weight = new Float32Array(D * D);
      const bias = new Float32Array(D);
      for (let i = 0; i < D; i++) {
        let pm = 0;
        for (let j = 0; j < D; j++) {
          const pij = e.projection[i * D + j]!;
          weight[i * D + j] = (i === j ? 1 : 0) - pij;
          pm += pij * e.mean[j]!;
        }
        bias[i] = pm;
      }
      maps.set(e.hiddenState, { weight: Tensor.from(weight, [D, D]), bias: Tensor.from(bias, [D]) });
    }
    this.erasers = [...erasers].sort((a, b) => a.hiddenState - b.hiddenState);
    this.eraserMaps = maps;
  }

  /** h − P·(h − μ) = h·(I − P)ᵀ + P·μ at a hidden state with an eraser; h itself elsewhere. */
  private erased(index: number, h: Tensor): Tensor {
    const map = this.eraserMaps.get(index);
    return map ? linear(h, map.weight, map.bias) : h;
  }

  /**
   * This model with low-rank adapters on the named projection weights, sharing every base tensor: the
   * update runs as two thin matmuls per projection, so no weight-sized tensor is ever built (LoRA
   * training of a 0.5B model would otherwise materialise W + ΔW for every adapted weight, every step).
   */
  withAdapters(adapters: ReadonlyMap<string, LowRankAdapter>): Qwen2ForCausalLM {
    if (this.adapters.size > 0) throw new Error('withAdapters: this model already has adapters');
    const adapted = new Qwen2ForCausalLM(this.config, this.params, adapters);
    adapted.setErasers(this.erasers);
    return adapted;
  }

  /** Parameters under their HF names (a tied lm_head appears once, as model.embed_tokens.weight). */
  namedParameters(): Map<string, Tensor> {
    return new Map(this.params);
  }

  /** Marks exactly the parameters whose names pass `select` as trainable; the rest are frozen. */
  setTrainable(select: (name: string) => boolean): void {
    for (const [name, tensor] of this.params) tensor.requiresGrad = select(name);
  }

  /** Trainable parameters (requiresGrad) under their HF names. */
  trainableParameters(): Map<string, Tensor> {
    return new Map([...this.params].filter(([, t]) => t.requiresGrad));
  }

  numParameters(): number {
    let total = 0;
    for (const t of this.params.values()) total += t.size;
    return total;
  }

  forward(ids: Int32Array, options: ForwardOptions): ForwardOutput {
    const { batch, seq, attentionMask, kvCache, labels } = options;
    const cfg = this.config;
    const L = cfg.numHiddenLayers;
    if (!(batch > 0 && seq > 0) || ids.length !== batch * seq) {
      throw new Error(`forward: ${ids.length} ids do not form batch ${batch} × seq ${seq}`);
    }
    if (attentionMask && attentionMask.length !== ids.length) {
      throw new Error(`forward: attentionMask has ${attentionMask.length} entries, expected ${ids.length}`);
    }
    if (labels && labels.length !== ids.length) {
      throw new Error(`forward: labels have ${labels.length} entries, expected ${ids.length}`);
    }
    const start = options.fromHiddenState?.index ?? 0;
    const until = options.untilHiddenState ?? L;
    if (!(Number.isInteger(start) && start >= 0 && start < L)) {
      throw new Error(`forward: fromHiddenState.index must be in 0..${L - 1}, got ${start}`);
    }
    if (!(Number.isInteger(until) && until >= start && until <= L)) {
      throw new Error(`forward: untilHiddenState must be in ${start}..${L}, got ${until}`);
    }
    if (kvCache && (start !== 0 || options.untilHiddenState !== undefined)) {
      throw new Error('forward: a KV cache needs the full stack of layers');
    }
    const window = slidingWindow(cfg);
    const keys = (kvCache ? kvCache.length : 0) + seq;
    if (window !== null && keys > window) {
      throw new Error(
        `forward: ${keys} tokens exceed the config's sliding_window ${window}, which rlcp does not implement`,
      );
    }

    // Everything that can fail on bad input happens before the KV cache is touched.
    let h: Tensor;
    if (options.fromHiddenState) {
      h = options.fromHiddenState.hidden;
      if (!sameShape(h.shape, [batch, seq, cfg.hiddenSize])) {
        throw new Error(
          `forward: fromHiddenState.hidden has shape [${h.shape.join(', ')}], expected [${batch}, ${seq}, ${cfg.hiddenSize}]`,
        );
      }
    } else {
      checkIds(ids, cfg.vocabSize);
      h = embedding(this.embedTokens, ids, [batch, seq]);
    }
    const positions =
      options.positionIds ??
      (kvCache
        ? kvCache.nextPositions(attentionMask, batch, seq)
        : positionsFromMask(attentionMask, batch, seq));
    if (positions.length !== ids.length) {
      throw new Error(`forward: positionIds has ${positions.length} entries, expected ${ids.length}`);
    }
    const keyMask = kvCache ? kvCache.append(attentionMask, batch, seq) : attentionMask;
    const past = kvCache ? kvCache.length - seq : 0;

    const hiddenStates: Tensor[] = [];
    const keepHidden = options.outputHiddenStates || options.untilHiddenState !== undefined;
    for (let layer = start; layer < until; layer++) {
      // A given starting hidden state comes from this model's forward: it is erased already.
      if (layer > start || !options.fromHiddenState) h = this.erased(layer, h);
      if (keepHidden) hiddenStates[layer] = h;
      const x = h;
      const run = () => this.decoderLayer(layer, x, positions, keyMask, batch, seq, past, kvCache);
      // Without a graph nothing but the layer's output outlives it: its intermediates go back to the pool now.
      h = isGradEnabled() ? run() : withScratch(run, (out) => [out.data]);
    }
    if (until < L) {
      hiddenStates[until] = until > start || !options.fromHiddenState ? this.erased(until, h) : h;
      return { hiddenStates };
    }
    h = this.erased(L, rmsNorm(h, this.finalNorm, cfg.rmsNormEps));
    if (keepHidden) hiddenStates[L] = h;
    if (options.untilHiddenState !== undefined) return { hiddenStates };

    const out: ForwardOutput = {};
    if (keepHidden) out.hiddenStates = hiddenStates;
    const selection = options.logits ?? (labels ? 'none' : 'all');
    if (selection === 'all') {
      out.logits = linear(h, this.lmHead);
    } else if (selection === 'last') {
      const rows = Int32Array.from({ length: batch }, (_, b) => b * seq + seq - 1);
      out.logits = this.logitsAtRows(h, rows);
    } else if (selection !== 'none') {
      out.logits = this.logitsAtRows(h, selection);
    }
    if (labels) out.loss = this.causalLmLoss(h, labels, attentionMask, batch, seq);
    if (kvCache) kvCache.commit();
    return out;
  }

  /** lm_head over chosen rows of the final hidden state [B, T, H] (flat row b·T + t). */
  logitsAtRows(finalHidden: Tensor, rows: Int32Array): Tensor {
    return linear(tokenRows(finalHidden, rows), this.lmHead);
  }

  private causalLmLoss(
    finalHidden: Tensor,
    labels: Int32Array,
    attentionMask: Uint8Array | undefined,
    batch: number,
    seq: number,
  ): Tensor {
    // Position t predicts labels[t + 1]; only rows with a real target reach the lm_head. A padding
    // position has no defined output, so it predicts nothing (HF would score the first real token of a
    // left-padded row from it; rlcp leaves that target out).
    const rows: number[] = [];
    const targets: number[] = [];
    for (let b = 0; b < batch; b++) {
      for (let t = 0; t + 1 < seq; t++) {
        const target = labels[b * seq + t + 1]!;
        if (target === IGNORE_INDEX || (attentionMask && attentionMask[b * seq + t] === 0)) continue;
        if (!(target >= 0 && target < this.config.vocabSize)) {
          throw new Error(
            `label ${target} at row ${b}, position ${t + 1} is outside the vocabulary (${this.config.vocabSize})`,
          );
        }
        rows.push(b * seq + t);
        targets.push(target);
      }
    }
    if (rows.length === 0) throw new Error('loss: every label is ignored (−100); nothing to predict');
    const selected = tokenRows(finalHidden, Int32Array.from(rows));
    // Fused lm_head + cross-entropy: the [N, vocab] logits never become a tensor.
    return linearCrossEntropy(selected, this.lmHead, Int32Array.from(targets));
  }

  private decoderLayer(
    index: number,
    x: Tensor,
    positions: Int32Array,
    keyMask: Uint8Array | undefined,
    batch: number,
    seq: number,
    past: number,
    kvCache: KVCache | undefined,
  ): Tensor {
    const cfg = this.config;
    const layer = this.layers[index]!;
    const dh = cfg.headDim;
    const hq = cfg.numAttentionHeads;
    const hkv = cfg.numKeyValueHeads;

    const normed = rmsNorm(x, layer.inputLayernorm, cfg.rmsNormEps);
    // [B, T, heads·Dh] → [B, T, heads, Dh]; permute(·, [0, 2, 1, 3]) makes it [B, heads, T, Dh].
    const split = (p: Projection, n: number) => reshape(project(normed, p), [batch, seq, n, dh]);
    const q = permuteRope(split(layer.qProj, hq), positions, cfg.ropeTheta);
    let k = permuteRope(split(layer.kProj, hkv), positions, cfg.ropeTheta);
    let v = permute(split(layer.vProj, hkv), [0, 2, 1, 3]);
    if (kvCache) [k, v] = kvCache.update(index, k, v);
    const attended = attention(q, k, v, { causal: true, keyMask, queryOffset: past });
    const merged = reshape(permute(attended, [0, 2, 1, 3]), [batch, seq, hq * dh]);
    const h = add(x, project(merged, layer.oProj));

    const normed2 = rmsNorm(h, layer.postAttentionLayernorm, cfg.rmsNormEps);
    const gate = project(normed2, layer.gateProj);
    const up = project(normed2, layer.upProj);
    return add(h, project(swiglu(gate, up), layer.downProj));
  }
}

/** A decoder layer's projection weight (the ones adapters may update): groups are the layer and the projection. */
export const PROJECTION_WEIGHT = /^model\.layers\.(\d+)\.(?:self_attn|mlp)\.([a-z_]+_proj)\.weight$/;

function project(x: Tensor, p: Projection): Tensor {
  return p.adapter ? loraLinear(x, p.weight, p.bias, p.adapter) : linear(x, p.weight, p.bias);
}

export const IGNORE_INDEX = -100;

/** Chosen token rows (flat b·T + t) of a [B, T, D] hidden state as [N, D], keeping the gradient path. */
export function tokenRows(hidden: Tensor, rows: Int32Array): Tensor {
  if (hidden.shape.length !== 3)
    throw new Error(`tokenRows: expected [B, T, D], got [${hidden.shape.join(', ')}]`);
  const [b, t, d] = hidden.shape as [number, number, number];
  return gatherRows(reshape(hidden, [b * t, d]), rows);
}

/** The config's end-of-sequence ids as a list (HF allows one id or several). */
export function eosTokenIds(config: Qwen2Config): number[] {
  const eos = config.eosTokenId;
  return eos === null ? [] : Array.isArray(eos) ? eos : [eos];
}

/** The attention window some layer of this config uses, or null when every layer sees all tokens. */
function slidingWindow(config: Qwen2Config): number | null {
  if (!config.useSlidingWindow || config.slidingWindow === null) return null;
  // qwen2 applies the window only from layer max_window_layers on.
  if (config.modelType === 'qwen2' && (config.maxWindowLayers ?? 0) >= config.numHiddenLayers) return null;
  return config.slidingWindow;
}

/**
 * Keys and values of the tokens seen so far, pre-allocated per layer as [B, Hkv, maxLen, Dh], plus the
 * key mask [B, maxLen] and each row's count of real tokens (for position ids under left padding).
 * Inference only: nothing here records gradients.
 */
export class KVCache {
  readonly batch: number;
  readonly maxLen: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  private readonly keys: Float32Array[];
  private readonly values: Float32Array[];
  private readonly mask: Uint8Array;
  private readonly realTokens: Int32Array;
  /** Tokens committed so far (every row has the same length; padding is masked). */
  private committed = 0;
  private pending = 0;

  constructor(config: Qwen2Config, batch: number, maxLen: number) {
    this.batch = batch;
    this.maxLen = maxLen;
    this.numKvHeads = config.numKeyValueHeads;
    this.headDim = config.headDim;
    const size = batch * this.numKvHeads * maxLen * this.headDim;
    this.keys = Array.from({ length: config.numHiddenLayers }, () => new Float32Array(size));
    this.values = Array.from({ length: config.numHiddenLayers }, () => new Float32Array(size));
    this.mask = new Uint8Array(batch * maxLen);
    this.realTokens = new Int32Array(batch);
  }

  /** Tokens held (including those of a forward in progress). */
  get length(): number {
    return this.committed + this.pending;
  }

  /** Position ids for `seq` new tokens: each row continues its count of real tokens. */
  nextPositions(mask: Uint8Array | undefined, batch: number, seq: number): Int32Array {
    this.checkBatch(batch);
    return positionsFromMask(mask, batch, seq, this.realTokens);
  }

  /**
   * Reserves room for `seq` new tokens and returns the key mask over the keys `update` will return: the
   * S = seq fresh ones on the first forward, else all maxLen slots (those past the tokens held are 0).
   */
  append(mask: Uint8Array | undefined, batch: number, seq: number): Uint8Array {
    this.checkBatch(batch);
    if (this.pending !== 0) throw new Error('KV cache: previous forward did not finish');
    if (this.committed + seq > this.maxLen) {
      throw new Error(`KV cache: ${this.committed} + ${seq} tokens exceed its capacity of ${this.maxLen}`);
    }
    for (let b = 0; b < batch; b++) {
      for (let t = 0; t < seq; t++) {
        const real = mask ? mask[b * seq + t]! : 1;
        this.mask[b * this.maxLen + this.committed + t] = real;
        this.realTokens[b]! += real;
      }
    }
    this.pending = seq;
    if (this.committed > 0) return this.mask;
    const keyMask = new Uint8Array(batch * seq);
    for (let b = 0; b < batch; b++) {
      keyMask.set(this.mask.subarray(b * this.maxLen, b * this.maxLen + seq), b * seq);
    }
    return keyMask;
  }

  /**
   * Stores the new keys/values [B, Hkv, T, Dh] of one layer and returns the keys/values attention reads:
   * the fresh ones on the first forward, later the whole cache [B, Hkv, maxLen, Dh] without a copy (the
   * slots not yet written are zeros and masked: copying the used part out cost more than every GEMM of a
   * decode step at batch 32 and ~1000 tokens).
   */
  update(layer: number, k: Tensor, v: Tensor): [Tensor, Tensor] {
    const keys = this.keys[layer]!;
    const values = this.values[layer]!;
    this.store(keys, k);
    this.store(values, v);
    if (this.committed === 0) return [k, v];
    const shape = [this.batch, this.numKvHeads, this.maxLen, this.headDim];
    return [Tensor.from(keys, shape), Tensor.from(values, shape)];
  }

  commit(): void {
    this.committed += this.pending;
    this.pending = 0;
  }

  /** Starts this empty cache with the tokens of a batch-1 cache in every row (a shared prompt prefix). */
  repeatRowsOf(source: KVCache): void {
    if (source.batch !== 1 || source.numKvHeads !== this.numKvHeads || source.headDim !== this.headDim)
      throw new Error('KV cache: repeatRowsOf needs a batch-1 cache of the same model');
    if (this.committed !== 0 || this.pending !== 0)
      throw new Error('KV cache: repeatRowsOf needs an empty cache');
    const n = source.committed;
    if (source.pending !== 0 || n > this.maxLen)
      throw new Error(`KV cache: ${n} tokens do not fit its capacity of ${this.maxLen}`);
    const span = n * this.headDim;
    for (let layer = 0; layer < this.keys.length; layer++) {
      for (const [to, from] of [
        [this.keys[layer]!, source.keys[layer]!],
        [this.values[layer]!, source.values[layer]!],
      ] as const) {
        for (let b = 0; b < this.batch; b++) {
          for (let h = 0; h < this.numKvHeads; h++) {
            const src = h * source.maxLen * this.headDim;
            to.set(from.subarray(src, src + span), (b * this.numKvHeads + h) * this.maxLen * this.headDim);
          }
        }
      }
    }
    for (let b = 0; b < this.batch; b++) {
      this.mask.set(source.mask.subarray(0, n), b * this.maxLen);
      this.realTokens[b] = source.realTokens[0]!;
    }
    this.committed = n;
  }

  private store(cache: Float32Array, fresh: Tensor): void {
    const { batch, maxLen, numKvHeads, headDim } = this;
    const seq = this.pending;
    for (let bh = 0; bh < batch * numKvHeads; bh++) {
      cache.set(
        fresh.data.subarray(bh * seq * headDim, (bh + 1) * seq * headDim),
        bh * maxLen * headDim + this.committed * headDim,
      );
    }
  }

  private checkBatch(batch: number): void {
    if (batch !== this.batch) throw new Error(`KV cache holds batch ${this.batch}, forward got ${batch}`);
  }
}

/**
 * HF generate's position ids: cumsum(mask) − 1 per row, padding positions set to 1; `realBefore` counts
 * each row's real tokens already in a KV cache.
 */
export function positionsFromMask(
  mask: Uint8Array | undefined,
  batch: number,
  seq: number,
  realBefore?: Int32Array,
): Int32Array {
  const positions = new Int32Array(batch * seq);
  for (let b = 0; b < batch; b++) {
    let seen = realBefore ? realBefore[b]! : 0;
    for (let t = 0; t < seq; t++) {
      const real = mask ? mask[b * seq + t]! : 1;
      seen += real;
      positions[b * seq + t] = real ? seen - 1 : 1;
    }
  }
  return positions;
}

function checkIds(ids: Int32Array, vocabSize: number): void {
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (!(id >= 0 && id < vocabSize)) {
      throw new Error(`token id ${id} at index ${i} is outside the vocabulary (size ${vocabSize})`);
    }
  }
}

/** Tensors a checkpoint may carry that the model does not use. */
function ignoredOnLoad(name: string, config: Qwen2Config): boolean {
  // Old checkpoints store RoPE's inv_freq buffer; a tied model may still carry a copy of lm_head.
  return name.endsWith('.rotary_emb.inv_freq') || (config.tieWordEmbeddings && name === 'lm_head.weight');
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
