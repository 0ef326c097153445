import { test } from 'node:test';
import assert from 'node:assert/strict';
import { targetMet, validateResults, type Target } from '../../src/report/schema.ts';
import { fixtureResults, refusal } from './helpers.ts';

const FILE = 'runs/x/results.json';

// These tests break the schema on purpose, writing values of every wrong type into the parsed JSON.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;

/** Applies `edit` to a fresh fixture object and returns the validator's error message. */
function problemsAfter(edit: (results: Loose) => void): string {
  const results = fixtureResults();
  edit(results);
  return refusal(results, FILE);
}

test('the fixture is valid and comes back typed', () => {
  const results = validateResults(fixtureResults(), FILE);
  assert.equal(results.fixture, true);
  assert.equal(results.methods[0]!.id, 'base');
  assert.ok(results.training.steps.length > 5);
});

test('a missing field is named with its full path and the file', () => {
  const message = problemsAfter((r) => delete r.methods[1].metrics.retain);
  assert.equal(message, `${FILE}: methods[1].metrics.retain: missing`);
  assert.match(
    problemsAfter((r) => delete r.chain_of_thought.after),
    /results\.json: chain_of_thought\.after: missing/,
  );
  assert.match(
    problemsAfter((r) => delete r.command),
    /: command: missing/,
  );
});

test('wrong types, ranges and enum values are explained', () => {
  assert.match(
    problemsAfter((r) => (r.methods[0].metrics.rag = '98%')),
    /methods\[0\]\.metrics\.rag: must be a finite number in \[0, 1\], got "98%"/,
  );
  assert.match(
    problemsAfter((r) => (r.methods[2].metrics.forget_rank_heldout = 16)),
    /forget_rank_heldout: must be a finite number in \[1, 15\], got 16/,
  );
  assert.match(
    problemsAfter((r) => (r.methods[2].id = 'sgd')),
    /methods\[2\]\.id: must be one of base, rlcp, regen, unlikelihood, ga, graddiff, npo, simnpo, rmu, leace, rag, got "sgd"/,
  );
  assert.match(
    problemsAfter((r) => (r.methods[0].probe_layers[0].layer = 9)),
    /methods\[0\]\.probe_layers\[0\]\.layer: must be an integer in \[0, 8\], got 9/,
  );
  assert.match(
    problemsAfter((r) => (r.created_at = 'yesterday')),
    /created_at: must be an ISO 8601/,
  );
  assert.match(
    problemsAfter((r) => (r.schema_version = 2)),
    /schema_version: must be 1 .* got 2/,
  );
  assert.match(
    problemsAfter((r) => (r.training.steps[3].loss = {})),
    /training\.steps\[3\]\.loss: must name/,
  );
});

test('cross-field rules: required methods, curves, order, lengths, duplicates', () => {
  assert.match(
    problemsAfter((r) => (r.methods = r.methods.filter((m: { id: string }) => m.id !== 'rlcp'))),
    /methods: needs an entry with id "rlcp"/,
  );
  assert.match(
    problemsAfter((r) => r.methods.push(structuredClone(r.methods[2]))),
    /methods\[7\]\.id: duplicate method "unlikelihood"/,
  );
  assert.match(
    problemsAfter((r) => (r.methods[1].probe_layers = [])),
    /methods\[1\]\.probe_layers: needs at least one cross_entity linear probe/,
  );
  assert.match(
    problemsAfter((r) => (r.training.steps[4].step = 20)),
    /training\.steps\[4\]: step must increase, got 20 after 30/,
  );
  assert.match(
    problemsAfter((r) => r.relearning.curves[0].accuracy.pop()),
    /relearning\.curves\[0\]\.accuracy: has 5 values but relearning\.steps has 6/,
  );
  assert.match(
    problemsAfter(
      (r) => (r.relearning.curves = r.relearning.curves.filter((c: { id: string }) => c.id !== 'base')),
    ),
    /relearning\.curves: needs a curve with id "base"/,
  );
  assert.match(
    problemsAfter((r) => (r.item_files[0].path = '../../etc/passwd.jsonl')),
    /item_files\[0\]\.path: must look like items\/NAME\.jsonl/,
  );
});

test('collapse may be null, optional fields may be absent, unknown fields are ignored', () => {
  const results: Loose = fixtureResults();
  results.training.collapse = null;
  delete results.fixture;
  delete results.notes;
  delete results.untrained_probe_layers;
  results.methods[0].probe_layers[0].control_accuracy = 0.07;
  assert.doesNotThrow(() => validateResults(results, FILE));
});

test('every problem is listed at once, with a count', () => {
  const message = problemsAfter((r) => {
    delete r.seed;
    r.world.candidates = 1;
    r.examples[0].base.correct = 'yes';
  });
  const lines = message.split('\n');
  assert.match(lines[0]!, /results\.json: invalid results \(\d+ problems\)/);
  assert.ok(lines.includes(`${FILE}: seed: missing`), message);
  assert.ok(lines.includes(`${FILE}: world.candidates: must be an integer >= 2, got 1`), message);
  assert.ok(lines.includes(`${FILE}: examples[0].base.correct: must be true or false, got "yes"`), message);
});

test('a top level that is not an object is rejected', () => {
  assert.throws(() => validateResults([], FILE), /results\.json: \(top level\): must be an object, got \[\]/);
  assert.throws(() => validateResults(null, FILE), /must be an object, got null/);
});

test('targets are met by their own operator', () => {
  const target: Target = { id: 't', label: 'x', value: 0.05, op: '>=', threshold: 0.05, unit: 'p' };
  assert.equal(targetMet(target), true);
  assert.equal(targetMet({ ...target, value: 0.049 }), false);
  assert.equal(targetMet({ ...target, op: '<=', value: 6.7, threshold: 5, unit: 'points' }), false);
  assert.equal(targetMet({ ...target, op: '<=', value: 5, threshold: 5, unit: 'points' }), true);
});
