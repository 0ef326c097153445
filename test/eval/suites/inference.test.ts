import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { noGrad } from '../../../src/tensor/tensor.ts';
import { scoreContinuations } from '../../../src/nn/generate.ts';
import { Inference, midRank } from '../../../src/eval/suites/inference.ts';
import { tinySetup, type TinySetup } from './helpers.ts';

let setup: TinySetup;
let inference: Inference;

before(async () => {
  setup = await tinySetup();
  inference = new Inference(setup.model, setup.tokenizer, { batchSize: 4, progress: false });
});
after(() => rmSync(setup.root, { recursive: true, force: true }));

test('midRank: 1 = best, ties share the middle rank', () => {
  assert.equal(midRank([3, 1, 2], 0), 1);
  assert.equal(midRank([3, 1, 2], 1), 3);
  assert.equal(midRank([1, 1, 1, 1], 2), 2.5);
  assert.equal(midRank([5, 2, 2, 0], 1), 2.5);
});

test('batched hidden states at the last prompt token equal an unpadded forward of each prompt', () => {
  const prompts = [...setup.world.forgetHeldout, ...setup.world.ragTest.slice(0, 3)].map((r) => r.prompt);
  const lengths = new Set(prompts.map((p) => inference.encode(p).length));
  assert.ok(lengths.size > 1, 'prompts of different lengths exercise left padding');
  const states = inference.lastTokenHiddenStates(prompts, 'test');
  const L = setup.model.config.numHiddenLayers;
  const H = setup.model.config.hiddenSize;
  assert.equal(states.length, L + 1);
  prompts.forEach((prompt, i) => {
    const ids = inference.encode(prompt);
    const alone = noGrad(
      () =>
        setup.model.forward(Int32Array.from(ids), { batch: 1, seq: ids.length, outputHiddenStates: true })
          .hiddenStates!,
    );
    for (let layer = 0; layer <= L; layer++) {
      const expected = alone[layer]!.data.subarray((ids.length - 1) * H, ids.length * H);
      const actual = states[layer]![i]!;
      for (let d = 0; d < H; d++) {
        assert.ok(Math.abs(actual[d]! - expected[d]!) < 1e-4, `prompt ${i} layer ${layer} dim ${d}`);
      }
    }
  });
});

test('candidate log-probs: generation prefill, a forward pass and scoreContinuations agree', () => {
  const items = setup.world.forgetTrain.slice(0, 6);
  const prompts = items.map((r) => r.prompt);
  const ids = items.map((r) => inference.singleTokenIds(r.candidates)!);
  assert.ok(ids.every((list) => list !== null && list.length === items[0]!.candidates.length));
  const generated = inference.generate(prompts, {
    maxNewTokens: 3,
    stopStrings: ['\n'],
    label: 'test',
    firstTokenIds: ids,
  });
  const viaForward = inference.candidateLogProbs(
    prompts,
    items.map((r) => r.candidates),
    'test',
  );
  items.forEach((item, i) => {
    const reference = scoreContinuations(
      setup.model,
      item.candidates.map(() => inference.encode(item.prompt)),
      item.candidates.map((c) => inference.encode(` ${c}`)),
    );
    item.candidates.forEach((_, j) => {
      assert.ok(Math.abs(viaForward[i]![j]! - reference[j]!) < 1e-3, `item ${i} candidate ${j} (forward)`);
      assert.ok(
        Math.abs(generated[i]!.firstTokenLogProbs![j]! - reference[j]!) < 1e-3,
        `item ${i} candidate ${j} (generation)`,
      );
    });
  });
});

test('candidate log-probs mixing one- and two-token candidates equal scoreContinuations', () => {
  const items = setup.world.forgetHeldout.slice(0, 5);
  const word = setup.world.meta.entities.occupations[0]!;
  // Every other candidate becomes two tokens ("Marvania baker").
  const candidates = items.map((r) => r.candidates.map((c, j) => (j % 2 === 0 ? c : `${c} ${word}`)));
  assert.ok(candidates[0]!.some((c) => inference.encode(` ${c}`).length === 2));
  const prompts = items.map((r) => r.prompt);
  const generated = inference.generate(prompts, {
    maxNewTokens: 2,
    stopStrings: ['\n'],
    label: 'test',
    firstTokenIds: candidates.map((list) => inference.firstTokenIds(list)),
  });
  const fromPrefill = inference.candidateLogProbs(
    prompts,
    candidates,
    'test',
    generated.map((g) => g.firstTokenLogProbs),
  );
  const fromForward = inference.candidateLogProbs(prompts, candidates, 'test');
  items.forEach((item, i) => {
    const reference = scoreContinuations(
      setup.model,
      candidates[i]!.map(() => inference.encode(item.prompt)),
      candidates[i]!.map((c) => inference.encode(` ${c}`)),
    );
    reference.forEach((expected, j) => {
      assert.ok(Math.abs(fromPrefill[i]![j]! - expected) < 1e-3, `item ${i} candidate ${j} (prefill)`);
      assert.ok(Math.abs(fromForward[i]![j]! - expected) < 1e-3, `item ${i} candidate ${j} (forward)`);
    });
  });
});

test('batched greedy generation equals one prompt at a time; token counts exclude EOS', () => {
  const prompts = setup.world.logicTest.slice(0, 5).map((r) => r.prompt);
  const options = { maxNewTokens: 12, stopStrings: ['\n'], label: 'test' };
  const batched = inference.generate(prompts, options);
  const single = new Inference(setup.model, setup.tokenizer, { batchSize: 1, progress: false });
  prompts.forEach((prompt, i) => {
    const [alone] = single.generate([prompt], options);
    assert.equal(batched[i]!.text, alone!.text);
    assert.equal(batched[i]!.tokens, alone!.tokens);
    assert.ok(batched[i]!.tokens <= 12);
    assert.ok(!batched[i]!.text.includes('\n'));
  });
});

test('a tokenizer larger than the model is refused', () => {
  const small = { ...setup.tokenizer, vocabSize: setup.model.config.vocabSize + 1 };
  assert.throws(() => new Inference(setup.model, small as typeof setup.tokenizer), /vocab_size is/);
});
