// Seeded pseudo-random numbers (mulberry32): same seed, same stream, on every machine.
import { Tensor, sizeOf } from './tensor.ts';
import type { Shape } from './tensor.ts';

export class Rng {
  private s: number;
  // Box–Muller yields pairs; the second value is kept for the next call.
  private spareNormal: number | null = null;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new Error(`Rng: seed must be a finite number, got ${seed}`);
    this.s = seed >>> 0;
  }

  /** Uniform in [0, 1), 32 bits of randomness. */
  uniform(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new Error(`Rng.int: n must be a positive integer, got ${n}`);
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    if (this.spareNormal !== null) {
      const z = this.spareNormal;
      this.spareNormal = null;
      return z;
    }
    const u1 = 1 - this.uniform(); // (0, 1]: log stays finite
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spareNormal = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }

  /** In-place Fisher–Yates shuffle. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }

  /** Index drawn from unnormalised non-negative weights (e.g. softmax probabilities). */
  categorical(weights: ArrayLike<number>): number {
    let total = 0;
    for (let i = 0; i < weights.length; i++) total += weights[i]!;
    if (!(total > 0)) throw new Error('Rng.categorical: weights must have a positive sum');
    let u = this.uniform() * total;
    for (let i = 0; i < weights.length; i++) {
      u -= weights[i]!;
      if (u < 0) return i;
    }
    return weights.length - 1;
  }

  /** Serialisable state, so a resumed run continues the same stream. */
  state(): { s: number; spareNormal: number | null } {
    return { s: this.s, spareNormal: this.spareNormal };
  }

  loadState(state: { s: number; spareNormal: number | null }): void {
    this.s = state.s >>> 0;
    this.spareNormal = state.spareNormal;
  }
}

export function fillNormal(rng: Rng, out: Float32Array, std = 1, mean = 0): Float32Array {
  for (let i = 0; i < out.length; i++) out[i] = mean + std * rng.normal();
  return out;
}

export function fillUniform(rng: Rng, out: Float32Array, low = 0, high = 1): Float32Array {
  for (let i = 0; i < out.length; i++) out[i] = low + (high - low) * rng.uniform();
  return out;
}

/** A tensor of normal samples (no grad; use Tensor.param(randn(...).data, shape) for a parameter). */
export function randn(rng: Rng, shape: Shape, std = 1, mean = 0): Tensor {
  return new Tensor(fillNormal(rng, new Float32Array(sizeOf(shape)), std, mean), shape);
}

export function uniform(rng: Rng, shape: Shape, low = 0, high = 1): Tensor {
  return new Tensor(fillUniform(rng, new Float32Array(sizeOf(shape)), low, high), shape);
}
