import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noGrad } from '../../src/tensor/tensor.ts';
import { Rng } from '../../src/tensor/random.ts';
import { Qwen2ForCausalLM } from '../../src/nn/qwen2.ts';
import {
  generate,
  leftPad,
  sample,
  scoreContinuations,
  sharedPrefixLength,
  type TokenDecoder,
} from '../../src/nn/generate.ts';
import { relativeError, tinyConfig } from './helpers.ts';

const model = Qwen2ForCausalLM.initRandom(tinyConfig({ eos_token_id: null }), 21);
const VOCAB = model.config.vocabSize;

/** Logits of the next token after `ids`, by a full forward without any cache. */
function recompute(ids: number[]): Float32Array {
  return noGrad(
    () => model.forward(Int32Array.from(ids), { batch: 1, seq: ids.length, logits: 'last' }).logits!.data,
  );
}

/** One letter per token id, so stop strings can be found in decoded text. */
const letters: TokenDecoder = {
  decode: (ids) => ids.map((id) => String.fromCharCode(97 + (id % 26))).join(''),
};

const prompts = [
  [5, 9, 14, 3, 22, 40],
  [7, 1],
  [30, 31, 32, 33],
];

test('KV-cache decoding gives the tokens and logits of full recomputation', () => {
  const [result] = generate(model, [prompts[0]!], { maxNewTokens: 8, outputLogits: true });
  assert.equal(result!.tokens.length, 8);
  assert.equal(result!.stopReason, 'max_new_tokens');
  const context = [...prompts[0]!];
  result!.tokens.forEach((token, step) => {
    const expected = recompute(context);
    const err = relativeError(result!.logits![step]!, expected);
    assert.ok(err <= 1e-4, `step ${step}: relative error ${err}`);
    let best = 0;
    for (let i = 1; i < VOCAB; i++) if (expected[i]! > expected[best]!) best = i;
    assert.equal(token, best, `step ${step}`);
    context.push(token);
  });
  // A random model that repeats one token would make this test weak.
  assert.ok(new Set(result!.tokens).size > 1, `tokens ${result!.tokens}`);
});

test('batched left-padded generation equals per-sequence generation', () => {
  const batched = generate(model, prompts, { maxNewTokens: 6, outputLogits: true });
  prompts.forEach((prompt, b) => {
    const [alone] = generate(model, [prompt], { maxNewTokens: 6, outputLogits: true });
    assert.deepEqual(batched[b]!.tokens, alone!.tokens, `prompt ${b}`);
    batched[b]!.logits!.forEach((row, step) => {
      const err = relativeError(row, alone!.logits![step]!);
      assert.ok(err <= 1e-4, `prompt ${b} step ${step}: relative error ${err}`);
    });
  });
});

test('a shared prompt prefix run once gives the tokens and logits of prefilling every row', () => {
  const exemplars = [12, 4, 50, 8, 8, 19, 3];
  const fewShot = prompts.map((p) => [...exemplars, ...p]);
  assert.equal(sharedPrefixLength(fewShot), exemplars.length);
  const full = generate(model, fewShot, { maxNewTokens: 6, outputLogits: true });
  const shared = generate(model, fewShot, { maxNewTokens: 6, outputLogits: true, sharePrefix: true });
  fewShot.forEach((_, b) => {
    assert.deepEqual(shared[b]!.tokens, full[b]!.tokens, `prompt ${b}`);
    shared[b]!.logits!.forEach((row, step) => {
      const err = relativeError(row, full[b]!.logits![step]!);
      assert.ok(err <= 1e-4, `prompt ${b} step ${step}: relative error ${err}`);
    });
  });
  assert.ok(new Set(full.flatMap((r) => r.tokens)).size > 1);
});

test('sharedPrefixLength leaves every prompt a token of its own', () => {
  assert.equal(
    sharedPrefixLength([
      [1, 2, 3],
      [1, 2, 4, 5],
    ]),
    2,
  );
  assert.equal(
    sharedPrefixLength([
      [1, 2],
      [1, 2, 3],
    ]),
    1,
  );
  assert.equal(
    sharedPrefixLength([
      [7, 1],
      [8, 1],
    ]),
    0,
  );
  assert.equal(
    sharedPrefixLength([
      [1, 2, 3],
      [1, 2, 3],
    ]),
    2,
  );
});

test('EOS and stop strings end a sequence; the others go on', () => {
  const [free] = generate(model, [prompts[0]!], { maxNewTokens: 6, decoder: letters });
  const eos = free!.tokens[2]!;
  const firstEos = free!.tokens.indexOf(eos);
  const [ended] = generate(model, [prompts[0]!], { maxNewTokens: 6, eosTokenIds: [eos], decoder: letters });
  assert.equal(ended!.stopReason, 'eos');
  assert.deepEqual(ended!.tokens, free!.tokens.slice(0, firstEos + 1));

  const text = free!.text!;
  assert.equal(text, letters.decode(free!.tokens));
  const stop = text.slice(3, 5);
  const [stopped, other] = generate(model, [prompts[0]!, prompts[1]!], {
    maxNewTokens: 6,
    decoder: letters,
    stopStrings: [stop],
  });
  assert.equal(stopped!.stopReason, 'stop_string');
  assert.equal(stopped!.text, text.slice(0, text.indexOf(stop)));
  assert.equal(letters.decode(stopped!.tokens), text.slice(0, text.indexOf(stop) + stop.length));
  const [otherAlone] = generate(model, [prompts[1]!], {
    maxNewTokens: 6,
    decoder: letters,
    stopStrings: [stop],
  });
  assert.deepEqual(other, otherAlone);
  assert.throws(() => generate(model, [[1]], { maxNewTokens: 2, stopStrings: ['x'] }), /need a decoder/);
});

test('sampling is reproducible per seed and tiny top-p is greedy', () => {
  const options = { maxNewTokens: 8, temperature: 1.5 };
  const a = generate(model, prompts, { ...options, seed: 1 });
  const b = generate(model, prompts, { ...options, seed: 1 });
  const c = generate(model, prompts, { ...options, seed: 2 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(
    a.map((g) => g.tokens),
    c.map((g) => g.tokens),
  );
  const greedy = generate(model, prompts, { maxNewTokens: 8 });
  const nucleus = generate(model, prompts, { ...options, topP: 1e-6, seed: 3 });
  assert.deepEqual(
    nucleus.map((g) => g.tokens),
    greedy.map((g) => g.tokens),
  );
});

test('sample: frequencies follow softmax(logits / T); top-p drops the tail', () => {
  const logits = Float32Array.from([Math.log(0.5), Math.log(0.3), Math.log(0.2)]);
  const rng = new Rng(42);
  const counts = [0, 0, 0];
  const n = 20000;
  for (let i = 0; i < n; i++) counts[sample(logits, 1, 1, rng)]!++;
  [0.5, 0.3, 0.2].forEach((p, i) =>
    assert.ok(Math.abs(counts[i]! / n - p) < 0.02, `token ${i}: ${counts[i]! / n}`),
  );
  // Temperature 2 flattens: p ∝ sqrt(0.5, 0.3, 0.2).
  const flat = [0, 0, 0];
  for (let i = 0; i < n; i++) flat[sample(logits, 2, 1, rng)]!++;
  const z = Math.sqrt(0.5) + Math.sqrt(0.3) + Math.sqrt(0.2);
  [0.5, 0.3, 0.2].forEach((p, i) => assert.ok(Math.abs(flat[i]! / n - Math.sqrt(p) / z) < 0.02));
  // Top-p 0.7 keeps {0.5, 0.3} renormalised to 5/8, 3/8.
  const nucleus = [0, 0, 0];
  for (let i = 0; i < n; i++) nucleus[sample(logits, 1, 0.7, rng)]!++;
  assert.equal(nucleus[2], 0);
  assert.ok(Math.abs(nucleus[0]! / n - 5 / 8) < 0.02);
});

test('scoreContinuations: sum of log-probs, batched equals one pair at a time', () => {
  const conts = [[11, 12, 13], [4], [50, 2]];
  const scores = scoreContinuations(model, prompts, conts, { batchSize: 3 });
  const single = prompts.map((p, i) => scoreContinuations(model, [p], [conts[i]!])[0]!);
  scores.forEach((s, i) => assert.ok(Math.abs(s - single[i]!) < 1e-4, `pair ${i}: ${s} vs ${single[i]}`));
  // By hand for pair 0: log softmax of recomputed next-token logits.
  let expected = 0;
  const context = [...prompts[0]!];
  for (const token of conts[0]!) {
    const row = recompute(context);
    const max = Math.max(...row);
    expected += row[token]! - max - Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
    context.push(token);
  }
  assert.ok(Math.abs(scores[0]! - expected) < 1e-4, `${scores[0]} vs ${expected}`);
  assert.ok(scores.every((s) => s < 0));
  assert.deepEqual(scoreContinuations(model, [[1]], [[]]), [0]);
  assert.throws(() => scoreContinuations(model, [[]], [[1]]), /prompt 0 is empty/);
});

test('leftPad pads on the left and masks the padding', () => {
  const { ids, mask, seq } = leftPad([[1, 2, 3], [4]], 0);
  assert.equal(seq, 3);
  assert.deepEqual(ids, Int32Array.from([1, 2, 3, 0, 0, 4]));
  assert.deepEqual(mask, Uint8Array.from([1, 1, 1, 0, 0, 1]));
});

test('vocabLimit keeps generation to ids a smaller tokenizer can decode', () => {
  const [limited] = generate(model, [prompts[0]!], { maxNewTokens: 8, vocabLimit: 5 });
  assert.ok(
    limited!.tokens.every((t) => t < 5),
    `tokens ${limited!.tokens}`,
  );
  const first = recompute(prompts[0]!).subarray(0, 5);
  assert.equal(limited!.tokens[0], first.indexOf(Math.max(...first)));
  assert.throws(() => generate(model, [[1]], { maxNewTokens: 1, vocabLimit: VOCAB + 1 }), /vocabLimit/);
});
