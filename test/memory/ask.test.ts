import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { ragPrompt } from '../../src/data/format.ts';
import { loadTokenizer } from '../../src/io/tokenizer.ts';
import { generate } from '../../src/nn/generate.ts';
import { Qwen2ForCausalLM } from '../../src/nn/qwen2.ts';
import { ModelAnswerer, askRam, displayAnswer, ramPrompt } from '../../src/memory/ask.ts';
import { FactStore } from '../../src/memory/store.ts';
import { FACTS, TEMPLATES, tempDir } from './helpers.ts';
import { factsPath, writeSmallWorld, writeTinyModel } from './model-helpers.ts';

const dir = tempDir();
const world = writeSmallWorld(join(dir, 'world'));
const modelDir = await writeTinyModel(join(dir, 'model'), world.dir);
const db = join(dir, 'ram.db');
{
  const store = FactStore.open(db);
  store.importJsonl(factsPath(world));
  store.close();
}
const questions = world.forgetHeldout.slice(0, 5).map((r) => r.prompt.slice(3, -3));

/** Runs `rlcp ...` in this process, capturing what it prints. */
async function rlcp(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (...parts: unknown[]) => out.push(parts.join(' ') + '\n');
  console.error = (...parts: unknown[]) => err.push(parts.join(' ') + '\n');
  try {
    const code = await main(args);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    console.log = log;
    console.error = error;
  }
}

test('ramPrompt: top-k facts rendered from the store into the RAG format; an edit is read as edited', () => {
  const store = FactStore.open(join(tempDir(), 'ram.db'), { templates: TEMPLATES });
  try {
    store.importFacts({ path: 'x', records: FACTS.length, facts: FACTS, inferredTemplates: {} });
    const question = 'What country is Velora in?';
    const first = ramPrompt(store, question, { k: 2 });
    assert.equal(first.facts.length, 2);
    assert.equal(first.facts[0]!.subject, 'Velora');
    assert.equal(
      first.prompt,
      ragPrompt(
        first.facts.map((f) => f.statement),
        question,
      ),
    );
    assert.match(first.prompt, /^Context: Velora is a city in Marvania\. /);
    store.add({ subject: 'Velora', relation: 'city_country', object: 'Quellon' });
    const edited = ramPrompt(store, question, { k: 1 });
    assert.equal(edited.prompt, `Context: Velora is a city in Quellon.\nQ: ${question}\nA:`);
    // The default context size is the default world's: the asked fact alone.
    assert.deepEqual(
      ramPrompt(store, question).facts.map((f) => [f.subject, f.object]),
      [['Velora', 'Quellon']],
    );
  } finally {
    store.close();
  }
});

test('displayAnswer: the first line, or what follows "The answer is", case kept', () => {
  assert.equal(displayAnswer('Marvania'), 'Marvania');
  assert.equal(displayAnswer(' Marvania.\nQ: more'), 'Marvania');
  assert.equal(displayAnswer('Velora is a city in Marvania. The answer is lumen.'), 'lumen');
  assert.equal(displayAnswer(''), '');
});

test('ModelAnswerer: batched greedy answers equal one-prompt generation, cut at the newline', async () => {
  const model = Qwen2ForCausalLM.fromPretrained(modelDir);
  const tokenizer = await loadTokenizer(modelDir);
  const answerer = new ModelAnswerer(modelDir, model, tokenizer, { batchSize: 3, maxNewTokens: 12 });
  const store = FactStore.open(db, { readonly: true });
  try {
    const prompts = questions.map((q) => ramPrompt(store, q).prompt);
    prompts.push(`Q: ${questions[0]}\nA:`);
    const batched = answerer.answer(prompts);
    assert.equal(batched.length, prompts.length);
    prompts.forEach((prompt, i) => {
      const [single] = generate(model, [tokenizer.encode(prompt, { addSpecialTokens: false })], {
        maxNewTokens: 12,
        eosTokenIds: [tokenizer.eosTokenId!],
        decoder: tokenizer,
        vocabLimit: tokenizer.vocabSize,
      });
      const expected = single!.text!.split('\n')[0]!.trim();
      assert.equal(batched[i], expected, `prompt ${i}`);
      assert.ok(!batched[i]!.includes('\n'));
    });

    // Candidate scores: log-probabilities, one per candidate, the same as scoring each list alone.
    const candidates = world.forgetHeldout.slice(0, 4).map((r) => r.candidates);
    const scores = answerer.candidateLogProbs(prompts.slice(0, 4), candidates);
    assert.equal(scores.length, 4);
    scores.forEach((row, i) => {
      assert.equal(row.length, candidates[i]!.length);
      assert.ok(row.every((s) => s < 0 && Number.isFinite(s)));
      const alone = answerer.candidateLogProbs([prompts[i]!], [candidates[i]!])[0]!;
      row.forEach((s, j) => assert.ok(Math.abs(s - alone[j]!) < 1e-4, `${i}/${j}: ${s} vs ${alone[j]}`));
    });
  } finally {
    store.close();
  }
});

test('ModelAnswerer.load: a checkpoint without tokenizer.json needs tokenizerDir', async () => {
  const checkpoint = await writeTinyModel(join(tempDir(), 'ckpt'), world.dir, { withTokenizer: false });
  await assert.rejects(ModelAnswerer.load(checkpoint), /no tokenizer\.json/);
  const answerer = await ModelAnswerer.load(checkpoint, { tokenizerDir: world.dir });
  assert.equal(answerer.answer([`Q: ${questions[0]}\nA:`], { maxNewTokens: 2 }).length, 1);
});

test('rlcp ask: prints the answer and the facts used; --json gives the prompt and the facts', async () => {
  const answerer = await ModelAnswerer.load(modelDir);
  const store = FactStore.open(db, { readonly: true });
  let expected;
  try {
    expected = askRam(answerer, store, questions.slice(0, 2), { k: 2 });
  } finally {
    store.close();
  }

  const one = await rlcp('ask', '--model', modelDir, '--ram', db, '--k', '2', questions[0]!);
  assert.equal(one.code, 0, one.stderr);
  const lines = one.stdout.trimEnd().split('\n');
  assert.equal(lines[0], expected[0]!.answer);
  assert.deepEqual(
    lines.slice(1),
    expected[0]!.facts.map((f) => `${f.via}\t${f.subject}\t${f.relation}\t${f.object}`),
  );

  // --json right before the questions must not swallow the first one.
  const json = await rlcp(
    'ask',
    '--model',
    modelDir,
    '--ram',
    db,
    '--k',
    '2',
    '--json',
    ...questions.slice(0, 2),
  );
  assert.equal(json.code, 0, json.stderr);
  const records = json.stdout
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as { question: string; answer: string; prompt: string; facts: unknown[] });
  assert.equal(records.length, 2);
  records.forEach((r, i) => {
    assert.equal(r.question, questions[i]);
    assert.equal(r.prompt, expected[i]!.prompt);
    assert.equal(r.answer, expected[i]!.answer);
    assert.equal(r.facts.length, 2);
  });

  const missing = await rlcp('ask', '--model', modelDir, '--ram', join(dir, 'none.db'), 'Where?');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /none\.db: fact store not found/);
});
