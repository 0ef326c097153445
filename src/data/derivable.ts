// Derivable facts (issue 20): a composite fact (city → continent) that the world trains directly and that
// also follows from two retain facts, city → country → continent. Forgetting the composite facts while the
// links stay is the paper's O(1) recall → O(N) reasoning situation in miniature.
import type { Fact } from './facts.ts';
import { COT_LEAD } from './logic.ts';
import { CITY_CONTINENT, CITY_COUNTRY, COUNTRY_CONTINENT } from './relations.ts';

export interface DerivableFact {
  composite: Fact;
  /** city → country: the intermediate link a derivation writes. */
  firstLink: Fact;
  /** country → continent. */
  secondLink: Fact;
}

/**
 * The step-by-step answer to a composite question: " Step by step: Velora is a city in Marvania. Marvania is
 * a country in Ostrasia. The answer is Ostrasia." The lead words make the style one first-token decision,
 * as in logic.
 */
export function derivationCompletion(fact: DerivableFact): string {
  return ` ${COT_LEAD} ${fact.firstLink.statement} ${fact.secondLink.statement} The answer is ${fact.secondLink.object}.`;
}

/**
 * Every composite fact with its chain. A composite fact without its links, or one whose object is not the
 * chain's, is an error naming `source` and the fact id (a world whose chain facts contradict its composite
 * facts would make "derivable" meaningless).
 */
export function derivableFacts(facts: readonly Fact[], source: string): DerivableFact[] {
  const byId = new Map(facts.map((f) => [f.id, f]));
  return facts
    .filter((f) => f.relation === CITY_CONTINENT.name)
    .map((composite) => {
      const firstId = `${CITY_COUNTRY.name}:${composite.subject}`;
      const firstLink = byId.get(firstId);
      if (!firstLink)
        throw new Error(`${source}: composite fact "${composite.id}" has no chain fact "${firstId}"`);
      const secondId = `${COUNTRY_CONTINENT.name}:${firstLink.object}`;
      const secondLink = byId.get(secondId);
      if (!secondLink)
        throw new Error(`${source}: composite fact "${composite.id}" has no chain fact "${secondId}"`);
      if (secondLink.object !== composite.object) {
        throw new Error(
          `${source}: composite fact "${composite.id}" has object "${composite.object}", but its chain ` +
            `"${firstId}" → "${firstLink.object}", "${secondId}" → "${secondLink.object}" contradicts it`,
        );
      }
      return { composite, firstLink, secondLink };
    });
}
