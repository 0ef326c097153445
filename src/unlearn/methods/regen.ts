// Regeneration (UNDO, Lee et al. 2025, "Distillation robustifies unlearning"): the student starts as the
// starting model's weights interpolated toward a fresh random initialisation by α,
//   w ← (1 − α)·w + α·w₀,  w₀ as `Qwen2ForCausalLM.initRandom` (normal(0, initializer_range), norms 1),
// and is distilled from the frozen starting model (the teacher: run `regen` on an unlearned model, e.g.
// RLCP's) by the anchor streams' KL(teacher ‖ student) + LM terms on logic, retain facts and RAG
// contexts: a corpus without the forget facts, so what the noise destroyed of them is not rebuilt. α is
// the strength knob (0: plain distillation, 1: training from scratch on the teacher's outputs);
// `regen.noise` and `regen.layers` choose which weights it reaches (e.g. only the MLPs, where a fact's
// association lives, so the embedding and the attention that logic runs on are kept). Every parameter
// trains; there is no forget term. `regen.logicTeacher` gives the logic stream another teacher (e.g. the
// base model: its logic records hold no forget fact, and its logic is the one to keep).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parameterShapes, Qwen2ForCausalLM } from '../../nn/qwen2.ts';
import { initQwen2Parameters } from '../../nn/init.ts';
import type { RowBatch } from '../batching.ts';
import type { UnlearnConfig } from '../config.ts';
import type { UnlearnTokenizer } from '../trainer.ts';
import type { UnlearnMethod } from './types.ts';

const PROJECTIONS = {
  mlp: /^mlp\.(gate|up|down)_proj\./,
  attention: /^self_attn\.[qkvo]_proj\./,
};

/**
 * Which parameter names `regen.noise` and `regen.layers` select, for a model of `numLayers` decoder layers.
 */
export function noisedPredicate(
  regen: Pick<UnlearnConfig['regen'], 'noise' | 'layers'>,
  numLayers: number,
): (name: string) => boolean {
  const [first, last] = regen.layers ?? [0, numLayers - 1];
  if (last >= numLayers)
    throw new Error(`regen.layers: layer ${last} does not exist (the model has 0..${numLayers - 1})`);
  if (regen.noise === 'all' && regen.layers !== null)
    throw new Error(
      'regen.layers: with regen.noise "all" the embedding and final norm are noised too, so a layer range ' +
        'is ambiguous; choose regen.noise "blocks", "mlp" or "attention"',
    );
  return (name) => {
    const m = /^model\.layers\.(\d+)\.(.*)$/.exec(name);
    if (!m) return regen.noise === 'all';
    const layer = Number(m[1]);
    if (layer < first || layer > last) return false;
    const rest = m[2]!;
    if (regen.noise === 'all') return true;
    if (regen.noise === 'blocks') return PROJECTIONS.mlp.test(rest) || PROJECTIONS.attention.test(rest);
    return PROJECTIONS[regen.noise].test(rest);
  };
}

const EMBEDDING = 'model.embed_tokens.weight';

/**
 * w ← (1 − α)·w + α·w₀ for every parameter of `model` that `noised` selects (default: all), w₀ a fresh
 * initialisation of the same shapes seeded by `seed`. Exact at α = 0 (the model) and α = 1 (the fresh
 * initialisation). Returns w₀'s embedding, so rows noised apart (`interpolateRowsTowardInit`) use the same
 * draw without a second one.
 */
export function interpolateTowardInit(
  model: Qwen2ForCausalLM,
  alpha: number,
  seed: number,
  noised: (name: string) => boolean = () => true,
): Float32Array {
  if (!(Number.isFinite(alpha) && alpha >= 0 && alpha <= 1))
    throw new Error(`regen.alpha must be in [0, 1], got ${alpha}`);
  const fresh = initQwen2Parameters(model.config, parameterShapes(model.config), seed >>> 0);
  for (const [name, w] of model.namedParameters()) {
    if (!noised(name)) continue;
    const w0 = fresh.get(name);
    if (!w0 || w0.size !== w.size) throw new Error(`regen: no fresh initialisation for parameter ${name}`);
    const a = w.data;
    const b = w0.data;
    if (alpha === 0) continue;
    if (alpha === 1) a.set(b);
    else for (let i = 0; i < a.length; i++) a[i] = (1 - alpha) * a[i]! + alpha * b[i]!;
  }
  return fresh.get(EMBEDDING)!.data;
}

/** The one token of each forget subject (with its leading space, as prompts write it); refused otherwise. */
export function subjectTokenIds(
  forget: readonly { subject: string }[],
  tokenizer: Pick<UnlearnTokenizer, 'encode'>,
): number[] {
  const ids = new Set<number>();
  for (const subject of new Set(forget.map((f) => f.subject))) {
    const tokens = tokenizer.encode(` ${subject}`, { addSpecialTokens: false });
    if (tokens.length !== 1)
      throw new Error(
        `regen.subjectAlpha / subjectSoftLabels / softLabelsAfterSubject / subjectOutputSoftLabels / freezeSubjectRows: the forget subject "${subject}" is ${tokens.length} tokens; its embedding rows would be shared with other words, so only one-token subjects are supported`,
      );
    ids.add(tokens[0]!);
  }
  return [...ids];
}

/**
 * The KL row mask of `klRowMask`: 0 for a row whose target is a subject token (`onSubject`) or whose input
 * already holds one (`afterSubject`: the teacher's soft labels after "… CITY" are conditioned on what it
 * still knows of CITY), 1 otherwise.
 */
export function subjectKlRowMask(
  subjects: ReadonlySet<number>,
  drop: { onSubject: boolean; afterSubject: boolean },
): (batch: RowBatch) => Uint8Array {
  return (b) => {
    // The first position of each example that holds a subject (seq = none).
    const firstSubject = new Int32Array(b.batch).fill(b.seq);
    if (drop.afterSubject)
      for (let e = 0; e < b.batch; e++)
        for (let t = 0; t < b.seq; t++)
          if (b.attentionMask[e * b.seq + t] === 1 && subjects.has(b.ids[e * b.seq + t]!)) {
            firstSubject[e] = t;
            break;
          }
    return Uint8Array.from(b.rows, (p, r) => {
      const e = b.rowOwner[r]!;
      if (drop.onSubject && subjects.has(b.rowTargets[r]!)) return 0;
      return p - e * b.seq >= firstSubject[e]! ? 0 : 1;
    });
  };
}

/**
 * The embedding rows `rows` (tied with lm_head) go to (1 − α)·w + α·w₀, `fresh` the fresh embedding w₀
 * (as `interpolateTowardInit` returns it).
 */
export function interpolateRowsTowardInit(
  model: Qwen2ForCausalLM,
  alpha: number,
  fresh: Float32Array,
  rows: readonly number[],
): void {
  const w = model.namedParameters().get(EMBEDDING)!.data;
  const h = model.config.hiddenSize;
  for (const row of rows)
    for (let i = row * h; i < (row + 1) * h; i++) w[i] = (1 - alpha) * w[i]! + alpha * fresh[i]!;
}

/**
 * The model folder of `regen.logicTeacher`, frozen; refused unless its logits are over the same vocabulary
 * as the model's (the KL compares them token by token).
 */
export function loadLogicTeacher(path: string, reference: Qwen2ForCausalLM): Qwen2ForCausalLM {
  const dir = resolve(path);
  if (!existsSync(join(dir, 'config.json')))
    throw new Error(`regen.logicTeacher: ${dir} is not a model folder (no config.json)`);
  const teacher = Qwen2ForCausalLM.fromPretrained(dir);
  if (teacher.config.vocabSize !== reference.config.vocabSize)
    throw new Error(
      `regen.logicTeacher: ${dir} has a vocabulary of ${teacher.config.vocabSize} tokens, the model ${reference.config.vocabSize}; the teacher must share the model's tokenizer`,
    );
  teacher.setTrainable(() => false);
  return teacher;
}

export const regen: UnlearnMethod = {
  // No fact stream: the forget facts are never shown; the anchors are the distillation corpus.
  overlay: { fact: { lambda: 0, generic: 0 } },
  trainable(config, numLayers) {
    // The noise reaches every weight, so every weight must train (LoRA would leave the noised base frozen).
    if (config.params.mode !== 'all')
      throw new Error(
        `params.mode: regen trains every parameter, so it must be "all", got "${config.params.mode}"`,
      );
    // Refuse a bad regen.layers before any data is encoded.
    noisedPredicate(config.regen, numLayers);
    return () => true;
  },
  anchorTeachers(config, reference) {
    return config.regen.logicTeacher === null
      ? {}
      : { logic: loadLogicTeacher(config.regen.logicTeacher, reference) };
  },
  klRowMask({ config, data, tokenizer }) {
    const { subjectSoftLabels, softLabelsAfterSubject } = config.regen;
    if (subjectSoftLabels && softLabelsAfterSubject) return null;
    return subjectKlRowMask(new Set(subjectTokenIds(data.forgetTrain, tokenizer)), {
      onSubject: !subjectSoftLabels,
      afterSubject: !softLabelsAfterSubject,
    });
  },
  teacherDroppedTokens({ config, data, tokenizer }) {
    return config.regen.subjectOutputSoftLabels ? [] : subjectTokenIds(data.forgetTrain, tokenizer);
  },
  beforeUpdate(model, { config, data, tokenizer }) {
    if (!config.regen.freezeSubjectRows) return null;
    if (config.optimizer.weightDecay !== 0)
      throw new Error(
        `regen.freezeSubjectRows: optimizer.weightDecay must be 0 (decay would still move the frozen rows), got ${config.optimizer.weightDecay}`,
      );
    const rows = subjectTokenIds(data.forgetTrain, tokenizer);
    const embedding = model.namedParameters().get(EMBEDDING)!;
    const h = model.config.hiddenSize;
    return () => {
      if (embedding.grad) for (const row of rows) embedding.grad.fill(0, row * h, (row + 1) * h);
    };
  },
  start(model, { config, data, tokenizer }) {
    const noised = noisedPredicate(config.regen, model.config.numHiddenLayers);
    const fresh = interpolateTowardInit(model, config.regen.alpha, config.seed + 0x52474e, noised);
    if (config.regen.subjectAlpha > 0)
      interpolateRowsTowardInit(
        model,
        config.regen.subjectAlpha,
        fresh,
        subjectTokenIds(data.forgetTrain, tokenizer),
      );
  },
};
