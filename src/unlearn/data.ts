// The data of an unlearning run, from a world (`--world DIR`) or from fact-set files (`--forget FILE
// --retain FILE --logic FILE [--rag FILE]`): forget prompts (training templates) for the fact stream,
// held-out templates for evaluation, retain entities of the forget relation for the probe, and the three
// anchor streams (logic, closed-book retain facts, reading with facts in context).
import { gsm8kTrainingRecord } from '../eval/gsm8k.ts';
import { readJsonl } from '../io/jsonl.ts';
import { loadFactSet, type Fact } from '../data/facts.ts';
import { closedBookPrompt, ragPrompt } from '../data/format.ts';
import type { World } from '../data/world.ts';
import type { FactRecord } from '../data/schema.ts';
import { Rng } from '../tensor/random.ts';

/** A closed-book question about one fact. */
export interface FactExample {
  id: string;
  prompt: string;
  /** The fact's object (the completion is " " + answer). */
  answer: string;
  candidates: string[];
  relation: string;
  subject: string;
  factId: string;
  templateSplit: 'train' | 'heldout';
  forget: boolean;
}

/** A supervised record: the LM loss (and the KL anchor) covers the completion tokens + EOS only. */
export interface AnchorRecord {
  prompt: string;
  completion: string;
}

export interface RagEvalItem {
  id: string;
  prompt: string;
  answer: string;
  candidates: string[];
  forget: boolean;
  counterfactual: boolean;
}

export interface LogicEvalItem {
  id: string;
  prompt: string;
  completion: string;
  answer: string;
}

export interface UnlearnData {
  /** Forget facts on training templates: the fact stream (and the baselines' forget losses). */
  forgetTrain: FactExample[];
  /** Forget facts on held-out templates: evaluation only. */
  forgetHeldout: FactExample[];
  /** Retain facts of the forget relation(s) on training templates: the probe's other entities. */
  probeRetain: FactExample[];
  /** Closed-book retain facts on training templates: the retain anchor stream. */
  retainTrain: FactExample[];
  /** Retain facts on held-out templates (evaluation). */
  retainHeldout: FactExample[];
  logic: AnchorRecord[];
  /** The world's multihop_train records (with `anchors.logic.multihop`; else empty): logic-stream records. */
  multihop: AnchorRecord[];
  /** Held-out logic problems (world only) for accuracy and the `kl` metric. */
  logicEval: LogicEvalItem[];
  /** Reading records whose contexts state retain facts only. */
  ragRetain: AnchorRecord[];
  /** Reading records whose context states a forget fact (truthfully or counterfactually). */
  ragForget: AnchorRecord[];
  ragEval: RagEvalItem[];
  /** Statement prompts of the forget facts and of the retain facts of the forget relation(s). */
  forgetStatements: FactExample[];
  retainStatements: FactExample[];
  /** Relations of the forget facts (each gets its own probes). */
  forgetRelations: string[];
  /** Candidate answers of each forget relation: the probe's classes. */
  classes: Map<string, string[]>;
  description: Record<string, unknown>;
}

function fromFactRecord(record: FactRecord): FactExample {
  return {
    id: record.id,
    prompt: record.prompt,
    answer: record.object,
    candidates: record.candidates,
    relation: record.relation,
    subject: record.subject,
    factId: record.fact_id,
    templateSplit: record.template_split,
    forget: record.forget,
  };
}

function examplesOfFacts(facts: readonly Fact[], split: 'train' | 'heldout'): FactExample[] {
  return facts.flatMap((fact) =>
    fact.templates
      .filter((t) => t.split === split)
      .map((t) => ({
        id: `${fact.id}@${t.id}`,
        prompt: closedBookPrompt(t.question),
        answer: fact.object,
        candidates: fact.candidates,
        relation: fact.relation,
        subject: fact.subject,
        factId: fact.id,
        templateSplit: split,
        forget: fact.split === 'forget',
      })),
  );
}

/**
 * A fact's statement cut before its object, as a prompt: "Velora is a city in" → answer "Velora"'s object.
 * Null when the object is not in the statement after the subject.
 */
export function statementExample(fact: Fact): FactExample | null {
  const at = fact.statement.lastIndexOf(fact.object);
  if (at <= 0 || fact.statement.indexOf(fact.subject) >= at) return null;
  const prompt = fact.statement.slice(0, at).trimEnd();
  if (prompt.length === 0) return null;
  return {
    id: `${fact.id}@statement`,
    prompt,
    answer: fact.object,
    candidates: fact.candidates,
    relation: fact.relation,
    subject: fact.subject,
    factId: fact.id,
    templateSplit: 'train',
    forget: fact.split === 'forget',
  };
}

/** Statement prompts of the facts (those whose statement ends with the object). */
export function statementExamples(facts: readonly Fact[]): FactExample[] {
  return facts.map(statementExample).filter((e): e is FactExample => e !== null);
}

function classesOf(examples: readonly FactExample[]): {
  relations: string[];
  classes: Map<string, string[]>;
} {
  const classes = new Map<string, string[]>();
  for (const example of examples) {
    const known = classes.get(example.relation);
    if (!known) classes.set(example.relation, example.candidates);
    else if (known.join('\u0000') !== example.candidates.join('\u0000')) {
      throw new Error(
        `forget facts of relation "${example.relation}" have different candidate lists; the probe needs one class list per relation`,
      );
    }
  }
  return { relations: [...classes.keys()], classes };
}

/**
 * Reading records whose context states each forget fact (`variants` per fact and training template):
 * the fact's statement, or with probability `counterfactualFraction` the same statement with another
 * candidate as object (the answer is then the context's), plus `distractors` statements of other facts
 * (the first of the same relation), in random order. Prompts listed in `exclude` (test items) are skipped.
 * Worlds pass their own context size (`rag.distractors`) so the stream reads like the world's RAG lines.
 */
export function forgetRagRecords(
  forget: readonly Fact[],
  pool: readonly Fact[],
  options: {
    variants: number;
    counterfactualFraction: number;
    seed: number;
    distractors: number;
    exclude?: ReadonlySet<string>;
  },
): AnchorRecord[] {
  const rng = new Rng((options.seed ^ 0x5eed4a6) >>> 0);
  const out: AnchorRecord[] = [];
  for (const fact of forget) {
    const sameRelation = pool.filter((f) => f.relation === fact.relation && f.subject !== fact.subject);
    const others = pool.filter((f) => f.subject !== fact.subject && f.object !== fact.subject);
    for (const template of fact.templates.filter((t) => t.split === 'train')) {
      for (let v = 0; v < options.variants; v++) {
        let object = fact.object;
        let statement = fact.statement;
        if (rng.uniform() < options.counterfactualFraction) {
          const alternatives = fact.candidates.filter((c) => c !== fact.object);
          object = alternatives[rng.int(alternatives.length)]!;
          statement = fact.statement.split(fact.object).join(object);
        }
        const context = [statement];
        if (options.distractors > 0 && sameRelation.length > 0) {
          context.push(sameRelation[rng.int(sameRelation.length)]!.statement);
        }
        while (others.length > 0 && context.length <= options.distractors) {
          let other = others[rng.int(others.length)]!;
          for (let tries = 0; context.includes(other.statement) && tries < 10; tries++) {
            other = others[rng.int(others.length)]!;
          }
          if (context.includes(other.statement)) break;
          context.push(other.statement);
        }
        rng.shuffle(context);
        const prompt = ragPrompt(context, template.question);
        if (options.exclude?.has(prompt)) continue;
        out.push({ prompt, completion: ` ${object}` });
      }
    }
  }
  return out;
}

/** multihop_train as anchor records; refused if one needs a forget fact (it would teach it back). */
function multihopAnchors(world: World): World['multihopTrain'] {
  const forgetIds = new Set(world.facts.filter((f) => f.split === 'forget').map((f) => f.id));
  for (const r of world.multihopTrain) {
    const leaked = r.fact_ids.find((id) => forgetIds.has(id));
    if (r.forget || leaked)
      throw new Error(
        `anchors.logic.multihop: multihop_train record ${r.id} uses the forget fact ${leaked ?? r.subject}`,
      );
  }
  return world.multihopTrain;
}

const anchorRecord = (r: { prompt: string; completion: string }): AnchorRecord => ({
  prompt: r.prompt,
  completion: r.completion,
});

export function dataFromWorld(
  world: World,
  options: { ragVariants: number; ragCounterfactual: number; seed: number; logicMultihop?: boolean },
): UnlearnData {
  const forgetTrain = world.forgetTrain.map(fromFactRecord);
  const { relations, classes } = classesOf(forgetTrain);
  const relationSet = new Set(relations);
  const retainTrain = world.retainTrain.map(fromFactRecord);
  const forgetFacts = world.facts.filter((f) => f.split === 'forget');
  const exclude = new Set([...world.ragTest, ...world.ragCounterfactual].map((r) => r.prompt));
  return {
    forgetTrain,
    forgetHeldout: world.forgetHeldout.map(fromFactRecord),
    probeRetain: retainTrain.filter((e) => relationSet.has(e.relation)),
    retainTrain,
    retainHeldout: world.retainHeldout.map(fromFactRecord),
    logic: world.logicTrain.map(anchorRecord),
    multihop: options.logicMultihop ? multihopAnchors(world).map(anchorRecord) : [],
    logicEval: world.logicTest.map((r) => ({
      id: r.id,
      prompt: r.prompt,
      completion: r.completion,
      answer: r.answer,
    })),
    ragRetain: world.ragTrain.map((r) => ({ prompt: r.prompt, completion: r.completion })),
    ragForget: forgetRagRecords(forgetFacts, world.facts, {
      variants: options.ragVariants,
      counterfactualFraction: options.ragCounterfactual,
      seed: options.seed,
      distractors: world.meta.config.rag.distractors,
      exclude,
    }),
    ragEval: world.ragTest.map((r) => ({
      id: r.id,
      prompt: r.prompt,
      answer: r.answer,
      candidates: r.candidates,
      forget: r.forget,
      counterfactual: r.counterfactual,
    })),
    forgetStatements: statementExamples(forgetFacts),
    retainStatements: statementExamples(
      world.facts.filter((f) => f.split === 'retain' && relationSet.has(f.relation)),
    ),
    forgetRelations: relations,
    classes,
    description: { world: world.dir },
  };
}

/** `{"prompt", "completion"}` lines, or GSM8K's `{"question", "answer": "… #### N"}` (converted). */
function readAnchorFile(path: string): AnchorRecord[] {
  return readJsonl(path, (value) => {
    const record = value as Record<string, unknown>;
    if (typeof record?.prompt === 'string' && typeof record.completion === 'string') {
      return { prompt: record.prompt, completion: record.completion };
    }
    if (typeof record?.question === 'string' && typeof record.answer === 'string') {
      return gsm8kTrainingRecord(record.question, record.answer);
    }
    throw new Error(
      'each line needs "prompt" and "completion" strings (or GSM8K\'s "question" and "answer")',
    );
  });
}

export interface FactFiles {
  forget: string;
  retain: string;
  logic: string;
  rag?: string;
}

/**
 * Distractor statements per reading context built from fact-set files. Real models read several
 * statements at once, so their contexts keep the asked fact among two others (the world's default
 * model only learns to read one statement within its pretraining budget: src/data/README.md).
 */
const FACT_FILE_RAG_DISTRACTORS = 2;

/**
 * Data from fact-set files (schema: src/data/README.md). Without `rag`, reading records are built from
 * the facts' statements: retain-only contexts, and forget-fact contexts, each with
 * FACT_FILE_RAG_DISTRACTORS other statements.
 */
export function dataFromFiles(
  files: FactFiles,
  options: { ragVariants: number; ragCounterfactual: number; seed: number },
): UnlearnData {
  const forgetFacts = loadFactSet(files.forget).map((f) => ({ ...f, split: 'forget' as const }));
  const retainFacts = loadFactSet(files.retain).map((f) => ({ ...f, split: 'retain' as const }));
  const ids = new Set(forgetFacts.map((f) => f.id));
  const clash = retainFacts.find((f) => ids.has(f.id));
  if (clash) throw new Error(`${files.retain}: fact "${clash.id}" is also in ${files.forget}`);
  const all = [...forgetFacts, ...retainFacts];
  const forgetTrain = examplesOfFacts(forgetFacts, 'train');
  if (forgetTrain.length === 0) throw new Error(`${files.forget}: no forget fact`);
  const { relations, classes } = classesOf(forgetTrain);
  const relationSet = new Set(relations);
  const retainTrain = examplesOfFacts(retainFacts, 'train');
  const rng = new Rng((options.seed ^ 0x7a9) >>> 0);
  let ragRetain: AnchorRecord[];
  if (files.rag) ragRetain = readAnchorFile(files.rag);
  else {
    ragRetain = forgetRagRecords(retainFacts, retainFacts, {
      variants: 1,
      counterfactualFraction: 0.5,
      seed: options.seed + 1,
      distractors: FACT_FILE_RAG_DISTRACTORS,
    });
  }
  const ragForget = forgetRagRecords(forgetFacts, all, {
    variants: options.ragVariants,
    counterfactualFraction: options.ragCounterfactual,
    seed: options.seed,
    distractors: FACT_FILE_RAG_DISTRACTORS,
  });
  // Evaluation contexts: the true statement and one distractor, on held-out templates.
  const ragEval: RagEvalItem[] = all.flatMap((fact) => {
    const template = fact.templates.find((t) => t.split === 'heldout')!;
    const others = all.filter((f) => f.subject !== fact.subject);
    const context = [fact.statement];
    if (others.length > 0) context.push(others[rng.int(others.length)]!.statement);
    rng.shuffle(context);
    return [
      {
        id: `rag:${fact.id}`,
        prompt: ragPrompt(context, template.question),
        answer: fact.object,
        candidates: fact.candidates,
        forget: fact.split === 'forget',
        counterfactual: false,
      },
    ];
  });
  return {
    forgetTrain,
    forgetHeldout: examplesOfFacts(forgetFacts, 'heldout'),
    probeRetain: retainTrain.filter(
      (e) => relationSet.has(e.relation) && sameList(e.candidates, classes.get(e.relation)!),
    ),
    retainTrain,
    retainHeldout: examplesOfFacts(retainFacts, 'heldout'),
    logic: readAnchorFile(files.logic),
    multihop: [],
    logicEval: [],
    ragRetain,
    ragForget,
    ragEval,
    forgetStatements: statementExamples(forgetFacts),
    retainStatements: statementExamples(
      retainFacts.filter(
        (f) => relationSet.has(f.relation) && sameList(f.candidates, classes.get(f.relation)!),
      ),
    ),
    forgetRelations: relations,
    classes,
    description: { ...files },
  };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** `count` items spread evenly over `items` (all of them when count ≥ length). */
export function evenSubset<T>(items: readonly T[], count: number): T[] {
  const n = Math.min(count, items.length);
  return Array.from({ length: n }, (_, i) => items[Math.floor((i * items.length) / n)]!);
}
