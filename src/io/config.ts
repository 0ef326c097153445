// Hugging Face `config.json` for Qwen2 and the Llama family (llama, mistral): parsed into camelCase,
// validated, and written back in HF's snake_case so a saved folder loads in `transformers`.
//
// The three model types share one architecture and differ only in which linear layers carry a bias:
//   qwen2   q/k/v bias, no o_proj bias, no MLP bias (fixed by the architecture; no config key)
//   llama   `attention_bias` → bias on q/k/v/o; `mlp_bias` → bias on gate/up/down (both default false)
//   mistral no biases
import { readJson } from './jsonl.ts';

export const MODEL_TYPES = ['qwen2', 'llama', 'mistral'] as const;
export type ModelType = (typeof MODEL_TYPES)[number];
export type TorchDtype = 'float32' | 'float16' | 'bfloat16';

export interface Qwen2Config {
  modelType: ModelType;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numKeyValueHeads: number;
  /** Per-head width; HF default hidden_size / num_attention_heads. */
  headDim: number;
  maxPositionEmbeddings: number;
  rmsNormEps: number;
  ropeTheta: number;
  tieWordEmbeddings: boolean;
  hiddenAct: 'silu';
  /** q_proj, k_proj, v_proj have a bias. */
  qkvBias: boolean;
  oProjBias: boolean;
  /** gate_proj, up_proj, down_proj have a bias. */
  mlpBias: boolean;
  torchDtype: TorchDtype | null;
  bosTokenId: number | null;
  eosTokenId: number | number[] | null;
  padTokenId: number | null;
  /**
   * Sliding-window attention as HF stores it. qwen2: used only when `useSlidingWindow`, and then only by
   * layers with index >= `maxWindowLayers`; mistral: every layer when `slidingWindow` is not null.
   * It changes outputs only for sequences longer than `slidingWindow`.
   */
  useSlidingWindow: boolean;
  slidingWindow: number | null;
  maxWindowLayers: number | null;
  /** Accepted keys that do not change the math (initializer_range, use_cache, ...), kept for round trips. */
  extra: Record<string, unknown>;
}

export interface ParseConfigOptions {
  /** Keep keys that are neither parsed nor in the allow-list (in `extra`) instead of refusing the file. */
  allowUnknownKeys?: boolean;
}

/**
 * Keys that may appear in a saved config and do not change the forward pass. They are kept verbatim
 * in `extra` and written back.
 */
export const MATH_NEUTRAL_KEYS: readonly string[] = [
  // bookkeeping written by transformers
  'transformers_version',
  '_name_or_path',
  'auto_map',
  'tokenizer_class',
  // training-time only: weight init and attention dropout (rlcp trains without dropout)
  'initializer_range',
  'attention_dropout',
  // runtime switches of the HF Python API
  'use_cache',
  'return_dict',
  'output_attentions',
  'output_hidden_states',
  'torchscript',
  'is_decoder',
  'is_encoder_decoder',
  'add_cross_attention',
  'tie_encoder_decoder',
  'chunk_size_feed_forward',
  'pruned_heads',
  'problem_type',
  'id2label',
  'label2id',
  'task_specific_params',
  'prefix',
  'sep_token_id',
  'decoder_start_token_id',
  // generation defaults that older transformers saved into config.json (rlcp takes these as options)
  'max_length',
  'min_length',
  'do_sample',
  'early_stopping',
  'num_beams',
  'num_beam_groups',
  'temperature',
  'top_k',
  'top_p',
  'typical_p',
  'repetition_penalty',
  'length_penalty',
  'no_repeat_ngram_size',
  'encoder_no_repeat_ngram_size',
  'bad_words_ids',
  'num_return_sequences',
  'diversity_penalty',
  'output_scores',
  'return_dict_in_generate',
  'forced_bos_token_id',
  'forced_eos_token_id',
  'remove_invalid_values',
  'exponential_decay_length_penalty',
  'suppress_tokens',
  'begin_suppress_tokens',
  'finetuning_task',
  'cross_attention_hidden_size',
  'tf_legacy_loss',
  'use_bfloat16',
];

/** Keys parsed into fields, per model type (everything else must be math-neutral or is refused). */
const COMMON_KEYS = [
  'model_type',
  // regenerated from model_type on save (rlcp models are always *ForCausalLM)
  'architectures',
  'vocab_size',
  'hidden_size',
  'intermediate_size',
  'num_hidden_layers',
  'num_attention_heads',
  'num_key_value_heads',
  'head_dim',
  'max_position_embeddings',
  'rms_norm_eps',
  'rope_theta',
  'rope_scaling',
  'rope_parameters',
  'tie_word_embeddings',
  'hidden_act',
  'torch_dtype',
  'dtype',
  'bos_token_id',
  'eos_token_id',
  'pad_token_id',
];
const TYPE_KEYS: Record<ModelType, string[]> = {
  qwen2: ['use_sliding_window', 'sliding_window', 'max_window_layers', 'layer_types'],
  // pretraining_tp only splits the same matmuls into slices: identical math
  llama: ['attention_bias', 'mlp_bias', 'pretraining_tp'],
  mistral: ['sliding_window'],
};

const ARCHITECTURES: Record<ModelType, string> = {
  qwen2: 'Qwen2ForCausalLM',
  llama: 'LlamaForCausalLM',
  mistral: 'MistralForCausalLM',
};

/** HF's defaults for optional keys (from the transformers config classes). */
const DEFAULT_MAX_POSITIONS: Record<ModelType, number> = { qwen2: 32768, llama: 2048, mistral: 131072 };
const DEFAULT_RMS_EPS = 1e-6; // same in all three config classes

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function parseModelConfig(
  source: string | Record<string, unknown>,
  options: ParseConfigOptions = {},
): Qwen2Config {
  const where = typeof source === 'string' ? source : 'config';
  const raw = typeof source === 'string' ? readJson(source) : source;
  if (!isPlainObject(raw)) throw new Error(`${where}: config must be a JSON object`);
  const fail = (message: string): never => {
    throw new Error(`${where}: ${message}`);
  };

  const modelType = raw.model_type;
  if (modelType === undefined) fail(`missing "model_type" (supported: ${MODEL_TYPES.join(', ')})`);
  if (!(MODEL_TYPES as readonly unknown[]).includes(modelType)) {
    fail(`unsupported model_type ${JSON.stringify(modelType)} (supported: ${MODEL_TYPES.join(', ')})`);
  }
  const type = modelType as ModelType;

  const known = new Set([...COMMON_KEYS, ...TYPE_KEYS[type], ...MATH_NEUTRAL_KEYS]);
  const unknown = Object.keys(raw).filter((key) => !known.has(key));
  if (unknown.length > 0 && !options.allowUnknownKeys) {
    fail(
      `unknown key(s) for model_type "${type}": ${unknown.join(', ')} ` +
        `(they may change the model; pass allowUnknownKeys to ignore them)`,
    );
  }

  const has = (key: string) => raw[key] !== undefined && raw[key] !== null;
  const positiveInt = (key: string, fallback?: number): number => {
    const value = raw[key] ?? fallback;
    if (value === undefined) fail(`missing required "${key}"`);
    if (!(typeof value === 'number' && Number.isSafeInteger(value) && value > 0)) {
      fail(`"${key}" must be a positive integer, got ${JSON.stringify(value)}`);
    }
    return value as number;
  };
  const positiveNumber = (key: string, fallback: number): number => {
    const value = raw[key] ?? fallback;
    if (!(typeof value === 'number' && Number.isFinite(value) && value > 0)) {
      fail(`"${key}" must be a positive number, got ${JSON.stringify(value)}`);
    }
    return value as number;
  };
  const bool = (key: string, fallback: boolean): boolean => {
    const value = raw[key] ?? fallback;
    if (typeof value !== 'boolean') fail(`"${key}" must be true or false, got ${JSON.stringify(value)}`);
    return value as boolean;
  };

  const vocabSize = positiveInt('vocab_size');
  const hiddenSize = positiveInt('hidden_size');
  const intermediateSize = positiveInt('intermediate_size');
  const numHiddenLayers = positiveInt('num_hidden_layers');
  const numAttentionHeads = positiveInt('num_attention_heads');
  const numKeyValueHeads = positiveInt('num_key_value_heads', numAttentionHeads);
  if (numAttentionHeads % numKeyValueHeads !== 0) {
    fail(
      `num_attention_heads (${numAttentionHeads}) must be a multiple of num_key_value_heads (${numKeyValueHeads})`,
    );
  }
  if (!has('head_dim') && hiddenSize % numAttentionHeads !== 0) {
    fail(
      `hidden_size (${hiddenSize}) is not divisible by num_attention_heads (${numAttentionHeads}) and no head_dim is given`,
    );
  }
  const headDim = positiveInt('head_dim', hiddenSize / numAttentionHeads);
  // RoPE rotates pairs of dimensions (rotate-half), so the head width must be even.
  if (headDim % 2 !== 0) fail(`head_dim (${headDim}) must be even for rotary embeddings`);

  const hiddenAct = raw.hidden_act ?? 'silu';
  if (hiddenAct !== 'silu') fail(`hidden_act ${JSON.stringify(hiddenAct)} is not supported (only "silu")`);

  if (has('rope_scaling')) {
    fail(`rope_scaling ${JSON.stringify(raw.rope_scaling)} is not supported (only null: plain RoPE)`);
  }
  let ropeTheta = positiveNumber('rope_theta', 10000);
  if (has('rope_parameters')) {
    // transformers ≥ 5 stores RoPE settings here; only the plain ("default") kind is supported.
    const params = raw.rope_parameters;
    if (!isPlainObject(params) || (params.rope_type ?? 'default') !== 'default') {
      fail(`rope_parameters ${JSON.stringify(params)} is not supported (only rope_type "default")`);
    }
    const theta = (params as Record<string, unknown>).rope_theta;
    if (theta !== undefined) {
      if (!(typeof theta === 'number' && theta > 0))
        fail(`rope_parameters.rope_theta must be a positive number`);
      if (has('rope_theta') && theta !== ropeTheta) {
        fail(`rope_theta (${ropeTheta}) and rope_parameters.rope_theta (${theta}) disagree`);
      }
      ropeTheta = theta as number;
    }
  }

  const tokenId = (key: string): number | null => {
    const value = raw[key] ?? null;
    if (value === null) return null;
    if (!(typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value < vocabSize)) {
      fail(`"${key}" must be a token id in [0, ${vocabSize}), got ${JSON.stringify(value)}`);
    }
    return value as number;
  };
  let eosTokenId: number | number[] | null;
  if (Array.isArray(raw.eos_token_id)) {
    eosTokenId = raw.eos_token_id.map((id, i) => {
      if (!(typeof id === 'number' && Number.isSafeInteger(id) && id >= 0 && id < vocabSize)) {
        fail(`"eos_token_id"[${i}] must be a token id in [0, ${vocabSize}), got ${JSON.stringify(id)}`);
      }
      return id as number;
    });
  } else eosTokenId = tokenId('eos_token_id');

  const dtypeValue = raw.torch_dtype ?? raw.dtype ?? null;
  if (dtypeValue !== null && !['float32', 'float16', 'bfloat16'].includes(dtypeValue as string)) {
    fail(`torch_dtype ${JSON.stringify(dtypeValue)} is not supported (float32, float16, bfloat16)`);
  }

  let useSlidingWindow = false;
  let slidingWindow: number | null = null;
  let maxWindowLayers: number | null = null;
  const optionalPositiveInt = (key: string): number | null => (raw[key] == null ? null : positiveInt(key));
  if (type === 'qwen2') {
    useSlidingWindow = bool('use_sliding_window', false);
    slidingWindow = optionalPositiveInt('sliding_window');
    maxWindowLayers = positiveInt('max_window_layers', 28); // HF Qwen2Config default
    if (useSlidingWindow && slidingWindow === null)
      fail(`use_sliding_window is true but sliding_window is not set`);
    if (raw.layer_types !== undefined) {
      const types = raw.layer_types;
      // Newer transformers spell the per-layer attention kind out; only all-full attention is consistent
      // with use_sliding_window false, and sliding layers must follow max_window_layers.
      const expected = Array.from({ length: numHiddenLayers }, (_, i) =>
        useSlidingWindow && i >= maxWindowLayers! ? 'sliding_attention' : 'full_attention',
      );
      if (!Array.isArray(types) || JSON.stringify(types) !== JSON.stringify(expected)) {
        fail(
          `layer_types disagrees with use_sliding_window/max_window_layers (expected ${expected.length} entries)`,
        );
      }
    }
  } else if (type === 'mistral') {
    slidingWindow = optionalPositiveInt('sliding_window');
    useSlidingWindow = slidingWindow !== null;
  }

  const attentionBias = type === 'llama' ? bool('attention_bias', false) : false;
  const extra: Record<string, unknown> = {};
  // layer_types is derived data (HF recomputes it), so it is checked above and not carried along.
  const parsed = new Set([...COMMON_KEYS, ...TYPE_KEYS[type]]);
  for (const [key, value] of Object.entries(raw)) if (!parsed.has(key)) extra[key] = value;

  return {
    modelType: type,
    vocabSize,
    hiddenSize,
    intermediateSize,
    numHiddenLayers,
    numAttentionHeads,
    numKeyValueHeads,
    headDim,
    maxPositionEmbeddings: positiveInt('max_position_embeddings', DEFAULT_MAX_POSITIONS[type]),
    rmsNormEps: positiveNumber('rms_norm_eps', DEFAULT_RMS_EPS),
    ropeTheta,
    tieWordEmbeddings: bool('tie_word_embeddings', false),
    hiddenAct: 'silu',
    qkvBias: type === 'qwen2' ? true : attentionBias,
    oProjBias: attentionBias,
    mlpBias: type === 'llama' ? bool('mlp_bias', false) : false,
    torchDtype: dtypeValue as TorchDtype | null,
    bosTokenId: tokenId('bos_token_id'),
    eosTokenId,
    padTokenId: tokenId('pad_token_id'),
    useSlidingWindow,
    slidingWindow,
    maxWindowLayers,
    extra,
  };
}

/** HF-compatible config.json object (keys sorted, as `save_pretrained` writes them). */
export function serializeModelConfig(config: Qwen2Config): Record<string, unknown> {
  const type = config.modelType;
  if (type === 'qwen2' && (!config.qkvBias || config.oProjBias || config.mlpBias)) {
    throw new Error(`qwen2 configs always have q/k/v bias and no o_proj or MLP bias; use model_type "llama"`);
  }
  if (type === 'llama' && config.qkvBias !== config.oProjBias) {
    throw new Error(
      `llama's attention_bias sets q/k/v and o_proj bias together; got qkv ${config.qkvBias}, o ${config.oProjBias}`,
    );
  }
  if (type === 'mistral' && (config.qkvBias || config.oProjBias || config.mlpBias)) {
    throw new Error(`mistral configs have no biases; use model_type "llama"`);
  }
  const out: Record<string, unknown> = {
    ...config.extra,
    architectures: [ARCHITECTURES[type]],
    model_type: type,
    vocab_size: config.vocabSize,
    hidden_size: config.hiddenSize,
    intermediate_size: config.intermediateSize,
    num_hidden_layers: config.numHiddenLayers,
    num_attention_heads: config.numAttentionHeads,
    num_key_value_heads: config.numKeyValueHeads,
    head_dim: config.headDim,
    max_position_embeddings: config.maxPositionEmbeddings,
    rms_norm_eps: config.rmsNormEps,
    rope_theta: config.ropeTheta,
    rope_scaling: null,
    tie_word_embeddings: config.tieWordEmbeddings,
    hidden_act: config.hiddenAct,
    torch_dtype: config.torchDtype,
    bos_token_id: config.bosTokenId,
    eos_token_id: config.eosTokenId,
    pad_token_id: config.padTokenId,
  };
  if (type === 'qwen2') {
    out.use_sliding_window = config.useSlidingWindow;
    out.sliding_window = config.slidingWindow;
    out.max_window_layers = config.maxWindowLayers;
  } else if (type === 'llama') {
    out.attention_bias = config.oProjBias;
    out.mlp_bias = config.mlpBias;
  } else {
    out.sliding_window = config.useSlidingWindow ? config.slidingWindow : null;
  }
  return Object.fromEntries(Object.entries(out).sort((a, b) => (a[0] < b[0] ? -1 : 1)));
}
