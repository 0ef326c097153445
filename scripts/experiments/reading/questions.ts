// The training-template questions of every fact of a world, without "Q: " and "\nA:", by fact id.
import type { World } from '../../../src/data/world.ts';

export function questionsByFact(world: World): Map<string, string[]> {
  const questions = new Map<string, string[]>();
  for (const r of [...world.retainTrain, ...world.forgetTrain]) {
    const q = r.prompt.replace(/\nA:$/, '').replace(/^Q: /, '');
    questions.set(r.fact_id, [...(questions.get(r.fact_id) ?? []), q]);
  }
  return questions;
}
