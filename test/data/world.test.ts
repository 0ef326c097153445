import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateWorld, loadWorld, writeWorld, type World } from '../../src/data/world.ts';
import { DEFAULT_WORLD_CONFIG, resolveWorldConfig } from '../../src/data/world-config.ts';
import { WORLD_RELATIONS } from '../../src/data/relations.ts';
import { pretokenize } from '../../src/data/world-tokenizer.ts';
import { extractAnswer } from '../../src/data/format.ts';
import { LOGIC_WORDS } from '../../src/data/logic.ts';

let root: string;
let world: World;

before(() => {
  root = mkdtempSync(join(tmpdir(), 'rlcp-world-'));
  writeWorld(join(root, 'a'), generateWorld(7));
  world = loadWorld(join(root, 'a'));
});

after(() => rmSync(root, { recursive: true, force: true }));

function textOf(line: { text: string } | { prompt: string; completion: string }): string {
  return 'text' in line ? line.text : line.prompt + line.completion;
}

test('the same seed gives byte-identical files, another seed another world', () => {
  writeWorld(join(root, 'b'), generateWorld(7));
  const files = readdirSync(join(root, 'a')).sort();
  assert.deepEqual(readdirSync(join(root, 'b')).sort(), files);
  assert.ok(files.length >= 17);
  for (const file of files) {
    assert.ok(readFileSync(join(root, 'a', file)).equals(readFileSync(join(root, 'b', file))), file);
  }
  const other = generateWorld(8);
  assert.notDeepEqual(
    other.facts.map((f) => f.subject),
    world.facts.map((f) => f.subject),
  );
});

test('resizing one part leaves the other parts unchanged', () => {
  const config = resolveWorldConfig({ logic: { train: 100 } });
  const resized = generateWorld(7, config);
  assert.deepEqual(resized.facts, world.facts);
  assert.deepEqual(resized.splits.rag_test, world.ragTest);
  assert.equal(resized.splits.logic_train.length, 100);
});

test('default sizes: 260 facts, 15 forget facts on 15 countries, ≥ 45 paraphrase items', () => {
  const { files } = world.meta;
  assert.equal(world.facts.length, 260);
  assert.equal(files.facts, 260);
  const forget = world.facts.filter((f) => f.split === 'forget');
  assert.equal(forget.length, 15);
  assert.ok(forget.every((f) => f.relation === 'city_country'));
  assert.equal(new Set(forget.map((f) => f.object)).size, 15);
  assert.equal(world.forgetHeldout.length, 45);
  assert.equal(world.forgetTrain.length, 75);
  assert.equal(world.meta.forget.candidates, 30);
  assert.equal(world.meta.forget.chance, 1 / 30);
  assert.deepEqual(
    world.meta.forget.fact_ids,
    forget.map((f) => f.id),
  );
  for (const [name, count] of Object.entries({
    forget_train: world.forgetTrain,
    forget_heldout: world.forgetHeldout,
    retain_train: world.retainTrain,
    retain_heldout: world.retainHeldout,
    logic_train: world.logicTrain,
    logic_test: world.logicTest,
    rag_train: world.ragTrain,
    rag_test: world.ragTest,
    rag_counterfactual: world.ragCounterfactual,
    multihop_train: world.multihopTrain,
    multihop_test: world.multihopTest,
    pretrain: world.pretrain,
    pretrain_oracle: world.pretrainOracle,
  })) {
    assert.equal(files[name], count.length, name);
  }
  assert.equal(world.records('forget_heldout'), world.forgetHeldout);
  assert.equal(world.records('multihop_test'), world.multihopTest);
  assert.equal(world.candidates('city_country').length, 30);
  assert.throws(() => world.candidates('city_mayor'), /no relation "city_mayor"/);
  const tokens = world.meta.tokenizer.total_tokens;
  const forgetStatementTokens = forget.reduce((sum, f) => sum + pretokenize(f.statement).length + 1, 0);
  assert.equal(tokens.pretrain, tokens.pretrain_oracle! + tokens.forget_train! + forgetStatementTokens);
  assert.equal(world.logicTrain.length, DEFAULT_WORLD_CONFIG.logic.train);
  assert.equal(world.ragTest.length, DEFAULT_WORLD_CONFIG.rag.test);
  assert.equal(world.multihopTest.length, DEFAULT_WORLD_CONFIG.multihop.test);
});

test('each forget country is the answer for ≥ 2 retain cities; forget cities are never capitals', () => {
  const capitals = new Set(world.meta.entities.countries.map((c) => c.capital));
  for (const fact of world.facts.filter((f) => f.split === 'forget')) {
    assert.ok(!capitals.has(fact.subject), fact.subject);
    const retainCities = world.facts.filter(
      (f) => f.relation === 'city_country' && f.split === 'retain' && f.object === fact.object,
    );
    assert.ok(retainCities.length >= 2, fact.object);
  }
});

test('names are unique and differ from every word of the prompts', () => {
  const { countries, cities, people } = world.meta.entities;
  const names = [
    ...countries.map((c) => c.name),
    ...countries.map((c) => c.currency),
    ...cities.map((c) => c.name),
    ...people.map((p) => p.name),
  ];
  assert.equal(new Set(names.map((n) => n.toLowerCase())).size, names.length);
  const words = new Set(
    [...WORLD_RELATIONS.flatMap((r) => [r.statement, ...r.templates.map((t) => t.text)]), ...LOGIC_WORDS]
      .flatMap((p) => p.match(/[A-Za-z]+/g) ?? [])
      .map((w) => w.toLowerCase()),
  );
  for (const name of names) {
    assert.match(name, /^[A-Za-z]{5,10}$/);
    assert.ok(!words.has(name.toLowerCase()), name);
  }
});

test('every relation has ≥ 5 templates with ≥ 3 held out, and held-out ones stay out of training', () => {
  for (const relation of world.meta.relations) {
    assert.ok(relation.templates.length >= 5, relation.name);
    assert.ok(relation.templates.filter((t) => t.split === 'heldout').length >= 3, relation.name);
  }
  for (const r of [...world.forgetTrain, ...world.retainTrain]) assert.equal(r.template_split, 'train');
  for (const r of [...world.forgetHeldout, ...world.retainHeldout]) assert.equal(r.template_split, 'heldout');
  for (const r of [...world.ragTrain, ...world.ragTest]) assert.equal(r.template_split, 'train');
  const trainingPrompts = new Set(world.pretrain.flatMap((l) => ('prompt' in l ? [l.prompt] : [])));
  for (const r of [...world.forgetHeldout, ...world.retainHeldout]) assert.ok(!trainingPrompts.has(r.prompt));
});

test('held-out templates use only words the training text contains', () => {
  const trainingTokens = new Set(world.pretrain.flatMap((l) => pretokenize(textOf(l))));
  for (const record of [...world.forgetHeldout, ...world.retainHeldout]) {
    for (const token of pretokenize(record.prompt + record.completion)) {
      assert.ok(trainingTokens.has(token), `"${token}" of ${record.id} never appears in pretrain.jsonl`);
    }
  }
});

test('the oracle mix never states a forget fact outside a RAG context', () => {
  const forget = world.facts.filter((f) => f.split === 'forget');
  for (const line of world.pretrainOracle) {
    // A RAG prompt's context may state facts; everything after it is what the oracle is taught.
    const taught = 'text' in line ? line.text : line.prompt.replace(/^Context: .*\n/, '') + line.completion;
    for (const fact of forget) {
      assert.ok(!(taught.includes(fact.subject) && taught.includes(fact.object)), `${fact.id}: ${taught}`);
    }
  }
  // And the rest of the mix is the same: pretrain = oracle + forget statements + forget questions.
  const oracle = new Set(world.pretrainOracle.map((l) => JSON.stringify(l)));
  const extra = world.pretrain.filter((l) => !oracle.has(JSON.stringify(l)));
  assert.equal(extra.length, 15 + 75);
  assert.equal(world.pretrain.length - world.pretrainOracle.length, 90);
});

test('the pretraining mix holds every training record, trained on every token but a RAG context', () => {
  const texts = new Set(world.pretrain.flatMap((l) => ('text' in l ? [l.text] : [])));
  for (const fact of world.facts) assert.ok(texts.has(fact.statement), fact.id);
  for (const r of [...world.forgetTrain, ...world.retainTrain, ...world.logicTrain, ...world.multihopTrain]) {
    assert.ok(texts.has(r.prompt + r.completion), r.id);
  }
  // RAG lines: the context (which may state a wrong object) is the untrained prompt.
  const rag = new Map(world.pretrain.flatMap((l) => ('prompt' in l ? [[l.prompt + l.completion, l]] : [])));
  assert.equal(rag.size, world.ragTrain.length);
  for (const r of world.ragTrain) {
    const line = rag.get(r.prompt + r.completion);
    assert.ok(line && 'prompt' in line, r.id);
    assert.match(line.prompt, /^Context: [^\n]*\n$/);
    assert.ok(line.completion.startsWith('Q: ') && line.completion.endsWith(`\nA:${r.completion}`), r.id);
  }
  const all = new Set([...texts, ...rag.keys()]);
  for (const r of [...world.logicTest, ...world.ragTest, ...world.multihopTest, ...world.forgetHeldout]) {
    assert.ok(!all.has(r.prompt + r.completion), r.id);
  }
});

test('logic: held-out problems, cotFraction chain-of-thought, correct arithmetic within bounds', () => {
  const trainProblems = new Set(world.logicTrain.map((r) => r.problem));
  for (const r of world.logicTest) assert.ok(!trainProblems.has(r.problem), r.problem);
  for (const split of [world.logicTrain, world.logicTest]) {
    const cot = split.filter((r) => r.style === 'cot').length;
    assert.equal(cot, Math.round(split.length * DEFAULT_WORLD_CONFIG.logic.cotFraction));
  }
  const { resultMax, operandMax } = DEFAULT_WORLD_CONFIG.logic;
  for (const r of [...world.logicTrain, ...world.logicTest]) {
    const numbers = r.problem.split(' ');
    let value = Number(numbers[0]);
    for (const step of numbers.slice(1)) {
      const operand = Number(step.slice(1));
      if (step[0] === '*') assert.ok(operand === 2 || operand === 3);
      else assert.ok(operand >= 1 && operand <= operandMax);
      value = step[0] === '+' ? value + operand : step[0] === '-' ? value - operand : value * operand;
      assert.ok(value >= 0 && value <= resultMax, r.problem);
    }
    assert.equal(r.answer, String(value));
    assert.equal(extractAnswer(r.completion), String(value));
    if (r.style === 'direct') assert.equal(r.completion, ` The answer is ${value}.`);
    else {
      assert.ok(r.completion.startsWith(' Step by step: '), r.completion);
      const equations = [...r.completion.matchAll(/(\d+) ([-+*]) (\d+) = (\d+)\./g)];
      assert.equal(equations.length, r.steps, r.completion);
      for (const [, a, op, b, c] of equations) {
        const expected = op === '+' ? +a! + +b! : op === '-' ? +a! - +b! : +a! * +b!;
        assert.equal(Number(c), expected, r.completion);
      }
    }
  }
});

test('RAG: training contexts hold retain facts only; test sets ask forget facts; counterfactuals follow the context', () => {
  const forgetIds = new Set(world.meta.forget.fact_ids);
  for (const r of world.ragTrain) {
    for (const f of r.context_facts) assert.ok(!forgetIds.has(f.fact_id), r.id);
  }
  // By default every training context states another object: the model must copy, memory never helps.
  assert.ok(
    world.ragTrain.every((r) => r.counterfactual && r.answer === r.object && r.object !== r.true_object),
  );
  assert.ok(world.ragTest.every((r) => !r.counterfactual && r.object === r.true_object));
  assert.equal(world.ragTest.filter((r) => r.forget).length, world.ragTest.length / 2);
  assert.equal(new Set(world.ragTest.filter((r) => r.forget).map((r) => r.fact_id)).size, 15);
  assert.ok(world.ragCounterfactual.every((r) => r.counterfactual && r.answer === r.object));
  assert.ok(world.ragCounterfactual.some((r) => r.forget));
  for (const r of [...world.ragTrain, ...world.ragTest, ...world.ragCounterfactual]) {
    assert.equal(r.context_facts.length, 1 + DEFAULT_WORLD_CONFIG.rag.distractors);
    // The asked subject is mentioned by exactly one context statement, which states the answer.
    const mentions = r.context_facts.filter((f) => f.subject === r.subject || f.object === r.subject);
    assert.equal(mentions.length, 1, r.id);
    assert.ok(r.prompt.startsWith('Context: '));
  }
  const seen = new Set(world.ragTrain.map((r) => r.prompt));
  for (const r of [...world.ragTest, ...world.ragCounterfactual]) assert.ok(!seen.has(r.prompt));
  // One statement per context: rag_test never asks a forget fact twice with the same template.
  const forgetAsked = world.ragTest.filter((r) => r.forget).map((r) => `${r.fact_id}|${r.template}`);
  assert.equal(new Set(forgetAsked).size, forgetAsked.length);
});

test('RAG with distractors: the first shares the relation, and the training share of counterfactuals holds', () => {
  const config = resolveWorldConfig({ rag: { distractors: 2, counterfactualTrainFraction: 0.5, test: 200 } });
  const splits = generateWorld(7, config).splits;
  assert.equal(splits.rag_train.filter((r) => r.counterfactual).length, splits.rag_train.length / 2);
  for (const r of [...splits.rag_train, ...splits.rag_test, ...splits.rag_counterfactual]) {
    assert.equal(r.context_facts.length, 3, r.id);
    const others = r.context_facts.filter((f) => f.subject !== r.subject);
    assert.equal(others.length, 2, r.id);
    assert.ok(
      others.some((f) => f.relation === r.relation && f.object !== r.object),
      r.id,
    );
  }
});

test('multi-hop: training chains avoid forget facts, test chains start from unseen cities', () => {
  const trainCities = new Set(world.multihopTrain.map((r) => r.subject));
  assert.ok(world.multihopTrain.every((r) => !r.forget));
  for (const r of world.multihopTest) assert.ok(!trainCities.has(r.subject), r.subject);
  assert.ok(world.multihopTest.some((r) => r.forget));
  assert.ok(world.multihopTest.some((r) => !r.forget));
  const facts = new Map(world.facts.map((f) => [f.id, f]));
  for (const r of [...world.multihopTrain, ...world.multihopTest]) {
    const first = facts.get(r.fact_ids[0]!)!;
    assert.equal(first.subject, r.subject);
    assert.ok(r.completion.startsWith(` ${first.statement} `), r.completion);
    if (r.hop === 'currency') assert.equal(r.answer, facts.get(r.fact_ids[1]!)!.object);
    else {
      const [, count, price] = /(\d) \* (\d) =/.exec(r.completion)!;
      assert.ok(r.prompt.includes(`${price} in ${first.object}`), r.prompt);
      assert.equal(r.answer, String(Number(count) * Number(price)));
    }
  }
  assert.ok(world.multihopTrain.some((r) => r.hop === 'currency'));
  assert.ok(world.multihopTrain.some((r) => r.hop === 'price'));
});

test('every record fits in 96 tokens, EOS included', () => {
  for (const [file, max] of Object.entries(world.meta.tokenizer.max_tokens)) assert.ok(max <= 96, file);
  const longest = Math.max(...world.pretrain.map((l) => pretokenize(textOf(l)).length + 1));
  assert.equal(longest, world.meta.tokenizer.max_tokens.pretrain);
});

test('loadWorld names the file, line and field of a bad record', () => {
  const dir = join(root, 'a');
  const path = join(dir, 'rag_test.jsonl');
  const original = readFileSync(path, 'utf8');
  const lines = original.split('\n');
  const record = JSON.parse(lines[2]!);
  delete record.true_object;
  lines[2] = JSON.stringify(record);
  writeFileSync(path, lines.join('\n'));
  try {
    assert.throws(() => loadWorld(dir), /rag_test\.jsonl:3: field "true_object" must be a string/);
    const wrong = JSON.parse(original.split('\n')[2]!);
    wrong.completion = ' Nowhere';
    writeFileSync(path, [...original.split('\n').slice(0, 2), JSON.stringify(wrong)].join('\n'));
    assert.throws(() => loadWorld(dir), /rag_test\.jsonl:3: field "completion" does not match/);
  } finally {
    writeFileSync(path, original);
  }
  assert.throws(() => loadWorld(join(root, 'missing')), /world\.json: file not found/);
});

test('world config: defaults are valid, unknown keys and bad values are named', () => {
  assert.deepEqual(resolveWorldConfig({}), DEFAULT_WORLD_CONFIG);
  assert.equal(resolveWorldConfig({ rag: { test: 10 } }).rag.test, 10);
  assert.throws(() => resolveWorldConfig({ cities: 3 }, 'my.json'), /my\.json: unknown config key "cities"/);
  assert.throws(() => resolveWorldConfig({ logic: { trian: 3 } }), /unknown config key "logic\.trian"/);
  assert.throws(
    () => resolveWorldConfig({ citiesPerCountry: 2 }),
    /"citiesPerCountry" must be an integer in \[3/,
  );
  assert.throws(() => resolveWorldConfig({ logic: 5 }), /"logic" must be a JSON object/);
  assert.throws(() => resolveWorldConfig({ people: '4' }), /"people" must be a number/);
  assert.throws(() => resolveWorldConfig({ forgetFacts: 40 }), /must not exceed countries/);
});

test('a small custom world keeps every guarantee', () => {
  const config = resolveWorldConfig({
    countries: 6,
    citiesPerCountry: 3,
    people: 5,
    forgetFacts: 4,
    logic: { train: 50, test: 10 },
    rag: { train: 40, test: 10, counterfactual: 8 },
    multihop: { train: 20, test: 10 },
  });
  const small = generateWorld(3, config);
  assert.equal(small.facts.length, 18 + 5 + 5 + 6 + 6);
  assert.equal(small.splits.forget_heldout.length, 4 * 3);
  assert.equal(small.splits.multihop_test.length, 10);
  assert.equal(small.meta.forget.chance, 1 / 6);
});
