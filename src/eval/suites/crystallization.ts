// Structural crystallization (issue 6 part 6): per layer, effective rank, participation ratio and mean
// pairwise cosine of last-prompt-token hidden states on a fixed probe set, for the evaluated model and,
// with a reference (the model before unlearning), before vs after. Measures: src/eval/crystallization.ts.
import { crystallizationByLayer, type LayerCrystallization } from '../crystallization.ts';

export interface CrystalStats {
  effective_rank: number;
  participation_ratio: number;
  mean_cosine: number;
  total_variance: number;
  top_eigenvalue_share: number;
}

export interface CrystallizationLayer {
  layer: number;
  /** The evaluated model. */
  after: CrystalStats;
  /** The reference model, when one is given. */
  before?: CrystalStats;
  /** after − before, when a reference is given. */
  delta?: CrystalStats;
}

export interface CrystallizationResult {
  /** What the hidden states were collected on. */
  probe_set: string;
  n: number;
  layers: CrystallizationLayer[];
}

function stats(layer: LayerCrystallization): CrystalStats {
  return {
    effective_rank: layer.effective_rank,
    participation_ratio: layer.participation_ratio,
    mean_cosine: layer.mean_pairwise_cosine,
    total_variance: layer.total_variance,
    top_eigenvalue_share: layer.top_eigenvalue_share,
  };
}

function difference(after: CrystalStats, before: CrystalStats): CrystalStats {
  return {
    effective_rank: after.effective_rank - before.effective_rank,
    participation_ratio: after.participation_ratio - before.participation_ratio,
    mean_cosine: after.mean_cosine - before.mean_cosine,
    total_variance: after.total_variance - before.total_variance,
    top_eigenvalue_share: after.top_eigenvalue_share - before.top_eigenvalue_share,
  };
}

/** `after[layer][row]` (and `before`, same prompts) → per-layer measures and deltas. */
export function crystallization(
  probeSet: string,
  after: readonly (readonly Float32Array[])[],
  before?: readonly (readonly Float32Array[])[],
): CrystallizationResult {
  const afterLayers = crystallizationByLayer(after);
  const beforeLayers = before ? crystallizationByLayer(before) : null;
  if (beforeLayers && beforeLayers.length !== afterLayers.length) {
    throw new Error(
      `crystallization: the reference has ${beforeLayers.length - 1} layers, the model ${afterLayers.length - 1}`,
    );
  }
  return {
    probe_set: probeSet,
    n: after[0]?.length ?? 0,
    layers: afterLayers.map((layer, i) => {
      const entry: CrystallizationLayer = { layer: layer.layer, after: stats(layer) };
      if (beforeLayers) {
        entry.before = stats(beforeLayers[i]!);
        entry.delta = difference(entry.after, entry.before);
      }
      return entry;
    }),
  };
}
