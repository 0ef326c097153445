// Shaping the demo's evaluations into results.json (src/report/schema.ts, docs/results-schema.md) and the
// terminal summary table. Pure functions over the evaluation aggregates, item records and metrics.jsonl.
import { formatClaimsTable } from '../eval/claims.ts';
import type { Aggregate } from '../eval/suites/runner.ts';
import type { RelearnSplit } from '../eval/suites/relearn.ts';
import type { ForgetCheck, TamperModelResult, TamperOptions, TamperVsOracle } from '../eval/suites/tamper.ts';
import type { LogicItemResult, MultihopItemResult, RagItemResult } from '../eval/suites/recall.ts';
import { findPhaseTransition } from '../eval/phase.ts';
import { mcNemarTest } from '../eval/stats.ts';
import { scoreGsm8kResponse, summarizeGsm8k } from '../eval/gsm8k.ts';
import type {
  ChainOfThought,
  CotChange,
  CotStats,
  Crystallization,
  Example,
  MethodId,
  MethodMetrics,
  ProbeLayer,
  RunResults,
  Tamper,
  TamperCheck,
  Target,
  TrainingCurve,
  TrainingStep,
} from '../report/schema.ts';

function numberAt(a: Aggregate, key: string, where: string): number {
  const value = a[key];
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new Error(`${where}: the evaluation has no finite "${key}" (got ${JSON.stringify(value)})`);
  }
  return value;
}

/** A method's metrics row from its `evaluateModel` aggregate (issue 6 key names → schema names). */
export function methodMetrics(a: Aggregate, where: string): MethodMetrics {
  const n = (key: string) => numberAt(a, key, where);
  return {
    forget_heldout: n('forget_recall_heldout'),
    forget_train: n('forget_recall'),
    forget_rank_heldout: n('forget_rank_heldout'),
    forget_rank_train: n('forget_rank_train'),
    forget_p_above_chance: n('forget_p_above_chance'),
    forget_rank_p: n('forget_rank_p'),
    retain: n('retain_recall'),
    rag: n('rag_accuracy'),
    logic: n('logic_accuracy'),
    multihop: n('multihop_accuracy'),
  };
}

/** The fresh-probe entries of an aggregate (the eval's full records; extra fields are kept). */
export function probeEntries(a: Aggregate, key = 'probe_layers'): ProbeLayer[] {
  const list = a[key];
  return Array.isArray(list) ? (list as ProbeLayer[]) : [];
}

/** The largest fresh cross-entity probe accuracy over layers, with its layer and majority baseline. */
export function probeMax(
  probes: readonly ProbeLayer[],
  kind: 'linear' | 'mlp' = 'linear',
): { layer: number; accuracy: number; majority: number } | null {
  const chosen = probes.filter((p) => p.design === 'cross_entity' && p.kind === kind);
  if (chosen.length === 0) return null;
  return chosen.reduce((best, p) => (p.accuracy > best.accuracy ? p : best));
}

/** Largest (accuracy − majority), all probe kinds, over `layers`: the issue-5 probe target's value. */
export function probeExcess(probes: readonly ProbeLayer[], layers: readonly number[]): number | null {
  const chosen = probes.filter((p) => p.design === 'cross_entity' && layers.includes(p.layer));
  if (chosen.length === 0) return null;
  return Math.max(...chosen.map((p) => p.accuracy - p.majority));
}

/** Mean accuracy of the fresh cross-entity linear probe over `layers` (null when none was trained). */
export function meanProbeAccuracy(probes: readonly ProbeLayer[], layers: readonly number[]): number | null {
  const chosen = probes.filter(
    (p) => p.design === 'cross_entity' && p.kind === 'linear' && layers.includes(p.layer),
  );
  return chosen.length === 0 ? null : chosen.reduce((a, p) => a + p.accuracy, 0) / chosen.length;
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * The phase-transition curve from RLCP's metrics.jsonl: its evaluation records (those with held-out forget
 * recall). `probe_accuracy` is the in-training adversarial probe's; before the first step there is none,
 * so step 0 gets `initialProbeAccuracy` (the caller says what it is, in the notes). Losses are the record's
 * `loss_*` terms (averaged since the previous record) plus `eval_kl`, KL(reference ‖ model) on logic items.
 * `collapse` is null when recall never fell, and also when the first evaluation did not recall the forget
 * facts significantly above chance (there was nothing to collapse).
 */
export function trainingCurve(
  records: readonly Record<string, unknown>[],
  probeLayers: readonly number[],
  initialProbeAccuracy: number,
  alpha = 0.05,
): TrainingCurve {
  const byStep = new Map<number, Record<string, unknown>>();
  for (const r of records) {
    if (finite(r.step) && finite(r.forget_recall_heldout)) byStep.set(r.step, r);
  }
  const evals = [...byStep.values()].sort((a, b) => (a.step as number) - (b.step as number));
  if (evals.length === 0) throw new Error('the RLCP run logged no evaluation (metrics.jsonl)');
  const steps: TrainingStep[] = evals.map((r) => {
    const loss: Record<string, number> = {};
    for (const [key, value] of Object.entries(r)) {
      if (key.startsWith('loss_') && finite(value)) loss[key.slice(5)] = value;
    }
    if (finite(r.kl)) loss.eval_kl = r.kl;
    const where = `metrics.jsonl step ${String(r.step)}`;
    return {
      step: r.step as number,
      lambda: finite(r.lambda) ? r.lambda : 0,
      forget_heldout: r.forget_recall_heldout as number,
      forget_rank_heldout: numberAt(r, 'forget_rank_heldout', where),
      probe_accuracy: finite(r.probe_accuracy) ? r.probe_accuracy : initialProbeAccuracy,
      retain: numberAt(r, 'retain_recall', where),
      loss,
    };
  });
  const phase = findPhaseTransition(evals);
  // A fall from a recall that was never above chance is noise, not a collapse: require the first
  // evaluation to recall the forget facts significantly above chance (its one-sided binomial p < alpha).
  const first = evals[0]!.forget_heldout_p_above_chance;
  const knewThem = !finite(first) || first < alpha;
  return {
    probe_layers: [...probeLayers],
    steps,
    collapse:
      phase.transition && phase.step !== null && knewThem
        ? {
            step: phase.step,
            lambda: phase.lambda ?? 0,
            // Interpolated; one decimal is all the evaluation spacing supports.
            width_steps: Math.round(10 * Math.max(0, phase.width ?? 0)) / 10,
          }
        : null,
  };
}

/** Crystallization before (base) / after (RLCP) from the RLCP evaluation run with the base as reference. */
export function crystallizationOf(a: Aggregate): Crystallization {
  const c = a.crystallization as
    { probe_set: string; layers: { layer: number; before?: CrystalRow; after: CrystalRow }[] } | undefined;
  if (!c) throw new Error('the RLCP evaluation has no crystallization');
  const stats = (s: CrystalRow) => ({
    effective_rank: Math.max(0, s.effective_rank),
    participation_ratio: Math.max(0, s.participation_ratio),
    // Float round-off can put the cosine of identical vectors a hair above 1.
    mean_cosine: Math.min(1, Math.max(-1, s.mean_cosine)),
  });
  return {
    probe_set: c.probe_set,
    layers: c.layers.map((l) => {
      if (!l.before) throw new Error('the RLCP evaluation ran crystallization without the base reference');
      return { layer: l.layer, before: stats(l.before), after: stats(l.after) };
    }),
  };
}

interface CrystalRow {
  effective_rank: number;
  participation_ratio: number;
  mean_cosine: number;
}

/** Chain-of-thought on the world's logic questions, scored like GSM8K (strict / flexible extraction). */
export function cotStats(items: readonly LogicItemResult[]): CotStats {
  const scores = items.map((item, i) => ({
    ...scoreGsm8kResponse(i, item.generated, item.answer),
    tokens: item.generated_tokens,
  }));
  const s = summarizeGsm8k(scores);
  return {
    cot_rate: s.cot_rate,
    mean_tokens: s.mean_tokens,
    strict_accuracy: s.strict_accuracy,
    flexible_accuracy: s.flexible_accuracy,
  };
}

/**
 * CoT before (base) and after (RLCP), and for every other model with logic items the change from the
 * base on the same items with its exact McNemar test.
 */
export function chainOfThought(
  base: readonly LogicItemResult[],
  rlcp: readonly LogicItemResult[],
  models: readonly { id: MethodId | 'oracle'; items: readonly LogicItemResult[] }[] = [],
): ChainOfThought {
  const baseCot = base.map((i) => i.cot);
  const methods = models.map(({ id, items }): CotChange => {
    const test = mcNemarTest(
      baseCot,
      items.map((i) => i.cot),
    );
    return {
      id,
      cot_rate: items.filter((i) => i.cot).length / items.length,
      accuracy: items.filter((i) => i.correct).length / items.length,
      direct_to_cot: test.false_to_true,
      cot_to_direct: test.true_to_false,
      p_two_sided: test.p_two_sided,
    };
  });
  return {
    source: `world logic test questions, closed book, greedy, n = ${base.length}`,
    n: base.length,
    before: cotStats(base),
    after: cotStats(rlcp),
    ...(methods.length > 0 ? { methods } : {}),
  };
}

type AnyItem = { id: string; prompt: string; generated: string; answer: string; correct: boolean };

/** Prompts with the base and RLCP answers side by side: forget, retain, RAG, logic and multi-hop. */
export function examples(
  base: Record<string, readonly unknown[]>,
  rlcp: Record<string, readonly unknown[]>,
): Example[] {
  const out: Example[] = [];
  const add = (suite: string, file: string, count: number, pick: (item: AnyItem) => boolean = () => true) => {
    const theirs = new Map((rlcp[file] as AnyItem[] | undefined)?.map((i) => [i.id, i]) ?? []);
    const seenFacts = new Set<string>();
    for (const item of (base[file] as AnyItem[] | undefined) ?? []) {
      if (out.filter((e) => e.suite === suite).length >= count) break;
      const other = theirs.get(item.id);
      const fact = (item as { fact_id?: string }).fact_id;
      if (!other || !pick(item) || (fact !== undefined && seenFacts.has(fact))) continue;
      if (fact !== undefined) seenFacts.add(fact);
      out.push({
        suite,
        prompt: item.prompt,
        expected: item.answer,
        base: { answer: item.generated.trim(), correct: item.correct },
        rlcp: { answer: other.generated.trim(), correct: other.correct },
      });
    }
  };
  add('forget', 'forget_heldout', 3);
  add('retain', 'retain_heldout', 2);
  add('rag', 'rag_test', 2, (i) => (i as unknown as RagItemResult).forget);
  add('logic', 'logic_test', 2);
  add('multihop', 'multihop_test', 2, (i) => (i as unknown as MultihopItemResult).forget);
  return out;
}

/** Issue 5's targets for the RLCP run, against the base model. Targets that cannot be computed are named. */
export function targets(options: {
  base: MethodMetrics;
  rlcp: MethodMetrics;
  rlcpAggregate: Aggregate;
  rlcpProbes: readonly ProbeLayer[];
  /** Hidden states the RLCP adversary was trained on (fact.layers): the issue's "trained layers". */
  adversaryLayers: readonly number[];
  trainSeconds: number;
  rlcpSteps: number;
  defaultSteps: number;
}): { targets: Target[]; notes: string[] } {
  const { base, rlcp } = options;
  const list: Target[] = [
    {
      id: 'forget_not_above_chance',
      label: 'Held-out forget accuracy not above chance (one-sided binomial p)',
      value: rlcp.forget_p_above_chance,
      op: '>=',
      threshold: 0.05,
      unit: 'p',
    },
    {
      id: 'forget_rank_at_chance',
      label: 'Held-out mean rank at chance (two-sided p)',
      value: rlcp.forget_rank_p,
      op: '>=',
      threshold: 0.05,
      unit: 'p',
    },
  ];
  const notes: string[] = [];
  const trainP = options.rlcpAggregate.forget_rank_p_train;
  if (finite(trainP)) {
    list.push({
      id: 'forget_rank_train_at_chance',
      label: 'Stretch: training-template mean rank at chance (two-sided p)',
      value: trainP,
      op: '>=',
      threshold: 0.05,
      unit: 'p',
    });
  }
  const excess = probeExcess(options.rlcpProbes, options.adversaryLayers);
  if (excess !== null) {
    list.push({
      id: 'probe_at_majority',
      label: 'Fresh cross-entity probe above majority, worst trained layer (linear and MLP)',
      value: 100 * excess,
      op: '<=',
      threshold: 5,
      unit: 'points',
    });
  } else notes.push('Target "probe at majority" not computed: no cross-entity probe on a trained layer.');
  const layersAll = [...new Set(options.rlcpProbes.map((p) => p.layer))];
  const excessAll = probeExcess(options.rlcpProbes, layersAll);
  if (excessAll !== null) {
    list.push({
      id: 'probe_at_majority_every_layer',
      label: 'Stretch: fresh cross-entity probe above majority, worst layer trained or not (linear and MLP)',
      value: 100 * excessAll,
      op: '<=',
      threshold: 5,
      unit: 'points',
    });
  }
  const kept = (id: string, label: string, after: number, before: number, threshold: number) => {
    if (before > 0) list.push({ id, label, value: after / before, op: '>=', threshold, unit: 'fraction' });
    else notes.push(`Target "${label}" not computed: the base model scores 0, so there is no share of it.`);
  };
  kept('retain_kept', 'Retain recall, share of base', rlcp.retain, base.retain, 0.9);
  kept('rag_kept', 'RAG accuracy, share of base', rlcp.rag, base.rag, 0.95);
  kept('logic_kept', 'Logic accuracy, share of base', rlcp.logic, base.logic, 0.95);
  if (options.rlcpSteps === options.defaultSteps) {
    list.push({
      id: 'runtime',
      label: 'Default RLCP run time (training + in-training evaluations)',
      value: options.trainSeconds,
      op: '<=',
      threshold: 600,
      unit: 'seconds',
    });
  } else {
    notes.push(
      `Target "default run ≤ 10 minutes" not checked: this run trained RLCP for ${options.rlcpSteps} steps, not the default config's ${options.defaultSteps}.`,
    );
  }
  return { targets: list, notes };
}

const ITEM_DESCRIPTIONS: Record<string, string> = {
  forget_train: 'forget facts asked with training templates',
  forget_heldout: 'forget facts asked with held-out templates',
  retain_train: 'retain facts, closed book, training templates',
  retain_heldout: 'retain facts, closed book, held-out templates',
  rag_test: 'facts supplied in context (forget facts included)',
  rag_counterfactual: 'contexts stating another answer: does the model follow the context?',
  logic_test: 'logic questions, greedy answers',
  multihop_test: 'multi-hop questions through the forget relation and others',
  logit_lens: 'logit lens per layer on the forget prompts',
};

export function itemDescription(method: string, name: string): string {
  const what = ITEM_DESCRIPTIONS[name] ?? name.replace(/_/g, ' ');
  return `${method}: ${what}`;
}

// ---- tamper battery ---------------------------------------------------------------------------

function tamperCheck(check: ForgetCheck): TamperCheck {
  return {
    accuracy: check.accuracy,
    mean_rank: check.mean_rank,
    p_above_chance: check.p_above_chance,
    rank_p: check.rank_p,
    at_chance: check.at_chance,
    retain_recall: check.retain_recall,
  };
}

/** results.json's `tamper`: the battery's options, its splits, and one row per model (the curves are items). */
export function tamperSection(
  options: TamperOptions,
  splits: readonly RelearnSplit[],
  batteries: readonly TamperModelResult[],
  vsOracle: readonly TamperVsOracle[],
): Tamper {
  return {
    options: {
      splits: options.splits,
      relearn_steps: options.relearnSteps,
      every: options.every,
      checkpoint: options.checkpoint,
      benign_steps: options.benignSteps,
      quant_bits: [...options.quantBits],
      lr: options.lr,
      batch_size: options.batchSize,
      seed: options.seed,
    },
    splits: splits.map((s) => ({ train_facts: [...s.trainFacts], eval_facts: [...s.evalFacts] })),
    models: batteries.map((b) => {
      const vs = vsOracle.find((v) => v.id === b.id);
      return {
        id: b.id as MethodId | 'oracle',
        seconds: b.seconds,
        benign: tamperCheck(b.benign),
        quantization: b.quantization.map((q) => ({
          ...tamperCheck(q),
          bits: q.bits,
          probe_max_accuracy: q.probe_max_accuracy,
        })),
        vs_oracle: vs
          ? { checkpoint: vs.checkpoint, end: vs.end, forget_quality: vs.forget_quality, holds: vs.holds }
          : null,
      };
    }),
  };
}

/**
 * The battery as table cells: per model, the relearning attack against the oracle at the checkpoint and at
 * the end, benign fine-tuning, each quantization width and the KS forget quality, each marked ok / FAIL.
 */
function tamperCells(tamper: Tamper): { header: string[]; body: string[][] } {
  const o = tamper.options;
  const mark = (ok: boolean | undefined) => (ok === undefined ? '' : ok ? ' ok' : ' FAIL');
  const header = [
    'tamper',
    `rank @${o.checkpoint} vs oracle (p)`,
    `+facts @${o.checkpoint}`,
    `rank @${o.relearn_steps} (p)`,
    `benign ${o.benign_steps} steps`,
    ...o.quant_bits.map((b) => `int${b}`),
    'forget quality KS p',
  ];
  const check = (c: TamperCheck) => `${pct(c.accuracy)} r${c.mean_rank.toFixed(1)}`;
  const body = tamper.models.map((m) => {
    const v = m.vs_oracle;
    const rel = (r: NonNullable<typeof v>['checkpoint'] | undefined, holds: boolean | undefined) =>
      r
        ? `${r.mean_rank.toFixed(2)} vs ${r.oracle_mean_rank.toFixed(2)} (${pText(r.rank_p)})${mark(holds)}`
        : '—';
    const excess = v?.checkpoint.accuracy_excess_facts;
    return [
      m.id,
      rel(v?.checkpoint, v?.holds.relearn_checkpoint),
      excess === undefined ? '—' : `${excess >= 0 ? '+' : ''}${excess.toFixed(2)}`,
      rel(v?.end, v?.holds.relearn_end),
      `${check(m.benign)}${mark(m.benign.at_chance)}`,
      ...o.quant_bits.map((bits) => {
        const q = m.quantization.find((x) => x.bits === bits);
        return q ? `${check(q)}${mark(q.at_chance)}` : '—';
      }),
      v ? `${v.forget_quality.p.toPrecision(2)}${mark(v.holds.forget_quality)}` : '—',
    ];
  });
  return { header, body };
}

function tamperCaption(tamper: Tamper): string {
  const o = tamper.options;
  return `Tamper battery (${o.splits} relearning splits, lr ${o.lr}, batch ${o.batch_size}): mean rank of the held-out forget facts after relearning on the other half vs the oracle's (paired sign-flip p), facts recovered beyond the oracle; benign / int-N: held-out forget accuracy and rank r (ok = at chance); forget quality: KS p of the per-fact true-answer scores against the oracle's.`;
}

/** A caption over columns padded to their widest cell, with a dashed rule under the header. */
function alignedTable(caption: string, header: string[], body: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [caption, line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/** The battery as a terminal table ('' for a run without it). */
export function formatTamperTable(tamper: Tamper | undefined): string {
  if (!tamper) return '';
  const { header, body } = tamperCells(tamper);
  return alignedTable(tamperCaption(tamper), header, body);
}

/** The battery as Markdown table lines ([] for a run without it). */
function markdownTamper(tamper: Tamper | undefined): string[] {
  if (!tamper) return [];
  const { header, body } = tamperCells(tamper);
  const row = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [tamperCaption(tamper), '', row(header), row(header.map(() => '---')), ...body.map(row), ''];
}

// ---- terminal summary ------------------------------------------------------------------------

export interface SummaryRow {
  id: MethodId;
  metrics: MethodMetrics;
  probes: readonly ProbeLayer[];
}

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
function pText(p: number): string {
  return p < 0.001 ? 'p<.001' : `p=${p.toFixed(3).replace(/^0/, '')}`;
}

/** The summary table printed at the end: one line per method, chance marked in the header. */
export function formatSummaryTable(rows: readonly SummaryRow[], candidates: number): string {
  const header = [
    'method',
    'forget held-out',
    'forget rank (p)',
    'retain',
    'RAG',
    'logic',
    'multi-hop',
    'probe max layer vs majority',
  ];
  const body = rows.map((r) => {
    const m = r.metrics;
    const probe = probeMax(r.probes);
    return [
      r.id,
      `${pct(m.forget_heldout)} ${pText(m.forget_p_above_chance)}`,
      `${m.forget_rank_heldout.toFixed(2)} (${pText(m.forget_rank_p)})`,
      pct(m.retain),
      pct(m.rag),
      pct(m.logic),
      pct(m.multihop),
      probe ? `${pct(probe.accuracy)} @L${probe.layer} vs ${pct(probe.majority)}` : '(not run)',
    ];
  });
  return alignedTable(
    `chance: accuracy 1/${candidates} = ${pct(1 / candidates)}, mean rank ${((candidates + 1) / 2).toFixed(1)}; p: forget accuracy above chance (one-sided), rank ≠ chance (two-sided)`,
    header,
    body,
  );
}

/**
 * The run's results as Markdown (written to RUN/summary.md for the README): the methods table, chance,
 * the targets, the stage timings and the command that produced it.
 */
function markdownCot(c: ChainOfThought): string[] {
  if (!c.methods) return [];
  return [
    `| model | CoT rate (base ${pct(c.before.cot_rate)}) | logic accuracy | direct → CoT | CoT → direct | McNemar p |`,
    '| --- | --- | --- | --- | --- | --- |',
    ...c.methods.map(
      (m) =>
        `| ${m.id} | ${pct(m.cot_rate)} | ${pct(m.accuracy)} | ${m.direct_to_cot} | ${m.cot_to_direct} | ${pText(m.p_two_sided)} |`,
    ),
    '',
  ];
}

export function markdownSummary(
  results: RunResults,
  timings: readonly { name: string; budget: number; seconds: number; cpuSeconds: number }[],
): string {
  const K = results.world.candidates;
  const rows = results.methods.map((m) => {
    const x = m.metrics;
    const probe = probeMax(m.probe_layers);
    return `| ${m.id} | ${pct(x.forget_heldout)} (${pText(x.forget_p_above_chance)}) | ${x.forget_rank_heldout.toFixed(2)} (${pText(x.forget_rank_p)}) | ${x.forget_rank_train.toFixed(2)} | ${pct(x.retain)} | ${pct(x.rag)} | ${pct(x.logic)} | ${pct(x.multihop)} | ${probe ? `${pct(probe.accuracy)} (L${probe.layer}) vs ${pct(probe.majority)}` : '—'} |`;
  });
  const targetRows = results.targets.map((t) => {
    const show = (v: number) =>
      t.unit === 'fraction'
        ? pct(v)
        : t.unit === 'points'
          ? `${v.toFixed(1)} pts`
          : t.unit === 'seconds'
            ? `${v.toFixed(0)} s`
            : v.toFixed(3);
    const met = t.op === '>=' ? t.value >= t.threshold : t.value <= t.threshold;
    return `| ${t.label} | ${show(t.value)} | ${t.op} ${show(t.threshold)} | ${met ? 'met' : '**missed**'} |`;
  });
  const stageRows = timings.map(
    (t) => `| ${t.name} | ${t.seconds.toFixed(0)} | ${t.budget} | ${t.cpuSeconds.toFixed(0)} |`,
  );
  return [
    `Model \`${results.model.name}\` (${results.model.layers} layers, d = ${results.model.hidden_size}, ${results.model.parameters.toLocaleString('en-US')} parameters), ${results.world.relation}: ${results.world.forget_facts} forget facts, K = ${K} candidates (chance ${pct(1 / K)}, chance rank ${((K + 1) / 2).toFixed(1)}); seed ${results.seed}.`,
    '',
    '| method | forget held-out (p > chance) | forget rank held-out (p ≠ chance) | forget rank train | retain | RAG | logic | multi-hop | probe max layer vs majority |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    '| target (RLCP) | value | threshold | |',
    '| --- | --- | --- | --- |',
    ...targetRows,
    '',
    ...markdownTamper(results.tamper),
    ...markdownCot(results.chain_of_thought),
    ...(results.claims ? [formatClaimsTable(results.claims), ''] : []),
    '| stage | wall s | budget s | CPU s |',
    '| --- | --- | --- | --- |',
    ...stageRows,
    '',
    `Total wall time ${results.duration_seconds.toFixed(0)} s. Command: \`${results.command}\``,
    '',
  ].join('\n');
}
