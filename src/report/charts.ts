// Chart descriptions built from a run's results. They are plain JSON, embedded in the page and turned
// into Chart.js charts by client.js; keeping the data shaping here keeps it testable without a browser.
import {
  chanceAccuracy,
  chanceRank,
  type MethodId,
  type MethodResult,
  type ProbeLayer,
  type RunResults,
} from './schema.ts';

export type AxisFormat = 'percent' | 'number' | 'integer';

export interface AxisSpec {
  title: string;
  format: AxisFormat;
  min?: number;
  max?: number;
  /** A linear numeric x axis (steps) rather than category labels. */
  linear?: boolean;
}

export interface DatasetSpec {
  label: string;
  /** Values by category, or {x, y} points on a linear x axis; null leaves a gap. */
  data: (number | null)[] | { x: number; y: number }[];
  /** One colour for the series, or one per bar. */
  color: string | string[];
  /** Line dash pattern; distinguishes series without relying on colour. */
  dash?: number[];
  axis?: 'y' | 'y2';
  type?: 'line' | 'bar';
  width?: number;
  pointStyle?: string;
  format?: AxisFormat;
}

export interface ReferenceLine {
  /** The scale the value is on: 'x' for a vertical line, 'y' / 'y2' for a horizontal one. */
  scale: 'x' | 'y' | 'y2';
  value: number;
  label: string;
  color: string;
}

export interface ChartSpec {
  id: string;
  type: 'line' | 'bar';
  /** Horizontal bars. */
  horizontal?: boolean;
  labels?: string[];
  datasets: DatasetSpec[];
  x: AxisSpec;
  y: AxisSpec;
  y2?: AxisSpec;
  references?: ReferenceLine[];
  /** The accessible description of what the chart shows (aria-label). */
  description: string;
}

// Okabe–Ito palette: distinguishable with the common colour-vision deficiencies.
export const PALETTE = {
  black: '#000000',
  grey: '#6b6b6b',
  orange: '#E69F00',
  sky: '#56B4E9',
  green: '#009E73',
  blue: '#0072B2',
  vermillion: '#D55E00',
  purple: '#CC79A7',
} as const;

export const METHOD_STYLE: Record<MethodId | 'oracle', { label: string; color: string; dash?: number[] }> = {
  base: { label: 'Base model', color: PALETTE.grey },
  rlcp: { label: 'RLCP', color: PALETTE.blue },
  regen: { label: 'RLCP + regeneration', color: PALETTE.blue, dash: [3, 3] },
  unlikelihood: { label: 'Unlikelihood', color: PALETTE.orange, dash: [6, 3] },
  ga: { label: 'Gradient ascent', color: PALETTE.vermillion, dash: [2, 3] },
  graddiff: { label: 'GradDiff', color: PALETTE.purple, dash: [8, 3, 2, 3] },
  npo: { label: 'NPO', color: PALETTE.green, dash: [10, 4] },
  simnpo: { label: 'SimNPO', color: PALETTE.green, dash: [3, 2] },
  rmu: { label: 'RMU', color: PALETTE.black, dash: [6, 2, 2, 2] },
  leace: { label: 'LEACE (linear erasure)', color: PALETTE.black, dash: [1, 3] },
  rag: { label: 'Just-RAG', color: PALETTE.sky, dash: [4, 4] },
  oracle: { label: 'Oracle (never saw the facts)', color: PALETTE.green, dash: [8, 4] },
};

/** Layer 0 is the embedding output; layer i the output of block i. */
export function layerName(layer: number): string {
  return layer === 0 ? 'emb' : `L${layer}`;
}

/** A method's results; validated results always hold `base` and `rlcp`. */
export function methodById(results: RunResults, id: MethodId): MethodResult {
  const found = results.methods.find((m) => m.id === id);
  if (!found) throw new Error(`results have no method "${id}"`);
  return found;
}

/** The main probe audit: cross-entity design, linear probe, by layer. */
export function mainProbes(probes: readonly ProbeLayer[]): ProbeLayer[] {
  return probes
    .filter((p) => p.design === 'cross_entity' && p.kind === 'linear')
    .sort((a, b) => a.layer - b.layer);
}

function range(values: number[]): string {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return `${Math.round(lo * 100)}% to ${Math.round(hi * 100)}%`;
}

function phaseChart(results: RunResults): ChartSpec {
  const steps = results.training.steps;
  const series = (pick: (s: (typeof steps)[number]) => number) =>
    steps.map((s) => ({ x: s.step, y: pick(s) }));
  const chance = chanceAccuracy(results);
  const collapse = results.training.collapse;
  const references: ReferenceLine[] = [
    { scale: 'y', value: chance, label: `chance 1/${results.world.candidates}`, color: PALETTE.black },
  ];
  if (collapse) {
    references.push({
      scale: 'x',
      value: collapse.step,
      label: `collapse, step ${collapse.step}`,
      color: PALETTE.vermillion,
    });
  }
  const first = steps[0]!;
  const last = steps[steps.length - 1]!;
  return {
    id: 'chart-phase',
    type: 'line',
    datasets: [
      {
        label: 'Forget recall (held-out templates)',
        data: series((s) => s.forget_heldout),
        color: PALETTE.blue,
        width: 3,
      },
      {
        label: 'In-training probe accuracy',
        data: series((s) => s.probe_accuracy),
        color: PALETTE.orange,
        dash: [6, 3],
        pointStyle: 'rect',
      },
      {
        label: 'Retain recall',
        data: series((s) => s.retain),
        color: PALETTE.green,
        dash: [2, 2],
        pointStyle: 'triangle',
      },
      {
        label: 'λ (right axis)',
        data: series((s) => s.lambda),
        color: PALETTE.black,
        dash: [10, 4],
        axis: 'y2',
        width: 1.5,
        pointStyle: 'line',
        format: 'number',
      },
    ],
    x: { title: 'training step', format: 'integer', linear: true, min: first.step, max: last.step },
    y: { title: 'accuracy', format: 'percent', min: 0, max: 1 },
    y2: { title: 'λ (gradient reversal strength)', format: 'number', min: 0 },
    references,
    description:
      `Line chart over ${last.step} training steps: held-out forget recall goes from ` +
      `${Math.round(first.forget_heldout * 100)}% to ${Math.round(last.forget_heldout * 100)}%, ` +
      `in-training probe accuracy from ${Math.round(first.probe_accuracy * 100)}% to ` +
      `${Math.round(last.probe_accuracy * 100)}%, retain recall ranges ${range(steps.map((s) => s.retain))}; ` +
      `chance is ${Math.round(chance * 1000) / 10}%` +
      (collapse ? `; recall collapses at step ${collapse.step} (λ = ${collapse.lambda.toFixed(2)}).` : '.'),
  };
}

function rankChart(results: RunResults): ChartSpec {
  const steps = results.training.steps;
  const chance = chanceRank(results);
  const last = steps[steps.length - 1]!;
  return {
    id: 'chart-rank',
    type: 'line',
    datasets: [
      {
        label: 'Mean rank of the true answer (held-out)',
        data: steps.map((s) => ({ x: s.step, y: s.forget_rank_heldout })),
        color: PALETTE.blue,
        width: 3,
        format: 'number',
      },
    ],
    x: { title: 'training step', format: 'integer', linear: true, min: steps[0]!.step, max: last.step },
    y: {
      title: `rank among ${results.world.candidates} candidates`,
      format: 'number',
      min: 1,
      max: results.world.candidates,
    },
    references: [{ scale: 'y', value: chance, label: `chance rank ${chance}`, color: PALETTE.black }],
    description:
      `Line chart: the true answer's mean rank goes from ${steps[0]!.forget_rank_heldout.toFixed(1)} to ` +
      `${last.forget_rank_heldout.toFixed(1)}; chance rank is ${chance}.`,
  };
}

function lossChart(results: RunResults): ChartSpec {
  const steps = results.training.steps;
  const names = [...new Set(steps.flatMap((s) => Object.keys(s.loss)))];
  const colors = [
    PALETTE.black,
    PALETTE.blue,
    PALETTE.orange,
    PALETTE.green,
    PALETTE.vermillion,
    PALETTE.purple,
  ];
  const dashes = [[], [6, 3], [2, 2], [10, 4], [8, 3, 2, 3], [4, 4]];
  return {
    id: 'chart-loss',
    type: 'line',
    datasets: names.map((name, i) => ({
      label: name,
      // A loss not logged at some step leaves a gap instead of a made-up value.
      data: steps.flatMap((s) => (s.loss[name] === undefined ? [] : [{ x: s.step, y: s.loss[name]! }])),
      color: colors[i % colors.length]!,
      dash: dashes[i % dashes.length]!,
      width: name === 'total' ? 3 : 2,
      format: 'number',
    })),
    x: {
      title: 'training step',
      format: 'integer',
      linear: true,
      min: steps[0]!.step,
      max: steps[steps.length - 1]!.step,
    },
    y: { title: 'loss', format: 'number' },
    description: `Line chart of the training losses (${names.join(', ')}) against step.`,
  };
}

const COMPARISON_METRICS = [
  ['forget_heldout', 'Forget (held-out)'],
  ['retain', 'Retain'],
  ['rag', 'RAG'],
  ['logic', 'Logic'],
  ['multihop', 'Multi-hop'],
] as const;

function comparisonChart(results: RunResults): ChartSpec {
  const rlcp = methodById(results, 'rlcp');
  return {
    id: 'chart-methods',
    type: 'bar',
    labels: COMPARISON_METRICS.map(([, label]) => label),
    datasets: results.methods.map((m) => ({
      label: METHOD_STYLE[m.id].label,
      data: COMPARISON_METRICS.map(([key]) => m.metrics[key]),
      color: METHOD_STYLE[m.id].color,
    })),
    x: { title: 'evaluation suite', format: 'number' },
    y: { title: 'accuracy', format: 'percent', min: 0, max: 1 },
    references: [
      {
        scale: 'y',
        value: chanceAccuracy(results),
        label: `chance 1/${results.world.candidates}`,
        color: PALETTE.black,
      },
    ],
    description:
      `Grouped bar chart of accuracy per suite for ${results.methods.length} methods. RLCP: forget ` +
      `${Math.round(rlcp.metrics.forget_heldout * 100)}%, retain ${Math.round(rlcp.metrics.retain * 100)}%, ` +
      `RAG ${Math.round(rlcp.metrics.rag * 100)}%, logic ${Math.round(rlcp.metrics.logic * 100)}%, ` +
      `multi-hop ${Math.round(rlcp.metrics.multihop * 100)}%. Exact numbers are in the table below.`,
  };
}

function rankByMethodChart(results: RunResults): ChartSpec {
  const chance = chanceRank(results);
  return {
    id: 'chart-method-rank',
    type: 'bar',
    horizontal: true,
    labels: results.methods.map((m) => METHOD_STYLE[m.id].label),
    datasets: [
      {
        label: 'Mean rank of the true forget answer (held-out)',
        data: results.methods.map((m) => m.metrics.forget_rank_heldout),
        color: results.methods.map((m) => METHOD_STYLE[m.id].color),
        format: 'number',
      },
    ],
    x: {
      title: `mean rank (1 = recalled, ${results.world.candidates} = last)`,
      format: 'number',
      min: 1,
      max: results.world.candidates,
    },
    y: { title: 'method', format: 'number' },
    references: [{ scale: 'x', value: chance, label: `chance ${chance}`, color: PALETTE.black }],
    description:
      'Horizontal bar chart of the mean rank of the true forget answer per method: ' +
      results.methods
        .map((m) => `${METHOD_STYLE[m.id].label} ${m.metrics.forget_rank_heldout.toFixed(1)}`)
        .join(', ') +
      `; chance rank ${chance}. Bars far right of chance mean the fact is still encoded, inverted.`,
  };
}

function probeChart(results: RunResults): ChartSpec {
  const withProbes = results.methods.filter((m) => mainProbes(m.probe_layers).length > 0);
  const layers = [...new Set(withProbes.flatMap((m) => mainProbes(m.probe_layers).map((p) => p.layer)))].sort(
    (a, b) => a - b,
  );
  const valueAt = (probes: ProbeLayer[], layer: number, pick: (p: ProbeLayer) => number) => {
    const probe = probes.find((p) => p.layer === layer);
    return probe === undefined ? null : pick(probe);
  };
  const baseProbes = mainProbes(methodById(results, 'base').probe_layers);
  const rlcpProbes = mainProbes(methodById(results, 'rlcp').probe_layers);
  const emphasised = (id: MethodId) => id === 'base' || id === 'rlcp';
  const peak = (probes: ProbeLayer[]) => Math.max(...probes.map((p) => p.accuracy));
  return {
    id: 'chart-probes',
    type: 'line',
    labels: layers.map((layer) => layerName(layer)),
    datasets: [
      ...withProbes.map((m) => {
        const probes = mainProbes(m.probe_layers);
        return {
          label: METHOD_STYLE[m.id].label,
          data: layers.map((layer) => valueAt(probes, layer, (p) => p.accuracy)),
          color: METHOD_STYLE[m.id].color,
          dash: METHOD_STYLE[m.id].dash,
          width: emphasised(m.id) ? 3.5 : 1.5,
        };
      }),
      {
        label: 'Majority baseline',
        data: layers.map((layer) => valueAt(baseProbes, layer, (p) => p.majority)),
        color: PALETTE.black,
        dash: [3, 3],
        width: 1.5,
        pointStyle: 'line',
      },
    ],
    x: { title: 'layer (hidden-state output of block)', format: 'number' },
    y: { title: 'fresh-probe accuracy on forget entities', format: 'percent', min: 0, max: 1 },
    description:
      `Line chart of fresh cross-entity linear probe accuracy per layer. Base model peaks at ` +
      `${Math.round(peak(baseProbes) * 100)}%, RLCP at ${Math.round(peak(rlcpProbes) * 100)}%; the dashed ` +
      `black line is the majority baseline. Numbers in the table below.`,
  };
}

function relearningChart(results: RunResults): ChartSpec {
  const { steps, curves } = results.relearning;
  return {
    id: 'chart-relearning',
    type: 'line',
    datasets: curves.map((curve) => ({
      label: METHOD_STYLE[curve.id].label,
      data: curve.accuracy.map((y, i) => ({ x: steps[i]!, y })),
      color: METHOD_STYLE[curve.id].color,
      dash: METHOD_STYLE[curve.id].dash,
      width: curve.id === 'rlcp' || curve.id === 'regen' ? 3.5 : 2,
    })),
    x: {
      title: 'fine-tuning steps on the other half of the forget facts',
      format: 'integer',
      linear: true,
      min: steps[0]!,
      max: steps[steps.length - 1]!,
    },
    y: { title: 'recall of held-back forget facts', format: 'percent', min: 0, max: 1 },
    references: [
      {
        scale: 'y',
        value: chanceAccuracy(results),
        label: `chance 1/${results.world.candidates}`,
        color: PALETTE.black,
      },
    ],
    description:
      'Line chart of recall against relearning steps: ' +
      curves
        .map(
          (c) =>
            `${METHOD_STYLE[c.id].label} ${Math.round(c.accuracy[0]! * 100)}% → ` +
            `${Math.round(c.accuracy[c.accuracy.length - 1]! * 100)}%`,
        )
        .join(', ') +
      '.',
  };
}

/** Mean rank of the held-back facts during relearning, every model and the oracle on one plot. */
function relearningRankChart(results: RunResults): ChartSpec | null {
  const { steps } = results.relearning;
  const curves = results.relearning.curves.filter((c) => c.mean_rank !== undefined);
  if (curves.length === 0) return null;
  const chance = chanceRank(results);
  const emphasised = (id: string) => id === 'rlcp' || id === 'oracle';
  return {
    id: 'chart-relearning-rank',
    type: 'line',
    datasets: curves.map((curve) => ({
      label: METHOD_STYLE[curve.id].label,
      data: curve.mean_rank!.map((y, i) => ({ x: steps[i]!, y })),
      color: METHOD_STYLE[curve.id].color,
      dash: METHOD_STYLE[curve.id].dash,
      width: emphasised(curve.id) ? 3.5 : 1.5,
      format: 'number',
    })),
    x: {
      title: 'fine-tuning steps on the other half of the forget facts',
      format: 'integer',
      linear: true,
      min: steps[0]!,
      max: steps[steps.length - 1]!,
    },
    y: { title: `mean rank among ${results.world.candidates} (1 = recalled)`, format: 'number', min: 1 },
    references: [{ scale: 'y', value: chance, label: `chance ${chance}`, color: PALETTE.black }],
    description:
      'Line chart of the held-back facts’ mean rank against relearning steps: ' +
      curves
        .map(
          (c) =>
            `${METHOD_STYLE[c.id].label} ${c.mean_rank![0]!.toFixed(1)} → ${c.mean_rank!.at(-1)!.toFixed(1)}`,
        )
        .join(', ') +
      `; chance ${chance}. A curve falling below the oracle's recovers facts the oracle never knew.`,
  };
}

function crystallizationChart(results: RunResults): ChartSpec {
  const layers = results.crystallization.layers;
  return {
    id: 'chart-crystallization',
    type: 'bar',
    labels: layers.map((l) => layerName(l.layer)),
    datasets: [
      {
        label: 'Before (base)',
        data: layers.map((l) => l.before.effective_rank),
        color: PALETTE.grey,
        format: 'number',
      },
      {
        label: 'After (RLCP)',
        data: layers.map((l) => l.after.effective_rank),
        color: PALETTE.blue,
        format: 'number',
      },
    ],
    x: { title: 'layer', format: 'number' },
    y: { title: 'effective rank', format: 'number', min: 0 },
    description:
      'Bar chart of the effective rank of hidden states per layer before and after RLCP: ' +
      layers
        .map(
          (l) =>
            `layer ${l.layer} ${l.before.effective_rank.toFixed(1)} → ${l.after.effective_rank.toFixed(1)}`,
        )
        .join(', ') +
      '.',
  };
}

function cotCharts(results: RunResults): ChartSpec[] {
  const { before, after } = results.chain_of_thought;
  const rates = [
    ['cot_rate', 'CoT rate'],
    ['strict_accuracy', 'Accuracy (strict)'],
    ['flexible_accuracy', 'Accuracy (flexible)'],
  ] as const;
  return [
    {
      id: 'chart-cot',
      type: 'bar',
      labels: rates.map(([, label]) => label),
      datasets: [
        { label: 'Before (base)', data: rates.map(([key]) => before[key]), color: PALETTE.grey },
        { label: 'After (RLCP)', data: rates.map(([key]) => after[key]), color: PALETTE.blue },
      ],
      x: { title: 'measure', format: 'number' },
      y: { title: 'share of answers', format: 'percent', min: 0, max: 1 },
      description:
        `Bar chart: chain-of-thought rate ${Math.round(before.cot_rate * 100)}% before, ` +
        `${Math.round(after.cot_rate * 100)}% after; strict accuracy ${Math.round(before.strict_accuracy * 100)}% ` +
        `before, ${Math.round(after.strict_accuracy * 100)}% after.`,
    },
    {
      id: 'chart-length',
      type: 'bar',
      labels: ['Before (base)', 'After (RLCP)'],
      datasets: [
        {
          label: 'Mean answer length (tokens)',
          data: [before.mean_tokens, after.mean_tokens],
          color: [PALETTE.grey, PALETTE.blue],
          format: 'number',
        },
      ],
      x: { title: 'model', format: 'number' },
      y: { title: 'generated tokens per answer', format: 'number', min: 0 },
      description: `Bar chart: mean answer length ${before.mean_tokens.toFixed(1)} tokens before, ${after.mean_tokens.toFixed(1)} after.`,
    },
  ];
}

/** Every chart of the report, keyed by canvas id. */
export function buildCharts(results: RunResults): Record<string, ChartSpec> {
  const rankCurve = relearningRankChart(results);
  const specs = [
    phaseChart(results),
    rankChart(results),
    lossChart(results),
    comparisonChart(results),
    rankByMethodChart(results),
    probeChart(results),
    relearningChart(results),
    ...(rankCurve ? [rankCurve] : []),
    crystallizationChart(results),
    ...cotCharts(results),
  ];
  return Object.fromEntries(specs.map((spec) => [spec.id, spec]));
}
