// LoRA (Hu et al. 2021): each adapted projection computes x·Wᵀ + (α/r)·(x·Aᵀ)·Bᵀ through the model's
// low-rank adapter path (Qwen2ForCausalLM.withAdapters), so the frozen base tensors are shared and no
// weight-sized tensor is built during training; `merged` folds the adapters in for saving.
import { PROJECTION_WEIGHT, Qwen2ForCausalLM, type LowRankAdapter } from '../nn/qwen2.ts';
import { Tensor, noGrad } from '../tensor/tensor.ts';
import { add, matmul, scale } from '../tensor/ops.ts';
import { Rng } from '../tensor/random.ts';

export interface LoraOptions {
  rank: number;
  alpha: number;
  /** Projection names (q_proj, …, down_proj). */
  targets: readonly string[];
  /** Decoder layers [first, last] inclusive; null = every layer. */
  layers: [number, number] | null;
}

export class LoraAdapters {
  /** `lora.<weight name>.A` [r, in] and `.B` [out, r]; B starts at zero so the model starts unchanged. */
  readonly params = new Map<string, Tensor>();
  readonly scaling: number;
  private readonly adapted: string[] = [];
  private readonly withAdapters: Qwen2ForCausalLM;

  constructor(
    private readonly base: Qwen2ForCausalLM,
    options: LoraOptions,
    seed: number,
  ) {
    this.scaling = options.alpha / options.rank;
    const rng = new Rng(seed);
    const adapters = new Map<string, LowRankAdapter>();
    for (const [name, weight] of base.namedParameters()) {
      const match = PROJECTION_WEIGHT.exec(name);
      if (!match) continue;
      const layer = Number(match[1]);
      if (!options.targets.includes(match[2]!)) continue;
      if (options.layers && (layer < options.layers[0] || layer > options.layers[1])) continue;
      const [out, inp] = weight.shape as [number, number];
      const a = new Float32Array(options.rank * inp);
      const std = 1 / Math.sqrt(inp);
      for (let i = 0; i < a.length; i++) a[i] = std * rng.normal();
      const adapter = {
        a: Tensor.param(a, [options.rank, inp]),
        b: Tensor.param(new Float32Array(out * options.rank), [out, options.rank]),
        scaling: this.scaling,
      };
      this.params.set(`lora.${name}.A`, adapter.a);
      this.params.set(`lora.${name}.B`, adapter.b);
      adapters.set(name, adapter);
      this.adapted.push(name);
    }
    if (this.adapted.length === 0)
      throw new Error('LoRA: no weight matches params.loraTargets and params.layers');
    this.withAdapters = base.withAdapters(adapters);
  }

  /** The model with adapters applied (gradients reach A and B; the base tensors are shared). */
  model(): Qwen2ForCausalLM {
    return this.withAdapters;
  }

  /** A standalone model with the adapters merged into fresh weight tensors (for saving). */
  merged(): Qwen2ForCausalLM {
    return noGrad(() => {
      const params = new Map<string, Tensor>();
      for (const [name, t] of this.base.namedParameters()) params.set(name, t);
      for (const name of this.adapted) {
        const delta = matmul(this.params.get(`lora.${name}.B`)!, this.params.get(`lora.${name}.A`)!);
        const w = add(params.get(name)!, scale(delta, this.scaling));
        params.set(name, Tensor.from(Float32Array.from(w.data), w.shape));
      }
      return new Qwen2ForCausalLM(this.base.config, params);
    });
  }

  /** Copies saved adapter weights (checkpoint tensors named as in `params`) into place. */
  load(tensors: ReadonlyMap<string, Float32Array>): void {
    for (const [name, p] of this.params) {
      const saved = tensors.get(name);
      if (!saved || saved.length !== p.size)
        throw new Error(`checkpoint: LoRA tensor ${name} missing or of the wrong size`);
      p.data.set(saved);
    }
  }
}
