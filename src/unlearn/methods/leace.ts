// Linear erasure, LEACE (Belrose et al. 2023, "LEACE: perfect linear concept erasure in closed form"): per
// hidden state h of the adversary's layers (fact.layers), the affine map r(x) = x − P·(x − μ) with
//   W = Σ_xx^{−1/2} (symmetric pseudo-inverse square root), P = W⁺ · Π_{col(W Σ_xz)} · W,
// fitted on the same rows the RLCP probe learns from: the forget relations' prompts of retain and forget
// subjects (fact.probeData), at fact.position, z the answer's one-hot (one block per relation). After r, no
// linear classifier of those rows does better than a constant one (for any convex loss), and r moves the
// rows least in the Σ_xx-whitened norm. States are fitted in increasing order, each on the states the
// earlier erasers produce. The maps are applied at inference by rlcp's loader (src/nn/erasers.ts): no
// weight changes, no training steps.
import type { Qwen2ForCausalLM } from '../../nn/qwen2.ts';
import type { ResidualEraser } from '../../nn/erasers.ts';
import { noGrad } from '../../tensor/tensor.ts';
import { collateRows, type EncodedFact } from '../batching.ts';
import { pooledFeatures } from '../features.ts';
import { matmul64, spectralFunction, symmetricEigen, transpose64 } from '../linalg.ts';
import type { UnlearnMethod } from './types.ts';

/** Eigenvalues below λ_max · D · ε_f32 are numerical zeros of a covariance of float32 features. */
const RELATIVE_TOLERANCE = 1.2e-7;

/**
 * The LEACE eraser of rows `x` (n × D, row-major) for the concept `labels` (column index into K one-hot
 * classes): μ and P of r(x) = x − P·(x − μ).
 */
export function fitLeace(
  x: Float64Array,
  labels: Int32Array,
  numClasses: number,
  dim: number,
): { mean: Float64Array; projection: Float64Array } {
  const n = labels.length;
  if (x.length !== n * dim) throw new Error(`fitLeace: ${x.length} values are not ${n} rows of ${dim}`);
  if (n < 2) throw new Error('fitLeace: needs at least 2 rows');
  const mean = new Float64Array(dim);
  for (let r = 0; r < n; r++) for (let j = 0; j < dim; j++) mean[j] += x[r * dim + j]! / n;
  const zMean = new Float64Array(numClasses);
  for (const c of labels) zMean[c]! += 1 / n;
  const centered = Float64Array.from(x, (v, i) => v - mean[i % dim]!);
  const sigmaXX = matmul64(transpose64(centered, n, dim), centered, dim, n, dim).map((v) => v / n);
  const sigmaXZ = new Float64Array(dim * numClasses);
  for (let r = 0; r < n; r++) {
    for (let k = 0; k < numClasses; k++) {
      const zc = (labels[r] === k ? 1 : 0) - zMean[k]!;
      if (zc === 0) continue;
      for (let j = 0; j < dim; j++) sigmaXZ[j * numClasses + k] += (centered[r * dim + j]! * zc) / n;
    }
  }
  const eigen = symmetricEigen(sigmaXX, dim);
  const tol = Math.max(...eigen.values) * dim * RELATIVE_TOLERANCE;
  const whiten = spectralFunction(eigen, dim, (l) => 1 / Math.sqrt(l), tol);
  const unwhiten = spectralFunction(eigen, dim, (l) => Math.sqrt(l), tol);
  // An orthonormal basis U of col(A), A = W Σ_xz [D, K], from AᵀA = V S² Vᵀ: U = A V S⁻¹ (s > tolerance).
  const a = matmul64(whiten, sigmaXZ, dim, dim, numClasses);
  const gram = symmetricEigen(
    matmul64(transpose64(a, dim, numClasses), a, numClasses, dim, numClasses),
    numClasses,
  );
  const gramTol = Math.max(...gram.values) * numClasses * RELATIVE_TOLERANCE;
  const basis: Float64Array[] = [];
  for (let k = 0; k < numClasses; k++) {
    const s2 = gram.values[k]!;
    if (!(s2 > gramTol)) continue;
    const u = new Float64Array(dim);
    for (let i = 0; i < dim; i++) {
      let v = 0;
      for (let c = 0; c < numClasses; c++) v += a[i * numClasses + c]! * gram.vectors[c * numClasses + k]!;
      u[i] = v / Math.sqrt(s2);
    }
    basis.push(u);
  }
  const r = basis.length;
  const uMat = new Float64Array(dim * r);
  basis.forEach((u, k) => u.forEach((v, i) => (uMat[i * r + k] = v)));
  // P = W⁺ U Uᵀ W.
  const left = matmul64(unwhiten, uMat, dim, dim, r);
  const right = matmul64(transpose64(uMat, dim, r), whiten, r, dim, dim);
  return { mean, projection: matmul64(left, right, dim, r, dim) };
}

/** The fit's rows and one-hot columns: every forget relation's classes get their own block of columns. */
function fitRows(
  forget: readonly EncodedFact[],
  probe: readonly EncodedFact[],
  withForget: boolean,
  classCount: (relation: string) => number,
): { facts: EncodedFact[]; labels: Int32Array; numClasses: number } {
  const facts = [...(withForget ? forget : []), ...probe];
  const offsets = new Map<string, number>();
  let numClasses = 0;
  for (const f of facts) {
    if (!offsets.has(f.example.relation)) {
      offsets.set(f.example.relation, numClasses);
      numClasses += classCount(f.example.relation);
    }
  }
  return {
    facts,
    labels: Int32Array.from(facts, (f) => offsets.get(f.example.relation)! + f.label),
    numClasses,
  };
}

export const leace: UnlearnMethod = {
  overlay: { steps: 0, fact: { lambda: 0, generic: 0 } },
  fit(model, { config, tokenizer, data, forget, probe }) {
    const L = model.config.numHiddenLayers;
    const D = model.config.hiddenSize;
    const layers = [...(config.fact.layers as number[])].sort((x, y) => x - y);
    const rows = fitRows(
      forget,
      probe,
      config.fact.probeData === 'retain+forget',
      (r) => data.classes.get(r)!.length,
    );
    if (rows.facts.length < 2) throw new Error('leace: no forget-relation prompts to fit the eraser on');
    const erasers: ResidualEraser[] = [];
    for (const layer of layers) {
      const features = layerFeatures(model, rows.facts, layer, config, tokenizer.padTokenId, L);
      const labels = Int32Array.from(features.owner, (o) => rows.labels[o]!);
      const fitted = fitLeace(features.values, labels, rows.numClasses, D);
      erasers.push({
        hiddenState: layer,
        mean: Float32Array.from(fitted.mean),
        projection: Float32Array.from(fitted.projection),
      });
      model.setErasers(erasers);
    }
  },
};

/** Pooled hidden-state rows of `facts` at one hidden state (no gradient), through the erasers set so far. */
function layerFeatures(
  model: Qwen2ForCausalLM,
  facts: readonly EncodedFact[],
  layer: number,
  config: Parameters<NonNullable<UnlearnMethod['fit']>>[1]['config'],
  padId: number,
  L: number,
): { values: Float64Array; owner: Int32Array } {
  const D = model.config.hiddenSize;
  const parts: Float64Array[] = [];
  const owners: number[] = [];
  const perLayer = { ...config, fact: { ...config.fact, probe: 'per-layer' as const } };
  noGrad(() => {
    for (let i = 0; i < facts.length; i += 64) {
      const chunk = facts.slice(i, i + 64);
      const batch = collateRows(
        chunk.map((f) => f.encoded),
        padId,
      );
      const out = model.forward(batch.ids, {
        batch: batch.batch,
        seq: batch.seq,
        attentionMask: batch.attentionMask,
        ...(layer < L ? { untilHiddenState: layer } : { outputHiddenStates: true, logits: 'none' as const }),
      });
      const pooled = pooledFeatures(out.hiddenStates!, chunk, batch.seq, [layer], perLayer);
      for (const f of pooled.features) {
        parts.push(Float64Array.from(f.data));
        for (const o of pooled.owner) owners.push(i + o);
      }
    }
  });
  const values = new Float64Array(owners.length * D);
  let at = 0;
  for (const p of parts) {
    values.set(p, at);
    at += p.length;
  }
  return { values, owner: Int32Array.from(owners) };
}
