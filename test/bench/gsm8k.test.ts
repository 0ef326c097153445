import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from '../../src/cli/args.ts';
import { COT_EXEMPLARS } from '../../src/eval/gsm8k.ts';
import {
  DEFAULT_GSM8K_TEST,
  GSM8K_05B,
  generationFlops,
  gsm8kBenchOptions,
  gsm8kBenchPrompts,
} from '../../bench/gsm8k.ts';
import { PAPER_SIZES, resolveSizes } from '../../bench/sizes.ts';

const withData = (body: (path: string) => void) => {
  const dir = mkdtempSync(join(tmpdir(), 'rlcp-bench-gsm8k-'));
  try {
    const path = join(dir, 'test.jsonl');
    writeFileSync(
      path,
      ['Ann has 2 apples and buys 3. How many?', 'Bob reads 4 pages a day. Pages in 5 days?']
        .map((question, i) => JSON.stringify({ question, answer: `… #### ${[5, 20][i]}` }))
        .join('\n') + '\n',
    );
    body(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

test('gsm8k-0.5b is a size asked for by name', () => {
  assert.ok((PAPER_SIZES as readonly string[]).includes('gsm8k-0.5b'));
  assert.deepEqual(resolveSizes('rlcp-0.5b-lora,gsm8k-0.5b'), ['rlcp-0.5b-lora', 'gsm8k-0.5b']);
  assert.ok(!resolveSizes('all').includes('gsm8k-0.5b' as never));
  assert.throws(
    () => resolveSizes('gsm8k-7b'),
    (e: Error) => e.message.includes('gsm8k-0.5b'),
  );
});

test('gsm8k-0.5b options: defaults 32 prompts × 256 tokens, --prompts / --max-new-tokens / --gsm8k', () => {
  withData((path) => {
    assert.deepEqual(gsm8kBenchOptions(parseArgs(['--gsm8k', path])), {
      data: path,
      prompts: 32,
      maxNewTokens: 256,
    });
    const small = gsm8kBenchOptions(parseArgs(['--gsm8k', path, '--prompts', '2', '--max-new-tokens', '8']));
    assert.deepEqual([small.prompts, small.maxNewTokens], [2, 8]);
    for (const bad of [
      ['--prompts', '0'],
      ['--prompts', '1.5'],
      ['--max-new-tokens', '-3'],
    ]) {
      assert.throws(
        () => gsm8kBenchOptions(parseArgs(['--gsm8k', path, ...bad])),
        (e: Error) => e.message.includes(bad[0]!) && e.message.includes('positive integer'),
      );
    }
    assert.throws(
      () => gsm8kBenchOptions(parseArgs(['--gsm8k', path, '--max-new-tokens', '40000'])),
      /--max-new-tokens 40000: must be below the model's 32768 positions/,
    );
  });
  assert.throws(
    () => gsm8kBenchOptions(parseArgs(['--gsm8k', '/nonexistent/test.jsonl'])),
    /--gsm8k \/nonexistent\/test.jsonl: no such file/,
  );
  assert.ok(DEFAULT_GSM8K_TEST.endsWith('shared/data/gsm8k/test.jsonl'));
});

test('gsm8k-0.5b prompts are the 8-shot CoT prompts of the first questions; too few questions are refused', () => {
  withData((path) => {
    const [first, second] = gsm8kBenchPrompts(path, 2);
    assert.ok(first!.startsWith(`Q: ${COT_EXEMPLARS[0]!.question}\nA: ${COT_EXEMPLARS[0]!.target}\n\n`));
    assert.ok(first!.endsWith('\n\nQ: Ann has 2 apples and buys 3. How many?\nA:'));
    assert.ok(second!.endsWith('Pages in 5 days?\nA:'));
    assert.equal(first!.split('\n\nQ: ').length, 9);
    assert.throws(() => gsm8kBenchPrompts(path, 3), /2 GSM8K questions, --prompts asks for 3/);
  });
});

test('generation FLOPs: the shared prefix once, the rest per row, one decode step per token after the first', () => {
  const c = GSM8K_05B.config;
  const layerParams = 896 * 896 * 2 + 2 * 896 * 128 + 3 * 896 * 4864;
  const head = 2 * 896 * c.vocab_size;
  const attention = (queries: number, keys: number) => 24 * 4 * 14 * queries * keys * 64;
  // One prompt of one token, one new token: the prefill alone (1 query × 1 key of attention).
  const one = generationFlops(1, 0, 1, 1);
  assert.equal(one.decode, 0);
  assert.equal(one.prefill, 24 * 2 * layerParams + attention(1, 1) + head);
  // Three rows sharing a 4-token prefix, 2 tokens each after it, 2 new tokens.
  const three = generationFlops(3, 4, 2, 2);
  assert.equal(
    three.prefill,
    24 * 2 * (4 + 3 * 2) * layerParams + attention(4, 4) + 3 * attention(2, 6) + 3 * head,
  );
  assert.equal(three.decode, 3 * (24 * 2 * layerParams + head + attention(1, 7)));
  assert.equal(three.total, three.prefill + three.decode);
});
