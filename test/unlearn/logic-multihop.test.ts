import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { dataFromWorld } from '../../src/unlearn/data.ts';
import { loadUnlearnData } from '../../src/unlearn/run.ts';
import { tinyConfig, tinyFixture } from './helpers.ts';

const fx = await tinyFixture();
after(() => rmSync(fx.root, { recursive: true, force: true }));
const options = { ragVariants: 1, ragCounterfactual: 0, seed: 0 };

test('anchors.logic.multihop adds the world’s multihop_train records to the logic stream', () => {
  const plain = dataFromWorld(fx.world, options);
  const withHops = dataFromWorld(fx.world, { ...options, logicMultihop: true });
  assert.equal(plain.logic.length, fx.world.logicTrain.length);
  assert.equal(withHops.logic.length, fx.world.logicTrain.length + fx.world.multihopTrain.length);
  const last = fx.world.multihopTrain.at(-1)!;
  assert.deepEqual(withHops.logic.at(-1), { prompt: last.prompt, completion: last.completion });
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
});
