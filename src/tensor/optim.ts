// Optimizers as composable gradient transformations (optax style):
//
//   const opt = chain(clipByGlobalNorm(1), adamw({ weightDecay: 0.01 }), scaleByLearningRate(schedule));
//   loss.backward(); opt.step(params);
//
// step() takes each parameter's gradient buffer as its update (the gradient is consumed: p.grad
// becomes null), runs the transformations in order over the updates, adds them to the parameters and
// recycles the buffers. Parameters whose grad is null are skipped (frozen, or unused this step), as in
// PyTorch.
import type { Tensor } from './tensor.ts';
import { release } from './pool.ts';
import { nativeKernels } from './kernels/native.ts';

/** Learning rate (or any scalar) as a function of the 0-based update index. */
export type Schedule = (step: number) => number;

/** Everything needed to resume: moments as float32 buffers (for safetensors), the rest as JSON. */
export interface OptimizerState {
  step: number;
  tensors: Map<string, Float32Array>;
}

export interface StepInfo {
  /** Index of the update just applied (0 for the first). */
  step: number;
  /** Global L2 norm of the gradients before clipping (set by clipByGlobalNorm). */
  gradNorm?: number;
  /** Learning rate used (set by scaleByLearningRate). */
  lr?: number;
}

export interface GradientTransform {
  readonly name: string;
  /** Rewrites `updates` in place. `step` is the 0-based update index. */
  update(
    updates: Map<string, Float32Array>,
    params: ReadonlyMap<string, Tensor>,
    step: number,
    info: StepInfo,
  ): void;
  /** Buffers to checkpoint, keyed by parameter name. */
  stateTensors?(): Map<string, Float32Array>;
  loadStateTensors?(tensors: Map<string, Float32Array>): void;
  /** A pure per-step scale (learning rate) that step() folds into the final parameter update. */
  scaleFactor?(step: number, info: StepInfo): number;
  /**
   * update() fused with the parameter update p += factor · u, saving a pass over memory when this is
   * the last transform before the scale. The contents of `updates` are unspecified afterwards.
   */
  updateAndApply?(
    updates: Map<string, Float32Array>,
    params: ReadonlyMap<string, Tensor>,
    step: number,
    info: StepInfo,
    factor: number,
  ): void;
}

export interface Optimizer {
  /** Applies one update to `params` from their gradients (which are consumed). */
  step(params: ReadonlyMap<string, Tensor>): StepInfo;
  /** Number of updates applied so far. */
  readonly stepCount: number;
  state(): OptimizerState;
  loadState(state: OptimizerState): void;
}

/** Runs transforms in order; the last one may be a pure scale folded into the parameter update. */
export function chain(...transforms: GradientTransform[]): Optimizer {
  const last = transforms[transforms.length - 1];
  const finalScale = last?.scaleFactor ? last : null;
  const passes = finalScale ? transforms.slice(0, -1) : transforms;
  let stepCount = 0;
  return {
    get stepCount() {
      return stepCount;
    },
    step(params) {
      const updates = new Map<string, Float32Array>();
      for (const [name, p] of params) {
        if (p.grad === null) continue;
        if (p.grad.length !== p.size) throw new Error(`optimizer: gradient of ${name} has the wrong length`);
        updates.set(name, p.grad);
        p.grad = null;
      }
      const info: StepInfo = { step: stepCount };
      const lastPass = passes[passes.length - 1];
      const fused = lastPass?.updateAndApply ? lastPass : null;
      for (const t of fused ? passes.slice(0, -1) : passes) t.update(updates, params, stepCount, info);
      const factor = finalScale ? finalScale.scaleFactor!(stepCount, info) : 1;
      if (fused) fused.updateAndApply!(updates, params, stepCount, info, factor);
      for (const [name, u] of updates) {
        if (!fused) {
          const p = params.get(name)!.data;
          for (let i = 0; i < p.length; i++) p[i]! += factor * u[i]!;
        }
        release(u);
      }
      stepCount++;
      return info;
    },
    state() {
      const tensors = new Map<string, Float32Array>();
      for (const t of transforms) {
        for (const [key, buf] of t.stateTensors?.() ?? []) tensors.set(`${t.name}.${key}`, buf);
      }
      return { step: stepCount, tensors };
    },
    loadState(state) {
      if (!Number.isInteger(state.step) || state.step < 0) {
        throw new Error(`optimizer state: step must be a non-negative integer, got ${state.step}`);
      }
      const known = new Set<string>();
      for (const t of transforms) {
        if (!t.loadStateTensors) continue;
        const prefix = `${t.name}.`;
        const own = new Map<string, Float32Array>();
        for (const [key, buf] of state.tensors) {
          if (key.startsWith(prefix)) {
            own.set(key.slice(prefix.length), buf);
            known.add(key);
          }
        }
        t.loadStateTensors(own);
      }
      const unknown = [...state.tensors.keys()].filter((k) => !known.has(k));
      if (unknown.length > 0)
        throw new Error(`optimizer state: unknown entries ${unknown.slice(0, 5).join(', ')}`);
      stepCount = state.step;
    },
  };
}

function totalNorm(updates: Map<string, Float32Array>): number {
  const sums = new Float64Array(updates.size);
  nativeKernels().sumSquaresEach([...updates.values()], sums);
  let sumSquares = 0;
  for (const s of sums) sumSquares += s;
  return Math.sqrt(sumSquares);
}

/** Scales all updates so their global L2 norm is at most maxNorm (torch.nn.utils.clip_grad_norm_). */
export function clipByGlobalNorm(maxNorm: number): GradientTransform {
  if (!(maxNorm > 0)) throw new Error(`clipByGlobalNorm: maxNorm must be positive, got ${maxNorm}`);
  return {
    name: 'clip',
    update(updates, _params, _step, info) {
      const norm = totalNorm(updates);
      info.gradNorm = norm;
      if (!(norm > maxNorm)) return;
      const factor = maxNorm / (norm + 1e-6); // PyTorch's epsilon
      for (const u of updates.values()) nativeKernels().scaleInto(u, u, factor);
    },
  };
}

export interface AdamWOptions {
  b1?: number;
  b2?: number;
  eps?: number;
  /** Decoupled weight decay coefficient (multiplied by the learning rate later in the chain). */
  weightDecay?: number;
  /** Which parameters decay (default: all). E.g. (name) => !name.endsWith('norm.weight'). */
  decayMask?: (name: string) => boolean;
}

/**
 * Adam direction with bias correction plus decoupled weight decay: u = m̂ / (sqrt(v̂) + eps) + wd·p.
 * Followed by scaleByLearningRate this is torch.optim.AdamW.
 */
export function adamw(opts: AdamWOptions = {}): GradientTransform {
  const b1 = opts.b1 ?? 0.9;
  const b2 = opts.b2 ?? 0.999;
  const eps = opts.eps ?? 1e-8;
  const weightDecay = opts.weightDecay ?? 0;
  const decayMask = opts.decayMask ?? (() => true);
  const moments = new Map<string, { m: Float32Array; v: Float32Array }>();
  // Per-parameter update counts: a parameter frozen for a while keeps its own bias correction.
  const counts = new Map<string, number>();
  /** Adam on every update; with `factor` the result goes straight into the parameter instead. */
  const run = (
    updates: Map<string, Float32Array>,
    params: ReadonlyMap<string, Tensor>,
    factor: number | null,
  ) => {
    for (const [name, u] of updates) {
      const p = params.get(name)!.data;
      let mv = moments.get(name);
      if (!mv) {
        mv = { m: new Float32Array(p.length), v: new Float32Array(p.length) };
        moments.set(name, mv);
      }
      const t = (counts.get(name) ?? 0) + 1;
      counts.set(name, t);
      const { m, v } = mv;
      const c1 = 1 / (1 - b1 ** t);
      const c2 = 1 / Math.sqrt(1 - b2 ** t);
      const wd = decayMask(name) ? weightDecay : 0;
      nativeKernels().adamw(u, p, m, v, b1, b2, eps, c1, c2, wd, factor);
    }
  };
  return {
    name: 'adamw',
    update(updates, params) {
      run(updates, params, null);
    },
    updateAndApply(updates, params, _step, _info, factor) {
      run(updates, params, factor);
    },
    stateTensors() {
      const out = new Map<string, Float32Array>();
      for (const [name, { m, v }] of moments) {
        out.set(`m.${name}`, m);
        out.set(`v.${name}`, v);
        out.set(`count.${name}`, Float32Array.of(counts.get(name) ?? 0));
      }
      return out;
    },
    loadStateTensors(tensors) {
      moments.clear();
      counts.clear();
      for (const [key, buf] of tensors) {
        const match = /^(m|v|count)\.(.+)$/.exec(key);
        if (!match) throw new Error(`adamw state: unexpected entry ${key}`);
        const [, kind, name] = match as unknown as [string, 'm' | 'v' | 'count', string];
        if (kind === 'count') {
          counts.set(name, buf[0]!);
          continue;
        }
        const other = tensors.get(`${kind === 'm' ? 'v' : 'm'}.${name}`);
        if (!other || other.length !== buf.length)
          throw new Error(`adamw state: m and v of ${name} do not match`);
        if (kind === 'm') moments.set(name, { m: Float32Array.from(buf), v: Float32Array.from(other) });
      }
      for (const name of moments.keys()) {
        if (!counts.has(name)) throw new Error(`adamw state: no update count for ${name}`);
      }
    },
  };
}

/** Multiplies updates by −lr(step): gradient descent. */
export function scaleByLearningRate(schedule: Schedule | number): GradientTransform {
  const lrAt = typeof schedule === 'number' ? constantSchedule(schedule) : schedule;
  const factorAt = (step: number, info: StepInfo) => {
    const lr = lrAt(step);
    info.lr = lr;
    return -lr;
  };
  return {
    name: 'lr',
    update(updates, _params, step, info) {
      const factor = factorAt(step, info);
      for (const u of updates.values()) nativeKernels().scaleInto(u, u, factor);
    },
    scaleFactor: factorAt,
  };
}

export function constantSchedule(lr: number): Schedule {
  return () => lr;
}

export interface WarmupCosineOptions {
  peak: number;
  warmupSteps: number;
  /** Steps from the start (warm-up included) until the rate reaches `end`. */
  totalSteps: number;
  end?: number;
  /** Rate at step 0 (default 0). */
  init?: number;
}

/** Linear warm-up from init to peak, then cosine decay to end at totalSteps, then constant end. */
export function warmupCosineSchedule(opts: WarmupCosineOptions): Schedule {
  const { peak, warmupSteps, totalSteps } = opts;
  const end = opts.end ?? 0;
  const init = opts.init ?? 0;
  if (!(warmupSteps >= 0 && totalSteps >= warmupSteps)) {
    throw new Error(
      `warmupCosineSchedule: need 0 <= warmupSteps (${warmupSteps}) <= totalSteps (${totalSteps})`,
    );
  }
  return (step) => {
    if (step < warmupSteps) return init + ((peak - init) * step) / warmupSteps;
    if (step >= totalSteps) return end;
    const progress = (step - warmupSteps) / (totalSteps - warmupSteps);
    return end + 0.5 * (peak - end) * (1 + Math.cos(Math.PI * progress));
  };
}

/** The named parameters whose name passes `predicate` (e.g. layers 12–23 only). */
export function selectParams(
  named: ReadonlyMap<string, Tensor>,
  predicate: (name: string) => boolean,
): Map<string, Tensor> {
  return new Map([...named].filter(([name]) => predicate(name)));
}

/**
 * Trains only the parameters passing `predicate`: the others get requiresGrad = false, so backward
 * skips their weight gradients entirely. Returns the trainable ones.
 */
export function freezeExcept(
  named: ReadonlyMap<string, Tensor>,
  predicate: (name: string) => boolean,
): Map<string, Tensor> {
  for (const [name, p] of named) p.requiresGrad = predicate(name);
  return selectParams(named, predicate);
}
