// In-training adversarial probes: linear classifiers from a hidden state to the relation's candidate
// answers. The probes always minimise cross-entropy on detached hidden states; the backbone meets them
// through a gradient-reversal layer with one of three objectives (docs/rlcp.md):
//   ce       the probe's own cross-entropy, reversed: the backbone maximises it (unbounded);
//   uniform  the probe's KL(uniform ‖ p) from uniform, reversed: the backbone pushes p to uniform (≥ 0);
//   entropy  the probe's negative entropy, reversed: the backbone maximises the entropy of p.
import { Tensor, noGrad } from '../tensor/tensor.ts';
import {
  add,
  addScalar,
  crossEntropy,
  gradReverse,
  linear,
  logSoftmax,
  mean,
  mul,
  neg,
  scale,
  softmax,
  sum,
} from '../tensor/ops.ts';
import { adamw, chain, scaleByLearningRate, type Optimizer } from '../tensor/optim.ts';
import { Rng } from '../tensor/random.ts';
import type { AdversaryObjective } from './config.ts';

export class LinearProbe {
  readonly weight: Tensor;
  readonly bias: Tensor;
  constructor(
    readonly classes: number,
    readonly dim: number,
    seed: number,
  ) {
    const rng = new Rng(seed);
    const std = 1 / Math.sqrt(dim);
    const w = new Float32Array(classes * dim);
    for (let i = 0; i < w.length; i++) w[i] = std * rng.normal();
    this.weight = Tensor.param(w, [classes, dim]);
    this.bias = Tensor.param(new Float32Array(classes), [classes]);
  }

  logits(h: Tensor): Tensor {
    return linear(h, this.weight, this.bias);
  }

  /** Logits through detached weights: gradients reach `h` only. */
  frozenLogits(h: Tensor): Tensor {
    return linear(h, this.weight.detach(), this.bias.detach());
  }
}

/** The probes of one relation: one per hidden-state layer, or one on the layers' mean. */
export class ProbeSet {
  probes: LinearProbe[] = [];
  optimizer!: Optimizer;
  constructor(
    readonly relation: string,
    readonly classes: number,
    readonly dim: number,
    readonly count: number,
    private readonly lr: number,
    private readonly weightDecay: number,
  ) {}

  /** Fresh probes and optimizer; the seed fixes the weights, so a resumed run re-creates them exactly. */
  reset(seed: number): void {
    this.probes = Array.from(
      { length: this.count },
      (_, i) => new LinearProbe(this.classes, this.dim, seed + 7919 * i),
    );
    this.optimizer = chain(adamw({ weightDecay: this.weightDecay }), scaleByLearningRate(this.lr));
  }

  namedParameters(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    this.probes.forEach((p, i) => {
      out.set(`${this.relation}.${i}.weight`, p.weight);
      out.set(`${this.relation}.${i}.bias`, p.bias);
    });
    return out;
  }

  /**
   * One update of every probe on (features[i], labels): mean cross-entropy. `features[i]` are plain
   * arrays [n, dim] (detached). Returns the mean loss before the update.
   */
  train(features: readonly Float32Array[], labels: Int32Array): number {
    let total = 0;
    const n = labels.length;
    this.probes.forEach((probe, i) => {
      const loss = crossEntropy(probe.logits(Tensor.from(features[i]!, [n, this.dim])), labels);
      total += loss.item();
      loss.backward();
    });
    this.optimizer.step(this.namedParameters());
    return total / this.probes.length;
  }

  /** Share of rows each probe classifies correctly (mean over probes), without gradients. */
  accuracy(features: readonly Float32Array[], labels: Int32Array): number {
    return noGrad(() => {
      let correct = 0;
      this.probes.forEach((probe, i) => {
        const logits = probe.logits(Tensor.from(features[i]!, [labels.length, this.dim])).data;
        for (let r = 0; r < labels.length; r++) {
          let best = 0;
          for (let k = 1; k < this.classes; k++)
            if (logits[r * this.classes + k]! > logits[r * this.classes + best]!) best = k;
          if (best === labels[r]) correct++;
        }
      });
      return correct / (labels.length * this.probes.length);
    });
  }
}

/**
 * The adversary term for the backbone: hidden states `h[i]` (with gradient) pass a gradient-reversal
 * layer with coefficient λ into the probes (weights detached), and the probe-side objective is applied.
 * Minimising the returned loss moves the backbone *against* the probe. Its value is the probe-side
 * objective (mean over probes); `adversaryValue` reports the quantity the backbone drives (CE, KL from
 * uniform, or entropy).
 */
export function adversaryLoss(
  set: ProbeSet,
  h: readonly Tensor[],
  labels: Int32Array,
  objective: AdversaryObjective,
  lambda: number,
): { loss: Tensor; adversaryValue: number } {
  let total: Tensor | null = null;
  let value = 0;
  const K = set.classes;
  set.probes.forEach((probe, i) => {
    const logits = probe.frozenLogits(gradReverse(h[i]!, lambda));
    let term: Tensor;
    if (objective === 'ce') {
      term = crossEntropy(logits, labels);
      value += term.item();
    } else {
      const logp = logSoftmax(logits);
      if (objective === 'uniform') {
        // KL(u ‖ p) = −log K − mean_k log p_k; the probe side wants it large (a confident probe).
        const kl = addScalar(neg(mean(logp)), -Math.log(K));
        value += kl.item();
        term = neg(kl);
      } else {
        // Entropy H = −Σ p log p (mean over rows); the probe side wants it small.
        const rows = labels.length;
        const entropy = scale(neg(sum(mul(softmax(logits), logp))), 1 / rows);
        value += entropy.item();
        term = entropy;
      }
    }
    total = total === null ? term : add(total, term);
  });
  const n = set.probes.length;
  return { loss: n === 1 ? total! : scale(total!, 1 / n), adversaryValue: value / n };
}
