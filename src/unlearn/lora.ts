// LoRA (Hu et al. 2021) without touching the model code: each adapted weight becomes W + (α/r)·B·A, a
// tensor computed on the autograd tape, and a Qwen2ForCausalLM is assembled around those tensors for the
// step (the frozen base tensors are shared, so it costs one small matmul per adapted weight).
import { Qwen2ForCausalLM } from '../nn/qwen2.ts';
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

const PROJECTION = /^model\.layers\.(\d+)\.(?:self_attn|mlp)\.([a-z_]+)\.weight$/;

export class LoraAdapters {
  /** `lora.<weight name>.A` [r, in] and `.B` [out, r]; B starts at zero so the model starts unchanged. */
  readonly params = new Map<string, Tensor>();
  readonly scaling: number;
  private readonly adapted: string[] = [];

  constructor(
    private readonly base: Qwen2ForCausalLM,
    options: LoraOptions,
    seed: number,
  ) {
    this.scaling = options.alpha / options.rank;
    const rng = new Rng(seed);
    for (const [name, weight] of base.namedParameters()) {
      const match = PROJECTION.exec(name);
      if (!match) continue;
      const layer = Number(match[1]);
      if (!options.targets.includes(match[2]!)) continue;
      if (options.layers && (layer < options.layers[0] || layer > options.layers[1])) continue;
      const [out, inp] = weight.shape as [number, number];
      const a = new Float32Array(options.rank * inp);
      const std = 1 / Math.sqrt(inp);
      for (let i = 0; i < a.length; i++) a[i] = std * rng.normal();
      this.params.set(`lora.${name}.A`, Tensor.param(a, [options.rank, inp]));
      this.params.set(
        `lora.${name}.B`,
        Tensor.param(new Float32Array(out * options.rank), [out, options.rank]),
      );
      this.adapted.push(name);
    }
    if (this.adapted.length === 0)
      throw new Error('LoRA: no weight matches params.loraTargets and params.layers');
  }

  /** The model with adapters applied, on the tape (gradients reach A and B). */
  model(): Qwen2ForCausalLM {
    const params = this.base.namedParameters();
    for (const name of this.adapted) {
      const delta = matmul(this.params.get(`lora.${name}.B`)!, this.params.get(`lora.${name}.A`)!);
      params.set(name, add(params.get(name)!, scale(delta, this.scaling)));
    }
    return new Qwen2ForCausalLM(this.base.config, params);
  }

  /** A standalone model with the adapters merged into fresh weight tensors (for evaluation and saving). */
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
