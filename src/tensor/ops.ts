// Every differentiable op, in one import (see README.md for the contract).
export {
  add,
  sub,
  mul,
  div,
  scale,
  addScalar,
  neg,
  exp,
  log,
  square,
  sqrt,
  silu,
  swiglu,
} from './ops/elementwise.ts';
export { sum, mean } from './ops/reduce.ts';
export { reshape, permute, sliceLast, concat, gatherRows, embedding } from './ops/shape.ts';
export { matmul, linear, loraLinear } from './ops/matmul.ts';
export type { LowRankUpdate } from './ops/matmul.ts';
export { rmsNorm, rope, permuteRope, softmax, logSoftmax, gradReverse, stopGradient } from './ops/nn.ts';
export { attention } from './ops/attention.ts';
export type { AttentionOptions } from './ops/attention.ts';
export { crossEntropy, linearCrossEntropy, klDiv, linearKlDiv } from './ops/losses.ts';
export type { CrossEntropyOptions } from './ops/losses.ts';
