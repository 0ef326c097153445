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
import { expShifted, rowMax, sumExpShifted } from '../kernels/rows.ts';

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

/**
 * Mean cross-entropy of rows of `logits` ([N, V], in place) against targets: returns the loss sum over
 * non-ignored rows divided by their count, and (if `grad` is given) writes the gradient there.
 */
function crossEntropyRows(
  logits: Float32Array,
  vocab: number,
  targets: Int32Array,
  ignoreIndex: number,
  grad: Float32Array | null,
  what: string,
): number {
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
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const start = r * vocab;
    const end = start + vocab;
    const t = targets[r]!;
    if (t === ignoreIndex) {
      grad?.fill(0, start, end);
      continue;
    }
    const max = rowMax(logits, start, end);
    const targetLogit = logits[start + t]!; // read first: grad may overwrite logits in place
    const sum = grad ? expShifted(logits, start, end, max, grad) : sumExpShifted(logits, start, end, max);
    total += max + Math.log(sum) - targetLogit;
    if (grad) {
      const inv = 1 / (sum * count);
      for (let j = start; j < end; j++) grad[j]! *= inv;
      grad[start + t]! -= 1 / count;
    }
  }
  return count === 0 ? 0 : total / count;
}

function scaleInPlace(buf: Float32Array, s: number): void {
  if (s !== 1) for (let i = 0; i < buf.length; i++) buf[i]! *= s;
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
  const loss = Tensor.scalar(
    crossEntropyRows(logits.data, vocab, targets, opts.ignoreIndex ?? -100, grad, 'crossEntropy'),
  );
  if (grad) {
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
  const logits = allocUninit(rows * vocab);
  gemm(x.data, xDims, weight.data, weight.shape, { transB: true }, logits);
  const tracking = tracksGrad(x, weight);
  // The gradient overwrites the logits row by row (each row is read before it is written).
  const value = crossEntropyRows(
    logits,
    vocab,
    targets,
    opts.ignoreIndex ?? -100,
    tracking ? logits : null,
    'linearCrossEntropy',
  );
  const loss = Tensor.scalar(value);
  if (!tracking) {
    release(logits);
    return loss;
  }
  const dLogits = logits;
  record(
    loss,
    [x, weight],
    (g) => {
      const s = g[0]!;
      const lDims = [rows, vocab];
      if (x.requiresGrad) {
        const gx = allocUninit(x.size);
        gemm(dLogits, lDims, weight.data, weight.shape, { alpha: s }, gx);
        giveGrad(x, gx);
      }
      if (weight.requiresGrad) {
        const gw = allocUninit(weight.size);
        gemm(dLogits, lDims, x.data, xDims, { transA: true, alpha: s }, gw);
        giveGrad(weight, gw);
      }
    },
    [dLogits],
  );
  return loss;
}

/**
 * Mean over rows (those with mask[row] = 1, all rows without a mask) of KL(softmax(ref) ‖ softmax(logits)),
 * logits [..., V]. `refLogits` gets no gradient (it is the anchor). No selected rows → 0.
 */
export function klDiv(refLogits: Tensor, logits: Tensor, mask?: Uint8Array): Tensor {
  const { rows, vocab } = vocabOf(logits, 'klDiv');
  if (refLogits.size !== logits.size || refLogits.shape[refLogits.shape.length - 1] !== vocab) {
    throw new Error(
      `klDiv: reference ${formatShape(refLogits.shape)} and logits ${formatShape(logits.shape)} differ`,
    );
  }
  if (mask && mask.length !== rows)
    throw new Error(`klDiv: mask has ${mask.length} entries for ${rows} rows`);
  let count = 0;
  for (let r = 0; r < rows; r++) if (!mask || mask[r] !== 0) count++;
  const x = logits.data;
  const ref = refLogits.data;
  const tracking = tracksGrad(logits);
  const grad = tracking ? allocUninit(logits.size) : null;
  const refProbs = allocUninit(vocab);
  const probs = allocUninit(vocab);
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const start = r * vocab;
    const end = start + vocab;
    if (mask && mask[r] === 0) {
      grad?.fill(0, start, end);
      continue;
    }
    const refMax = rowMax(ref, start, end);
    const refSum = expShifted(ref, start, end, refMax, refProbs, 0);
    const max = rowMax(x, start, end);
    const sum = expShifted(x, start, end, max, probs, 0);
    // KL = Σ p_ref (ref − x) − log Z_ref + log Z, since Σ p_ref = 1; written against the row offset.
    const refInv = 1 / refSum;
    let cross = 0;
    for (let j = 0; j < vocab; j++) cross += refProbs[j]! * refInv * (ref[start + j]! - x[start + j]!);
    total += cross - (refMax + Math.log(refSum)) + (max + Math.log(sum));
    if (grad) {
      const inv = 1 / sum;
      for (let j = 0; j < vocab; j++) {
        grad[start + j] = (probs[j]! * inv - refProbs[j]! * refInv) / count;
      }
    }
  }
  release(refProbs);
  release(probs);
  const loss = Tensor.scalar(count === 0 ? 0 : total / count);
  if (grad) {
    record(loss, [logits], (g) => {
      scaleInPlace(grad, g[0]!);
      giveGrad(logits, grad);
    });
  }
  return loss;
}
