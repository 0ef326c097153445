// The contract of an unlearning method (`--method` of `rlcp metabolize`): its config overlay, and what it
// adds to the shared trainer (src/unlearn/trainer.ts): a forget-stream loss term, a choice of trainable
// parameters, or a closed-form change of the model. Every method is one file in this folder; index.ts
// lists them. The terms every method shares (the adversary, unlikelihood, the generic target, the anchor
// streams) stay config-driven in the trainer.
import type { ForwardOutput, Qwen2ForCausalLM } from '../../nn/qwen2.ts';
import type { Tensor } from '../../tensor/tensor.ts';
import type { EncodedExample } from '../../train/batches.ts';
import type { EncodedFact, RowBatch } from '../batching.ts';
import type { DeepPartial, UnlearnConfig } from '../config.ts';
import type { UnlearnData } from '../data.ts';
import type { UnlearnTokenizer } from '../trainer.ts';

export interface MethodContext {
  config: UnlearnConfig;
  /** The frozen starting model. */
  reference: Qwen2ForCausalLM;
  tokenizer: UnlearnTokenizer;
  data: UnlearnData;
  /** The fact stream's forget examples (indices match `ForgetBatch.picked`). */
  forget: readonly EncodedFact[];
  /** Retain-entity prompts of the forget relations (the probe's other training data). */
  probe: readonly EncodedFact[];
  /** The next `count` examples of an anchor stream (its sampler is checkpointed, so resume is exact). */
  draw(stream: 'logic' | 'retain', count: number): EncodedExample[];
}

/** The anchor streams, as the trainer's per-stream metrics name them. */
export type AnchorStream = 'logic' | 'retain' | 'rag';

/** One step's fact batch. */
export interface ForgetBatch {
  /** Indices into `MethodContext.forget`. */
  picked: readonly number[];
  batch: RowBatch;
  /** The batch's answer rows (EOS left out). */
  answer: RowBatch;
  /** The model being trained (LoRA adapters included). */
  model: Qwen2ForCausalLM;
}

export interface ForgetTerm {
  /** The fact-stream forward must return the answer rows' logits. */
  logits: boolean;
  /** The fact-stream forward must return this hidden state (on the tape). */
  hiddenState?: number;
  /** The term's loss (its metrics go through `addMetric`). */
  loss(out: ForwardOutput, step: ForgetBatch, addMetric: (key: string, value: number) => void): Tensor;
}

export interface UnlearnMethod {
  /** What the method changes in the defaults before the user's config is applied. */
  overlay: DeepPartial<UnlearnConfig>;
  /** Which parameters train, replacing `params` (e.g. RMU's three MLPs). */
  trainable?(config: UnlearnConfig, numLayers: number): (name: string) => boolean;
  /** The method's own forget-stream term, built once before training. */
  forgetTerm?(context: MethodContext): ForgetTerm;
  /**
   * Changes the model in place once, before the first training step (not on resume); the frozen reference
   * keeps the starting weights (e.g. regen's interpolation toward a fresh initialisation).
   */
  start?(model: Qwen2ForCausalLM, context: MethodContext): void;
  /**
   * Teachers of anchor streams' KL terms that replace the frozen starting model there (e.g. regen's
   * `regen.logicTeacher`); built once before the reference logits.
   */
  anchorTeachers?(
    config: UnlearnConfig,
    reference: Qwen2ForCausalLM,
  ): Partial<Record<AnchorStream, Qwen2ForCausalLM>>;
  /**
   * Built once before training: for a collated anchor batch, which of its rows keep the KL term (1) and
   * which train by the LM term only (0); null = every row keeps it (e.g. regen's forget subjects with
   * `regen.subjectSoftLabels` or `regen.softLabelsAfterSubject` false).
   */
  klRowMask?(context: MethodContext): ((batch: RowBatch) => Uint8Array) | null;
  /**
   * Token ids whose teacher probability is set to 0 in every anchor row, built once before training: the
   * student learns those vocabulary columns from the LM term only (e.g. regen's forget subjects with
   * `regen.subjectOutputSoftLabels` false).
   */
  teacherDroppedTokens?(context: MethodContext): readonly number[];
  /**
   * Built once before training for the model being trained: called after each step's backward, before the
   * optimizer update (e.g. to zero the gradient of rows that must not move).
   */
  beforeUpdate?(model: Qwen2ForCausalLM, context: MethodContext): (() => void) | null;
  /** A closed-form method: changes the model in place before the (only) evaluation; no training steps. */
  fit?(model: Qwen2ForCausalLM, context: MethodContext): void;
}
