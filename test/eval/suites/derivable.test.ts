// The derivable suite on a tiny world with derivable facts and a tiny random model: its items, the
// consistency of its summary with them, its place among the default suites, and its refusal elsewhere.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { generateWorld, loadWorld, writeWorld, type World } from '../../../src/data/world.ts';
import { resolveWorldConfig } from '../../../src/data/world-config.ts';
import { loadTokenizer, type RlcpTokenizer } from '../../../src/io/tokenizer.ts';
import {
  namesLink,
  type DerivableItemResult,
  type DerivableSummary,
} from '../../../src/eval/suites/derivable.ts';
import { evaluateModel } from '../../../src/eval/suites/runner.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { TINY_WORLD, tinyModel, tinySetup } from './helpers.ts';

let root: string;
let world: World;
let tokenizer: RlcpTokenizer;

before(async () => {
  root = tempDir('rlcp-derivable-suite-');
  writeWorld(root, generateWorld(5, resolveWorldConfig({ ...TINY_WORLD, derivable: { continents: 3 } })));
  world = loadWorld(root);
  tokenizer = await loadTokenizer(root);
});
after(() => rmSync(root, { recursive: true, force: true }));

test('namesLink: the link as a whole word before the answer', () => {
  assert.equal(
    namesLink(' Step by step: Velora is a city in Marvania. The answer is Ostra.', 'Marvania'),
    true,
  );
  assert.equal(namesLink(' Ostra', 'Marvania'), false);
  assert.equal(namesLink(' Marvanian', 'Marvania'), false);
  assert.equal(namesLink(' The answer is Marvania.', 'Marvania'), false);
});

test('a world with derivable facts runs the suite by default; items and summary agree', async () => {
  const { aggregate, items } = await evaluateModel({
    model: tinyModel(tokenizer, 1),
    tokenizer,
    world,
    progress: false,
  });
  assert.ok((aggregate.suites as string[]).includes('derivable'));
  const list = items.derivable as DerivableItemResult[];
  // 18 cities × 3 held-out templates; 4 of them are forget cities.
  assert.equal(list.length, 54);
  const forget = list.filter((i) => i.forget);
  assert.equal(forget.length, 12);
  const summary = aggregate.derivable as DerivableSummary;
  assert.equal(summary.forget.n, 12);
  assert.equal(summary.retain.n, 42);
  assert.equal(aggregate.derivable_forget_accuracy, forget.filter((i) => i.correct).length / 12);
  assert.equal(summary.forget.link_rate, forget.filter((i) => i.writes_link).length / 12);
  assert.equal(summary.forget.chain_accuracy, forget.filter((i) => i.chain_correct).length / 12);
  for (const item of list) {
    const composite = world.facts.find((f) => f.id === item.fact_id)!;
    const link = world.facts.find((f) => f.id === `city_country:${item.subject}`)!;
    assert.equal(item.answer, composite.object);
    assert.equal(item.link, link.object);
    assert.match(item.template, /^city_continent\.h\d$/);
    assert.equal(item.writes_link, namesLink(item.generated, item.link));
  }
});

test('the derivable suite refuses a world without derivable facts, saying how to make one', async () => {
  const setup = await tinySetup();
  try {
    await assert.rejects(
      evaluateModel({ ...setup, suites: ['derivable'], progress: false }),
      /no derivable facts \(generate the world with a "derivable" config section/,
    );
    const { aggregate } = await evaluateModel({ ...setup, suites: undefined, progress: false });
    assert.ok(!(aggregate.suites as string[]).includes('derivable'));
  } finally {
    rmSync(setup.root, { recursive: true, force: true });
  }
});
