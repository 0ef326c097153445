import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateClaims, type ClaimsModelMeasures } from '../../src/eval/claims.ts';
import { escapeHtml } from '../../src/report/html.ts';
import { renderReport } from '../../src/report/render.ts';
import { validateResults } from '../../src/report/schema.ts';
import { Rng } from '../../src/tensor/random.ts';
import { fixtureConfig, fixtureResults, refusal } from './helpers.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;

function measures(forgetHits: number, cot: number, seed: number): ClaimsModelMeasures {
  const rng = new Rng(seed);
  return {
    forgetHeldoutCorrect: Array.from({ length: 30 }, (_, i) => i < forgetHits),
    logicCot: Array.from({ length: 20 }, (_, i) => i < cot),
    logicCorrect: Array.from({ length: 20 }, () => true),
    deepStates: [0, 1].map(() =>
      Array.from({ length: 12 }, () => Float32Array.from({ length: 4 }, () => rng.normal())),
    ),
  };
}

/** The fixture with a claims section computed by evaluateClaims for one seed. */
function withClaims(): Loose {
  const results: Loose = fixtureResults();
  results.claims = evaluateClaims({
    base: measures(30, 10, 1),
    oracle: measures(2, 10, 2),
    runs: [
      {
        seed: 0,
        rlcp: measures(1, 18, 3),
        control: measures(30, 10, 4),
        metrics: [0, 25, 50].map((step, i) => ({ step, forget_recall_heldout: [1, 1, 0][i] })),
      },
    ],
    deepLayers: [2, 3],
    heldoutItems: 30,
    bootstrapReplicates: 20,
  });
  return JSON.parse(JSON.stringify(results));
}

test('a claims section validates and the report shows each claim with its verdict and p', () => {
  const results = validateResults(withClaims(), 'results.json');
  const html = renderReport(results, fixtureConfig());
  assert.match(html, /<h2 id="claims">The paper’s claims<\/h2>/);
  for (const claim of results.claims!.claims) {
    assert.ok(html.includes(escapeHtml(claim.claim)), claim.id);
    assert.ok(html.includes(`>${claim.verdict}<`), claim.id);
  }
  assert.doesNotMatch(renderReport(validateResults(fixtureResults(), 'r.json'), {}), /id="claims"/);
});

test('on a world with derivable facts the fifth claim (derivation) validates and is shown', () => {
  const derivable = (links: number) => ({
    writesLink: Array.from({ length: 20 }, (_, i) => i < links),
    correct: Array.from({ length: 20 }, () => true),
    chainCorrect: Array.from({ length: 20 }, () => true),
  });
  const withDerivable = (m: ClaimsModelMeasures, links: number) => ({ ...m, derivable: derivable(links) });
  const results: Loose = fixtureResults();
  results.claims = JSON.parse(
    JSON.stringify(
      evaluateClaims({
        base: withDerivable(measures(30, 10, 1), 0),
        oracle: withDerivable(measures(2, 10, 2), 8),
        runs: [
          {
            seed: 0,
            rlcp: withDerivable(measures(1, 18, 3), 16),
            control: withDerivable(measures(30, 10, 4), 0),
            metrics: [0, 25, 50].map((step, i) => ({ step, forget_recall_heldout: [1, 1, 0][i] })),
          },
        ],
        deepLayers: [2, 3],
        heldoutItems: 30,
        bootstrapReplicates: 20,
      }),
    ),
  );
  const claims = validateResults(results, 'results.json').claims!.claims;
  const derivation = claims.find((c) => c.id === 'derivation');
  assert.ok(derivation, claims.map((c) => c.id).join(', '));
  assert.ok(
    renderReport(validateResults(results, 'r.json'), fixtureConfig()).includes(escapeHtml(derivation.claim)),
  );
});

test('a broken claims section is refused with the field named', () => {
  const broken = (edit: (r: Loose) => void) => {
    const r = withClaims();
    edit(r);
    return refusal(r);
  };
  assert.match(
    broken((r) => (r.claims.claims[0].verdict = 'maybe')),
    /runs\/x\/results\.json: claims\.claims\[0\]\.verdict: must be one of supported, not supported, not testable here/,
  );
  assert.match(
    broken((r) => (r.claims.claims[1].p_value = 1.5)),
    /claims\.claims\[1\]\.p_value: must be a finite number in \[0, 1\]/,
  );
  assert.match(
    broken((r) => (r.claims.claims[2].id = 'retention')),
    /claims\.claims\[2\]\.id: duplicate claim "retention"/,
  );
  assert.match(
    broken((r) => r.claims.claims[3].seeds.push(r.claims.claims[3].seeds[0])),
    /claims\.claims\[3\]\.seeds: has 2 entries for 1 seeds/,
  );
  assert.match(
    broken((r) => delete r.claims.base.cot_rate),
    /claims\.base\.cot_rate: missing/,
  );
});

test('every model’s CoT change against the base validates and is shown; bad entries are refused', () => {
  const results: Loose = fixtureResults();
  results.chain_of_thought.methods = [
    { id: 'rlcp', cot_rate: 0.9, accuracy: 0.95, direct_to_cot: 4, cot_to_direct: 0, p_two_sided: 0.125 },
    { id: 'oracle', cot_rate: 0.5, accuracy: 0.9, direct_to_cot: 0, cot_to_direct: 2, p_two_sided: 0.5 },
  ];
  const html = renderReport(validateResults(results, 'r.json'), fixtureConfig());
  assert.match(html, /Chain-of-thought rate of every model against the base/);
  assert.match(html, /<th scope="row" class="text">oracle<\/th><td>50.0%<\/td>/);
  results.chain_of_thought.methods[1].id = 'teacher';
  results.chain_of_thought.methods[0].direct_to_cot = 1.5;
  assert.throws(
    () => validateResults(results, 'r.json'),
    /chain_of_thought\.methods\[0\]\.direct_to_cot: must be an integer[\s\S]*chain_of_thought\.methods\[1\]\.id: must be one of base, .*oracle/,
  );
});
