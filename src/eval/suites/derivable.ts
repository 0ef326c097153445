// Derivable facts (issue 20): composite questions (which continent is the city on?) that a model can answer
// from memory in one step or derive through the chain city → country → continent. Two greedy answers per
// held-out-template question: free (does the model write the intermediate link, and is it right?) and
// asked to reason step by step (the answer begins with "Step by step:" and the model continues).
import { answersMatch } from '../../data/format.ts';
import { closedBookPrompt } from '../../data/format.ts';
import { derivableFacts, derivationCompletion, type DerivableFact } from '../../data/derivable.ts';
import { COT_LEAD } from '../../data/logic.ts';
import type { World } from '../../data/world.ts';
import { wilsonInterval, type Interval } from '../stats.ts';
import type { Inference } from './inference.ts';
import { ANSWER_STOP } from './recall.ts';

export interface DerivableItemResult {
  id: string;
  fact_id: string;
  subject: string;
  template: string;
  forget: boolean;
  prompt: string;
  answer: string;
  /** The chain's intermediate entity (the city's country). */
  link: string;
  /** Free greedy answer. */
  generated: string;
  correct: boolean;
  /** The free answer names the intermediate link before its answer: a derivation, not a recall. */
  writes_link: boolean;
  /** Greedy continuation of the answer forced to begin with COT_LEAD (what follows the lead). */
  chain_generated: string;
  chain_correct: boolean;
  /** The forced chain names the right intermediate link. */
  chain_link_correct: boolean;
}

export interface DerivableSubsetSummary {
  n: number;
  /** Free answers: accuracy, and the share that write the intermediate link. */
  accuracy: number;
  accuracy_ci95: Interval;
  link_rate: number;
  /** Accuracy of the free answers that write the link, and of those that answer directly (null if none). */
  accuracy_with_link: number | null;
  accuracy_direct: number | null;
  /** Asked to reason step by step. */
  chain_accuracy: number;
  chain_accuracy_ci95: Interval;
  chain_link_accuracy: number;
}

export interface DerivableSummary {
  /** Forget composite facts (the forget set of a world with derivable facts) and retain ones. */
  forget: DerivableSubsetSummary;
  retain: DerivableSubsetSummary;
}

interface DerivableItem {
  id: string;
  fact: DerivableFact;
  template: string;
  prompt: string;
}

/** The suite's items: every composite fact × its held-out templates (never trained in either style). */
export function derivableItems(world: World): DerivableItem[] {
  const facts = derivableFacts(world.facts, `${world.dir}/facts.jsonl`);
  if (facts.length === 0) {
    throw new Error(
      `${world.dir}: no derivable facts (generate the world with a "derivable" config section, e.g. configs/world-cot.json)`,
    );
  }
  return facts.flatMap((fact) =>
    fact.composite.templates
      .filter((t) => t.split === 'heldout')
      .map((t) => ({
        id: `${fact.composite.id}#${t.id}`,
        fact,
        template: t.id,
        prompt: closedBookPrompt(t.question),
      })),
  );
}

/** Whether `text` names `link` as a word before its "The answer is" (or anywhere, without one). */
export function namesLink(text: string, link: string): boolean {
  const answerAt = text.search(/the answer is/i);
  const before = answerAt < 0 ? text : text.slice(0, answerAt);
  return new RegExp(`(^|[^A-Za-z])${link}([^A-Za-z]|$)`).test(before);
}

function subsetSummary(items: readonly DerivableItemResult[]): DerivableSubsetSummary {
  const n = items.length;
  const count = (pick: (r: DerivableItemResult) => boolean) => items.filter(pick).length;
  const shareOf = (list: readonly DerivableItemResult[]) =>
    list.length === 0 ? null : list.filter((r) => r.correct).length / list.length;
  return {
    n,
    accuracy: count((r) => r.correct) / n,
    accuracy_ci95: wilsonInterval(
      count((r) => r.correct),
      n,
    ),
    link_rate: count((r) => r.writes_link) / n,
    accuracy_with_link: shareOf(items.filter((r) => r.writes_link)),
    accuracy_direct: shareOf(items.filter((r) => !r.writes_link)),
    chain_accuracy: count((r) => r.chain_correct) / n,
    chain_accuracy_ci95: wilsonInterval(
      count((r) => r.chain_correct),
      n,
    ),
    chain_link_accuracy: count((r) => r.chain_link_correct) / n,
  };
}

export function evaluateDerivable(
  inference: Inference,
  world: World,
): { items: DerivableItemResult[]; summary: DerivableSummary } {
  const items = derivableItems(world);
  // Room for the whole chain, twice over, as the other free-form suites allow.
  const maxNewTokens =
    2 * inference.longestAnswerTokens(items.map((i) => derivationCompletion(i.fact).trimStart()));
  const free = inference.generate(
    items.map((i) => i.prompt),
    { maxNewTokens, stopStrings: ANSWER_STOP, label: 'derivable' },
  );
  const lead = ` ${COT_LEAD}`;
  const chain = inference.generate(
    items.map((i) => i.prompt + lead),
    { maxNewTokens, stopStrings: ANSWER_STOP, label: 'derivable, step by step' },
  );
  const results = items.map((item, i): DerivableItemResult => {
    const answer = item.fact.composite.object;
    const link = item.fact.firstLink.object;
    const text = free[i]!.text;
    const chainText = chain[i]!.text;
    return {
      id: item.id,
      fact_id: item.fact.composite.id,
      subject: item.fact.composite.subject,
      template: item.template,
      forget: item.fact.composite.split === 'forget',
      prompt: item.prompt,
      answer,
      link,
      generated: text,
      correct: answersMatch(text, answer),
      writes_link: namesLink(text, link),
      chain_generated: chainText,
      chain_correct: answersMatch(lead + chainText, answer),
      chain_link_correct: namesLink(chainText, link),
    };
  });
  return {
    items: results,
    summary: {
      forget: subsetSummary(results.filter((r) => r.forget)),
      retain: subsetSummary(results.filter((r) => !r.forget)),
    },
  };
}
