// The probe audit on synthetic hidden states: a layer where the answer is linearly encoded (a shared
// per-country direction added to each subject's own vector) and one where it is not (subject identity only).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auditProbeDesign } from '../../../src/eval/suites/probe-audit.ts';
import type { FactItem } from '../../../src/eval/suites/items.ts';

function normals(seed: number): () => number {
  let state = seed >>> 0;
  const uniform = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

const DIM = 24;
const COUNTRIES = ['Avel', 'Bron', 'Cados', 'Durm', 'Elsk', 'Fyr'];
const g = normals(11);
const vector = (scale: number) => Float32Array.from({ length: DIM }, () => scale * g());
const countryCode = COUNTRIES.map(() => vector(3));

function item(subject: string, country: string, template: number): FactItem {
  return {
    id: `${subject}#${template}`,
    prompt: `Q: What country is ${subject} in?\nA:`,
    answer: country,
    aliases: [],
    candidates: COUNTRIES,
    relation: 'city_country',
    subject,
    fact_id: `city_country:${subject}`,
    template: `t${template}`,
    template_split: 'train',
    forget: false,
  };
}

/** Rows for `citiesPerCountry` new subjects of every country × 3 templates; layer 0 encodes, layer 1 does not. */
function rows(prefix: string, citiesPerCountry: number) {
  const items: FactItem[] = [];
  const encoded: Float32Array[] = [];
  const identity: Float32Array[] = [];
  COUNTRIES.forEach((country, c) => {
    for (let k = 0; k < citiesPerCountry; k++) {
      const own = vector(1);
      for (let t = 0; t < 3; t++) {
        items.push(item(`${prefix}${c}x${k}`, country, t));
        const noise = vector(0.2);
        encoded.push(Float32Array.from(own, (v, d) => v + countryCode[c]![d]! + noise[d]!));
        identity.push(Float32Array.from(own, (v, d) => v + noise[d]!));
      }
    }
  });
  return { items, states: [encoded, identity] };
}

test('cross-entity probes find a linearly encoded answer in new subjects, and not an absent one', () => {
  const train = rows('Ret', 6);
  const testRows = rows('For', 1);
  const results = auditProbeDesign({
    design: 'cross_entity',
    train,
    test: testRows,
    classes: COUNTRIES,
    layers: [0, 1],
    kinds: ['linear', 'mlp'],
    seed: 3,
  });
  assert.equal(results.length, 4);
  for (const r of results) {
    assert.equal(r.design, 'cross_entity');
    assert.equal(r.n_train, COUNTRIES.length * 6 * 3);
    assert.equal(r.n_test, COUNTRIES.length * 3);
    // Every country is equally frequent in training, so the majority class is right on 1 of 6 test subjects.
    assert.ok(Math.abs(r.majority - 1 / 6) < 1e-9, `majority ${r.majority}`);
    assert.ok(Math.abs(r.selectivity - (r.accuracy - r.control_accuracy)) < 1e-12);
  }
  for (const r of results.filter((r) => r.layer === 0)) {
    assert.ok(r.accuracy >= 0.9, `${r.kind} on the encoding layer: ${r.accuracy}`);
    assert.ok(r.selectivity >= 0.5, `${r.kind} selectivity ${r.selectivity}`);
  }
  for (const r of results.filter((r) => r.layer === 1)) {
    assert.ok(r.accuracy <= 0.45, `${r.kind} on the identity-only layer: ${r.accuracy}`);
  }
});

test('a probe answer outside the classes, or missing layer states, is an error', () => {
  const train = rows('Ret', 2);
  const bad = rows('For', 1);
  bad.items[0] = { ...bad.items[0]!, answer: 'Nowhere' };
  assert.throws(
    () =>
      auditProbeDesign({
        design: 'cross_entity',
        train,
        test: bad,
        classes: COUNTRIES,
        layers: [0],
        kinds: ['linear'],
        seed: 0,
      }),
    /"Nowhere" is not a class/,
  );
  assert.throws(
    () =>
      auditProbeDesign({
        design: 'cross_template',
        train,
        test: rows('For', 1),
        classes: COUNTRIES,
        layers: [2],
        kinds: ['linear'],
        seed: 0,
      }),
    /no hidden states for layer 2/,
  );
});
