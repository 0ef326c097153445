// LoRA low-rank term at the step's shapes: before (a GEMM with k = r into a temporary, then the bias add and
// a second add) against lowRankAdd (one pass).
// Usage: flock /work/cpu.lock node --import tsx scripts/experiments/lowrank-add/micro.ts
import { nativeKernels } from '../../../src/tensor/kernels/native.ts';
import { gemm } from '../../../src/tensor/kernels/gemm.ts';
import { setNumThreads } from '../../../src/tensor/kernels/onnx.ts';
setNumThreads(2);
const k = nativeKernels();
const rank = 8;
for (const [rows, cols] of [
  [384, 896],
  [384, 4864],
  [768, 128],
  [320, 4864],
] as const) {
  const y = new Float32Array(rows * cols).fill(0.5);
  const u = new Float32Array(rows * rank).map(() => Math.random());
  const b = new Float32Array(cols * rank).map(() => Math.random());
  const bias = new Float32Array(cols).fill(0.1);
  const low = new Float32Array(rows * cols);
  const time = (f: () => void) => {
    for (let i = 0; i < 3; i++) f();
    const t = performance.now();
    for (let i = 0; i < 50; i++) f();
    return (performance.now() - t) / 50;
  };
  const old = time(() => {
    k.binary(0, y, bias, y);
    gemm(u, [rows, rank], b, [cols, rank], { transB: true, alpha: 2 }, low);
    k.binary(0, y, low, y);
  });
  const fused = time(() => k.lowRankAdd(y, u, b, rank, 2, bias, true));
  console.log(`${rows}x${cols}: old ${old.toFixed(3)} ms, fused ${fused.toFixed(3)} ms`);
}
