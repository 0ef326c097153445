// Decode-step time of rlcp's generate() alone at Qwen2.5-0.5B's shape (random init, in memory): B prompts =
// a shared P-token prefix + R own tokens, N new tokens, sharePrefix. Usage (bench/README.md, gsm8k-0.5b):
//   node --import tsx scripts/experiments/decode-kv/generate-steps.ts 32 800 16 24
// The before/after of the in-place KV cache ran this twice in one locked session, once with
// KVCache.append/update restored to copying the used part out (their bodies at 5ecbea2).
import { Qwen2ForCausalLM } from '../../../src/nn/qwen2.ts';
import { generate } from '../../../src/nn/generate.ts';
import { parseModelConfig } from '../../../src/io/config.ts';
import { setNumThreads } from '../../../src/tensor/kernels/onnx.ts';
import { Rng } from '../../../src/tensor/random.ts';
import { QWEN25_05B } from '../../../bench/sizes.ts';
const [B, P, R, N] = process.argv.slice(2).map(Number) as [number, number, number, number];
setNumThreads(2);
const model = Qwen2ForCausalLM.initRandom(
  parseModelConfig(QWEN25_05B as unknown as Record<string, unknown>),
  1,
);
const rng = new Rng(3);
const prefix = Array.from({ length: P }, () => rng.int(151000));
const prompts = Array.from({ length: B }, () => [
  ...prefix,
  ...Array.from({ length: R }, () => rng.int(151000)),
]);
const marks: number[] = [];
const t0 = performance.now();
generate(model, prompts, {
  maxNewTokens: N,
  sharePrefix: true,
  onForward: () => marks.push(performance.now()),
});
const steps = marks
  .slice(1)
  .map((t, i) => t - marks[i]!)
  .sort((a, b) => a - b);
console.log(
  `B ${B} P ${P} R ${R} N ${N}: prefill ${(marks[0]! - t0).toFixed(0)} ms, decode step median ${steps[steps.length >> 1]!.toFixed(1)} ms (min ${steps[0]!.toFixed(1)}, max ${steps[steps.length - 1]!.toFixed(1)})`,
);
