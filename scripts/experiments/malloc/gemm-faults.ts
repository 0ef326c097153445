// Minor page faults and time per native GEMM ([1024, 128] · [384, 128]ᵀ, 200 calls after 5 warm-up), to
// see onnxruntime-node's per-call output copies land on fresh pages. Usage (repository root):
//   node --import tsx scripts/experiments/malloc/gemm-faults.ts
import { gemm } from '../../../src/tensor/kernels/gemm.ts';

const [m, k, n] = [1024, 128, 384];
const a = new Float32Array(m * k).fill(0.1);
const b = new Float32Array(n * k).fill(0.2);
const out = new Float32Array(m * n);
const call = () => gemm(a, [m, k], b, [n, k], { transB: true }, out);
for (let i = 0; i < 5; i++) call();
const faults = process.resourceUsage().minorPageFault;
const start = performance.now();
for (let i = 0; i < 200; i++) call();
const perCall = (process.resourceUsage().minorPageFault - faults) / 200;
console.log(`${perCall.toFixed(1)} faults/call, ${((performance.now() - start) / 200).toFixed(2)} ms/call`);
