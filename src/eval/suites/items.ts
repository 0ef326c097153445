// Closed-book fact questions as the suites see them, built either from a world's fact splits or from
// fact-set files (data/facts/*.jsonl, `--facts`): one item per fact × question template.
import { closedBookPrompt } from '../../data/format.ts';
import type { Fact } from '../../data/facts.ts';
import type { FactRecord } from '../../data/schema.ts';
import type { World } from '../../data/world.ts';

export interface FactItem {
  id: string;
  prompt: string;
  answer: string;
  /** Other accepted spellings of the answer (real fact sets). */
  aliases: string[];
  /** The relation's candidate answers (the answer among them): rank is taken among these. */
  candidates: string[];
  relation: string;
  subject: string;
  fact_id: string;
  template: string;
  template_split: 'train' | 'heldout';
  forget: boolean;
}

/** The fact questions of an evaluation, split as the world splits them. */
export interface FactSuites {
  /** Where the items come from, e.g. a world folder or fact-set files. */
  source: string;
  /** The relation of the forget facts and its candidates (K = candidates.length, chance = 1/K). */
  forgetRelation: string;
  forgetCandidates: string[];
  forgetTrain: FactItem[];
  forgetHeldout: FactItem[];
  retainTrain: FactItem[];
  retainHeldout: FactItem[];
}

function fromRecord(record: FactRecord): FactItem {
  return {
    id: record.id,
    prompt: record.prompt,
    answer: record.answer,
    aliases: [],
    candidates: record.candidates,
    relation: record.relation,
    subject: record.subject,
    fact_id: record.fact_id,
    template: record.template,
    template_split: record.template_split,
    forget: record.forget,
  };
}

export function factSuitesFromWorld(world: World): FactSuites {
  const relation = world.meta.forget.relation;
  return {
    source: world.dir,
    forgetRelation: relation,
    forgetCandidates: world.candidates(relation),
    forgetTrain: world.forgetTrain.map(fromRecord),
    forgetHeldout: world.forgetHeldout.map(fromRecord),
    retainTrain: world.retainTrain.map(fromRecord),
    retainHeldout: world.retainHeldout.map(fromRecord),
  };
}

/**
 * Items of fact-set files: every fact × template, prompt `closedBookPrompt(question)`. The forget facts must
 * share one relation and one candidate list (their rank statistics need a single K).
 */
export function factSuitesFromFacts(facts: readonly Fact[], source: string): FactSuites {
  const forget = facts.filter((f) => f.split === 'forget');
  if (forget.length === 0) {
    throw new Error(
      `${source}: no fact with "split": "forget"; pass a forget set such as data/facts/paper-city-country.jsonl`,
    );
  }
  const relation = forget[0]!.relation;
  const candidates = forget[0]!.candidates;
  const key = [...candidates].sort().join('\u0000');
  for (const fact of forget) {
    if (fact.relation !== relation) {
      throw new Error(
        `${source}: forget facts span relations "${relation}" and "${fact.relation}"; evaluate one relation at a time`,
      );
    }
    if ([...fact.candidates].sort().join('\u0000') !== key) {
      throw new Error(
        `${source}: forget fact "${fact.id}" has another candidate list than "${forget[0]!.id}"`,
      );
    }
  }
  const items = (split: 'forget' | 'retain', templateSplit: 'train' | 'heldout'): FactItem[] =>
    facts
      .filter((f) => f.split === split)
      .flatMap((fact) =>
        fact.templates
          .filter((t) => t.split === templateSplit)
          .map((t) => ({
            id: `${fact.id}#${t.id}`,
            prompt: closedBookPrompt(t.question),
            answer: fact.object,
            aliases: fact.aliases ?? [],
            candidates: fact.candidates,
            relation: fact.relation,
            subject: fact.subject,
            fact_id: fact.id,
            template: t.id,
            template_split: templateSplit,
            forget: split === 'forget',
          })),
      );
  return {
    source,
    forgetRelation: relation,
    forgetCandidates: candidates,
    forgetTrain: items('forget', 'train'),
    forgetHeldout: items('forget', 'heldout'),
    retainTrain: items('retain', 'train'),
    retainHeldout: items('retain', 'heldout'),
  };
}
