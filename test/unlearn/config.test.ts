import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DEFAULT_CONFIG,
  lambdaAt,
  readConfigFile,
  resolveConfig,
  resolveProbeLayers,
  setDotted,
} from '../../src/unlearn/config.ts';
import { expandSweep, markPareto, type SweepResult } from '../../src/unlearn/sweep.ts';
import { resolveWorldConfig } from '../../src/data/world-config.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const dir = tempDir('rlcp-unlearn-config-');

test('a config file merges over the defaults; unknown keys and bad values name the file and the key', () => {
  const good = join(dir, 'good.json');
  writeFileSync(good, JSON.stringify({ steps: 7, fact: { lambda: 2, objective: 'ce' } }));
  const config = resolveConfig([readConfigFile(good)]);
  assert.equal(config.steps, 7);
  assert.equal(config.fact.lambda, 2);
  assert.equal(config.fact.objective, 'ce');
  assert.equal(config.fact.reinitEvery, DEFAULT_CONFIG.fact.reinitEvery);
  assert.equal(config.anchors.beta, DEFAULT_CONFIG.anchors.beta);

  const unknown = join(dir, 'unknown.json');
  writeFileSync(unknown, JSON.stringify({ fact: { lamda: 2 } }));
  assert.throws(
    () => resolveConfig([readConfigFile(unknown)]),
    (e: Error) => {
      assert.ok(e.message.includes(unknown), e.message);
      assert.ok(e.message.includes('"fact.lamda"'), e.message);
      return true;
    },
  );
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ fact: { objective: 'maximise' } }));
  assert.throws(() => resolveConfig([readConfigFile(bad)]), /bad\.json: "fact\.objective": must be one of/);
  writeFileSync(bad, JSON.stringify({ params: { layers: [3, 1] } }));
  assert.throws(() => resolveConfig([readConfigFile(bad)]), /"params\.layers"/);
});

test('methods overlay their defaults; --method and later patches win', () => {
  const ga = resolveConfig([], 'ga');
  assert.equal(ga.method, 'ga');
  assert.equal(ga.fact.lambda, 0);
  assert.equal(ga.anchors.logic.weight, 0);
  assert.equal(ga.anchors.beta, 0);
  const graddiff = resolveConfig([{ patch: { method: 'graddiff' }, source: 'x' }]);
  assert.equal(graddiff.anchors.logic.weight, 1);
  assert.equal(graddiff.anchors.beta, 0);
  const ul = resolveConfig([{ patch: { method: 'unlikelihood', anchors: { beta: 1 } }, source: 'x' }]);
  assert.equal(ul.fact.unlikelihood, 1);
  assert.equal(ul.anchors.beta, 1);
  assert.equal(resolveConfig([{ patch: { method: 'npo' }, source: 'x' }], 'rlcp').method, 'rlcp');
  assert.throws(() => resolveConfig([], 'sgd'), /--method: must be one of/);
  // RLCP's own forget terms (adversary, generic-answer target) never leak into a baseline.
  assert.ok(resolveConfig([]).fact.generic > 0);
  for (const method of ['unlikelihood', 'ga', 'graddiff', 'npo', 'rag']) {
    const config = resolveConfig([], method);
    assert.equal(config.fact.lambda, 0, method);
    assert.equal(config.fact.generic, 0, method);
  }
});

test('setDotted builds nested patches', () => {
  const patch: Record<string, unknown> = {};
  setDotted(patch, 'fact.lambda', 1);
  setDotted(patch, 'anchors.rag.weight', 0);
  setDotted(patch, 'seed', 3);
  assert.deepEqual(patch, { fact: { lambda: 1 }, anchors: { rag: { weight: 0 } }, seed: 3 });
});

test('deep third of the hidden states, and the DANN ramp', () => {
  assert.deepEqual(resolveProbeLayers('deep-third', 4), [2, 3, 4]);
  assert.deepEqual(resolveProbeLayers('deep-third', 24), [16, 17, 18, 19, 20, 21, 22, 23, 24]);
  assert.deepEqual(resolveProbeLayers([4, 1], 4), [1, 4]);
  assert.deepEqual(resolveProbeLayers('all', 4), [1, 2, 3, 4]);
  assert.throws(() => resolveProbeLayers([5], 4), /hidden state 5 does not exist/);
  const constant = resolveConfig([{ patch: { steps: 100, fact: { lambda: 0.5 } }, source: 'x' }]);
  assert.equal(lambdaAt(constant, 0), 0.5);
  assert.equal(lambdaAt(constant, 99), 0.5);
  const dann = resolveConfig([
    { patch: { steps: 100, fact: { lambda: 2, lambdaSchedule: 'dann', gamma: 10 } }, source: 'x' },
  ]);
  assert.equal(lambdaAt(dann, 0), 0);
  assert.ok(Math.abs(lambdaAt(dann, 50) - 2 * (2 / (1 + Math.exp(-5)) - 1)) < 1e-12);
  assert.ok(lambdaAt(dann, 10) < lambdaAt(dann, 20));
  assert.ok(lambdaAt(dann, 100) < 2 && lambdaAt(dann, 100) > 1.99);
});

test('a sweep expands list × grid × seeds with distinct names, validating every run', () => {
  const runs = expandSweep(
    {
      base: { steps: 10 },
      grid: { 'fact.lambda': [0.5, 1], 'anchors.beta': [3] },
      runs: [{ name: 'uniform' }, { name: 'ce', 'fact.objective': 'ce' }],
      seeds: [0, 1],
    },
    'sweep.json',
  );
  assert.equal(runs.length, 2 * 2 * 2);
  assert.equal(new Set(runs.map((r) => r.name)).size, runs.length);
  const ce = runs.find((r) => r.name === 'ce_objective=ce_lambda=1_beta=3_seed=1')!;
  assert.ok(ce, runs.map((r) => r.name).join(' '));
  assert.equal(ce.config.fact.objective, 'ce');
  assert.equal(ce.config.fact.lambda, 1);
  assert.equal(ce.config.seed, 1);
  assert.equal(ce.config.steps, 10);
  assert.throws(
    () => expandSweep({ grid: { 'fact.lambdaa': [1] } }, 's.json'),
    /unknown config key "fact\.lambdaa"/,
  );
  assert.throws(() => expandSweep({ grids: {} } as never, 's.json'), /unknown sweep key "grids"/);
});

test('the Pareto front keeps runs no other run beats everywhere', () => {
  const run = (name: string, recall: number, retain: number): SweepResult => ({
    name,
    dir: name,
    settings: {},
    final: {
      forget_recall_heldout: recall,
      forget_rank_heldout: 15.5,
      forget_heldout_rank_chance: 15.5,
      retain_recall: retain,
      rag_accuracy: 1,
      logic_accuracy: 1,
    },
  });
  const results = [run('a', 0.1, 0.9), run('b', 0.2, 0.8), run('c', 0.05, 0.5)];
  markPareto(results);
  assert.deepEqual(
    results.map((r) => r.pareto),
    [true, false, true],
  );
});

test('the shipped configs are valid (world-*.json as world configs); rlcp-default.json is exactly the defaults', () => {
  assert.deepEqual(JSON.parse(readFileSync('configs/rlcp-default.json', 'utf8')), DEFAULT_CONFIG);
  for (const file of readdirSync('configs').filter((f) => f.endsWith('.json'))) {
    const path = join('configs', file);
    const json = JSON.parse(readFileSync(path, 'utf8'));
    // configs/world-*.json are world configs (`rlcp world --config`), validated by their own resolver.
    if (file.startsWith('world-')) assert.ok(resolveWorldConfig(json, path), path);
    else if ('grid' in json || 'runs' in json || 'seeds' in json)
      assert.ok(expandSweep(json, path).length > 0, path);
    else assert.ok(resolveConfig([readConfigFile(path)]), path);
  }
});
