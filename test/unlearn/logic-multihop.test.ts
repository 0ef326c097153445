import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpoint } from '../../src/train/checkpoint.ts';
import { dataFromWorld } from '../../src/unlearn/data.ts';
import { loadUnlearnData } from '../../src/unlearn/run.ts';
import { metabolize } from '../../src/unlearn/trainer.ts';
import { tinyConfig, tinyFixture } from './helpers.ts';

const fx = await tinyFixture();
after(() => rmSync(fx.root, { recursive: true, force: true }));
const options = { ragVariants: 1, ragCounterfactual: 0, seed: 0 };

test('anchors.logic.multihop reads the world’s multihop_train records for the logic stream', () => {
  const plain = dataFromWorld(fx.world, options);
  const withHops = dataFromWorld(fx.world, { ...options, logicMultihop: true });
  assert.equal(plain.logic.length, fx.world.logicTrain.length);
  assert.equal(plain.multihop.length, 0);
  assert.equal(withHops.logic.length, fx.world.logicTrain.length);
  assert.equal(withHops.multihop.length, fx.world.multihopTrain.length);
  const last = fx.world.multihopTrain.at(-1)!;
  assert.deepEqual(withHops.multihop.at(-1), { prompt: last.prompt, completion: last.completion });
});

test('anchors.logic.multihopBatchSize: pooled (0) or a part of each logic batch of its own (N)', () => {
  const data = dataFromWorld(fx.world, { ...options, logicMultihop: true });
  const samplersAfter = (name: string, multihopBatchSize: number) => {
    const config = tinyConfig({
      steps: 2,
      checkpointEvery: 2,
      eval: { every: 0, atStart: false },
      anchors: { logic: { multihop: true, multihopBatchSize } },
    });
    const runDir = join(fx.root, name);
    metabolize({ model: fx.freshModel(), tokenizer: fx.tokenizer, data, config, runDir, progress: false });
    return loadCheckpoint<{ samplers: Record<string, { epoch: number; cursor: number }> }>(runDir).state
      .samplers;
  };
  // Pooled: one logic sampler over logic + multi-hop records, 2 per step.
  const pooled = samplersAfter('pooled', 0);
  assert.equal(pooled.multihop, undefined);
  assert.equal(pooled.logic!.cursor, 4);
  // Apart: the logic records keep 2 per step and 3 multi-hop records come beside them.
  const apart = samplersAfter('apart', 3);
  assert.equal(apart.logic!.cursor, 4);
  assert.equal(apart.multihop!.cursor, 6);
});

test('anchors.logic.multihop is refused for a record that uses a forget fact, and without a world', () => {
  const forgetId = fx.world.facts.find((f) => f.split === 'forget')!.id;
  const [first, ...rest] = fx.world.multihopTrain;
  const leaky = {
    ...fx.world,
    multihopTrain: [{ ...first!, fact_ids: [...first!.fact_ids, forgetId] }, ...rest],
  };
  assert.throws(
    () => dataFromWorld(leaky, { ...options, logicMultihop: true }),
    new RegExp(
      `anchors\\.logic\\.multihop: multihop_train record ${first!.id} uses the forget fact ${forgetId}`,
    ),
  );
  assert.doesNotThrow(() => dataFromWorld(leaky, options), 'off by default: the records are not read');
  assert.throws(
    () =>
      loadUnlearnData(
        { forget: 'f.jsonl', retain: 'r.jsonl' } as never,
        tinyConfig({ anchors: { logic: { multihop: true } } }),
      ),
    /anchors\.logic\.multihop: the multi-hop records come from a world/,
  );
  assert.throws(
    () =>
      loadUnlearnData({ world: fx.worldDir }, tinyConfig({ anchors: { logic: { multihopBatchSize: 4 } } })),
    /anchors\.logic\.multihopBatchSize: 4 multi-hop records per logic batch need anchors\.logic\.multihop true/,
  );
});
