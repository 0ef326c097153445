// Model shapes of `rlcp bench` (issue 2 part 6, issue 3 part 7), as Hugging Face config.json objects so
// both sides read the very same config.json from the model folder rlcp writes.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const WORLD_BASE_CONFIG = fileURLToPath(new URL('../models/world-base/config.json', import.meta.url));

export type TrainSize = 'small' | 'qwen0.5b-2L' | 'world';
/** The sizes `--size all` runs: issue 2's two. `world` (the shipped world model's pretraining step) is asked for by name. */
export const TRAIN_SIZES: readonly TrainSize[] = ['small', 'qwen0.5b-2L'];
export const ALL_TRAIN_SIZES: readonly TrainSize[] = [...TRAIN_SIZES, 'world'];

/**
 * Paper-scale sizes, asked for by name only (minutes each): one RLCP step at Qwen2.5-0.5B's shape, and
 * batched greedy GSM8K generation at that shape (bench/gsm8k.ts).
 */
export const PAPER_SIZES = ['rlcp-0.5b-lora', 'gsm8k-0.5b'] as const;
export type PaperSize = (typeof PAPER_SIZES)[number];
export type BenchSize = TrainSize | PaperSize;

export const isTrainSize = (size: BenchSize): size is TrainSize =>
  (ALL_TRAIN_SIZES as readonly string[]).includes(size);

/**
 * The sizes `--size` names: a comma-separated list of sizes, or `all` (the default list). An unknown
 * name is refused with the list of sizes.
 */
export function resolveSizes(arg: string): BenchSize[] {
  const names = arg.split(',').map((name) => name.trim());
  if (names.length === 1 && names[0] === 'all') return [...TRAIN_SIZES];
  const known: readonly string[] = [...ALL_TRAIN_SIZES, ...PAPER_SIZES];
  for (const name of names) {
    if (!known.includes(name)) {
      throw new Error(
        `--size: unknown bench size "${name}"; sizes: ${known.join(', ')}, or all (= ${TRAIN_SIZES.join(', ')})`,
      );
    }
  }
  return [...new Set(names)] as BenchSize[];
}

export interface TrainShape {
  size: TrainSize;
  config: Record<string, unknown>;
  batch: number;
  seq: number;
  /** Default warm-up and measured steps per configuration. */
  warmup: number;
  steps: number;
}

const COMMON = {
  architectures: ['Qwen2ForCausalLM'],
  model_type: 'qwen2',
  hidden_act: 'silu',
  rms_norm_eps: 1e-6,
  initializer_range: 0.02,
  use_sliding_window: false,
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151643,
};

/** Qwen2.5-0.5B (the paper's model): 24 layers of these shapes. */
export const QWEN25_05B = {
  ...COMMON,
  vocab_size: 151936,
  hidden_size: 896,
  intermediate_size: 4864,
  num_hidden_layers: 24,
  num_attention_heads: 14,
  num_key_value_heads: 2,
  max_position_embeddings: 32768,
  max_window_layers: 24,
  rope_theta: 1000000.0,
  tie_word_embeddings: true,
};

export const TRAIN_SHAPES: Record<TrainSize, TrainShape> = {
  small: {
    size: 'small',
    config: {
      ...COMMON,
      vocab_size: 512,
      hidden_size: 256,
      intermediate_size: 704,
      num_hidden_layers: 4,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      max_position_embeddings: 512,
      rope_theta: 10000.0,
      tie_word_embeddings: true,
      bos_token_id: 1,
      eos_token_id: 2,
    },
    batch: 8,
    seq: 128,
    warmup: 3,
    steps: 10,
  },
  'qwen0.5b-2L': {
    size: 'qwen0.5b-2L',
    config: { ...QWEN25_05B, num_hidden_layers: 2, max_window_layers: 2 },
    batch: 4,
    seq: 128,
    warmup: 1,
    steps: 5,
  },
  // The shipped world model's own config.json; batch 64 of `rlcp pretrain`, and 64 tokens ≈ its uniform
  // batches' padded length (2200 real tokens per step × 1.84 computed / real, scripts/experiments/reading/batch-mix.ts).
  world: {
    size: 'world',
    config: JSON.parse(readFileSync(WORLD_BASE_CONFIG, 'utf8')) as Record<string, unknown>,
    batch: 64,
    seq: 64,
    warmup: 3,
    steps: 10,
  },
};

/** Multiply-adds ×2 of one training step (forward + backward = 3 × forward), counting GEMMs only. */
export function trainStepFlops(config: Record<string, unknown>, batch: number, seq: number): number {
  const n = (key: string) => config[key] as number;
  const hidden = n('hidden_size');
  const heads = n('num_attention_heads');
  const kvHeads = n('num_key_value_heads');
  const headDim = (config.head_dim as number | undefined) ?? hidden / heads;
  const layers = n('num_hidden_layers');
  const tokens = batch * seq;
  const q = heads * headDim;
  const kv = kvHeads * headDim;
  const layerParams = hidden * q + 2 * hidden * kv + q * hidden + 3 * hidden * n('intermediate_size');
  // Attention as the engine computes it: full T×T score and value GEMMs (masked afterwards).
  const attention = 2 * 2 * batch * heads * seq * seq * headDim;
  const forward = layers * (2 * tokens * layerParams + attention);
  // The loss needs logits only for the B·(T − 1) rows with a target.
  const lmHead = 2 * batch * (seq - 1) * hidden * n('vocab_size');
  return 3 * (forward + lmHead);
}

/** One GEMM of the training step: C[m, n] = op(A) · op(B), A stored [m, k] (or [k, m] with transA). */
export interface GemmShape {
  name: string;
  a: [number, number];
  b: [number, number];
  transA: boolean;
  transB: boolean;
  flops: number;
}

/**
 * The linear layers' GEMMs of one training step in the three orientations autograd runs them:
 * forward y = x·Wᵀ (transB), input gradient dx = dy·W, weight gradient dW = dyᵀ·x (transA).
 */
export function trainGemmShapes(config: Record<string, unknown>, batch: number, seq: number): GemmShape[] {
  const n = (key: string) => config[key] as number;
  const hidden = n('hidden_size');
  const headDim = (config.head_dim as number | undefined) ?? hidden / n('num_attention_heads');
  const layers: [string, number, number, number][] = [
    // name, rows, in, out
    ['q_proj', batch * seq, hidden, n('num_attention_heads') * headDim],
    ['k_proj', batch * seq, hidden, n('num_key_value_heads') * headDim],
    ['gate_proj', batch * seq, hidden, n('intermediate_size')],
    ['down_proj', batch * seq, n('intermediate_size'), hidden],
    ['lm_head', batch * (seq - 1), hidden, n('vocab_size')],
  ];
  const shapes: GemmShape[] = [];
  for (const [name, rows, inF, outF] of layers) {
    const flops = 2 * rows * inF * outF;
    shapes.push({
      name: `${name} fwd x·Wᵀ`,
      a: [rows, inF],
      b: [outF, inF],
      transA: false,
      transB: true,
      flops,
    });
    shapes.push({
      name: `${name} dx = dy·W`,
      a: [rows, outF],
      b: [outF, inF],
      transA: false,
      transB: false,
      flops,
    });
    shapes.push({
      name: `${name} dW = dyᵀ·x`,
      a: [rows, outF],
      b: [rows, inF],
      transA: true,
      transB: false,
      flops,
    });
  }
  return shapes;
}

// ---- rlcp-0.5b-lora: one RLCP step at Qwen2.5-0.5B's shape ----

/** One stream of the RLCP step: `batch` sequences of `seq` tokens; the last `rows` positions before the final token are trained. */
export interface RlcpStream {
  batch: number;
  seq: number;
  /** Rows with logits: the fact stream's answer rows, the anchors' trained completion tokens. */
  rows: number;
}

/**
 * One RLCP step as `rlcp metabolize --config configs/qwen2.5-0.5b-lora.json` runs it (src/unlearn/trainer.ts),
 * with DEFAULT_CONFIG's other values: LoRA rank 8 / α 16 on all seven projections of all 24 layers; the fact
 * stream's adversary on hidden states 16…24 (deep-third), last prompt token, one probe per layer, objective
 * "uniform", λ 0.5, plus the generic-answer KL (weight 2) on the answer rows; probes trained on the 4 forget
 * rows and 32 retain prompts (a no-grad forward); logic, retain and RAG streams with CE + β·KL (β 3) to the
 * per-step reference forward (the base model without adapters). Token lengths are fixed and the tokens
 * random: facts and probe prompts 24 tokens (3 answer rows), logic 2 × 160 (96 trained rows, a GSM8K
 * solution), retain 4 × 24 (3 rows), RAG 4 × 96 (4 rows: a passage, a question, a short answer).
 */
export const RLCP_05B_LORA = {
  config: QWEN25_05B,
  lora: {
    rank: 8,
    alpha: 16,
    targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
  },
  probeLayers: [16, 17, 18, 19, 20, 21, 22, 23, 24],
  probeClasses: 16,
  lambda: 0.5,
  generic: 2,
  beta: 3,
  lr: 3e-4,
  probeLr: 1e-2,
  clip: 1,
  fact: { batch: 4, seq: 24, rows: 3 },
  probe: { batch: 32, seq: 24, rows: 3 },
  logic: { batch: 2, seq: 160, rows: 96 },
  retain: { batch: 4, seq: 24, rows: 3 },
  rag: { batch: 4, seq: 96, rows: 4 },
  warmup: 1,
  steps: 2,
} as const;

export type RlcpStepSpec = typeof RLCP_05B_LORA;
export const RLCP_ANCHORS = ['logic', 'retain', 'rag'] as const;

/** Flat row indices b·T + t of a stream's trained rows: the `rows` positions before each sequence's last. */
export function streamRows(s: RlcpStream): Int32Array {
  const out = new Int32Array(s.batch * s.rows);
  for (let b = 0; b < s.batch; b++)
    for (let r = 0; r < s.rows; r++) out[b * s.rows + r] = b * s.seq + s.seq - 1 - s.rows + r;
  return out;
}

/** FLOPs of one forward over a stream, by part: frozen linear layers, attention, LoRA adapters, lm_head rows. */
function forwardFlops(spec: RlcpStepSpec, s: RlcpStream, logits: boolean) {
  const c = spec.config;
  const headDim = c.hidden_size / c.num_attention_heads;
  const q = c.num_attention_heads * headDim;
  const kv = c.num_key_value_heads * headDim;
  const d = c.hidden_size;
  const mlp = c.intermediate_size;
  const tokens = s.batch * s.seq;
  // (in, out) of the seven projections
  const projections: [number, number][] = [
    [d, q],
    [d, kv],
    [d, kv],
    [q, d],
    [d, mlp],
    [d, mlp],
    [mlp, d],
  ];
  const layers = c.num_hidden_layers;
  const linear = layers * projections.reduce((sum, [i, o]) => sum + 2 * tokens * i * o, 0);
  const lora = layers * projections.reduce((sum, [i, o]) => sum + 2 * tokens * spec.lora.rank * (i + o), 0);
  const attention = layers * 2 * 2 * s.batch * c.num_attention_heads * s.seq * s.seq * headDim;
  const head = logits ? 2 * s.batch * s.rows * d * c.vocab_size : 0;
  return { linear, lora, attention, head };
}

/**
 * FLOPs of one RLCP step (GEMMs only), split as the bench reports them. A trained forward F (frozen
 * linear + LoRA + attention + lm_head rows) is followed by a backward of ≈ 1× the frozen linear layers and the
 * lm_head (input gradients only: the base is frozen), 2× LoRA (input and weight gradients) and 2× attention
 * (four GEMMs for the two of the forward); the reference and the probes' retain prompts are no-grad forwards.
 */
export function rlcpStepFlops(spec: RlcpStepSpec) {
  let forward = 0;
  let backward = 0;
  let reference = 0;
  const trained = (s: RlcpStream, logits: boolean) => {
    const f = forwardFlops(spec, s, logits);
    forward += f.linear + f.lora + f.attention + f.head;
    backward += f.linear + 2 * f.lora + 2 * f.attention + f.head;
  };
  trained(spec.fact, true);
  const probe = forwardFlops(spec, spec.probe, false);
  forward += probe.linear + probe.lora + probe.attention;
  for (const name of RLCP_ANCHORS) {
    trained(spec[name], true);
    const f = forwardFlops(spec, spec[name], true);
    reference += f.linear + f.attention + f.head;
  }
  return { forward, backward, reference, total: forward + backward + reference };
}
