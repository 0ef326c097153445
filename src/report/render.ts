// report.html: one self-contained page (Chart.js and the page script inlined, no external requests)
// telling a run's whole story. Every string from the results is escaped; see html.ts.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { formatClaimP, formatClaimValue } from '../eval/claims.ts';
import { buildCharts, layerName, mainProbes, METHOD_STYLE, methodById, type ChartSpec } from './charts.ts';
import { duration, escapeHtml as h, fixed, integer, jsonForScript, percent, points, pValue } from './html.ts';
import {
  chanceAccuracy,
  chanceRank,
  SCHEMA_VERSION,
  targetMet,
  type MethodId,
  type MethodResult,
  type ProbeLayer,
  type RelearnAgainstOracle,
  type RunResults,
  type Tamper,
  type TamperCheck,
  type Target,
} from './schema.ts';

/** Significance level for the forget tests (issue 5: "not significantly above chance", p ≥ 0.05). */
const ALPHA = 0.05;

const METHOD_SUMMARY: Record<MethodId, string> = {
  base: 'the original model, no unlearning',
  rlcp: 'gradient-reversed probes on deep hidden states + KL anchoring to the original model',
  regen:
    'the RLCP model’s decoder weights noised toward a fresh initialisation, then distilled from the RLCP model on logic, retain facts and RAG (no forget fact)',
  unlikelihood: 'lowers the probability of the forget answers',
  ga: 'gradient ascent on the forget facts',
  graddiff: 'gradient ascent on forget facts + descent on retain facts',
  npo: 'negative preference optimisation against the original model',
  simnpo: 'NPO without a reference model, on the length-normalised likelihood with a margin',
  rmu: 'forget hidden states steered to a random vector at one layer, retain states kept (MSE)',
  leace: 'closed-form linear erasure of the answer at the adversary’s hidden states (no training)',
  rag: 'the original model with the facts supplied in context (Just-RAG)',
};

interface Assets {
  chartJs: string;
  chartJsVersion: string;
  client: string;
  css: string;
}

let assets: Assets | undefined;

/** Makes inlined code safe inside a <script> element: nothing can close it or open a comment. */
function inlineScript(code: string): string {
  return code.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

function loadAssets(): Assets {
  if (assets) return assets;
  const require = createRequire(import.meta.url);
  // chart.js's exports map hides dist/; its CommonJS entry sits beside the UMD bundle we inline.
  const dist = dirname(require.resolve('chart.js'));
  const umd = readFileSync(join(dist, 'chart.umd.min.js'), 'utf8');
  const pkg = JSON.parse(readFileSync(join(dist, '..', 'package.json'), 'utf8')) as { version: string };
  assets = {
    // Drop the source-map comment: devtools would try to fetch the .map file.
    chartJs: inlineScript(umd.replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, '\n')),
    chartJsVersion: pkg.version,
    client: inlineScript(readFileSync(new URL('./client.js', import.meta.url), 'utf8')),
    css: readFileSync(new URL('./style.css', import.meta.url), 'utf8'),
  };
  return assets;
}

function sha256(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

// ---- small pieces ------------------------------------------------------------------------------

function methodName(id: MethodId | 'oracle'): string {
  const style = METHOD_STYLE[id];
  return `<span class="method"><span class="swatch" style="background:${style.color}" aria-hidden="true"></span>${h(style.label)}</span>`;
}

function pill(text: string, tone: 'good' | 'bad' | 'neutral'): string {
  return `<span class="pill ${tone}">${h(text)}</span>`;
}

/** A ✓ / ✗ mark with words for screen readers, so correctness is never told by colour alone. */
function mark(correct: boolean): string {
  return correct
    ? '<span class="mark good" aria-hidden="true">✓</span><span class="sr-only">correct:</span>'
    : '<span class="mark bad" aria-hidden="true">✗</span><span class="sr-only">wrong:</span>';
}

function ratio(value: number, base: number): string {
  return base > 0 ? `${Math.round((value / base) * 100)}%` : 'n/a';
}

function figure(spec: ChartSpec, caption: string, options: { wide?: boolean; size?: 'tall' | 'short' } = {}) {
  const size = options.size ? ` ${options.size}` : '';
  return `<figure${options.wide ? ' class="wide"' : ''}>
<div class="chart${size}"><canvas id="${spec.id}" data-chart="${spec.id}" role="img" aria-label="${h(spec.description)}"><p>${h(spec.description)}</p></canvas></div>
<figcaption>${caption}</figcaption>
</figure>`;
}

function table(caption: string, head: string[], rows: string[][], rowClasses: string[] = []): string {
  const thead = head
    .map((cell, i) => `<th scope="col"${i === 0 ? ' class="text"' : ''}>${cell}</th>`)
    .join('');
  const tbody = rows
    .map((row, r) => {
      const cls = rowClasses[r] ? ` class="${rowClasses[r]}"` : '';
      return `<tr${cls}>${row.map((cell, i) => (i === 0 ? `<th scope="row" class="text">${cell}</th>` : `<td>${cell}</td>`)).join('')}</tr>`;
    })
    .join('\n');
  // The visible caption sits outside the scrolling box so it stays readable when a wide table scrolls;
  // screen readers get the same text as the table's own caption.
  return `<div class="panel table"><p class="caption" aria-hidden="true">${caption}</p><div class="table-scroll"><table><caption class="sr-only">${caption}</caption><thead><tr>${thead}</tr></thead><tbody>
${tbody}
</tbody></table></div></div>`;
}

type ForgetStatus = { text: string; tone: 'good' | 'bad' };

/** Whether a method's held-out forget facts are recalled, inverted (ranked below chance) or at chance. */
function forgetStatus(method: MethodResult, results: RunResults): ForgetStatus {
  const m = method.metrics;
  if (m.forget_p_above_chance < ALPHA) return { text: 'recalled', tone: 'bad' };
  if (m.forget_rank_p < ALPHA && m.forget_rank_heldout > chanceRank(results)) {
    return { text: 'inverted', tone: 'bad' };
  }
  if (m.forget_rank_p < ALPHA) return { text: 'ranked high', tone: 'bad' };
  return { text: 'at chance', tone: 'good' };
}

function formatTargetValue(target: Target, value: number): string {
  switch (target.unit) {
    case 'fraction':
      return percent(value);
    case 'points':
      return `${fixed(value, 1)} pts`;
    case 'p':
      return pValue(value);
    case 'rank':
      return fixed(value, 2);
    case 'seconds':
      return duration(value);
  }
}

/**
 * Largest (accuracy − majority) of the cross-entity probes, every kind (linear and MLP), over the given
 * layers, with the layer and kind it occurs at: the same definition as the issue-5 target row.
 */
function worstProbe(
  probes: ProbeLayer[],
  layers: number[],
): { excess: number; layer: number; kind: string } | undefined {
  const candidates = probes.filter(
    (p) => p.design === 'cross_entity' && (layers.length === 0 || layers.includes(p.layer)),
  );
  if (candidates.length === 0) return undefined;
  const worst = candidates.reduce((a, b) => (b.accuracy - b.majority > a.accuracy - a.majority ? b : a));
  return { excess: worst.accuracy - worst.majority, layer: worst.layer, kind: worst.kind };
}

// ---- sections ----------------------------------------------------------------------------------

function header(results: RunResults): string {
  const baselines = results.methods.filter((m) => !['base', 'rlcp', 'regen'].includes(m.id)).length;
  const regenerated = results.methods.some((m) => m.id === 'regen')
    ? ', then regenerated (noised toward a fresh initialisation and distilled without the forget facts)'
    : '';
  const created = new Date(results.created_at);
  const when = Number.isNaN(created.getTime()) ? results.created_at : created.toISOString().replace('T', ' ');
  const meta: [string, string][] = [
    [
      'Model',
      `${results.model.name} · ${results.model.layers} layers · d=${results.model.hidden_size} · ${integer(results.model.parameters)} params`,
    ],
    [
      'World',
      `${results.world.relation} · ${results.world.forget_facts} forget / ${results.world.retain_facts} retain facts · K=${results.world.candidates}`,
    ],
    ['Seed', String(results.seed)],
    ['Run', when.replace(/\.\d+Z$/, ' UTC').replace(/Z$/, ' UTC')],
    ['Wall time', duration(results.duration_seconds)],
  ];
  return `<header class="hero"><div class="wrap">
<h1>RLCP run report</h1>
<p class="lede">Unlearning ${results.world.forget_facts} ${h(results.world.relation)} facts from ${h(results.model.name)} with the
Regenerative Logic-Core Protocol (gradient reversal on deep hidden states, KL anchoring)${regenerated}, beside ${baselines}
baseline${baselines === 1 ? '' : 's'}, all evaluated with the same suite.</p>
<ul class="meta">${meta.map(([k, v]) => `<li>${h(k)}: <b>${h(v)}</b></li>`).join('')}</ul>
</div></header>`;
}

function fixtureBanner(results: RunResults): string {
  if (results.fixture !== true) return '';
  return `<p class="banner" role="note"><b>Fixture.</b> This report was generated from a test fixture: the numbers are
synthetic, made up to exercise the report, and are not results of any run.</p>`;
}

function card(label: string, value: string, sub: string, tone: 'good' | 'bad' | '' = ''): string {
  return `<div class="card${tone ? ` ${tone}` : ''}"><div class="label">${h(label)}</div><div class="value">${h(value)}</div><div class="sub">${sub}</div></div>`;
}

function summaryCards(results: RunResults): string {
  const base = methodById(results, 'base').metrics;
  const rlcpMethod = methodById(results, 'rlcp');
  const rlcp = rlcpMethod.metrics;
  const status = forgetStatus(rlcpMethod, results);
  const trainedLayers = results.training.probe_layers;
  const probe = worstProbe(rlcpMethod.probe_layers, trainedLayers);
  const baseProbe = worstProbe(methodById(results, 'base').probe_layers, trainedLayers);
  const collapse = results.training.collapse;
  const met = results.targets.filter(targetMet).length;
  const missed = results.targets.filter((t) => !targetMet(t));
  const cards = [
    card(
      'Forget recall, held-out',
      percent(rlcp.forget_heldout),
      `base ${h(percent(base.forget_heldout))} · chance ${h(percent(chanceAccuracy(results)))} · p(above chance) ${h(pValue(rlcp.forget_p_above_chance))}`,
      rlcp.forget_p_above_chance >= ALPHA ? 'good' : 'bad',
    ),
    card(
      'Mean rank of true answer',
      fixed(rlcp.forget_rank_heldout, 1),
      `chance ${h(fixed(chanceRank(results), 1))} · base ${h(fixed(base.forget_rank_heldout, 1))} · ${pill(status.text, status.tone)}`,
      status.tone,
    ),
    card(
      'Fresh probe vs majority',
      probe ? points(probe.excess) : 'n/a',
      probe
        ? `worst trained layer (${h(layerName(probe.layer))}, ${h(probe.kind)}) · base ${baseProbe ? h(points(baseProbe.excess)) : 'n/a'}`
        : 'no cross-entity probe at the trained layers',
    ),
    card(
      'Retain facts',
      ratio(rlcp.retain, base.retain),
      `of base · ${h(percent(rlcp.retain))} vs ${h(percent(base.retain))}`,
    ),
    card(
      'RAG (facts in context)',
      ratio(rlcp.rag, base.rag),
      `of base · ${h(percent(rlcp.rag))} vs ${h(percent(base.rag))}`,
    ),
    card(
      'Logic',
      ratio(rlcp.logic, base.logic),
      `of base · ${h(percent(rlcp.logic))} vs ${h(percent(base.logic))}`,
    ),
    card(
      'Phase transition',
      collapse ? `step ${collapse.step}` : 'none',
      collapse
        ? `λ = ${h(fixed(collapse.lambda, 2))} · 90%→10% of the fall in ${h(String(collapse.width_steps))} steps`
        : 'held-out recall never collapsed',
    ),
    card(
      'Targets met',
      `${met} / ${results.targets.length}`,
      missed.length === 0
        ? results.targets.length === 0
          ? 'no targets set for this run'
          : 'every target met'
        : `missed: ${missed.map((t) => h(t.label)).join('; ')}`,
      results.targets.length === 0 ? '' : missed.length === 0 ? 'good' : 'bad',
    ),
  ];
  return `<section aria-label="Headline numbers"><div class="cards">${cards.join('\n')}</div></section>`;
}

function howToRead(results: RunResults): string {
  const k = results.world.candidates;
  const notes = results.notes?.length
    ? `<p class="notes-title"><b>Notes on this run</b></p><ul class="notes">${results.notes.map((n) => `<li>${h(n)}</li>`).join('')}</ul>`
    : '';
  return `<h2 id="how-to-read">How to read this</h2>
<div class="panel"><div class="howto">
<p><b>Forgotten means at chance, twice.</b> A fact counts as forgotten when held-out recall is not
significantly above chance (1/${k}) <em>and</em> the true answer's mean rank among the ${k} candidates is not
significantly different from the chance rank ${fixed(chanceRank(results), 1)}. A rank far <em>worse</em> than chance is
not forgetting: the model still knows the answer and pushes it down (“inverted”).</p>
<p><b>Fresh probes look inside.</b> After training, new probes (linear, and a one-hidden-layer MLP) are fit on frozen hidden states of
<em>retain</em> cities and tested on the <em>forget</em> cities. At the majority baseline, a layer no longer carries
the country in a readable form; above it, the fact is still encoded however the model answers.</p>
<p><b>What must survive.</b> Retain facts, reading facts from context (RAG, forget facts included), logic and
multi-hop questions are compared with the base model. The targets table lists every threshold and whether
this run met it.</p>
<p><b>Relearning is the stress test.</b> Fine-tuning on half of the forget facts should bring back the other
half no faster for a truly unlearned model than for the oracle that never saw them.</p>
</div>${notes}</div>`;
}

function targetsSection(results: RunResults): string {
  if (results.targets.length === 0) {
    return `<h2 id="targets">Targets</h2><p class="intro">This run set no targets.</p>`;
  }
  const rows = results.targets.map((t) => {
    const met = targetMet(t);
    return [
      h(t.label),
      h(formatTargetValue(t, t.value)),
      `${h(t.op === '>=' ? '≥' : '≤')} ${h(formatTargetValue(t, t.threshold))}`,
      met ? pill('✓ met', 'good') : pill('✗ missed', 'bad'),
    ];
  });
  return `<h2 id="targets">Targets</h2>
<p class="intro">Each target as set for this run, the measured value, and whether it was met.</p>
${table('Targets met and missed', ['Target', 'Measured', 'Goal', 'Status'], rows)}`;
}

function phaseSection(results: RunResults, charts: Record<string, ChartSpec>): string {
  const steps = results.training.steps;
  const lossNames = [...new Set(steps.flatMap((s) => Object.keys(s.loss)))];
  const collapse = results.training.collapse;
  const rows = steps.map((s) => [
    String(s.step),
    fixed(s.lambda, 3),
    percent(s.forget_heldout),
    fixed(s.forget_rank_heldout, 2),
    percent(s.probe_accuracy),
    percent(s.retain),
    ...lossNames.map((name) => (s.loss[name] === undefined ? '–' : fixed(s.loss[name]!, 4))),
  ]);
  const layers = results.training.probe_layers.map(layerName).join(', ');
  return `<h2 id="phase">Phase transition</h2>
<p class="intro">RLCP evaluated every few steps during training: forget recall on templates it never trained on,
the accuracy of the in-training adversarial probes (layers ${h(layers)}), retain recall, and the gradient-reversal
strength λ. ${collapse ? `Held-out recall fell fastest at <b>step ${collapse.step}</b> (λ = ${fixed(collapse.lambda, 2)}), from 90% to 10% of its fall within ${collapse.width_steps} steps.` : 'Held-out recall never collapsed in this run.'}</p>
<div class="grid">
${figure(
  charts['chart-phase']!,
  `<b>Forget recall and probe accuracy against step</b>, λ on the right axis. The dashed black line is chance (1/${results.world.candidates}); ${collapse ? 'the vermillion line marks the collapse.' : 'no collapse was detected.'}`,
  { wide: true, size: 'tall' },
)}
${figure(charts['chart-rank']!, `<b>Mean rank of the true answer</b> on held-out templates. Rank 1 is recalled; the dashed line is the chance rank; well above it means inverted.`)}
${figure(charts['chart-loss']!, '<b>Training losses</b> as logged (names as in metrics.jsonl).')}
</div>
<details><summary>Show the per-step numbers</summary>
${table('Per-step evaluation of the RLCP run', ['Step', 'λ', 'Forget', 'Rank', 'Probe', 'Retain', ...lossNames.map(h)], rows)}
</details>`;
}

function comparisonSection(results: RunResults, charts: Record<string, ChartSpec>): string {
  const n = results.suite_sizes;
  const base = methodById(results, 'base').metrics;
  const forgetHead = [
    'Method',
    `Forget held-out (n=${n.forget_heldout})`,
    `Forget train (n=${n.forget_train})`,
    'Rank held-out',
    'Rank train',
    'p(acc &gt; chance)',
    'p(rank = chance)',
    'Status',
  ];
  const forgetRows = results.methods.map((m) => {
    const s = forgetStatus(m, results);
    const x = m.metrics;
    return [
      methodName(m.id),
      percent(x.forget_heldout),
      percent(x.forget_train),
      fixed(x.forget_rank_heldout, 2),
      fixed(x.forget_rank_train, 2),
      h(pValue(x.forget_p_above_chance)),
      h(pValue(x.forget_rank_p)),
      pill(s.text, s.tone),
    ];
  });
  const chance = percent(chanceAccuracy(results));
  const rank = fixed(chanceRank(results), 2);
  const chanceRow = ['<em>Chance</em>', chance, chance, rank, rank, '', '', ''];
  // Each utility score with its share of the base model's, the quantity the targets are set on.
  const kept = (value: number, baseValue: number) =>
    `${percent(value)} <span class="rel">${baseValue > 0 ? `${Math.round((value / baseValue) * 100)}%` : 'n/a'}</span>`;
  const utilityHead = [
    'Method',
    `Retain (n=${n.retain})`,
    `RAG (n=${n.rag})`,
    `Logic (n=${n.logic})`,
    `Multi-hop (n=${n.multihop})`,
    'Train time',
  ];
  const utilityRows = results.methods.map((m) => [
    methodName(m.id),
    kept(m.metrics.retain, base.retain),
    kept(m.metrics.rag, base.rag),
    kept(m.metrics.logic, base.logic),
    kept(m.metrics.multihop, base.multihop),
    m.train_seconds > 0 ? duration(m.train_seconds) : '–',
  ]);
  const classes = results.methods.map((m) => (m.id === 'rlcp' ? 'highlight' : ''));
  const legend = results.methods
    .map((m) => `<li>${methodName(m.id)}: ${h(METHOD_SUMMARY[m.id])}</li>`)
    .join('');
  return `<h2 id="comparison">RLCP beside the baselines</h2>
<p class="intro">Every method evaluated with the same suite. Forgetting wants the first group low and the rank at
chance; everything else should stay where the base model is.</p>
<div class="grid">
${figure(charts['chart-methods']!, `<b>Accuracy per suite and method.</b> Dashed line: chance (1/${results.world.candidates}), which matters for the forget and retain suites.`, { wide: true, size: 'tall' })}
${figure(charts['chart-method-rank']!, `<b>Where the true forget answer ranks</b> (held-out templates). At the dashed chance rank the model has no preference; far to the right it still knows the answer and avoids it.`)}
<div class="panel"><h3>The methods</h3><ul class="files">${legend}</ul>
<p class="intro">Forget status: <b>recalled</b> when accuracy is significantly above chance, <b>inverted</b> when the rank is
significantly worse than chance, <b>ranked high</b> when significantly better, else <b>at chance</b> (tests at p &lt; ${ALPHA}).</p></div>
</div>
${table('Forgetting: accuracy on the forget facts, mean rank of the true answer among the candidates, and the two tests against chance', forgetHead, [...forgetRows, chanceRow], [...classes, ''])}
${table('What must survive: accuracy per suite, with the share of the base model’s score in grey', utilityHead, utilityRows, classes)}`;
}

function probeSection(results: RunResults, charts: Record<string, ChartSpec>): string {
  const withProbes = results.methods.filter((m) => mainProbes(m.probe_layers).length > 0);
  const layers = [...new Set(withProbes.flatMap((m) => mainProbes(m.probe_layers).map((p) => p.layer)))].sort(
    (a, b) => a - b,
  );
  const trained = new Set(results.training.probe_layers);
  const base = mainProbes(methodById(results, 'base').probe_layers);
  const rows = layers.map((layer) => [
    `${h(layerName(layer))}${trained.has(layer) ? ' ' + pill('trained', 'neutral') : ''}`,
    ...withProbes.map((m) => {
      const probe = mainProbes(m.probe_layers).find((p) => p.layer === layer);
      return probe ? percent(probe.accuracy) : '–';
    }),
    (() => {
      const probe = base.find((p) => p.layer === layer);
      return probe ? percent(probe.majority) : '–';
    })(),
  ]);
  const detailRows: string[][] = [];
  const sources: [string, ProbeLayer[]][] = [
    ['Base model', methodById(results, 'base').probe_layers],
    ['RLCP', methodById(results, 'rlcp').probe_layers],
  ];
  if (results.untrained_probe_layers) sources.push(['Untrained model', results.untrained_probe_layers]);
  for (const [name, probes] of sources) {
    const sorted = [...probes].sort(
      (a, b) => a.layer - b.layer || a.design.localeCompare(b.design) || a.kind.localeCompare(b.kind),
    );
    for (const p of sorted) {
      detailRows.push([
        h(name),
        h(layerName(p.layer)),
        h(p.design),
        h(p.kind),
        percent(p.accuracy),
        percent(p.majority),
        points(p.selectivity),
      ]);
    }
  }
  return `<h2 id="probes">Fresh probes, layer by layer</h2>
<p class="intro">Linear probes trained after unlearning on frozen hidden states of retain cities (label: their country)
and tested on the forget cities (the <em>cross-entity</em> design). A forgotten fact leaves the probe at the majority
baseline. In-training probes are not enough: an adversary at chance during training says little about a fresh one.</p>
<div class="grid">
${figure(charts['chart-probes']!, '<b>Fresh cross-entity linear probe accuracy per layer</b>, base and RLCP drawn thick. Dashed black: majority baseline.', { wide: true, size: 'tall' })}
</div>
${table(
  'Cross-entity linear probe accuracy per layer and method (trained = layers the RLCP adversary read)',
  ['Layer', ...withProbes.map((m) => methodName(m.id)), 'Majority'],
  rows,
)}
<details><summary>Every probe of the base${results.untrained_probe_layers ? ', RLCP and untrained' : ' and RLCP'} models (designs, MLP probes, selectivity)</summary>
${table(
  'Selectivity = accuracy minus the same probe on shuffled labels (Hewitt &amp; Liang 2019). Cross-template probes can succeed on entity identity alone, hence the untrained control.',
  ['Model', 'Layer', 'Design', 'Kind', 'Accuracy', 'Majority', 'Selectivity'],
  detailRows,
)}
</details>`;
}

function relearningSection(results: RunResults, charts: Record<string, ChartSpec>): string {
  const r = results.relearning;
  const rows = r.curves.map((c) => [methodName(c.id), ...c.accuracy.map((a) => percent(a))]);
  const rankRows = r.curves
    .filter((c) => c.mean_rank !== undefined)
    .map((c) => [methodName(c.id), ...c.mean_rank!.map((v) => fixed(v, 2))]);
  const rankChart = charts['chart-relearning-rank'];
  const over =
    r.splits && r.splits > 1 ? `, averaged over ${r.splits} different splits of the forget facts` : '';
  return `<h2 id="relearning">Relearning attack</h2>
<p class="intro">Fine-tune on ${r.train_facts} of the forget facts and measure recall of the other ${r.eval_facts}${over}. Knowledge
that was only hidden comes back fast; knowledge that is gone should come back no faster than for the oracle.</p>
<div class="grid">
${rankChart ? figure(rankChart, '<b>Recovery of rank</b>: mean rank of the held-back forget facts against fine-tuning steps, every model and the oracle. Dashed black: chance.', { wide: true }) : ''}
${figure(charts['chart-relearning']!, '<b>Recovery curves</b>: recall of the held-back forget facts against fine-tuning steps. Dashed black: chance.', { wide: true })}
</div>
${results.tamper ? tamperTable(results.tamper) : ''}
<details><summary>Show the recovery numbers</summary>
${table('Recall of held-back forget facts after each number of relearning steps', ['Model', ...r.steps.map((s) => `${s} steps`)], rows)}
${rankRows.length > 0 ? table('Mean rank of held-back forget facts after each number of relearning steps', ['Model', ...r.steps.map((s) => `${s} steps`)], rankRows) : ''}
</details>`;
}

/** The tamper battery: every model's relearning, benign fine-tuning, quantization and forget quality against the oracle. */
function tamperTable(tamper: Tamper): string {
  const o = tamper.options;
  const holds = (ok: boolean) => pill(ok ? 'holds' : 'fails', ok ? 'good' : 'bad');
  const check = (c: TamperCheck) =>
    `${percent(c.accuracy)}, rank ${fixed(c.mean_rank, 1)} ${holds(c.at_chance)}`;
  const rows = tamper.models.map((m) => {
    const v = m.vs_oracle;
    const rel = (x: RelearnAgainstOracle, ok: boolean) =>
      `${fixed(x.mean_rank, 2)} vs ${fixed(x.oracle_mean_rank, 2)} (p ${pValue(x.rank_p)}; ${x.accuracy_excess_facts >= 0 ? '+' : '−'}${fixed(Math.abs(x.accuracy_excess_facts), 2)} facts) ${holds(ok)}`;
    return [
      methodName(m.id),
      v ? rel(v.checkpoint, v.holds.relearn_checkpoint) : '—',
      v ? rel(v.end, v.holds.relearn_end) : '—',
      check(m.benign),
      ...o.quant_bits.map((bits) => {
        const q = m.quantization.find((x) => x.bits === bits);
        return q ? check(q) : '—';
      }),
      v ? `${pValue(v.forget_quality.p)} ${holds(v.holds.forget_quality)}` : '—',
    ];
  });
  return table(
    `Tamper battery (${o.splits} relearning splits, AdamW lr ${o.lr}, batch ${o.batch_size}). Relearning: mean rank of the held-back facts vs the oracle's, paired sign-flip p over splits × items, facts recovered beyond the oracle; it holds when the rank is not significantly below the oracle's (and at step ${o.checkpoint} at most 1 fact more is recovered). Benign fine-tuning (${o.benign_steps} steps on retain facts and logic) and round-to-nearest quantization: held-out forget recall and rank, holds at chance. Forget quality: KS p of the per-fact true-answer scores against the oracle's, holds at p ≥ 0.05.`,
    [
      'Model',
      `Relearn @${o.checkpoint}`,
      `Relearn @${o.relearn_steps}`,
      'Benign FT',
      ...o.quant_bits.map((b) => `int${b}`),
      'Forget quality',
    ],
    rows,
  );
}

function crystallizationSection(results: RunResults, charts: Record<string, ChartSpec>): string {
  const c = results.crystallization;
  const rows = c.layers.map((l) => [
    h(layerName(l.layer)),
    fixed(l.before.effective_rank, 1),
    fixed(l.after.effective_rank, 1),
    `${l.after.effective_rank - l.before.effective_rank >= 0 ? '+' : '−'}${fixed(Math.abs(l.after.effective_rank - l.before.effective_rank), 1)}`,
    fixed(l.before.participation_ratio, 1),
    fixed(l.after.participation_ratio, 1),
    fixed(l.before.mean_cosine, 3),
    fixed(l.after.mean_cosine, 3),
  ]);
  return `<h2 id="crystallization">Structural crystallization</h2>
<p class="intro">The paper reports that hidden states “crystallize” after metabolism. Measured here as the effective rank
(exp of the spectral entropy of the hidden-state covariance) per layer on ${h(c.probe_set)}: lower means the
representation uses fewer directions.</p>
<div class="grid">
${figure(charts['chart-crystallization']!, '<b>Effective rank per layer</b>, before (base) and after (RLCP).', { wide: true })}
</div>
${table(
  'Effective rank, participation ratio and mean pairwise cosine of hidden states, before and after',
  [
    'Layer',
    'Eff. rank before',
    'Eff. rank after',
    'Change',
    'PR before',
    'PR after',
    'Cosine before',
    'Cosine after',
  ],
  rows,
)}`;
}

function cotSection(results: RunResults, charts: Record<string, ChartSpec>): string {
  const c = results.chain_of_thought;
  const rows = (
    [
      ['Chain-of-thought rate', (s: typeof c.before) => percent(s.cot_rate)],
      ['Mean answer length (tokens)', (s: typeof c.before) => fixed(s.mean_tokens, 1)],
      ['Accuracy, strict extraction', (s: typeof c.before) => percent(s.strict_accuracy)],
      ['Accuracy, flexible extraction', (s: typeof c.before) => percent(s.flexible_accuracy)],
    ] as const
  ).map(([label, pick]) => [h(label), pick(c.before), pick(c.after)]);
  return `<h2 id="cot">Chain of thought</h2>
<p class="intro">The paper reports spontaneous chain-of-thought after metabolism. Measured on ${h(c.source)} (n=${c.n}): the share of
answers with at least one intermediate computation before the final answer, and how long answers are.</p>
<div class="grid">
${figure(charts['chart-cot']!, '<b>Chain-of-thought rate and accuracy</b>, before and after RLCP.')}
${figure(charts['chart-length']!, '<b>Mean answer length</b> in generated tokens.')}
</div>
${table(`Before (base) and after (RLCP), n=${c.n}`, ['Measure', 'Before (base)', 'After (RLCP)'], rows)}${cotChangeTable(c)}`;
}

/** Every model's CoT on the base's logic items, with the exact McNemar test of the change. */
function cotChangeTable(c: RunResults['chain_of_thought']): string {
  if (!c.methods || c.methods.length === 0) return '';
  const rows = c.methods.map((m) => [
    h(m.id),
    percent(m.cot_rate),
    percent(m.accuracy),
    integer(m.direct_to_cot),
    integer(m.cot_to_direct),
    h(pValue(m.p_two_sided)),
  ]);
  return `
${table(
  `Chain-of-thought rate of every model against the base (${percent(c.before.cot_rate)}) on the same ${c.n} items; exact McNemar p`,
  ['Model', 'CoT rate', 'Accuracy', 'Direct → CoT', 'CoT → direct', 'McNemar p'],
  rows,
)}`;
}

function claimsSection(results: RunResults): string {
  const c = results.claims;
  if (!c) return '';
  const tone = { supported: 'good', 'not supported': 'bad', 'not testable here': 'neutral' } as const;
  const rows = c.claims.map((claim) => [
    h(claim.claim),
    h(claim.measurement),
    h(claim.seeds.map((s) => `${formatClaimValue(claim, s)} (p ${formatClaimP(s.p)})`).join('; ')),
    pill(claim.verdict, tone[claim.verdict]),
    h(formatClaimP(claim.p_value)),
    h(claim.note),
  ]);
  return `<h2 id="claims">The paper’s claims</h2>
<p class="intro">Each headline claim of the paper as a test on this run (seed${c.seeds.length > 1 ? 's' : ''} ${h(c.seeds.join(', '))}, α = ${h(String(c.alpha))}).
A claim is supported only where it holds in every seed; p is the largest per-seed p. ${h(c.crystallization_definition)}</p>
${table('Claims, measurement, verdict and p-value', ['Claim', 'Measurement', 'Per seed (statistic, p)', 'Verdict', 'p', 'Note'], rows)}`;
}

function examplesSection(results: RunResults): string {
  const rows = results.examples
    .map(
      (
        e,
      ) => `<tr><td><span class="pill neutral">${h(e.suite)}</span></td><td><pre>${h(e.prompt)}</pre></td><td><pre>${h(e.expected)}</pre></td>
<td><div class="answer">${mark(e.base.correct)}<pre>${h(e.base.answer)}</pre></div></td>
<td><div class="answer">${mark(e.rlcp.correct)}<pre>${h(e.rlcp.answer)}</pre></div></td></tr>`,
    )
    .join('\n');
  return `<h2 id="examples">Example answers</h2>
<p class="intro">The same prompts put to the base model and the metabolized (RLCP) model, greedy decoding.</p>
<div class="panel table"><p class="caption" aria-hidden="true">Prompts with the base and RLCP answers side by side (✓ correct, ✗ wrong)</p><div class="table-scroll"><table class="examples"><caption class="sr-only">Prompts with the base and RLCP answers side by side</caption>
<thead><tr><th scope="col">Suite</th><th scope="col" class="text">Prompt</th><th scope="col" class="text">Expected</th><th scope="col" class="text">Base model</th><th scope="col" class="text">RLCP</th></tr></thead>
<tbody>
${rows}
</tbody></table></div></div>`;
}

function reproduceSection(results: RunResults, config: unknown): string {
  const files = results.item_files
    .map(
      (f) =>
        `<li><a href="${h(f.path)}"><code>${h(f.path)}</code></a> — ${h(f.description)} (${integer(f.records)} records)</li>`,
    )
    .join('');
  return `<h2 id="reproduce">Reproduce this run</h2>
<div class="grid top">
<div class="panel"><h3>Command</h3><p class="intro">Run from the repository root; the seed and every setting are in the config.</p>
<pre class="code">${h(results.command)}</pre>
<h3 class="gap">Per-item records</h3><p class="intro">Every aggregate above can be audited from these files (JSONL, one item a line), next to this report.</p>
${files ? `<ul class="files">${files}</ul>` : '<p class="intro">This run wrote no per-item files.</p>'}
</div>
<div class="panel"><h3>Full configuration</h3><p class="intro">config.json of the run, as resolved.</p>
<pre class="code">${h(JSON.stringify(config, null, 2) ?? 'null')}</pre></div>
</div>`;
}

/** The whole report page for validated results and the run's config.json contents. */
export function renderReport(results: RunResults, config: unknown): string {
  const { chartJs, chartJsVersion, client, css } = loadAssets();
  const charts = buildCharts(results);
  // Only these two inline scripts may run; the data block is JSON, never executed.
  const csp = [
    "default-src 'none'",
    `script-src ${sha256(chartJs)} ${sha256(client)}`,
    "style-src 'unsafe-inline'",
    "img-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  const title = `RLCP report · ${results.model.name} · ${results.created_at}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${h(csp)}">
<meta name="color-scheme" content="light">
<title>${h(title)}</title>
<style>
${css}</style>
</head>
<body>
${header(results)}
<main class="wrap">
${fixtureBanner(results)}${summaryCards(results)}
${howToRead(results)}
${targetsSection(results)}
${phaseSection(results, charts)}
${comparisonSection(results, charts)}
${probeSection(results, charts)}
${relearningSection(results, charts)}
${crystallizationSection(results, charts)}
${cotSection(results, charts)}
${claimsSection(results)}
${examplesSection(results)}
${reproduceSection(results, config)}
<footer>Generated by <code>rlcp report</code> from results.json (schema v${SCHEMA_VERSION}). Charts drawn by Chart.js ${h(chartJsVersion)} (MIT),
bundled into this file: the page makes no network requests and opens offline.</footer>
</main>
<script type="application/json" id="chart-data">${jsonForScript(charts)}</script>
<script>${chartJs}</script>
<script>${client}</script>
</body>
</html>
`;
}
