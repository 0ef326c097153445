// Run by native.test.ts in worker threads: SwiGLU and a GEMM on the addon from a second JavaScript thread,
// posting the results back for comparison with the main thread's.
import { parentPort, workerData } from 'node:worker_threads';
import { nativeKernels } from '../../../src/tensor/kernels/native.ts';
import { gemm } from '../../../src/tensor/kernels/gemm.ts';

const { gate, up, rounds } = workerData as { gate: Float32Array; up: Float32Array; rounds: number };
const out = new Float32Array(gate.length);
const product = new Float32Array(256 * 256);
for (let i = 0; i < rounds; i++) {
  nativeKernels().swigluForward(gate, up, out);
  gemm(
    gate.subarray(0, 256 * 256),
    [256, 256],
    up.subarray(0, 256 * 256),
    [256, 256],
    { transB: true },
    product,
  );
}
parentPort!.postMessage({ out, product });
