import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { derivableFacts } from '../../src/data/derivable.ts';
import { readJson } from '../../src/io/jsonl.ts';
import { generateWorld, loadWorld, writeWorld, type World } from '../../src/data/world.ts';
import { resolveWorldConfig } from '../../src/data/world-config.ts';

let root: string;
let world: World;
const shipped = resolveWorldConfig(readJson('configs/world-cot.json'), 'configs/world-cot.json');

before(() => {
  root = mkdtempSync(join(tmpdir(), 'rlcp-derivable-'));
  writeWorld(join(root, 'cot'), generateWorld(3, shipped));
  world = loadWorld(join(root, 'cot'));
});

after(() => rmSync(root, { recursive: true, force: true }));

test('without the optional keys the config (and so world.json) has no trace of them', () => {
  const plain = resolveWorldConfig({});
  assert.equal('derivable' in plain, false);
  assert.equal('directSteps' in plain.logic, false);
  assert.equal('oneStepFraction' in plain.logic, false);
  assert.deepEqual(resolveWorldConfig({ derivable: {} }).derivable, { continents: 6, chainFraction: 1 });
  assert.equal(resolveWorldConfig({ logic: { directSteps: 2 } }).logic.directSteps, 2);
  assert.equal(resolveWorldConfig({ logic: { oneStepFraction: 0.3 } }).logic.oneStepFraction, 0.3);
  assert.throws(
    () => resolveWorldConfig({ logic: { oneStepFraction: 1.5 } }, 'c.json'),
    /c\.json: "logic\.oneStepFraction" must be a number in \[0, 1\], got 1\.5/,
  );
  assert.throws(
    () => resolveWorldConfig({ logic: { oneStepFraction: 0.5, threeStepFraction: 0.6 } }, 'c.json'),
    /c\.json: logic\.oneStepFraction \(0\.5\) \+ logic\.threeStepFraction \(0\.6\) must not exceed 1/,
  );
  assert.throws(
    () => resolveWorldConfig({ derivable: { continents: 1 } }, 'c.json'),
    /c\.json: "derivable\.continents"/,
  );
  assert.throws(
    () => resolveWorldConfig({ derivable: { regions: 3 } }, 'c.json'),
    /unknown config key "derivable\.regions"/,
  );
  assert.throws(
    () => resolveWorldConfig({ countries: 4, forgetFacts: 2, derivable: { continents: 5 } }, 'c.json'),
    /c\.json: derivable\.continents \(5\) must not exceed countries \(4\)/,
  );
});

test('derivable world: composite facts are the forget set, derivable from retain links', () => {
  const composite = world.facts.filter((f) => f.relation === 'city_continent');
  const cities = world.facts.filter((f) => f.relation === 'city_country');
  assert.equal(composite.length, cities.length);
  assert.equal(world.meta.forget.relation, 'city_continent');
  assert.equal(world.meta.forget.candidates, 6);
  assert.ok(world.facts.filter((f) => f.split === 'forget').every((f) => f.relation === 'city_continent'));
  assert.ok(cities.every((f) => f.split === 'retain'));
  const chains = derivableFacts(world.facts, 'w');
  assert.equal(chains.length, composite.length);
  for (const chain of chains) {
    assert.equal(chain.firstLink.split, 'retain');
    assert.equal(chain.secondLink.split, 'retain');
  }
  // Every continent holds a country.
  assert.equal(new Set(world.meta.entities.countries.map((c) => c.continent)).size, 6);
  assert.ok(world.forgetHeldout.every((r) => r.relation === 'city_continent'));
});

test('derivable world: every retain city has one step-by-step line, forget cities none, in both mixes', () => {
  const chainLines = (lines: World['pretrain']) =>
    lines.filter((l) => 'text' in l && l.text.includes('Step by step:') && l.text.includes('continent'));
  const lines = chainLines(world.pretrain);
  const retain = world.facts.filter((f) => f.relation === 'city_continent' && f.split === 'retain');
  assert.equal(lines.length, retain.length);
  const forgetCities = world.facts.filter((f) => f.split === 'forget').map((f) => f.subject);
  for (const line of lines) {
    const text = (line as { text: string }).text;
    assert.ok(!forgetCities.some((c) => text.includes(` ${c} `)), text);
    assert.match(
      text,
      /^Q: .*\nA: Step by step: (\w+) is a city in (\w+)\. \2 is a country in (\w+)\. The answer is \3\.$/,
    );
  }
  assert.equal(chainLines(world.pretrainOracle).length, lines.length);
  // The oracle never sees a forget composite fact, neither stated nor asked.
  const forgetStatements = world.facts.filter((f) => f.split === 'forget').map((f) => f.statement);
  assert.ok(world.pretrainOracle.every((l) => !('text' in l) || !forgetStatements.includes(l.text)));
});

test('logic.directSteps: problems of ≤ that many steps are direct, longer ones follow cotFraction', () => {
  const directSteps = shipped.logic.directSteps!;
  for (const record of [...world.logicTrain, ...world.logicTest]) {
    assert.equal(record.style, record.steps > directSteps ? 'cot' : 'direct', record.id);
  }
  const cotRate = world.logicTest.filter((r) => r.style === 'cot').length / world.logicTest.length;
  assert.ok(cotRate > 0.3 && cotRate < 0.7, `reference CoT rate ${cotRate}`);
});

test('logic.oneStepFraction with directSteps 1: distinct 1-step problems answered directly in both splits', () => {
  // The 1-step configuration measured in models/world-cot-base/README.md ("1-step direct problems").
  const logic = {
    operandMax: 20,
    resultMax: 40,
    oneStepFraction: 0.6,
    threeStepFraction: 0.2,
    directSteps: 1,
  };
  const config = resolveWorldConfig({ logic: { cotFraction: 1, ...logic }, derivable: {} });
  const { logic_test: testSplit, logic_train: trainSplit } = generateWorld(3, config).splits;
  for (const record of [...testSplit, ...trainSplit]) {
    assert.equal(record.style, record.steps === 1 ? 'direct' : 'cot', record.id);
  }
  const testProblems = testSplit.filter((r) => r.steps === 1).map((r) => r.problem);
  const trainProblems = trainSplit.filter((r) => r.steps === 1).map((r) => r.problem);
  // The test split takes its share first, so about half of it is 1-step problems ...
  assert.ok(testProblems.length >= 0.4 * testSplit.length, `${testProblems.length} 1-step test problems`);
  // ... and training still has hundreds of others to learn the direct answer from.
  assert.ok(trainProblems.length >= 300, `${trainProblems.length} 1-step training problems`);
  assert.equal(new Set([...testProblems, ...trainProblems]).size, testProblems.length + trainProblems.length);
  // Too many problems for the bounds still stops with the existing error.
  assert.throws(
    () => generateWorld(1, resolveWorldConfig({ logic: { ...logic, operandMax: 2, resultMax: 4 } })),
    /cannot find 3200 distinct logic problems with operandMax 2 and resultMax 4/,
  );
});

test('a world whose chain facts contradict its composite facts is refused, naming the fact', () => {
  const dir = join(root, 'contradiction');
  writeWorld(dir, generateWorld(3, shipped));
  const path = join(dir, 'facts.jsonl');
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
  const index = lines.findIndex((l) => l.includes('"relation":"city_continent"'));
  const fact = JSON.parse(lines[index]!) as { id: string; object: string; candidates: string[] };
  const wrong = fact.candidates.find((c) => c !== fact.object)!;
  fact.object = wrong;
  lines[index] = JSON.stringify({
    ...fact,
    statement: `${fact.id.split(':')[1]} is a city on the continent of ${wrong}.`,
  });
  writeFileSync(path, `${lines.join('\n')}\n`);
  assert.throws(
    () => loadWorld(dir),
    new RegExp(
      `facts\\.jsonl: composite fact "${fact.id}" has object "${wrong}", but its chain .* contradicts it`,
    ),
  );
  // A composite fact whose first link is missing is named too.
  const facts = loadWorld(join(root, 'cot')).facts.filter((f) => f.relation !== 'city_country');
  assert.throws(
    () => derivableFacts(facts, 'x'),
    /x: composite fact "city_continent:\w+" has no chain fact "city_country:\w+"/,
  );
});

test('the shipped world-cot folder is exactly `rlcp world --seed 1 --config configs/world-cot.json`', () => {
  const regenerated = generateWorld(1, shipped);
  const folder = loadWorld('models/world-cot-base/world');
  assert.deepEqual(folder.meta, JSON.parse(JSON.stringify(regenerated.meta)));
  assert.deepEqual(folder.pretrain, regenerated.pretrain);
});
