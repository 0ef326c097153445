// `evaluateModel`: every model-based suite of `rlcp eval` over a world (or fact-set files), with the
// aggregate (results.json) and the per-item records (items/<suite>.jsonl) behind it.
import { join } from 'node:path';
import { ProgressBar } from '../../cli/progress.ts';
import type { Fact } from '../../data/facts.ts';
import type { World } from '../../data/world.ts';
import { writeFileAtomic, writeJsonAtomic } from '../../io/atomic.ts';
import { toJsonl } from '../../io/jsonl.ts';
import { Qwen2ForCausalLM } from '../../nn/qwen2.ts';
import type { ProbeKind } from '../probes.ts';
import { crystallization } from './crystallization.ts';
import { evaluateDerivable } from './derivable.ts';
import { generateGsm8k } from './gsm8k-generate.ts';
import { Inference, type EvalTokenizer } from './inference.ts';
import { factSuitesFromFacts, factSuitesFromWorld, type FactItem, type FactSuites } from './items.ts';
import { logitLens, type LensItem } from './logit-lens.ts';
import { auditProbeDesign, type ProbeLayerResult, type ProbeRows } from './probe-audit.ts';
import {
  evaluateFactItems,
  evaluateLogic,
  evaluateMultihop,
  evaluateRag,
  type FactSplitSummary,
  type RelationRecall,
} from './recall.ts';
import { compareToOracle, DEFAULT_TAMPER_OPTIONS, runTamperBattery, type TamperOptions } from './tamper.ts';
import { DEFAULT_RELEARN_OPTIONS, relearnAttack, relearnSplit, type RelearnOptions } from './relearn.ts';

export const SUITES = [
  'recall',
  'rag',
  'logic',
  'multihop',
  'derivable',
  'probes',
  'logit-lens',
  'crystallization',
  'relearn',
  'tamper',
  'gsm8k',
] as const;
export type SuiteName = (typeof SUITES)[number];

/** Suites that need a world (its RAG, logic and multi-hop splits). */
export const WORLD_ONLY_SUITES: readonly SuiteName[] = ['rag', 'logic', 'multihop', 'derivable'];
/**
 * Run when no suite is named: everything but the costly attacks (relearn, tamper) and GSM8K (needs a file);
 * derivable too on a world with derivable facts.
 */
export const DEFAULT_SUITES: readonly SuiteName[] = [
  'recall',
  'rag',
  'logic',
  'multihop',
  'probes',
  'logit-lens',
  'crystallization',
];

export interface EvaluateOptions {
  model: Qwen2ForCausalLM;
  tokenizer: EvalTokenizer;
  /** Exactly one of `world` and `facts`. */
  world?: World;
  facts?: { facts: readonly Fact[]; source: string };
  /** Default DEFAULT_SUITES (without the world-only ones in facts mode). */
  suites?: readonly SuiteName[];
  /** The model before unlearning: crystallization before/after. */
  reference?: Qwen2ForCausalLM;
  /** A model that never saw the forget facts: the relearning attack's control. */
  oracle?: Qwen2ForCausalLM;
  gsm8k?: { path: string; limit?: number; maxNewTokens?: number };
  relearn?: Partial<RelearnOptions>;
  tamper?: Partial<TamperOptions>;
  probes?: {
    /** Hidden-state layers (0 = embeddings … L); default all. */
    layers?: readonly number[];
    kinds?: readonly ProbeKind[];
    /** Seeds the probes and the untrained comparison model. Default 0. */
    seed?: number;
  };
  batchSize?: number;
  /** Progress bars on stderr (default true). */
  progress?: boolean;
  /** Where to write results.json and items/; nothing is written when absent. */
  out?: string;
}

export type Aggregate = Record<string, unknown>;

export interface EvalResults {
  aggregate: Aggregate;
  /** Per-item records by file name (items/<name>.jsonl). */
  items: Record<string, readonly unknown[]>;
}

function checkSuites(options: EvaluateOptions): SuiteName[] {
  const worldMode = options.world !== undefined;
  const derivableWorld = options.world?.meta.config.derivable !== undefined;
  const requested = options.suites ?? [
    ...DEFAULT_SUITES.filter((s) => worldMode || !WORLD_ONLY_SUITES.includes(s)),
    ...(derivableWorld ? (['derivable'] as const) : []),
  ];
  for (const suite of requested) {
    if (!SUITES.includes(suite)) throw new Error(`unknown suite "${suite}" (one of ${SUITES.join(', ')})`);
    if (!worldMode && WORLD_ONLY_SUITES.includes(suite)) {
      throw new Error(`suite "${suite}" needs a world (--world DIR); fact sets have no ${suite} items`);
    }
  }
  if (requested.includes('gsm8k') && !options.gsm8k) throw new Error('suite "gsm8k" needs --gsm8k FILE');
  return [...new Set(requested)];
}

function forgetRelationOf(summary: FactSplitSummary, relation: string): RelationRecall {
  const found = summary.relations.find((r) => r.relation === relation);
  if (!found) throw new Error(`no items of the forget relation "${relation}"`);
  return found;
}

/** Runs the chosen suites; writes OUT/results.json and OUT/items/*.jsonl when `out` is given. */
export async function evaluateModel(options: EvaluateOptions): Promise<EvalResults> {
  const started = Date.now();
  if ((options.world === undefined) === (options.facts === undefined)) {
    throw new Error('evaluateModel needs exactly one of a world and fact sets');
  }
  const suites = checkSuites(options);
  const { model, tokenizer } = options;
  const progress = options.progress ?? true;
  const inference = new Inference(model, tokenizer, { batchSize: options.batchSize, progress });
  const factSuites: FactSuites = options.world
    ? factSuitesFromWorld(options.world)
    : factSuitesFromFacts(options.facts!.facts, options.facts!.source);
  const K = factSuites.forgetCandidates.length;
  const aggregate: Aggregate = {
    source: factSuites.source,
    suites,
    model: {
      layers: model.config.numHiddenLayers,
      hidden_size: model.config.hiddenSize,
      vocab_size: model.config.vocabSize,
      parameters: model.numParameters(),
    },
    forget_relation: factSuites.forgetRelation,
    forget_candidates: K,
    chance: 1 / K,
  };
  const items: Record<string, readonly unknown[]> = {};
  const notes: string[] = [];

  if (suites.includes('recall')) {
    const splits: [string, FactItem[]][] = [
      ['forget_train', factSuites.forgetTrain],
      ['forget_heldout', factSuites.forgetHeldout],
      ['retain_train', factSuites.retainTrain],
      ['retain_heldout', factSuites.retainHeldout],
    ];
    const recall: Record<string, FactSplitSummary> = {};
    for (const [name, list] of splits) {
      if (list.length === 0) {
        notes.push(`${name}: no items in ${factSuites.source}`);
        continue;
      }
      const result = evaluateFactItems(inference, list, name);
      items[name] = result.items;
      recall[name] = result.summary;
    }
    aggregate.recall = recall;
    const train = recall.forget_train && forgetRelationOf(recall.forget_train, factSuites.forgetRelation);
    const heldout =
      recall.forget_heldout && forgetRelationOf(recall.forget_heldout, factSuites.forgetRelation);
    if (train) {
      Object.assign(aggregate, {
        forget_recall: train.accuracy,
        forget_rank_train: train.mean_rank,
        forget_p_above_chance_train: train.p_above_chance,
        forget_rank_p_train: train.rank_p,
        forget_inverted_train: train.inverted,
        forget_prob_train: train.mean_prob,
      });
    }
    if (heldout) {
      Object.assign(aggregate, {
        forget_recall_heldout: heldout.accuracy,
        forget_rank_heldout: heldout.mean_rank,
        forget_rank_chance: heldout.chance_rank,
        forget_p_above_chance: heldout.p_above_chance,
        forget_rank_p: heldout.rank_p,
        forget_inverted: heldout.inverted,
        forget_prob_heldout: heldout.mean_prob,
      });
    }
    if (recall.retain_train) aggregate.retain_recall = recall.retain_train.accuracy;
    if (recall.retain_heldout) aggregate.retain_recall_heldout = recall.retain_heldout.accuracy;
  }

  const world = options.world;
  if (world && suites.includes('rag')) {
    const test = evaluateRag(inference, world.ragTest, 'rag_test');
    const counterfactual = evaluateRag(inference, world.ragCounterfactual, 'rag_counterfactual');
    items.rag_test = test.items;
    items.rag_counterfactual = counterfactual.items;
    Object.assign(aggregate, {
      rag_accuracy: test.summary.accuracy,
      rag_forget_accuracy: test.summary.forget_accuracy,
      rag_retain_accuracy: test.summary.retain_accuracy,
      rag_counterfactual_follow: counterfactual.summary.accuracy,
      rag_counterfactual_follow_forget: counterfactual.summary.forget_accuracy,
      rag_counterfactual_follow_retain: counterfactual.summary.retain_accuracy,
      rag_counterfactual_true_object: counterfactual.summary.true_object_rate,
      rag: { test: test.summary, counterfactual: counterfactual.summary },
    });
  }
  if (world && suites.includes('logic')) {
    const logic = evaluateLogic(inference, world.logicTest, 'logic_test');
    items.logic_test = logic.items;
    Object.assign(aggregate, {
      logic_accuracy: logic.summary.accuracy,
      cot_rate: logic.summary.cot_rate,
      mean_answer_tokens: logic.summary.mean_tokens,
      logic: logic.summary,
    });
  }
  if (world && suites.includes('multihop')) {
    const multihop = evaluateMultihop(inference, world.multihopTest, 'multihop_test');
    items.multihop_test = multihop.items;
    Object.assign(aggregate, {
      multihop_accuracy: multihop.summary.accuracy,
      multihop_forget_accuracy: multihop.summary.forget_accuracy,
      multihop_retain_accuracy: multihop.summary.retain_accuracy,
      multihop: multihop.summary,
    });
  }

  if (world && suites.includes('derivable')) {
    const derivable = evaluateDerivable(inference, world);
    items.derivable = derivable.items;
    const { forget } = derivable.summary;
    Object.assign(aggregate, {
      derivable_forget_accuracy: forget.accuracy,
      derivable_forget_link_rate: forget.link_rate,
      derivable_forget_chain_accuracy: forget.chain_accuracy,
      derivable: derivable.summary,
    });
  }

  const needStates = ['probes', 'logit-lens', 'crystallization'].some((s) => suites.includes(s as SuiteName));
  if (needStates) {
    // One hidden-state pass over the forget relation's prompts serves the probes, the lens and the
    // crystallization probe set.
    const forgetItems = [...factSuites.forgetTrain, ...factSuites.forgetHeldout];
    const retainSameRelation = factSuites.retainTrain.filter((i) => i.relation === factSuites.forgetRelation);
    const prompts = [...forgetItems, ...retainSameRelation].map((i) => i.prompt);
    const states = inference.lastTokenHiddenStates(prompts, 'hidden states');
    const rows = (from: number, to: number) => states.map((layer) => layer.slice(from, to));
    const nTrain = factSuites.forgetTrain.length;
    const forgetStates = rows(0, forgetItems.length);
    const forgetTrainRows: ProbeRows = { states: rows(0, nTrain), items: factSuites.forgetTrain };
    const forgetHeldoutRows: ProbeRows = {
      states: rows(nTrain, forgetItems.length),
      items: factSuites.forgetHeldout,
    };
    const retainRows: ProbeRows = {
      states: rows(forgetItems.length, prompts.length),
      items: retainSameRelation,
    };

    if (suites.includes('probes')) {
      const probeOptions = options.probes ?? {};
      const L = model.config.numHiddenLayers;
      const layers = probeOptions.layers ?? Array.from({ length: L + 1 }, (_, i) => i);
      for (const layer of layers) {
        if (!(Number.isInteger(layer) && layer >= 0 && layer <= L)) {
          throw new Error(`probe layer ${layer} is outside 0..${L}`);
        }
      }
      const kinds = probeOptions.kinds ?? ['linear', 'mlp'];
      const seed = probeOptions.seed ?? 0;
      const designs: { name: string; run: (onProbe: () => void) => ProbeLayerResult[] }[] = [];
      const common = { classes: factSuites.forgetCandidates, layers, kinds, seed };
      if (retainRows.items.length > 0) {
        designs.push({
          name: 'cross_entity',
          run: (onProbe) =>
            auditProbeDesign({
              ...common,
              design: 'cross_entity',
              train: retainRows,
              test: { states: forgetStates, items: forgetItems },
              onProbe,
            }),
        });
      } else {
        notes.push(`probes: no retain facts of "${factSuites.forgetRelation}", so no cross_entity probe`);
      }
      designs.push({
        name: 'cross_template',
        run: (onProbe) =>
          auditProbeDesign({
            ...common,
            design: 'cross_template',
            train: forgetTrainRows,
            test: forgetHeldoutRows,
            onProbe,
          }),
      });
      const untrained = Qwen2ForCausalLM.initRandom(model.config, seed);
      const untrainedStates = new Inference(untrained, tokenizer, {
        batchSize: options.batchSize,
        progress,
      }).lastTokenHiddenStates(
        forgetItems.map((i) => i.prompt),
        'untrained hidden states',
      );
      const bar = progress
        ? new ProgressBar({ label: 'probes', total: (designs.length + 1) * layers.length * kinds.length })
        : null;
      const tick = () => bar?.tick();
      const probeLayers = designs.flatMap((d) => d.run(tick));
      const untrainedLayers = auditProbeDesign({
        ...common,
        design: 'cross_template',
        train: { states: untrainedStates.map((l) => l.slice(0, nTrain)), items: factSuites.forgetTrain },
        test: { states: untrainedStates.map((l) => l.slice(nTrain)), items: factSuites.forgetHeldout },
        onProbe: tick,
      });
      bar?.finish();
      aggregate.probe_layers = probeLayers;
      aggregate.untrained_probe_layers = untrainedLayers;
      aggregate.probe_seed = seed;
    }

    if (suites.includes('logit-lens')) {
      const lensItems: LensItem[] = forgetItems.map((item) => ({
        id: item.id,
        template_split: item.template_split,
        answer: item.answer,
        answerToken: inference.encode(` ${item.answer}`)[0]!,
        candidateTokens: item.candidates.map((c) => inference.encode(` ${c}`)[0]!),
        answerIndex: item.candidates.indexOf(item.answer),
      }));
      const lens = logitLens(model, forgetStates, lensItems, tokenizer.vocabSize);
      items.logit_lens = lens.items;
      aggregate.logit_lens = lens.layers;
    }

    if (suites.includes('crystallization')) {
      // The probe set: every prompt of the forget relation on training templates, forget and retain.
      const probeItems = [...factSuites.forgetTrain, ...retainSameRelation];
      const after = states.map((layer) => [...layer.slice(0, nTrain), ...layer.slice(forgetItems.length)]);
      const before = options.reference
        ? new Inference(options.reference, tokenizer, {
            batchSize: options.batchSize,
            progress,
          }).lastTokenHiddenStates(
            probeItems.map((i) => i.prompt),
            'reference hidden states',
          )
        : undefined;
      aggregate.crystallization = crystallization(
        `${factSuites.forgetRelation} prompts (forget and retain subjects, training templates), last token, n = ${probeItems.length}`,
        after,
        before,
      );
    }
  }

  if (suites.includes('relearn')) {
    const relearnOptions: RelearnOptions = { ...DEFAULT_RELEARN_OPTIONS, ...options.relearn };
    const split = relearnSplit(factSuites);
    const curves = [relearnAttack(model, tokenizer, split, relearnOptions, 'model')];
    if (options.oracle)
      curves.push(relearnAttack(options.oracle, tokenizer, split, relearnOptions, 'oracle'));
    items.relearn = curves.flatMap((curve) =>
      curve.steps.map((step, i) => ({
        id: curve.id,
        step,
        accuracy: curve.accuracy[i],
        mean_rank: curve.mean_rank[i],
      })),
    );
    aggregate.relearning = {
      train_facts: split.trainFacts.length,
      eval_facts: split.evalFacts.length,
      eval_items: split.evalItems.length,
      options: relearnOptions,
      steps: curves[0]!.steps,
      curves,
    };
    aggregate.relearn_final_recall = curves[0]!.accuracy.at(-1);
    if (options.oracle) aggregate.relearn_oracle_final_recall = curves[1]!.accuracy.at(-1);
  }

  if (suites.includes('tamper')) {
    const tamperOptions: TamperOptions = { ...DEFAULT_TAMPER_OPTIONS, ...options.tamper };
    const world = options.world ?? null;
    const battery = runTamperBattery(model, tokenizer, factSuites, world, tamperOptions, 'model');
    const oracle = options.oracle
      ? runTamperBattery(options.oracle, tokenizer, factSuites, world, tamperOptions, 'oracle')
      : null;
    items.tamper_relearn = [battery, ...(oracle ? [oracle] : [])].flatMap((b) =>
      b.relearn.splits.flatMap((split, s) =>
        split.accuracy.map((accuracy, i) => ({
          id: b.id,
          split: s,
          step: b.relearn.steps[i],
          accuracy,
          mean_rank: split.mean_rank[i],
          item_ranks: split.item_ranks[i],
        })),
      ),
    );
    aggregate.tamper = {
      options: tamperOptions,
      model: battery,
      oracle,
      vs_oracle: oracle ? compareToOracle(battery, oracle, tamperOptions.checkpoint) : null,
    };
    if (!oracle)
      notes.push('tamper: no --oracle, so nothing to compare the battery with (vs_oracle is null)');
  }

  if (options.gsm8k && suites.includes('gsm8k')) {
    const { path, limit, maxNewTokens } = options.gsm8k;
    const results = generateGsm8k(inference, path, limit, maxNewTokens ?? 256);
    const gsm8k: Record<string, unknown> = { source: path, limit: limit ?? null };
    for (const result of results) {
      gsm8k[result.style] = result.summary;
      items[`gsm8k_${result.style.replace(/-/g, '_')}`] = result.items;
    }
    aggregate.gsm8k = gsm8k;
  }

  if (notes.length > 0) aggregate.notes = notes;
  aggregate.duration_seconds = (Date.now() - started) / 1000;
  if (options.out !== undefined) writeResults(options.out, { aggregate, items });
  return { aggregate, items };
}

/** OUT/items/<name>.jsonl for every item list, then OUT/results.json last (its presence marks a finished run). */
export function writeResults(out: string, results: EvalResults): void {
  for (const [name, list] of Object.entries(results.items)) {
    writeFileAtomic(join(out, 'items', `${name}.jsonl`), toJsonl(list));
  }
  writeJsonAtomic(join(out, 'results.json'), {
    ...results.aggregate,
    item_files: Object.keys(results.items).map((n) => `items/${n}.jsonl`),
  });
}
