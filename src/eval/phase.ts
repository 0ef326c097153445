// Phase transition of forgetting: where, how sharply and at which λ a run's forget recall collapses,
// read from its metrics.jsonl. Definitions: src/eval/README.md.
import { readJsonl } from '../io/jsonl.ts';

export interface PhaseOptions {
  /** Field holding the training step. Default "step". */
  stepKey?: string;
  /** Field holding the forget recall of an evaluation record. Default "forget_recall_heldout". */
  recallKey?: string;
  /** Field holding the adversary weight λ. Default "lambda". */
  lambdaKey?: string;
  /** A transition needs the fall to reach this share of the peak recall before it. Default 0.5. */
  minFallFraction?: number;
}

export interface PhaseTransition {
  transition: boolean;
  /** Why there is no transition (null when there is one). */
  reason: string | null;
  n_evals: number;
  initial_recall: number | null;
  final_recall: number | null;
  /** Peak recall up to the largest drop, and the lowest recall after it. */
  high: number | null;
  low: number | null;
  fall: number | null;
  /** The evaluation step right after the largest drop between consecutive evaluations. */
  step: number | null;
  /** The evaluation step right before it. */
  drop_from_step: number | null;
  largest_drop: number | null;
  /** largest_drop / fall: 1 when the whole fall happens between two evaluations. */
  drop_share: number | null;
  /** Interpolated steps where recall crosses low + 0.9·fall and low + 0.1·fall, and their distance. */
  step_90: number | null;
  step_10: number | null;
  width: number | null;
  /** λ of the latest record at or before `step` that has one. */
  lambda: number | null;
}

interface Point {
  step: number;
  recall: number;
}

function finiteField(record: Record<string, unknown>, key: string): number | null {
  const value = record[key];
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** Linear interpolation of the first downward crossing of `level` in points[from..to]. */
function crossing(
  points: readonly Point[],
  level: number,
  from: number,
  to: number,
): { step: number; segment: number } {
  for (let j = from; j < to; j++) {
    const a = points[j]!;
    const b = points[j + 1]!;
    if (a.recall > level && b.recall <= level) {
      return { step: a.step + ((a.recall - level) / (a.recall - b.recall)) * (b.step - a.step), segment: j };
    }
  }
  // Unreachable: points[from] is above every level used and points[to] at or below it.
  throw new Error(
    `phase: no crossing of ${level} between steps ${points[from]!.step} and ${points[to]!.step}`,
  );
}

/**
 * Finds the collapse of forget recall in a run's metric records. Records without a finite step and recall
 * (training-loss lines) are skipped; evaluations are ordered by step, and when a step repeats (a resumed
 * run) the later record wins.
 */
export function findPhaseTransition(
  records: readonly Record<string, unknown>[],
  options: PhaseOptions = {},
): PhaseTransition {
  const stepKey = options.stepKey ?? 'step';
  const recallKey = options.recallKey ?? 'forget_recall_heldout';
  const lambdaKey = options.lambdaKey ?? 'lambda';
  const minFallFraction = options.minFallFraction ?? 0.5;
  const byStep = new Map<number, number>();
  for (const record of records) {
    const step = finiteField(record, stepKey);
    const recall = finiteField(record, recallKey);
    if (step !== null && recall !== null) byStep.set(step, recall);
  }
  const points = [...byStep].map(([step, recall]) => ({ step, recall })).sort((a, b) => a.step - b.step);
  const result: PhaseTransition = {
    transition: false,
    reason: null,
    n_evals: points.length,
    initial_recall: points[0]?.recall ?? null,
    final_recall: points[points.length - 1]?.recall ?? null,
    high: null,
    low: null,
    fall: null,
    step: null,
    drop_from_step: null,
    largest_drop: null,
    drop_share: null,
    step_90: null,
    step_10: null,
    width: null,
    lambda: null,
  };
  if (points.length < 2) {
    result.reason = `need at least 2 evaluations with "${stepKey}" and "${recallKey}", found ${points.length}`;
    return result;
  }
  // Drops equal up to rounding (1e-12) count as ties, and ties go to the earliest.
  let dropAt = 0;
  for (let i = 1; i < points.length - 1; i++) {
    const drop = points[i]!.recall - points[i + 1]!.recall;
    if (drop > points[dropAt]!.recall - points[dropAt + 1]!.recall + 1e-12) dropAt = i;
  }
  const largestDrop = points[dropAt]!.recall - points[dropAt + 1]!.recall;
  result.largest_drop = largestDrop;
  if (largestDrop <= 0) {
    result.reason = 'recall never falls between consecutive evaluations';
    return result;
  }
  // The fall runs from the last peak before the drop to the first minimum after it.
  let highAt = 0;
  for (let i = 0; i <= dropAt; i++) if (points[i]!.recall >= points[highAt]!.recall) highAt = i;
  let lowAt = dropAt + 1;
  for (let i = dropAt + 1; i < points.length; i++) if (points[i]!.recall < points[lowAt]!.recall) lowAt = i;
  const high = points[highAt]!.recall;
  const low = points[lowAt]!.recall;
  const fall = high - low;
  Object.assign(result, {
    high,
    low,
    fall,
    step: points[dropAt + 1]!.step,
    drop_from_step: points[dropAt]!.step,
    drop_share: largestDrop / fall,
  });
  if (fall < minFallFraction * high) {
    result.reason = `recall falls ${fall} from a peak of ${high}, less than ${minFallFraction} of the peak`;
    return result;
  }
  const at90 = crossing(points, low + 0.9 * fall, highAt, lowAt);
  const at10 = crossing(points, low + 0.1 * fall, at90.segment, lowAt);
  result.step_90 = at90.step;
  result.step_10 = at10.step;
  result.width = at10.step - at90.step;
  result.transition = true;
  let lambdaStep = -Infinity;
  for (const record of records) {
    const step = finiteField(record, stepKey);
    const lambda = finiteField(record, lambdaKey);
    if (step !== null && lambda !== null && step <= result.step! && step >= lambdaStep) {
      lambdaStep = step;
      result.lambda = lambda;
    }
  }
  return result;
}

/** Reads a metrics.jsonl (one JSON object per line). */
export function readMetrics(path: string): Record<string, unknown>[] {
  return readJsonl(path, (record) => {
    if (typeof record !== 'object' || record === null || Array.isArray(record)) {
      throw new Error('expected a JSON object per line');
    }
    return record as Record<string, unknown>;
  });
}

export function phaseTransitionFromFile(path: string, options: PhaseOptions = {}): PhaseTransition {
  return findPhaseTransition(readMetrics(path), options);
}
