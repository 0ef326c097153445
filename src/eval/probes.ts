// Fresh probes on frozen features (Elazar & Goldberg 2018: an adversary at chance during training does not
// mean a fresh classifier is) with a Hewitt & Liang (2019) control task for selectivity. Pure TypeScript,
// deterministic given a seed. Definitions: src/eval/README.md.

export type ProbeKind = 'linear' | 'mlp';

export interface ProbeOptions {
  /** Seeds initialisation, the validation split and batch order. Default 0. */
  seed?: number;
  /** L2 penalty on the weights (not biases), added to the mean cross-entropy. Default 1e-3 linear, 1e-2 MLP. */
  l2?: number;
  /** Linear: L-BFGS iterations. Default 300. */
  maxIterations?: number;
  /** Linear: stop when the largest gradient entry is below this. Default 1e-5. */
  tolerance?: number;
  /** MLP: hidden ReLU units. Default 64. */
  hidden?: number;
  /** MLP: Adam learning rate. Default 1e-2. */
  learningRate?: number;
  /** MLP: mini-batch size. Default 32. */
  batchSize?: number;
  /** MLP: maximum epochs. Default 200. */
  maxEpochs?: number;
  /** MLP: stop after this many epochs without a higher validation accuracy. Default 10. */
  patience?: number;
  /** MLP: share of the training rows held out for early stopping. Default 0.2. */
  validationFraction?: number;
}

export interface Probe {
  kind: ProbeKind;
  numClasses: number;
  dim: number;
  /** Class logits for one feature row. */
  logits(x: Float32Array): Float64Array;
  predict(x: Float32Array): number;
}

/** Deterministic PRNG (mulberry32): uniform in [0, 1). */
function createRng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(rng: () => number): number {
  const u = 1 - rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

function shuffle(values: number[], rng: () => number): number[] {
  for (let i = values.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [values[i], values[j]] = [values[j]!, values[i]!];
  }
  return values;
}

function validateData(
  X: readonly Float32Array[],
  y: ArrayLike<number>,
  numClasses: number,
  what: string,
): number {
  if (X.length === 0) throw new Error(`${what}: no rows`);
  if (X.length !== y.length) throw new Error(`${what}: ${X.length} rows but ${y.length} labels`);
  const dim = X[0]!.length;
  if (dim === 0) throw new Error(`${what}: rows have no features`);
  for (let i = 0; i < X.length; i++) {
    if (X[i]!.length !== dim)
      throw new Error(`${what}: row ${i} has ${X[i]!.length} features, expected ${dim}`);
    const bad = X[i]!.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new Error(`${what}: row ${i} feature ${bad} is ${X[i]![bad]}`);
    const label = y[i]!;
    if (!Number.isInteger(label) || label < 0 || label >= numClasses) {
      throw new Error(`${what}: label ${i} is ${label}, outside 0..${numClasses - 1}`);
    }
  }
  return dim;
}

/**
 * The probe's input map, fitted on the training rows: per-feature standardisation (constant features map
 * to 0), then, if `projectToSpan` and the N training rows span fewer dimensions than the D features (the
 * usual case for hidden states), coordinates in an orthonormal basis of that span. The MLP uses the
 * projection: its first layer costs O(span) instead of O(D) per row, and it only drops directions the
 * training set carries no information about. (For the L2-penalised linear probe the projection would be
 * exact but not faster: L-BFGS converges in a few dozen passes, cheaper than the O(N²D) basis.)
 */
class FeatureMap {
  readonly mean: Float64Array;
  readonly invStd: Float64Array;
  /** Orthonormal basis rows (outDim × dim), or null for the identity. */
  private readonly basis: Float64Array | null;
  readonly outDim: number;
  private readonly scratch: Float64Array;

  constructor(X: readonly Float32Array[], dim: number, projectToSpan: boolean) {
    this.mean = new Float64Array(dim);
    this.invStd = new Float64Array(dim);
    this.scratch = new Float64Array(dim);
    for (const row of X) for (let d = 0; d < dim; d++) this.mean[d]! += row[d]!;
    for (let d = 0; d < dim; d++) this.mean[d]! /= X.length;
    const variance = new Float64Array(dim);
    for (const row of X) {
      for (let d = 0; d < dim; d++) {
        const delta = row[d]! - this.mean[d]!;
        variance[d]! += delta * delta;
      }
    }
    for (let d = 0; d < dim; d++) {
      const std = Math.sqrt(variance[d]! / X.length);
      this.invStd[d] = std > 1e-12 ? 1 / std : 0;
    }
    this.basis = projectToSpan && X.length < dim ? this.rowSpaceBasis(X, dim) : null;
    this.outDim = this.basis === null ? dim : this.basis.length / dim;
  }

  /**
   * Modified Gram–Schmidt with one reorthogonalisation pass when a pass cancels most of the row ("twice is
   * enough", Parlett–Kahan); rows with nothing left of themselves (dependent ones) are dropped.
   */
  private rowSpaceBasis(X: readonly Float32Array[], dim: number): Float64Array {
    const vectors: Float64Array[] = [];
    const v = new Float64Array(dim);
    for (const row of X) {
      this.standardizeInto(row, v);
      const norm0 = Math.sqrt(dot(v, v));
      if (norm0 === 0) continue;
      let norm = norm0;
      for (let pass = 0; pass < 2; pass++) {
        const before = norm;
        for (const b of vectors) {
          const c = dot(b, v);
          for (let d = 0; d < dim; d++) v[d]! -= c * b[d]!;
        }
        norm = Math.sqrt(dot(v, v));
        if (norm > 0.7 * before) break;
      }
      if (norm > 1e-9 * norm0) vectors.push(v.map((x) => x / norm));
    }
    const basis = new Float64Array(vectors.length * dim);
    vectors.forEach((b, k) => basis.set(b, k * dim));
    return basis;
  }

  private standardizeInto(row: Float32Array, out: Float64Array): void {
    for (let d = 0; d < this.mean.length; d++) out[d] = (row[d]! - this.mean[d]!) * this.invStd[d]!;
  }

  transformInto(row: Float32Array, out: Float64Array, offset: number): void {
    const dim = this.mean.length;
    if (this.basis === null) {
      for (let d = 0; d < dim; d++) out[offset + d] = (row[d]! - this.mean[d]!) * this.invStd[d]!;
      return;
    }
    this.standardizeInto(row, this.scratch);
    for (let k = 0; k < this.outDim; k++) {
      let s = 0;
      const at = k * dim;
      for (let d = 0; d < dim; d++) s += this.basis[at + d]! * this.scratch[d]!;
      out[offset + k] = s;
    }
  }

  pack(X: readonly Float32Array[]): Float64Array {
    const out = new Float64Array(X.length * this.outDim);
    X.forEach((row, i) => this.transformInto(row, out, i * this.outDim));
    return out;
  }
}

/** Softmax in place over logits; returns log-sum-exp. */
function softmaxInPlace(z: Float64Array): number {
  let max = -Infinity;
  for (let c = 0; c < z.length; c++) if (z[c]! > max) max = z[c]!;
  let sum = 0;
  for (let c = 0; c < z.length; c++) {
    z[c] = Math.exp(z[c]! - max);
    sum += z[c]!;
  }
  for (let c = 0; c < z.length; c++) z[c]! /= sum;
  return max + Math.log(sum);
}

function argmax(z: Float64Array): number {
  let best = 0;
  for (let c = 1; c < z.length; c++) if (z[c]! > z[best]!) best = c;
  return best;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Minimises f with L-BFGS (memory 10) and a backtracking Armijo line search; f writes its gradient into g. */
function lbfgs(
  f: (x: Float64Array, g: Float64Array) => number,
  x0: Float64Array,
  maxIterations: number,
  tolerance: number,
): Float64Array {
  const memory = 10;
  const n = x0.length;
  let x = x0;
  let g = new Float64Array(n);
  let fx = f(x, g);
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  const alpha = new Array<number>(memory);
  for (let iteration = 0; iteration < maxIterations; iteration++) {
    let gMax = 0;
    for (let i = 0; i < n; i++) gMax = Math.max(gMax, Math.abs(g[i]!));
    if (gMax <= tolerance) break;
    // Two-loop recursion: direction = −H·g.
    const q = Float64Array.from(g);
    for (let k = S.length - 1; k >= 0; k--) {
      alpha[k] = rho[k]! * dot(S[k]!, q);
      const yk = Y[k]!;
      for (let i = 0; i < n; i++) q[i]! -= alpha[k]! * yk[i]!;
    }
    const last = S.length - 1;
    const gamma = last >= 0 ? dot(S[last]!, Y[last]!) / dot(Y[last]!, Y[last]!) : 1 / Math.sqrt(dot(g, g));
    for (let i = 0; i < n; i++) q[i]! *= gamma;
    for (let k = 0; k < S.length; k++) {
      const beta = rho[k]! * dot(Y[k]!, q);
      const sk = S[k]!;
      for (let i = 0; i < n; i++) q[i]! += sk[i]! * (alpha[k]! - beta);
    }
    for (let i = 0; i < n; i++) q[i] = -q[i]!;
    let slope = dot(q, g);
    if (slope >= 0) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      S.length = Y.length = rho.length = 0;
      for (let i = 0; i < n; i++) q[i] = -g[i]! / Math.sqrt(dot(g, g));
      slope = dot(q, g);
    }
    let step = 1;
    const xNew = new Float64Array(n);
    const gNew = new Float64Array(n);
    let fNew = Infinity;
    for (; step > 1e-12; step *= 0.5) {
      for (let i = 0; i < n; i++) xNew[i] = x[i]! + step * q[i]!;
      fNew = f(xNew, gNew);
      if (fNew <= fx + 1e-4 * step * slope) break;
    }
    if (!(fNew <= fx)) break; // the line search found no decrease: at the optimum to precision
    const s = new Float64Array(n);
    const yv = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      s[i] = xNew[i]! - x[i]!;
      yv[i] = gNew[i]! - g[i]!;
    }
    const sy = dot(s, yv);
    if (sy > 1e-12) {
      if (S.length === memory) {
        S.shift();
        Y.shift();
        rho.shift();
      }
      S.push(s);
      Y.push(yv);
      rho.push(1 / sy);
    }
    const improvement = fx - fNew;
    x = xNew;
    g = gNew;
    fx = fNew;
    if (improvement <= 1e-12 * Math.max(1, Math.abs(fx))) break;
  }
  return x;
}

function trainLinear(
  X: readonly Float32Array[],
  y: ArrayLike<number>,
  numClasses: number,
  dim: number,
  opts: ProbeOptions,
): Probe {
  const features = new FeatureMap(X, dim, false);
  const F = features.outDim;
  const data = features.pack(X);
  const N = X.length;
  const C = numClasses;
  const l2 = opts.l2 ?? 1e-3;
  const biasAt = C * F;
  const z = new Float64Array(C);
  // Mean cross-entropy + (l2/2)·‖W‖²; theta = [W (C×F, row per class), b (C)].
  const objective = (theta: Float64Array, grad: Float64Array): number => {
    grad.fill(0);
    let loss = 0;
    for (let i = 0; i < N; i++) {
      const offset = i * F;
      for (let c = 0; c < C; c++) {
        let s = theta[biasAt + c]!;
        const w = c * F;
        for (let f = 0; f < F; f++) s += theta[w + f]! * data[offset + f]!;
        z[c] = s;
      }
      const label = y[i]!;
      const labelLogit = z[label]!;
      loss += softmaxInPlace(z) - labelLogit; // −log p_label = logsumexp(z) − z_label
      for (let c = 0; c < C; c++) {
        const coefficient = (z[c]! - (c === label ? 1 : 0)) / N;
        const w = c * F;
        for (let f = 0; f < F; f++) grad[w + f]! += coefficient * data[offset + f]!;
        grad[biasAt + c]! += coefficient;
      }
    }
    loss /= N;
    for (let j = 0; j < biasAt; j++) {
      loss += 0.5 * l2 * theta[j]! * theta[j]!;
      grad[j]! += l2 * theta[j]!;
    }
    return loss;
  };
  const theta = lbfgs(
    objective,
    new Float64Array(biasAt + C),
    opts.maxIterations ?? 300,
    opts.tolerance ?? 1e-5,
  );
  const row = new Float64Array(F);
  const logits = (x: Float32Array): Float64Array => {
    if (x.length !== dim) throw new Error(`probe: row has ${x.length} features, expected ${dim}`);
    features.transformInto(x, row, 0);
    const out = new Float64Array(C);
    for (let c = 0; c < C; c++) {
      let s = theta[biasAt + c]!;
      for (let f = 0; f < F; f++) s += theta[c * F + f]! * row[f]!;
      out[c] = s;
    }
    return out;
  };
  return { kind: 'linear', numClasses: C, dim, logits, predict: (x) => argmax(logits(x)) };
}

interface MlpParams {
  W1: Float64Array; // H×D
  b1: Float64Array;
  W2: Float64Array; // C×H
  b2: Float64Array;
}

function cloneParams(p: MlpParams): MlpParams {
  return { W1: p.W1.slice(), b1: p.b1.slice(), W2: p.W2.slice(), b2: p.b2.slice() };
}

function mlpForward(
  p: MlpParams,
  data: Float64Array,
  offset: number,
  F: number,
  hidden: Float64Array,
  z: Float64Array,
): void {
  const H = hidden.length;
  for (let h = 0; h < H; h++) {
    let s = p.b1[h]!;
    const w = h * F;
    for (let f = 0; f < F; f++) s += p.W1[w + f]! * data[offset + f]!;
    hidden[h] = s > 0 ? s : 0;
  }
  for (let c = 0; c < z.length; c++) {
    let s = p.b2[c]!;
    const w = c * H;
    for (let h = 0; h < H; h++) s += p.W2[w + h]! * hidden[h]!;
    z[c] = s;
  }
}

function trainMlp(
  X: readonly Float32Array[],
  y: ArrayLike<number>,
  numClasses: number,
  dim: number,
  opts: ProbeOptions,
): Probe {
  const rng = createRng(opts.seed ?? 0);
  const H = opts.hidden ?? 64;
  const C = numClasses;
  const l2 = opts.l2 ?? 1e-2;
  const lr = opts.learningRate ?? 1e-2;
  const batchSize = opts.batchSize ?? 32;
  const maxEpochs = opts.maxEpochs ?? 200;
  const patience = opts.patience ?? 10;
  const order = shuffle(
    Array.from({ length: X.length }, (_, i) => i),
    rng,
  );
  const validationCount = Math.floor(X.length * (opts.validationFraction ?? 0.2));
  // Early stopping needs a validation row and leaves at least one training row; otherwise train all epochs.
  const useValidation = validationCount >= 1 && validationCount < X.length;
  const validationRows = useValidation ? order.slice(0, validationCount) : [];
  const trainRows = useValidation ? order.slice(validationCount) : order;
  const features = new FeatureMap(
    trainRows.map((i) => X[i]!),
    dim,
    true,
  );
  const F = features.outDim;
  const data = features.pack(X);

  const params: MlpParams = {
    W1: Float64Array.from({ length: H * F }, () => gaussian(rng) * Math.sqrt(2 / F)),
    b1: new Float64Array(H),
    W2: Float64Array.from({ length: C * H }, () => gaussian(rng) * Math.sqrt(1 / H)),
    b2: new Float64Array(C),
  };
  const keys = ['W1', 'b1', 'W2', 'b2'] as const;
  const grads: MlpParams = cloneParams(params);
  const m: MlpParams = cloneParams(params);
  const v: MlpParams = cloneParams(params);
  for (const key of keys) {
    m[key].fill(0);
    v[key].fill(0);
  }
  const hidden = new Float64Array(H);
  const z = new Float64Array(C);
  const dz = new Float64Array(C);
  const dh = new Float64Array(H);
  const beta1 = 0.9;
  const beta2 = 0.999;
  let t = 0;

  const validationAccuracy = (): number => {
    let correct = 0;
    for (const i of validationRows) {
      mlpForward(params, data, i * F, F, hidden, z);
      if (argmax(z) === y[i]) correct++;
    }
    return correct / validationRows.length;
  };

  let best = useValidation ? cloneParams(params) : params;
  let bestAccuracy = useValidation ? validationAccuracy() : 0;
  let sinceBest = 0;
  for (let epoch = 0; epoch < maxEpochs; epoch++) {
    shuffle(trainRows, rng);
    for (let start = 0; start < trainRows.length; start += batchSize) {
      const batch = trainRows.slice(start, start + batchSize);
      for (const key of keys) grads[key].fill(0);
      for (const i of batch) {
        const offset = i * F;
        mlpForward(params, data, offset, F, hidden, z);
        softmaxInPlace(z);
        for (let c = 0; c < C; c++) dz[c] = (z[c]! - (c === y[i] ? 1 : 0)) / batch.length;
        dh.fill(0);
        for (let c = 0; c < C; c++) {
          const g = dz[c]!;
          const w = c * H;
          grads.b2[c]! += g;
          for (let h = 0; h < H; h++) {
            grads.W2[w + h]! += g * hidden[h]!;
            dh[h]! += g * params.W2[w + h]!;
          }
        }
        for (let h = 0; h < H; h++) {
          if (hidden[h]! <= 0) continue; // ReLU gate
          const g = dh[h]!;
          grads.b1[h]! += g;
          const w = h * F;
          for (let f = 0; f < F; f++) grads.W1[w + f]! += g * data[offset + f]!;
        }
      }
      t++;
      const correction1 = 1 - beta1 ** t;
      const correction2 = 1 - beta2 ** t;
      for (const key of keys) {
        const p = params[key];
        const g = grads[key];
        const mk = m[key];
        const vk = v[key];
        const decay = key === 'W1' || key === 'W2' ? l2 : 0;
        for (let j = 0; j < p.length; j++) {
          const gj = g[j]! + decay * p[j]!;
          mk[j] = beta1 * mk[j]! + (1 - beta1) * gj;
          vk[j] = beta2 * vk[j]! + (1 - beta2) * gj * gj;
          p[j]! -= (lr * (mk[j]! / correction1)) / (Math.sqrt(vk[j]! / correction2) + 1e-8);
        }
      }
    }
    if (!useValidation) continue;
    const accuracy = validationAccuracy();
    // Better = higher validation accuracy (a probe is judged by accuracy; the loss keeps falling long after
    // the predictions stop changing, as confidence grows).
    if (accuracy > bestAccuracy) {
      bestAccuracy = accuracy;
      best = cloneParams(params);
      sinceBest = 0;
    } else if (++sinceBest >= patience) break;
  }

  const row = new Float64Array(F);
  const finalHidden = new Float64Array(H);
  const logits = (x: Float32Array): Float64Array => {
    if (x.length !== dim) throw new Error(`probe: row has ${x.length} features, expected ${dim}`);
    features.transformInto(x, row, 0);
    const out = new Float64Array(C);
    mlpForward(best, row, 0, F, finalHidden, out);
    return out;
  };
  return { kind: 'mlp', numClasses: C, dim, logits, predict: (x) => argmax(logits(x)) };
}

/** Trains a fresh probe on frozen feature rows; features are standardised with the training statistics. */
export function trainProbe(
  kind: ProbeKind,
  X: readonly Float32Array[],
  y: ArrayLike<number>,
  numClasses: number,
  opts: ProbeOptions = {},
): Probe {
  if (!Number.isInteger(numClasses) || numClasses < 2) {
    throw new Error(`trainProbe: numClasses must be an integer ≥ 2, got ${numClasses}`);
  }
  const dim = validateData(X, y, numClasses, 'trainProbe');
  if (kind === 'linear') return trainLinear(X, y, numClasses, dim, opts);
  if (kind === 'mlp') return trainMlp(X, y, numClasses, dim, opts);
  throw new Error(`trainProbe: unknown probe kind "${kind as string}" (linear or mlp)`);
}

export interface ProbeEvaluation {
  accuracy: number;
  correct: number;
  n: number;
  predictions: Int32Array;
}

export function evaluateProbe(
  probe: Probe,
  X: readonly Float32Array[],
  y: ArrayLike<number>,
): ProbeEvaluation {
  validateData(X, y, probe.numClasses, 'evaluateProbe');
  const predictions = new Int32Array(X.length);
  let correct = 0;
  X.forEach((row, i) => {
    predictions[i] = probe.predict(row);
    if (predictions[i] === y[i]) correct++;
  });
  return { accuracy: correct / X.length, correct, n: X.length, predictions };
}

export interface ProbeAuditInput {
  trainX: readonly Float32Array[];
  trainY: ArrayLike<number>;
  testX: readonly Float32Array[];
  testY: ArrayLike<number>;
  numClasses: number;
  kind: ProbeKind;
  seed?: number;
  /**
   * Control-task groups (entity or word type) of the training rows: every row of a group gets the same
   * random control label. Default: each row is its own group.
   */
  trainGroups?: ArrayLike<string | number>;
  /** Groups of the test rows; a test row in a training group shares its control label. Default: new groups. */
  testGroups?: ArrayLike<string | number>;
  options?: ProbeOptions;
}

export interface ProbeAuditResult {
  kind: ProbeKind;
  accuracy: number;
  /** Share of test labels equal to the most frequent training label. */
  majority: number;
  majority_class: number;
  chance: number;
  control_accuracy: number;
  /** accuracy − control_accuracy (Hewitt & Liang 2019). */
  selectivity: number;
  n_train: number;
  n_test: number;
}

export function majorityClass(y: ArrayLike<number>, numClasses: number): number {
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < y.length; i++) counts[y[i]!]!++;
  // Ties go to the smallest class id so the baseline is deterministic.
  return counts.indexOf(Math.max(...counts));
}

/**
 * Control labels (Hewitt & Liang 2019): each group, in order of first appearance (training rows, then
 * test rows), draws one label from the empirical distribution of the training labels.
 */
export function controlLabels(
  trainY: ArrayLike<number>,
  trainGroups: ArrayLike<string | number> | undefined,
  testCount: number,
  testGroups: ArrayLike<string | number> | undefined,
  seed: number,
): { train: Int32Array; test: Int32Array } {
  if (trainGroups !== undefined && trainGroups.length !== trainY.length) {
    throw new Error(`controlLabels: ${trainGroups.length} training groups for ${trainY.length} rows`);
  }
  if (testGroups !== undefined && testGroups.length !== testCount) {
    throw new Error(`controlLabels: ${testGroups.length} test groups for ${testCount} rows`);
  }
  const rng = createRng(seed);
  const labelOf = new Map<string, number>();
  const draw = (key: string): number => {
    let label = labelOf.get(key);
    if (label === undefined) {
      label = trainY[Math.floor(rng() * trainY.length)]!;
      labelOf.set(key, label);
    }
    return label;
  };
  // Prefixes keep default per-row groups apart from each other and from caller-given group ids.
  const train = Int32Array.from({ length: trainY.length }, (_, i) =>
    draw(trainGroups === undefined ? `train-row:${i}` : `group:${trainGroups[i]}`),
  );
  const test = Int32Array.from({ length: testCount }, (_, i) =>
    draw(testGroups === undefined ? `test-row:${i}` : `group:${testGroups[i]}`),
  );
  return { train, test };
}

/** Trains a fresh probe and its control-task twin; reports accuracy, majority baseline and selectivity. */
export function probeAudit(input: ProbeAuditInput): ProbeAuditResult {
  const { trainX, trainY, testX, testY, numClasses, kind } = input;
  const seed = input.seed ?? 0;
  const options = { ...input.options, seed };
  const probe = trainProbe(kind, trainX, trainY, numClasses, options);
  const accuracy = evaluateProbe(probe, testX, testY).accuracy;
  const majority = majorityClass(trainY, numClasses);
  let majorityHits = 0;
  for (let i = 0; i < testY.length; i++) if (testY[i] === majority) majorityHits++;
  const control = controlLabels(trainY, input.trainGroups, testX.length, input.testGroups, seed + 1);
  const controlProbe = trainProbe(kind, trainX, control.train, numClasses, options);
  const controlAccuracy = evaluateProbe(controlProbe, testX, control.test).accuracy;
  return {
    kind,
    accuracy,
    majority: majorityHits / testY.length,
    majority_class: majority,
    chance: 1 / numClasses,
    control_accuracy: controlAccuracy,
    selectivity: accuracy - controlAccuracy,
    n_train: trainX.length,
    n_test: testX.length,
  };
}
