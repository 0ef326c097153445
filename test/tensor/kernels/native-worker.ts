// The work native.test.ts runs on several JavaScript threads at once: SwiGLU and a GEMM on the addon.
// Imported by the test for the main thread's share; run as a worker it posts its results back.
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { nativeKernels } from '../../../src/tensor/kernels/native.ts';
import { gemm } from '../../../src/tensor/kernels/gemm.ts';

export interface WorkerResult {
  out: Float32Array;
  product: Float32Array;
}

/** `rounds` times: swiglu(gate, up) and gate[:256²] · up[:256²]ᵀ as 256 × 256 matrices. */
export function kernelWorkload(gate: Float32Array, up: Float32Array, rounds: number): WorkerResult {
  const out = new Float32Array(gate.length);
  const product = new Float32Array(256 * 256);
  const square = 256 * 256;
  for (let i = 0; i < rounds; i++) {
    nativeKernels().swigluForward(gate, up, out);
    gemm(gate.subarray(0, square), [256, 256], up.subarray(0, square), [256, 256], { transB: true }, product);
  }
  return { out, product };
}

if (!isMainThread) {
  const { gate, up, rounds } = workerData as { gate: Float32Array; up: Float32Array; rounds: number };
  parentPort!.postMessage(kernelWorkload(gate, up, rounds));
}
