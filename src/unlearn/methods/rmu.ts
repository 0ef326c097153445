// RMU, Representation Misdirection for Unlearning (Li et al. 2024, WMDP): on forget prompts the output of
// decoder layer ℓ is pushed toward c·u, u a fixed random unit vector (seeded by the run), by MSE; on retain
// data it is kept at the frozen model's (MSE, weight α). Only the MLPs of layers ℓ−2 … ℓ train. The anchor
// streams' LM/KL terms are off: RMU's retain term reads the retain and logic streams' batches instead.
import { tokenRows, type Qwen2ForCausalLM } from '../../nn/qwen2.ts';
import { Rng } from '../../tensor/random.ts';
import { Tensor, noGrad } from '../../tensor/tensor.ts';
import { add, mean, mul, scale, sub } from '../../tensor/ops.ts';
import { collateRows, type RowBatch } from '../batching.ts';
import type { UnlearnConfig } from '../config.ts';
import type { UnlearnMethod } from './types.ts';

/** Mean over every element of (a − target)², as PyTorch's F.mse_loss; `target` has a's shape. */
export function meanSquaredError(a: Tensor, target: Tensor): Tensor {
  const d = sub(a, target);
  return mean(mul(d, d));
}

/** The steering target c·u: u uniform in [0, 1)^D, normalised (as WMDP's torch.rand control vector). */
export function steeringVector(hiddenSize: number, coefficient: number, seed: number): Float32Array {
  const rng = new Rng(seed >>> 0);
  const u = Float64Array.from({ length: hiddenSize }, () => rng.uniform());
  const norm = Math.hypot(...u);
  return Float32Array.from(u, (x) => (coefficient * x) / norm);
}

/** The decoder layer RMU reads, checked against the model: its output must be a residual-stream state. */
export function rmuLayer(config: UnlearnConfig, numLayers: number): number {
  const { layer } = config.rmu;
  if (layer > numLayers - 2) {
    throw new Error(
      `rmu.layer: decoder layer ${layer} is outside the model (layers 0..${numLayers - 1}; RMU needs 0..${numLayers - 2}, since the last layer's output is normalised into hidden state ${numLayers})`,
    );
  }
  return layer;
}

/** Row indices (b·seq + t) of every real token of a batch. */
function tokenPositions(batch: RowBatch): Int32Array {
  const rows: number[] = [];
  batch.attentionMask.forEach((m, i) => m === 1 && rows.push(i));
  return Int32Array.from(rows);
}

function hiddenAt(model: Qwen2ForCausalLM, batch: RowBatch, index: number): Tensor {
  return model.forward(batch.ids, {
    batch: batch.batch,
    seq: batch.seq,
    attentionMask: batch.attentionMask,
    untilHiddenState: index,
  }).hiddenStates![index]!;
}

export const rmu: UnlearnMethod = {
  // lr 3e-3, c = 150 (about 10× the world model's per-token hidden norm), α = 100: docs/rlcp.md's sweep.
  overlay: {
    optimizer: { lr: 3e-3 },
    fact: { lambda: 0, generic: 0 },
    anchors: { beta: 0, logic: { weight: 0 }, retain: { weight: 0 }, rag: { weight: 0 } },
  },
  trainable(config, numLayers) {
    const layer = rmuLayer(config, numLayers);
    return (name) => {
      const m = /^model\.layers\.(\d+)\.mlp\./.exec(name);
      return m !== null && Number(m[1]) >= layer - 2 && Number(m[1]) <= layer;
    };
  },
  forgetTerm({ config, reference, tokenizer, draw }) {
    const layer = rmuLayer(config, reference.config.numHiddenLayers);
    const index = layer + 1;
    const D = reference.config.hiddenSize;
    const { steeringCoeff, alpha } = config.rmu;
    const control = steeringVector(D, steeringCoeff, config.seed + 0x524d55);
    return {
      logits: false,
      hiddenState: index,
      loss(out, { batch, model }, addMetric) {
        const rows = tokenPositions(batch);
        const target = new Float32Array(rows.length * D);
        for (let r = 0; r < rows.length; r++) target.set(control, r * D);
        const forget = meanSquaredError(
          tokenRows(out.hiddenStates![index]!, rows),
          Tensor.from(target, [rows.length, D]),
        );
        addMetric('loss_rmu_forget', forget.item());
        const retainExamples = [
          ...draw('retain', config.anchors.retain.batchSize),
          ...draw('logic', config.anchors.logic.batchSize),
        ];
        if (retainExamples.length === 0 || alpha === 0) return forget;
        const retainBatch = collateRows(retainExamples, tokenizer.padTokenId);
        const retainRows = tokenPositions(retainBatch);
        const frozen = noGrad(() => {
          const h = tokenRows(hiddenAt(reference, retainBatch, index), retainRows);
          return Tensor.from(Float32Array.from(h.data), h.shape);
        });
        const retain = meanSquaredError(tokenRows(hiddenAt(model, retainBatch, index), retainRows), frozen);
        addMetric('loss_rmu_retain', retain.item());
        return add(forget, scale(retain, alpha));
      },
    };
  },
};
