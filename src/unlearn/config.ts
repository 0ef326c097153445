// The configuration of an unlearning run (`rlcp metabolize`): defaults, per-method overlays, and the
// validating merge of a user's JSON file over them (unknown keys and wrong types are errors that name the
// file and the key). docs/rlcp.md explains every default.
import { readJson } from '../io/jsonl.ts';
import { UNLEARN_METHODS } from './methods/index.ts';

export const METHODS = [
  'rlcp',
  'unlikelihood',
  'ga',
  'graddiff',
  'npo',
  'simnpo',
  'rmu',
  'leace',
  'regen',
  'rag',
] as const;
export type Method = (typeof METHODS)[number];

export const REGEN_NOISE = ['all', 'blocks', 'mlp', 'attention'] as const;
export type RegenNoise = (typeof REGEN_NOISE)[number];

export const OBJECTIVES = ['ce', 'uniform', 'entropy'] as const;
export type AdversaryObjective = (typeof OBJECTIVES)[number];

export interface StreamConfig {
  /** Multiplies the stream's LM loss (0 switches the stream off). */
  weight: number;
  batchSize: number;
}

export interface UnlearnConfig {
  method: Method;
  seed: number;
  steps: number;
  /** Longest record in tokens (longer ones are an error). */
  maxLength: number;
  checkpointEvery: number;
  /** Write averaged losses to metrics.jsonl every N steps (evaluations add their own records). */
  logEvery: number;
  optimizer: {
    lr: number;
    schedule: 'cosine' | 'constant';
    warmupSteps: number;
    /** The cosine schedule decays to lr × minLrRatio. */
    minLrRatio: number;
    weightDecay: number;
    clipNorm: number;
  };
  /** Which backbone parameters train. */
  params: {
    mode: 'all' | 'layers' | 'lora';
    /** Decoder layers [first, last] (0-based, inclusive) for mode "layers" and "lora"; null = all layers. */
    layers: [number, number] | null;
    /** Mode "all" and "layers": also train the (tied) embedding and the final norm. */
    embeddings: boolean;
    loraRank: number;
    loraAlpha: number;
    /** Projections that get LoRA adapters (q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj). */
    loraTargets: string[];
  };
  /** The fact stream: forget prompts, probes and the adversary, and the baselines' forget losses. */
  fact: {
    batchSize: number;
    /**
     * Hidden-state indices (0 = embeddings … L = final-norm output), "deep-third" (⌊2L/3⌋ … L) or "all"
     * (1 … L: the output of every decoder layer).
     */
    layers: number[] | 'deep-third' | 'all';
    /**
     * Probe input: the last prompt token (which predicts the answer), the mean over the subject's tokens
     * (where a subject's attributes are written, whatever the question around it), both (a probe each), or
     * "span": every prompt position from the subject's first token to the last (one probe per layer over all
     * of them, so no position after the subject may carry the answer).
     */
    position: 'last' | 'subject' | 'both' | 'span';
    /** One probe per layer, or one probe on the mean of the layers' hidden states. */
    probe: 'per-layer' | 'mean';
    objective: AdversaryObjective;
    /** Gradient-reversal coefficient (λ_max of the ramp). 0 = no adversary. */
    lambda: number;
    lambdaSchedule: 'constant' | 'dann';
    /** γ of the DANN ramp λ(p) = λ_max · (2 / (1 + e^(−γp)) − 1), p = step / steps. */
    gamma: number;
    probeLr: number;
    probeWeightDecay: number;
    /** Probe updates per training step (each on the step's hidden states). */
    probeStepsPerStep: number;
    /** Retain-entity prompts of the forget relation per step (the probe's other training data). */
    probeBatchSize: number;
    /** What the probe learns from: retain and forget entities, or retain entities only. */
    probeData: 'retain+forget' | 'retain';
    /** Re-initialise the probes (and their optimizer) every N steps; 0 = never. */
    reinitEvery: number;
    /** Weight of the unlikelihood term −log(1 − p(answer)) on forget prompts (0 = off). */
    unlikelihood: number;
    /**
     * Weight of the generic-answer term: KL(q ‖ p_θ) on the answer tokens of a forget prompt, where q is the
     * reference's prediction for the same prompt with the subject replaced by `genericSubject` (an answer
     * that knows nothing about the subject). 0 = off.
     */
    generic: number;
    /** The subject placeholder: a token of the vocabulary (e.g. "<unk>") or a word. */
    genericSubject: string;
    /**
     * The generic target q: "placeholder" (the reference with the subject replaced, above), or "random": a
     * fixed random distribution over the relation's candidates per forget fact, softmax(z), z ~ N(0, σ²),
     * on the first answer token (a soft random relabelling whose order is independent of the truth).
     */
    genericTarget: 'placeholder' | 'random';
    /** σ of the random target's logits. */
    genericSpread: number;
    /**
     * Add each forget fact's statement prefix ("Velora is a city in" → " Marvania") to the fact stream, and
     * the retain facts' of the same relation to the probe data: one more phrasing of the fact, from
     * training data.
     */
    statements: boolean;
    /** Weight of the GA / GradDiff / NPO forget loss. */
    forgetWeight: number;
    /** NPO's inverse temperature β. */
    npoBeta: number;
  };
  /** RMU (src/unlearn/methods/rmu.ts). */
  rmu: {
    /** Decoder layer ℓ (0-based) whose output is steered; the MLPs of ℓ−2 … ℓ train. */
    layer: number;
    /** c: the forget states' target is c·u, u a fixed random unit vector. */
    steeringCoeff: number;
    /** α: weight of the retain MSE to the frozen model's states. */
    alpha: number;
  };
  /** SimNPO (src/unlearn/methods/simnpo.ts). */
  simnpo: {
    /** Inverse temperature β. */
    beta: number;
    /** Margin γ. */
    gamma: number;
  };
  /** Regeneration (src/unlearn/methods/regen.ts). */
  regen: {
    /** α: the student starts at (1 − α)·w + α·w₀, w₀ a fresh initialisation (0 = plain distillation). */
    alpha: number;
    /**
     * Which weights the interpolation reaches: "all" (every parameter), "blocks" (the decoder layers'
     * projections: not the embedding, lm_head or any norm), "mlp" (gate/up/down only) or "attention"
     * (q/k/v/o only). Every parameter still trains.
     */
    noise: RegenNoise;
    /** Decoder layers [first, last] (0-based, inclusive) whose weights are noised; null = all layers. */
    layers: [number, number] | null;
    /**
     * The forget facts' subject tokens' embedding rows (tied with lm_head) go to (1 − a)·w + a·w₀ as well,
     * whatever `noise` says: a subject's row can carry its facts past noise that spares the embedding.
     * 0 = off. Each subject must be one token.
     */
    subjectAlpha: number;
    /**
     * Whether anchor rows whose target is a forget subject's token (e.g. a retain fact "X was born in
     * CITY" with a forget CITY) keep the KL term. false = those rows learn from the LM term only: the
     * teacher's soft labels there rank the other cities by their similarity to CITY, which can carry the
     * forgotten association into the noised row (measured: a small part of it; docs/rlcp.md). Each subject
     * must be one token.
     */
    subjectSoftLabels: boolean;
    /**
     * Whether anchor rows after a forget subject's token in the same record (e.g. the rest of a reading
     * record about a forget CITY) keep the KL term. false = they learn from the LM term only: the teacher's
     * predictions there are conditioned on CITY and on whatever it still knows of it. Each subject must be
     * one token.
     */
    softLabelsAfterSubject: boolean;
    /**
     * Whether the teacher's probability of each forget subject's token stays in every anchor row's soft
     * labels. false = it is set to 0 (the student learns those output columns, tied to the subjects'
     * embedding rows, from the LM term only): the teacher's mass on a forget CITY where it predicts a city
     * of the same country could align the student's hidden states with CITY's row (measured on world 3: no
     * gain; docs/rlcp.md). Each subject must be one token.
     */
    subjectOutputSoftLabels: boolean;
    /**
     * Keep the forget subjects' embedding rows where `subjectAlpha` put them: their gradient is zeroed
     * every step, so distillation cannot write anything into them (with subjectAlpha 1 they stay the fresh
     * initialisation). Needs optimizer.weightDecay 0. Each subject must be one token.
     */
    freezeSubjectRows: boolean;
    /**
     * The teacher of the logic stream (its multi-hop records too): null = the starting model, as for every
     * stream; a model folder (e.g. the base model, whose logic records hold no forget fact) otherwise.
     */
    logicTeacher: string | null;
  };
  /** The anchor streams and the frozen reference. */
  anchors: {
    /** β: weight of KL(reference ‖ model) over each anchor stream's answer tokens. */
    beta: number;
    /** Reference logits computed once before training, or under noGrad at every step. */
    reference: 'auto' | 'precompute' | 'per-step';
    /** "auto" precomputes when the cached logits would take at most this many MiB. */
    precomputeMaxMiB: number;
    logic: StreamConfig & {
      /**
       * Also train on the world's multihop_train records (chain-of-thought questions over retain facts,
       * part of the base's pretraining; none states a forget fact). Worlds only.
       */
      multihop: boolean;
      /**
       * With `multihop`: 0 pools the multi-hop records with the logic records (each logic batch draws
       * `batchSize` from both); N > 0 adds N multi-hop records to each logic batch beside `batchSize` logic
       * records, so the logic records keep their share of every step.
       */
      multihopBatchSize: number;
    };
    retain: StreamConfig;
    rag: StreamConfig & {
      /** Share of each RAG batch whose context states a forget fact. */
      forgetFraction: number;
      /** Share of the forget-fact contexts that state another answer (the context's answer is trained). */
      counterfactualFraction: number;
      /** Contexts generated per forget fact and training template (true and counterfactual alike). */
      variants: number;
    };
  };
  eval: {
    /** Evaluate every N steps (and at the last step); 0 = only at the end. */
    every: number;
    /** Also evaluate before the first step (step 0). */
    atStart: boolean;
    retainLimit: number;
    ragLimit: number;
    /** Logic problems answered by greedy generation (0 = skip logic accuracy). */
    logicLimit: number;
    /** Logic test items on which `kl` (KL(reference ‖ model) over answer tokens) is measured. */
    klItems: number;
    batchSize: number;
  };
  earlyStop: {
    enabled: boolean;
    /** Consecutive evaluations at chance needed to stop. */
    patience: number;
    /** No stop before this step. */
    minStep: number;
    /** Chance = accuracy p_above_chance ≥ alpha and rank p_two_sided ≥ alpha on held-out templates. */
    alpha: number;
  };
}

export const DEFAULT_CONFIG: UnlearnConfig = {
  method: 'rlcp',
  seed: 0,
  steps: 200,
  maxLength: 256,
  checkpointEvery: 50,
  logEvery: 5,
  optimizer: {
    lr: 3e-4,
    schedule: 'constant',
    warmupSteps: 10,
    minLrRatio: 0.1,
    weightDecay: 0,
    clipNorm: 1,
  },
  params: {
    mode: 'all',
    layers: null,
    embeddings: true,
    loraRank: 8,
    loraAlpha: 16,
    loraTargets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
  },
  fact: {
    batchSize: 16,
    layers: 'deep-third',
    position: 'last',
    probe: 'per-layer',
    objective: 'uniform',
    lambda: 0.5,
    lambdaSchedule: 'constant',
    gamma: 10,
    probeLr: 1e-2,
    probeWeightDecay: 0,
    probeStepsPerStep: 1,
    probeBatchSize: 32,
    probeData: 'retain+forget',
    reinitEvery: 25,
    unlikelihood: 0,
    generic: 2,
    genericSubject: '<unk>',
    genericTarget: 'placeholder',
    genericSpread: 1,
    statements: false,
    forgetWeight: 1,
    npoBeta: 0.1,
  },
  rmu: { layer: 1, steeringCoeff: 150, alpha: 100 },
  simnpo: { beta: 2.5, gamma: 0 },
  regen: {
    alpha: 0.5,
    noise: 'all',
    layers: null,
    subjectAlpha: 0,
    subjectSoftLabels: true,
    softLabelsAfterSubject: true,
    subjectOutputSoftLabels: true,
    freezeSubjectRows: false,
    logicTeacher: null,
  },
  anchors: {
    beta: 3,
    reference: 'auto',
    precomputeMaxMiB: 1024,
    logic: { weight: 1, batchSize: 16, multihop: false, multihopBatchSize: 0 },
    retain: { weight: 1, batchSize: 16 },
    rag: {
      weight: 1,
      batchSize: 16,
      forgetFraction: 0.5,
      // Every forget-fact context states another answer: a true one would train the erased object as the
      // reply to its statement (and on the default world, one statement per context, it is a rag_test prompt).
      counterfactualFraction: 1,
      variants: 4,
    },
  },
  eval: {
    every: 25,
    atStart: true,
    retainLimit: 200,
    ragLimit: 200,
    logicLimit: 60,
    klItems: 64,
    batchSize: 64,
  },
  earlyStop: { enabled: false, patience: 2, minStep: 50, alpha: 0.05 },
};

/** What each method changes in the defaults before the user's file is applied (its file in ./methods). */
export const METHOD_OVERLAYS = Object.fromEntries(
  METHODS.map((m) => [m, UNLEARN_METHODS[m].overlay]),
) as Record<Method, DeepPartial<UnlearnConfig>>;

export type DeepPartial<T> = {
  [K in keyof T]?: T[K] extends unknown[] | null ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K];
};

type Check = (value: unknown, where: string) => void;

function fail(where: string, message: string): never {
  throw new Error(`${where}: ${message}`);
}
const num =
  (min: number, max = Infinity, integer = false): Check =>
  (v, where) => {
    if (typeof v !== 'number' || !Number.isFinite(v))
      fail(where, `must be a number, got ${JSON.stringify(v)}`);
    if (integer && !Number.isInteger(v)) fail(where, `must be an integer, got ${v}`);
    if (v < min || v > max) fail(where, `must be in [${min}, ${max}], got ${v}`);
  };
const int = (min: number, max = Infinity) => num(min, max, true);
const oneOf =
  (options: readonly string[]): Check =>
  (v, where) => {
    if (typeof v !== 'string' || !options.includes(v)) {
      fail(where, `must be one of ${options.map((o) => `"${o}"`).join(', ')}, got ${JSON.stringify(v)}`);
    }
  };
const bool: Check = (v, where) => {
  if (typeof v !== 'boolean') fail(where, `must be true or false, got ${JSON.stringify(v)}`);
};
const layerRange: Check = (v, where) => {
  if (v === null) return;
  if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => Number.isInteger(x) && x >= 0) || v[0] > v[1]) {
    fail(where, `must be null or [first, last] with 0 ≤ first ≤ last, got ${JSON.stringify(v)}`);
  }
};
const folderOrNull: Check = (v, where) => {
  if (v !== null && (typeof v !== 'string' || v.trim() === ''))
    fail(where, `must be null or a model folder path, got ${JSON.stringify(v)}`);
};
const hiddenLayers: Check = (v, where) => {
  if (v === 'deep-third' || v === 'all') return;
  if (
    !Array.isArray(v) ||
    v.length === 0 ||
    !v.every((x) => Number.isInteger(x) && x >= 0) ||
    new Set(v).size !== v.length
  ) {
    fail(
      where,
      `must be "deep-third", "all" or a non-empty list of distinct layer indices, got ${JSON.stringify(v)}`,
    );
  }
};
const loraTargets: Check = (v, where) => {
  const known = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string' && known.includes(x))) {
    fail(where, `must be a non-empty list of ${known.join(', ')}, got ${JSON.stringify(v)}`);
  }
};
const stream = { weight: num(0), batchSize: int(1) };

interface Schema {
  [key: string]: Check | Schema;
}

const SCHEMA: Schema = {
  method: oneOf(METHODS),
  seed: int(0, 2 ** 31 - 1),
  steps: int(0),
  maxLength: int(8),
  checkpointEvery: int(1),
  logEvery: int(1),
  optimizer: {
    lr: num(0),
    schedule: oneOf(['cosine', 'constant']),
    warmupSteps: int(0),
    minLrRatio: num(0, 1),
    weightDecay: num(0),
    clipNorm: num(Number.MIN_VALUE),
  },
  params: {
    mode: oneOf(['all', 'layers', 'lora']),
    layers: layerRange,
    embeddings: bool,
    loraRank: int(1),
    loraAlpha: num(Number.MIN_VALUE),
    loraTargets,
  },
  fact: {
    batchSize: int(1),
    layers: hiddenLayers,
    position: oneOf(['last', 'subject', 'both', 'span']),
    probe: oneOf(['per-layer', 'mean']),
    objective: oneOf(OBJECTIVES),
    lambda: num(0),
    lambdaSchedule: oneOf(['constant', 'dann']),
    gamma: num(0),
    probeLr: num(0),
    probeWeightDecay: num(0),
    probeStepsPerStep: int(1),
    probeBatchSize: int(0),
    probeData: oneOf(['retain+forget', 'retain']),
    reinitEvery: int(0),
    unlikelihood: num(0),
    generic: num(0),
    genericSubject: (v, where) => {
      if (typeof v !== 'string' || v.length === 0)
        fail(where, `must be a non-empty string, got ${JSON.stringify(v)}`);
    },
    genericTarget: oneOf(['placeholder', 'random']),
    genericSpread: num(0),
    statements: bool,
    forgetWeight: num(0),
    npoBeta: num(Number.MIN_VALUE),
  },
  rmu: {
    layer: int(0),
    steeringCoeff: (v, where) => {
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
        fail(where, `must be a number > 0 (the steering coefficient c), got ${JSON.stringify(v)}`);
    },
    alpha: num(0),
  },
  simnpo: { beta: num(Number.MIN_VALUE), gamma: num(-Infinity) },
  regen: {
    alpha: num(0, 1),
    noise: oneOf(REGEN_NOISE),
    layers: layerRange,
    subjectAlpha: num(0, 1),
    subjectSoftLabels: bool,
    softLabelsAfterSubject: bool,
    subjectOutputSoftLabels: bool,
    freezeSubjectRows: bool,
    logicTeacher: folderOrNull,
  },
  anchors: {
    beta: num(0),
    reference: oneOf(['auto', 'precompute', 'per-step']),
    precomputeMaxMiB: num(0),
    logic: { ...stream, multihop: bool, multihopBatchSize: int(0) },
    retain: stream,
    rag: {
      ...stream,
      forgetFraction: num(0, 1),
      counterfactualFraction: num(0, 1),
      variants: int(1),
    },
  },
  eval: {
    every: int(0),
    atStart: bool,
    retainLimit: int(0),
    ragLimit: int(0),
    logicLimit: int(0),
    klItems: int(0),
    batchSize: int(1),
  },
  earlyStop: { enabled: bool, patience: int(1), minStep: int(0), alpha: num(0, 1) },
};

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Merges `patch` over `base` (both config-shaped), checking every key and value of `patch` against the schema. */
function mergeChecked(
  base: Record<string, unknown>,
  patch: unknown,
  schema: Schema,
  source: string,
  path: string,
): Record<string, unknown> {
  if (!isPlainObject(patch)) fail(`${source}${path ? `: "${path}"` : ''}`, 'must be a JSON object');
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    const keyPath = path ? `${path}.${key}` : key;
    const rule = schema[key];
    if (rule === undefined) {
      const known = Object.keys(schema).join(', ');
      throw new Error(`${source}: unknown config key "${keyPath}" (known here: ${known})`);
    }
    if (typeof rule === 'function') {
      rule(value, `${source}: "${keyPath}"`);
      out[key] = Array.isArray(value) ? [...value] : value;
    } else {
      out[key] = mergeChecked(base[key] as Record<string, unknown>, value, rule, source, keyPath);
    }
  }
  return out;
}

/**
 * The full configuration: defaults, then the method's overlay, then each patch in order (a config file,
 * command-line options). `method` is taken from the last patch that sets it.
 */
export function resolveConfig(
  patches: readonly { patch: unknown; source: string }[],
  methodOverride?: string,
): UnlearnConfig {
  let method: unknown = 'rlcp';
  for (const { patch, source } of patches) {
    if (isPlainObject(patch) && 'method' in patch) {
      (SCHEMA.method as Check)(patch.method, `${source}: "method"`);
      method = patch.method;
    }
  }
  if (methodOverride !== undefined) {
    (SCHEMA.method as Check)(methodOverride, '--method');
    method = methodOverride;
  }
  let config = mergeChecked(
    DEFAULT_CONFIG as unknown as Record<string, unknown>,
    METHOD_OVERLAYS[method as Method],
    SCHEMA,
    `method overlay "${String(method)}"`,
    '',
  );
  for (const { patch, source } of patches) config = mergeChecked(config, patch, SCHEMA, source, '');
  config.method = method;
  return config as unknown as UnlearnConfig;
}

/** Reads a JSON config file as a patch (validated later by resolveConfig). */
export function readConfigFile(path: string): { patch: unknown; source: string } {
  return { patch: readJson(path), source: path };
}

/** Sets a dotted key ("fact.lambda") in a nested patch object, creating the parents. */
export function setDotted(patch: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = patch;
  for (const part of parts.slice(0, -1)) {
    if (!isPlainObject(node[part])) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]!] = value;
}

/** Hidden-state indices the fact stream reads, for a model with `numLayers` decoder layers. */
export function resolveProbeLayers(layers: number[] | 'deep-third' | 'all', numLayers: number): number[] {
  if (layers === 'all') return Array.from({ length: numLayers }, (_, i) => i + 1);
  const resolved =
    layers === 'deep-third'
      ? Array.from(
          { length: numLayers - Math.floor((2 * numLayers) / 3) + 1 },
          (_, i) => Math.floor((2 * numLayers) / 3) + i,
        )
      : [...layers].sort((a, b) => a - b);
  for (const layer of resolved) {
    if (layer > numLayers) {
      throw new Error(`fact.layers: hidden state ${layer} does not exist (the model has 0..${numLayers})`);
    }
  }
  return resolved;
}

/** λ at a step: constant, or the DANN ramp over training progress p = step / steps. */
export function lambdaAt(config: UnlearnConfig, step: number): number {
  const { lambda, lambdaSchedule, gamma } = config.fact;
  if (lambdaSchedule === 'constant' || config.steps === 0) return lambda;
  const p = Math.min(1, step / config.steps);
  return lambda * (2 / (1 + Math.exp(-gamma * p)) - 1);
}
