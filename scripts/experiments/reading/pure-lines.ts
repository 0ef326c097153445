// Pure-reading RAG lines: every context object random, so memory is useless and only reading scores.
// Usage: node --import tsx scripts/experiments/reading/pure-lines.ts WORLD OUT.jsonl N [STATEMENTS=3] [ORDER=sort] [ANSWER=object]
// (STATEMENTS 2: the asked statement and one of the same relation only; the same random draws. ORDER
// "sort" orders statements with a random-comparator sort, which is biased — the measured files used it;
// "uniform" shuffles them uniformly, as the world does. ANSWER "quote": the answer restates the asked
// statement, e.g. "A: Stokuton is a city in Trand.", instead of the object alone. RENDER "kb" writes
// each context statement as "Stokuton country: Trand.", "kb-bare" as "Stokuton: Trand.".)
import { loadWorld } from '../../../src/data/world.ts';
import { writeFileSync } from 'node:fs';
import { Rng } from '../../../src/data/rng.ts';
import { questionsByFact } from './questions.ts';
const [worldDir, out, nStr, statements = '3', ordering = 'sort', answer = 'object', render = 'statement'] =
  process.argv.slice(2);
const relationKey: Record<string, string> = {
  city_country: 'country',
  person_birth_city: 'born',
  person_occupation: 'job',
  country_currency: 'currency',
  country_capital: 'capital',
};
const w = loadWorld(worldDir!);
// Object before subject: the subject, read last, can gather its object; a question's subject then finds it
// by plain token identity.
const objectFirst: Record<string, string> = {
  city_country: '{o} has the city {s}.',
  person_birth_city: '{o} is the city where {s} was born.',
  person_occupation: '{o} is the job of {s}.',
  country_currency: '{o} is the currency of {s}.',
  country_capital: '{o} is the capital of {s}.',
};
// RNG "lcg" is the ANSI C generator the measured files of the README's first tables were drawn with: models
// learnt its correlations (a different seed's lines exposed it). Anything else seeds the project's sfc32.
const lcgState = { s: 12345 };
const sfc = new Rng(Number(process.env.PURE_SEED ?? 1));
const rnd =
  process.env.PURE_RNG === 'lcg'
    ? () => (lcgState.s = (lcgState.s * 1103515245 + 12345) % 2147483648) / 2147483648
    : () => sfc.float();
const pick = <T>(a: readonly T[]) => a[Math.floor(rnd() * a.length)]!;
const shuffle = (a: number[]) => {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
};
const questions = questionsByFact(w);
const lines: string[] = [];
for (let i = 0; i < Number(nStr); i++) {
  const target = pick(w.facts);
  const sameRel = w.facts.filter((f) => f.relation === target.relation && f.subject !== target.subject);
  const other = w.facts.filter((f) => f.subject !== target.subject);
  const ctx = [target, pick(sameRel), pick(other)];
  const objs = ctx.map((f) => pick(w.candidates(f.relation)));
  const stmts = ctx.map((f, j) => {
    if (render === 'kb') return `${f.subject} ${relationKey[f.relation]}: ${objs[j]}.`;
    if (render === 'kb-bare') return `${f.subject}: ${objs[j]}.`;
    if (render === 'object-first')
      return objectFirst[f.relation]!.replace('{o}', objs[j]!).replace('{s}', f.subject);
    const k = f.statement.lastIndexOf(f.object);
    return f.statement.slice(0, k) + objs[j] + f.statement.slice(k + f.object.length);
  });
  const order = (ordering === 'uniform' ? shuffle([0, 1, 2]) : [0, 1, 2].sort(() => rnd() - 0.5)).filter(
    (j) => j < Number(statements),
  );
  const prompt = 'Context: ' + order.map((j) => stmts[j]).join(' ') + '\n';
  lines.push(
    JSON.stringify({
      source: 'rag',
      prompt,
      completion: `Q: ${pick(questions.get(target.id)!)}\nA: ${answer === 'quote' ? stmts[0] : objs[0]}`,
    }),
  );
}
writeFileSync(out!, lines.join('\n') + '\n');
