import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { buildCharts } from '../../src/report/charts.ts';
import { renderReport } from '../../src/report/render.ts';
import { validateResults, type RunResults } from '../../src/report/schema.ts';
import { fixtureConfig, fixtureResults } from './helpers.ts';

function fixture(): RunResults {
  return validateResults(fixtureResults(), 'fixture results.json');
}

/** The contents of every executable inline <script> (not the JSON data block). */
function inlineScripts(html: string): string[] {
  return [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
}

test('every chart has a canvas, and every canvas has chart data with points in each dataset', () => {
  const results = fixture();
  const html = renderReport(results, fixtureConfig());
  const charts = buildCharts(results);
  const canvasIds = [...html.matchAll(/<canvas id="([^"]+)" data-chart="\1"/g)].map((m) => m[1]);
  assert.deepEqual(canvasIds.sort(), Object.keys(charts).sort());
  assert.equal(canvasIds.length, 10);
  for (const spec of Object.values(charts)) {
    assert.ok(spec.datasets.length > 0, spec.id);
    for (const dataset of spec.datasets) {
      const values = (dataset.data as unknown[]).filter((v) => v !== null);
      assert.ok(values.length > 0, `${spec.id}: "${dataset.label}" has no data`);
    }
    assert.ok(spec.description.length > 20, `${spec.id} needs an accessible description`);
  }
});

test('the page is self-contained: Chart.js inlined, no external resources, CSP allows only its own scripts', () => {
  const html = renderReport(fixture(), fixtureConfig());
  assert.ok(!/<link\b/i.test(html), 'no <link> elements');
  assert.ok(!/<(script|img|iframe)\b[^>]*\ssrc=/i.test(html), 'no src attributes');
  assert.ok(!/url\(/i.test(html.slice(html.indexOf('<style>'), html.indexOf('</style>'))), 'no url() in CSS');
  for (const [, href] of html.matchAll(/href="([^"]*)"/g)) assert.match(href!, /^items\/[\w.-]+\.jsonl$/);
  assert.ok(!html.includes('sourceMappingURL'), 'no source map reference');
  const scripts = inlineScripts(html);
  assert.equal(scripts.length, 2);
  assert.match(scripts[0]!, /Chart/);
  const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)![1]!.replace(/&#39;/g, "'");
  assert.match(csp, /default-src 'none'/);
  for (const script of scripts) {
    const hash = createHash('sha256').update(script, 'utf8').digest('base64');
    assert.ok(csp.includes(`'sha256-${hash}'`), 'every inline script is allowed by its hash');
  }
});

test('text from results and config is escaped everywhere it appears', () => {
  const payload = '<img src=x onerror=alert(1)>';
  const raw = fixtureResults() as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  raw.model.name = payload;
  raw.world.relation = payload;
  raw.command = `node bin/rlcp.js demo --out "</pre>${payload}"`;
  raw.examples[0].prompt = payload;
  raw.examples[0].expected = payload;
  raw.examples[0].base.answer = `</script>${payload}`;
  raw.examples[0].suite = payload;
  raw.targets[0].label = payload;
  raw.crystallization.probe_set = payload;
  raw.chain_of_thought.source = payload;
  raw.item_files[0].description = payload;
  raw.notes = [payload];
  raw.training.steps[0].loss[payload] = 1;
  const html = renderReport(validateResults(raw, 'x'), { note: payload });
  assert.ok(!html.includes('<img'), 'no raw payload in the page');
  assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;'), 'the payload is shown as text');
  // Only the two trusted scripts and the JSON block may open or close script elements.
  assert.equal(html.match(/<script\b/g)!.length, 3);
  assert.equal(html.match(/<\/script>/g)!.length, 3);
});

test('headline cards, targets and forget status are computed from the numbers', () => {
  const html = renderReport(fixture(), fixtureConfig());
  assert.match(html, /Targets met<\/div><div class="value">6 \/ 7<\/div>/);
  assert.match(html, /missed: Fresh cross-entity probe above majority, worst trained layer/);
  assert.match(html, /Phase transition<\/div><div class="value">step 60<\/div>/);
  // Gradient ascent ranks the answer far below chance with p < 0.05: inverted, not forgotten.
  assert.match(
    html,
    /Gradient ascent<\/span><\/th>(?:<td>[^<]*<\/td>){6}<td><span class="pill bad">inverted<\/span>/,
  );
  assert.match(html, /RLCP<\/span><\/th>(?:<td>[^<]*<\/td>){6}<td><span class="pill good">at chance<\/span>/);
  assert.match(html, /<td>&lt; 0\.001<\/td>/, 'tiny p-values are escaped text');
  assert.match(html, /<b>Fixture\.<\/b>/);
});

test('a run without a collapse, targets or fixture flag still renders, and says so', () => {
  const raw = fixtureResults() as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  raw.training.collapse = null;
  raw.targets = [];
  delete raw.fixture;
  const html = renderReport(validateResults(raw, 'x'), {});
  assert.match(html, /held-out recall never collapsed/);
  assert.match(html, /This run set no targets/);
  assert.ok(!html.includes('<b>Fixture.</b>'));
  assert.ok(!buildCharts(validateResults(raw, 'x'))['chart-phase']!.references!.some((r) => r.scale === 'x'));
});

test('rendering is deterministic', () => {
  assert.equal(renderReport(fixture(), fixtureConfig()), renderReport(fixture(), fixtureConfig()));
});

test('the probe card uses every probe kind at the trained layers, as the target row does', () => {
  const results = fixture();
  const rlcp = results.methods.find((m) => m.id === 'rlcp')!;
  const linear = rlcp.probe_layers.filter((p) => p.design === 'cross_entity' && p.kind === 'linear');
  // An MLP probe that reads 90 % at every layer: the card must report it, not the linear probe.
  rlcp.probe_layers = [
    ...rlcp.probe_layers.filter((p) => p.kind === 'linear'),
    ...linear.map((p) => ({ ...p, kind: 'mlp' as const, accuracy: 0.9, majority: 0 })),
  ];
  const html = renderReport(results, fixtureConfig());
  assert.match(html, /Fresh probe vs majority<\/div><div class="value">\+90\.0 pts<\/div>/);
  assert.match(html, /worst trained layer \([^)]*, mlp\)/);
});
