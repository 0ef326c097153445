// Fact-batch row selections shared by the trainer and the methods: the answer rows of a forget batch and the
// probes' pooled hidden-state features.
import { tokenRows } from '../nn/qwen2.ts';
import { add, matmul, reshape, scale } from '../tensor/ops.ts';
import { Tensor } from '../tensor/tensor.ts';
import type { EncodedFact, RowBatch } from './batching.ts';
import type { UnlearnConfig } from './config.ts';

/** The rows of a fact batch that predict answer tokens (the EOS row is left out: it is not the fact). */
export function forgetRows(batch: RowBatch, eos: number): RowBatch {
  const keep: number[] = [];
  for (let r = 0; r < batch.rows.length; r++) if (batch.rowTargets[r] !== eos) keep.push(r);
  return {
    ...batch,
    rows: Int32Array.from(keep, (r) => batch.rows[r]!),
    rowTargets: Int32Array.from(keep, (r) => batch.rowTargets[r]!),
    rowOwner: Int32Array.from(keep, (r) => batch.rowOwner[r]!),
  };
}

/**
 * The probes' inputs: per probe a [rows, D] tensor (on the tape when `hidden` is), and for each row the
 * index of its example. One row per example for "last", "subject" and "both" (whose second half of the
 * probes reads the subject); for "span" one row per prompt position from the subject's first token to the
 * last prompt token.
 */
export function pooledFeatures(
  hidden: readonly Tensor[],
  facts: readonly EncodedFact[],
  seq: number,
  layers: readonly number[],
  config: UnlearnConfig,
): { features: Tensor[]; owner: Int32Array } {
  const n = facts.length;
  const position = config.fact.position;
  let rows: Int32Array | null = null;
  let owner = Int32Array.from(facts, (_, b) => b);
  if (position === 'last' || position === 'both') {
    rows = Int32Array.from(facts.map((f, b) => b * seq + f.promptLength - 1));
  }
  if (position === 'span') {
    const r: number[] = [];
    const o: number[] = [];
    facts.forEach((f, b) => {
      for (let t = f.subjectPositions[0]!; t < f.promptLength; t++) {
        r.push(b * seq + t);
        o.push(b);
      }
    });
    rows = Int32Array.from(r);
    owner = Int32Array.from(o);
  }
  const subjectMean = (h: Tensor): Tensor => {
    const m = new Float32Array(n * n * seq);
    facts.forEach((f, b) => {
      for (const p of f.subjectPositions) m[b * n * seq + b * seq + p] = 1 / f.subjectPositions.length;
    });
    const [, , d] = h.shape as [number, number, number];
    return matmul(Tensor.from(m, [n, n * seq]), reshape(h, [n * seq, d]));
  };
  const group = (perLayer: Tensor[]): Tensor[] =>
    config.fact.probe === 'per-layer'
      ? perLayer
      : [
          scale(
            perLayer.reduce((a, b) => add(a, b)),
            1 / perLayer.length,
          ),
        ];
  const features: Tensor[] = [];
  if (rows) features.push(...group(layers.map((l) => tokenRows(hidden[l]!, rows))));
  if (position === 'subject' || position === 'both')
    features.push(...group(layers.map((l) => subjectMean(hidden[l]!))));
  return { features, owner };
}
