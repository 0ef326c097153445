// Compute of a regen run beside the oracle's pretraining, in tokens forwarded (every position of every
// sequence of a batch, padding excluded): the oracle's two stages (models/world-oracle/train_config.json)
// draw `batchSize` lines of pretrain_oracle.jsonl per step; a regen step draws the anchor streams' batches
// (and the fact stream's when a forget term is on), and the teacher's logits are one forward pass over the
// anchor records before training. Expected tokens per step = Σ batch × mean record length. Usage:
//   node --import tsx scripts/experiments/regen/compute.ts [--world W] [--oracle DIR] RUN_DIR…
// (defaults: models/world-base/world, models/world-oracle)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadWorld } from '../../../src/data/world.ts';
import { loadTokenizer } from '../../../src/io/tokenizer.ts';
import { encodeRecord, type TrainRecord } from '../../../src/train/batches.ts';
import { readJson } from '../../../src/io/jsonl.ts';
import { loadUnlearnData, unlearnTokenizer, type RunConfigFile } from '../../../src/unlearn/run.ts';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const [value] = args.splice(i, 2).slice(1);
  if (value === undefined) throw new Error(`--${name} needs a value`);
  return value;
};
const world = flag('world', 'models/world-base/world');
const oracle = flag('oracle', 'models/world-oracle');
const tokenizer = unlearnTokenizer(await loadTokenizer(world));
const meanLength = (records: readonly TrainRecord[]) =>
  records.reduce((n, r) => n + encodeRecord(tokenizer, r, 1 << 20).ids.length, 0) / records.length;
const sumLength = (records: readonly TrainRecord[]) => meanLength(records) * records.length;

const oracleStages = readJson<{ stages: { steps: number; batchSize: number }[] }>(
  join(oracle, 'train_config.json'),
).stages;
const oracleLines = readFileSync(join(world, 'pretrain_oracle.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => {
    const r = JSON.parse(l) as { text?: string; prompt?: string; completion?: string };
    return r.text !== undefined ? { text: r.text } : { prompt: r.prompt!, completion: r.completion! };
  });
const oracleSteps = oracleStages.reduce((n, s) => n + s.steps, 0);
const oracleTokens = oracleStages.reduce((n, s) => n + s.steps * s.batchSize * meanLength(oracleLines), 0);
console.log(
  `oracle pretraining: ${oracleSteps} steps, ${(oracleTokens / 1e6).toFixed(2)} M tokens (${meanLength(oracleLines).toFixed(1)} per line)`,
);
loadWorld(world);
for (const runDir of args) {
  const { config } = readJson<RunConfigFile>(join(runDir, 'config.json'));
  const data = loadUnlearnData({ world }, config);
  const retain = data.retainTrain.map((e) => ({ prompt: e.prompt, completion: ` ${e.answer}` }));
  const { logic, rag } = config.anchors;
  const forgetShare = rag.forgetFraction;
  // Multi-hop records are pooled with the logic records, or a part of each logic batch of their own.
  const apart = logic.multihopBatchSize > 0;
  const logicRecords = apart ? data.logic : [...data.logic, ...data.multihop];
  const perStep =
    logic.batchSize * meanLength(logicRecords) +
    (apart ? logic.multihopBatchSize * meanLength(data.multihop) : 0) +
    config.anchors.retain.batchSize * meanLength(retain) +
    rag.batchSize *
      ((1 - forgetShare) * meanLength(data.ragRetain) + forgetShare * meanLength(data.ragForget)) +
    (config.fact.generic > 0
      ? config.fact.batchSize *
        meanLength(data.forgetTrain.map((e) => ({ prompt: e.prompt, completion: ` ${e.answer}` })))
      : 0);
  const teacher =
    sumLength(data.logic) +
    (data.multihop.length > 0 ? sumLength(data.multihop) : 0) +
    sumLength(retain) +
    sumLength(data.ragRetain) +
    sumLength(data.ragForget);
  const total = perStep * config.steps + teacher;
  const summary = readJson<{ seconds_per_step: number }>(join(runDir, 'summary.json'));
  console.log(
    `${runDir}: ${config.steps} steps × ${perStep.toFixed(0)} tokens + teacher pass ${(teacher / 1e6).toFixed(2)} M = ${(total / 1e6).toFixed(2)} M tokens = ${((100 * total) / oracleTokens).toFixed(1)} % of the oracle's; ${summary.seconds_per_step.toFixed(3)} s/step, ${(summary.seconds_per_step * config.steps).toFixed(0)} s of training`,
  );
}
