// Losses on logits, with their gradient computed during the forward pass.
//
// For a mean over rows of a softmax loss, d loss / d logits is (softmax − target distribution) / count
// per row. Computing it while the row is hot in cache, into a buffer that later *becomes* the logits'
// gradient, costs one exp pass and one vocabulary-sized buffer in total (PyTorch keeps log-softmax
// output, its gradient and the logits' gradient). The upstream gradient is a scalar applied at backward.
import { Tensor, giveGrad, record, tracksGrad } from '../tensor.ts';
import { allocUninit, release } from '../pool.ts';
import { formatShape } from '../shape.ts';
import { gemm } from '../kernels/gemm.ts';
import { nativeKernels } from '../kernels/native.ts';

export interface CrossEntropyOptions {
  /** Targets equal to this are skipped (default -100, as in PyTorch). */
  ignoreIndex?: number;
}

function vocabOf(logits: Tensor, what: string): { rows: number; vocab: number } {
  const vocab = logits.shape[logits.shape.length - 1];
  if (logits.shape.length < 2 || !vocab)
    throw new Error(`${what}: expected logits [N, V], got ${formatShape(logits.shape)}`);
  return { rows: logits.size / vocab, vocab };
}

interface CrossEntropyRows {
  /** Mean loss over counted rows (0 when none). */
  loss: number;
  count: number;
  /** Per row 1 / Σ exp(logit − max), 0 for ignored rows. */
  invSums: Float64Array;
}

/**
 * Cross-entropy of each row of `logits` ([rows, V]) against its target. With `exps`, also writes
 * exp(logit − row max) there (may be `logits` itself: each row is read before it is written), zeros for
 * ignored rows; the softmax is then exps[r] · invSums[r].
 */
function crossEntropyRows(
  logits: Float32Array,
  vocab: number,
  targets: Int32Array,
  ignoreIndex: number,
  exps: Float32Array | null,
  what: string,
): CrossEntropyRows {
  const rows = targets.length;
  let count = 0;
  for (let r = 0; r < rows; r++) {
    const t = targets[r]!;
    if (t === ignoreIndex) continue;
    if (!Number.isInteger(t) || t < 0 || t >= vocab) {
      throw new Error(`${what}: target ${t} at row ${r} is outside the vocabulary [0, ${vocab})`);
    }
    count++;
  }
  // Row maxima, exp sums and target logits on the native kernels; the log and the total stay here (V8's
  // Math.log, summed in row order).
  const stats = new Float64Array(3 * rows);
  nativeKernels().crossEntropyRows(logits, vocab, targets, ignoreIndex, exps, stats);
  const invSums = new Float64Array(rows);
  let total = 0;
  for (let r = 0; r < rows; r++) {
    if (targets[r] === ignoreIndex) continue;
    const sum = stats[3 * r + 1]!;
    total += stats[3 * r]! + Math.log(sum) - stats[3 * r + 2]!;
    invSums[r] = 1 / sum;
  }
  return { loss: count === 0 ? 0 : total / count, count, invSums };
}

function scaleInPlace(buf: Float32Array, s: number): void {
  if (s !== 1) nativeKernels().scaleInto(buf, buf, s);
}

function checkTargets(targets: Int32Array, rows: number, what: string): void {
  if (targets.length !== rows)
    throw new Error(`${what}: ${targets.length} targets for ${rows} rows of logits`);
}

/**
 * Mean cross-entropy over rows whose target is not ignoreIndex; logits [..., V], targets one per row.
 * With every row ignored the loss is 0 (and so is the gradient).
 */
export function crossEntropy(logits: Tensor, targets: Int32Array, opts: CrossEntropyOptions = {}): Tensor {
  const { rows, vocab } = vocabOf(logits, 'crossEntropy');
  checkTargets(targets, rows, 'crossEntropy');
  const tracking = tracksGrad(logits);
  const grad = tracking ? allocUninit(logits.size) : null;
  const ce = crossEntropyRows(logits.data, vocab, targets, opts.ignoreIndex ?? -100, grad, 'crossEntropy');
  const loss = Tensor.scalar(ce.loss);
  if (grad) {
    // d loss / d logits = (softmax − one-hot) / count on counted rows (ignored rows: zeros, scaled by 0).
    if (ce.count > 0)
      nativeKernels().scaleRows(
        grad,
        grad,
        ce.invSums.map((inv) => inv / ce.count),
      );
    for (let r = 0; r < rows; r++) if (ce.invSums[r] !== 0) grad[r * vocab + targets[r]!]! -= 1 / ce.count;
    record(loss, [logits], (g) => {
      scaleInPlace(grad, g[0]!);
      giveGrad(logits, grad);
    });
  }
  return loss;
}

/**
 * crossEntropy(linear(x, weight), targets) without ever materialising the logits as a tensor: the
 * language-model head and its loss fused (x [..., D], weight [V, D]). Use it for training; use
 * linear() when you need the logits themselves.
 */
export function linearCrossEntropy(
  x: Tensor,
  weight: Tensor,
  targets: Int32Array,
  opts: CrossEntropyOptions = {},
): Tensor {
  const dim = x.shape[x.shape.length - 1];
  if (weight.shape.length !== 2 || weight.shape[1] !== dim) {
    throw new Error(
      `linearCrossEntropy: weight ${formatShape(weight.shape)} does not take input ${formatShape(x.shape)}`,
    );
  }
  const vocab = weight.shape[0]!;
  const rows = x.size / dim!;
  checkTargets(targets, rows, 'linearCrossEntropy');
  const xDims = [rows, dim!];
  const ignoreIndex = opts.ignoreIndex ?? -100;
  const logits = allocUninit(rows * vocab);
  gemm(x.data, xDims, weight.data, weight.shape, { transB: true }, logits);
  const tracking = tracksGrad(x, weight);
  const ce = crossEntropyRows(
    logits,
    vocab,
    targets,
    ignoreIndex,
    tracking ? logits : null,
    'linearCrossEntropy',
  );
  const loss = Tensor.scalar(ce.loss);
  if (!tracking) {
    release(logits);
    return loss;
  }
  // d loss / d logits = diag(invSums / count) · E − onehot / count with E = exp(logits − max) kept in
  // `logits`. Both row scalings are applied to the small [rows, dim] matrices, never to E.
  const exps = logits;
  const { invSums, count } = ce;
  record(
    loss,
    [x, weight],
    (g) => {
      const s = count === 0 ? 0 : g[0]! / count;
      const lDims = [rows, vocab];
      const w = weight.data;
      const xd = x.data;
      const kernels = nativeKernels();
      const rowScales = invSums.map((inv) => s * inv);
      if (x.requiresGrad) {
        const gx = allocUninit(x.size);
        gemm(exps, lDims, w, weight.shape, {}, gx);
        kernels.scaleRows(gx, gx, rowScales);
        kernels.addGatheredRows(gx, w, targets, ignoreIndex, -s); // − onehot · W / count
        giveGrad(x, gx);
      }
      if (weight.requiresGrad) {
        const scaledX = allocUninit(x.size);
        kernels.scaleRows(scaledX, xd, rowScales);
        const gw = allocUninit(weight.size);
        gemm(exps, lDims, scaledX, xDims, { transA: true }, gw);
        release(scaledX);
        kernels.scatterAddRows(gw, xd, targets, ignoreIndex, -s); // − onehotᵀ · x / count
        giveGrad(weight, gw);
      }
    },
    [exps],
  );
  return loss;
}

/**
 * Σ over selected rows of KL(softmax(ref) ‖ softmax(logits)) / count; with `grad`, writes
 * (softmax(logits) − softmax(ref)) / count there (may alias `logits`: a row is read before it is
 * written), zeros on unselected rows.
 */
function klRows(
  ref: Float32Array,
  logits: Float32Array,
  vocab: number,
  mask: Uint8Array | undefined,
  grad: Float32Array | null,
): number {
  const rows = logits.length / vocab;
  let count = 0;
  for (let r = 0; r < rows; r++) if (!mask || mask[r] !== 0) count++;
  // Maxima, exp sums, the cross term and the gradient on the native kernels; the logs and the total stay
  // here (V8's Math.log, summed in row order).
  const stats = new Float64Array(5 * rows);
  nativeKernels().klDivRows(ref, logits, vocab, mask ?? null, grad, count, stats);
  let total = 0;
  for (let r = 0; r < rows; r++) {
    if (mask && mask[r] === 0) continue;
    const [refMax, refSum, max, sum, cross] = stats.subarray(5 * r, 5 * r + 5) as unknown as number[];
    // KL = Σ p_ref (ref − x) − log Z_ref + log Z, since Σ p_ref = 1.
    total += cross! - (refMax! + Math.log(refSum!)) + (max! + Math.log(sum!));
  }
  return count === 0 ? 0 : total / count;
}

function checkKlInputs(
  ref: Tensor,
  rows: number,
  vocab: number,
  mask: Uint8Array | undefined,
  what: string,
): void {
  if (ref.size !== rows * vocab || ref.shape[ref.shape.length - 1] !== vocab) {
    throw new Error(
      `${what}: reference ${formatShape(ref.shape)} does not match ${rows} rows of ${vocab} logits`,
    );
  }
  if (mask && mask.length !== rows)
    throw new Error(`${what}: mask has ${mask.length} entries for ${rows} rows`);
}

/**
 * Mean over rows (those with mask[row] = 1, all rows without a mask) of KL(softmax(ref) ‖ softmax(logits)),
 * logits [..., V]. `refLogits` gets no gradient (it is the anchor). No selected rows → 0.
 */
export function klDiv(refLogits: Tensor, logits: Tensor, mask?: Uint8Array): Tensor {
  const { rows, vocab } = vocabOf(logits, 'klDiv');
  checkKlInputs(refLogits, rows, vocab, mask, 'klDiv');
  const grad = tracksGrad(logits) ? allocUninit(logits.size) : null;
  const loss = Tensor.scalar(klRows(refLogits.data, logits.data, vocab, mask, grad));
  if (grad) {
    record(loss, [logits], (g) => {
      scaleInPlace(grad, g[0]!);
      giveGrad(logits, grad);
    });
  }
  return loss;
}

/**
 * klDiv(refLogits, linear(x, weight), mask) without a logits tensor (x [..., D], weight [V, D]): the
 * KL anchor of a fine-tuned LM head to a reference model's logits [N, V].
 */
export function linearKlDiv(refLogits: Tensor, x: Tensor, weight: Tensor, mask?: Uint8Array): Tensor {
  const dim = x.shape[x.shape.length - 1];
  if (weight.shape.length !== 2 || weight.shape[1] !== dim) {
    throw new Error(
      `linearKlDiv: weight ${formatShape(weight.shape)} does not take input ${formatShape(x.shape)}`,
    );
  }
  const vocab = weight.shape[0]!;
  const rows = x.size / dim!;
  checkKlInputs(refLogits, rows, vocab, mask, 'linearKlDiv');
  const xDims = [rows, dim!];
  const logits = allocUninit(rows * vocab);
  gemm(x.data, xDims, weight.data, weight.shape, { transB: true }, logits);
  const tracking = tracksGrad(x, weight);
  // The gradient with respect to the logits replaces them in place.
  const loss = Tensor.scalar(klRows(refLogits.data, logits, vocab, mask, tracking ? logits : null));
  if (!tracking) {
    release(logits);
    return loss;
  }
  const dLogits = logits;
  record(
    loss,
    [x, weight],
    (g) => {
      const lDims = [rows, vocab];
      if (x.requiresGrad) {
        const gx = allocUninit(x.size);
        gemm(dLogits, lDims, weight.data, weight.shape, { alpha: g[0]! }, gx);
        giveGrad(x, gx);
      }
      if (weight.requiresGrad) {
        const gw = allocUninit(weight.size);
        gemm(dLogits, lDims, x.data, xDims, { transA: true, alpha: g[0]! }, gw);
        giveGrad(weight, gw);
      }
    },
    [dLogits],
  );
  return loss;
}
