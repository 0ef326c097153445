// Regeneration (UNDO, Lee et al. 2025, "Distillation robustifies unlearning"): the student starts as the
// starting model's weights interpolated toward a fresh random initialisation by α,
//   w ← (1 − α)·w + α·w₀,  w₀ as `Qwen2ForCausalLM.initRandom` (normal(0, initializer_range), norms 1),
// and is distilled from the frozen starting model (the teacher: run `regen` on an unlearned model, e.g.
// RLCP's) by the anchor streams' KL(teacher ‖ student) + LM terms on logic, retain facts and RAG
// contexts: a corpus without the forget facts, so what the noise destroyed of them is not rebuilt. α is
// the strength knob (0: plain distillation, 1: training from scratch on the teacher's outputs). Every
// parameter is noised and trains; there is no forget term.
import { parameterShapes, type Qwen2ForCausalLM } from '../../nn/qwen2.ts';
import { initQwen2Parameters } from '../../nn/init.ts';
import type { UnlearnMethod } from './types.ts';

/**
 * w ← (1 − α)·w + α·w₀ for every parameter of `model`, w₀ a fresh initialisation of the same shapes
 * seeded by `seed`. Exact at α = 0 (the model) and α = 1 (the fresh initialisation).
 */
export function interpolateTowardInit(model: Qwen2ForCausalLM, alpha: number, seed: number): void {
  if (!(Number.isFinite(alpha) && alpha >= 0 && alpha <= 1))
    throw new Error(`regen.alpha must be in [0, 1], got ${alpha}`);
  const fresh = initQwen2Parameters(model.config, parameterShapes(model.config), seed >>> 0);
  for (const [name, w] of model.namedParameters()) {
    const w0 = fresh.get(name);
    if (!w0 || w0.size !== w.size) throw new Error(`regen: no fresh initialisation for parameter ${name}`);
    const a = w.data;
    const b = w0.data;
    if (alpha === 0) continue;
    if (alpha === 1) a.set(b);
    else for (let i = 0; i < a.length; i++) a[i] = (1 - alpha) * a[i]! + alpha * b[i]!;
  }
}

export const regen: UnlearnMethod = {
  // No fact stream: the forget facts are never shown; the anchors are the distillation corpus.
  overlay: { fact: { lambda: 0, generic: 0 } },
  trainable(config) {
    // The noise reaches every weight, so every weight must train (LoRA would leave the noised base frozen).
    if (config.params.mode !== 'all')
      throw new Error(
        `params.mode: regen trains every parameter, so it must be "all", got "${config.params.mode}"`,
      );
    return () => true;
  },
  start(model, { config }) {
    interpolateTowardInit(model, config.regen.alpha, config.seed + 0x52474e);
  },
};
