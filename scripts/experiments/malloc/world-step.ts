// Median time of one fixed training step of the world model (64 pretraining lines of 60–74 tokens,
// forward + backward + clip + AdamW), for A/B runs of environment settings. Usage (repository root):
//   node --import tsx scripts/experiments/malloc/world-step.ts [STEPS=20]
import { encodeRecord, collate } from '../../../src/train/batches.ts';
import { DEFAULT_WORLD_MODEL, worldModelConfig } from '../../../src/train/world-model.ts';
import { chain, clipByGlobalNorm, adamw, scaleByLearningRate } from '../../../src/tensor/optim.ts';
import { loadWorld } from '../../../src/data/world.ts';
import { loadTokenizer } from '../../../src/io/tokenizer.ts';
import { Qwen2ForCausalLM } from '../../../src/nn/qwen2.ts';
import { textEncoder } from '../../../src/cli/commands/train.ts';

const steps = Number(process.argv[2] ?? 20);
const worldDir = 'models/world-base/world';
const rlcpTokenizer = await loadTokenizer(worldDir);
const tokenizer = textEncoder(rlcpTokenizer);
const model = Qwen2ForCausalLM.initRandom(worldModelConfig(DEFAULT_WORLD_MODEL, rlcpTokenizer), 1);
const examples = loadWorld(worldDir)
  .pretrain.slice(0, 2000)
  .map((r) => encodeRecord(tokenizer, r, 512))
  .filter((e) => e.ids.length >= 60 && e.ids.length <= 74)
  .slice(0, 64);
const batch = collate(examples, tokenizer.padTokenId);
const optimizer = chain(clipByGlobalNorm(1), adamw({ weightDecay: 0.01 }), scaleByLearningRate(1e-3));
const params = model.trainableParameters();
const times: number[] = [];
for (let s = 0; s < steps; s++) {
  const start = performance.now();
  const { loss } = model.forward(batch.ids, {
    batch: batch.batch,
    seq: batch.seq,
    attentionMask: batch.attentionMask,
    labels: batch.labels,
  });
  loss!.backward({ releaseActivations: true });
  optimizer.step(params);
  times.push(performance.now() - start);
}
const timed = times.slice(5).sort((a, b) => a - b);
console.log(`B×T ${batch.batch}×${batch.seq}: median step ${timed[timed.length >> 1]!.toFixed(1)} ms`);
