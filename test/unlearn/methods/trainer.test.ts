import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { MetricsLog } from '../../../src/train/run-dir.ts';
import { dataFromWorld } from '../../../src/unlearn/data.ts';
import { metabolize } from '../../../src/unlearn/trainer.ts';
import type { UnlearnConfig } from '../../../src/unlearn/config.ts';
import { tinyConfig, tinyFixture, weights } from '../helpers.ts';

const fx = await tinyFixture();
after(() => rmSync(fx.root, { recursive: true, force: true }));

function run(name: string, config: UnlearnConfig) {
  const data = dataFromWorld(fx.world, { ragVariants: 1, ragCounterfactual: 1, seed: 0 });
  const result = metabolize({
    model: fx.freshModel(),
    tokenizer: fx.tokenizer,
    data,
    config,
    runDir: join(fx.root, name),
    progress: false,
  });
  return { result, records: new MetricsLog(join(fx.root, name)).read() };
}

test('RMU trains only the MLPs of layers ℓ−2 … ℓ and moves the forget states toward c·u', () => {
  const config = tinyConfig({
    method: 'rmu',
    steps: 6,
    optimizer: { lr: 3e-2, warmupSteps: 0 },
    rmu: { layer: 1, steeringCoeff: 5, alpha: 1 },
    eval: { every: 0, atStart: false },
  });
  const { result, records } = run('rmu', config);
  const before = weights(fx.freshModel());
  for (const [name, w] of weights(result.model)) {
    const trains = /^model\.layers\.[01]\.mlp\./.test(name);
    assert.equal(
      w.some((v, i) => v !== before.get(name)![i]),
      trains,
      name,
    );
  }
  const forget = records.filter((r) => 'loss_rmu_forget' in r).map((r) => r.loss_rmu_forget!);
  assert.ok(forget.at(-1)! < forget[0]!, `forget MSE falls: ${forget.join(', ')}`);
  assert.ok(records.some((r) => 'loss_rmu_retain' in r));
  assert.throws(
    () => run('rmu-bad', { ...config, rmu: { ...config.rmu, layer: 2 } }),
    /rmu\.layer: decoder layer 2 is outside the model/,
  );
});

test('SimNPO lowers its loss on the forget answers with no reference model', () => {
  // An untrained model gives every answer log p ≈ −log V, where softplus(β·ℓ) is flat: the margin γ moves
  // the loss into its active range, and the anchors are off so the forget term alone trains.
  const config = tinyConfig({
    method: 'simnpo',
    steps: 6,
    simnpo: { gamma: 20 },
    anchors: { logic: { weight: 0 }, retain: { weight: 0 }, rag: { weight: 0 } },
    optimizer: { lr: 3e-2, warmupSteps: 0 },
    eval: { every: 0, atStart: false },
  });
  const { records } = run('simnpo', config);
  const losses = records.filter((r) => 'loss_forget' in r).map((r) => r.loss_forget!);
  assert.ok(losses.at(-1)! < losses[0]!, `SimNPO loss falls: ${losses.join(', ')}`);
});
