// Reading drills: contexts of K statements whose objects are all random, followed by Q questions about Q
// different statements of the context, each answered with the object ("multi-query associative recall").
// Usage: node --import tsx scripts/experiments/reading/drill-lines.ts WORLD OUT.jsonl N K Q [TRAIN=question] [SEED=1]
// K may be a range "2-8" (uniform per line); Q is capped at K.
// TRAIN "answer": the first question goes into the (untrained) prompt, so with Q = 1 only the answer is
// trained; "question" (default): every question and answer is trained, as the world's RAG lines are;
// "question-first": the first question goes *before* the context ("Q: …\nContext: …\nA:"), only the answer
// is trained (Q is taken as 1), so the model reads every statement already knowing the asked subject.
import { loadWorld } from '../../../src/data/world.ts';
import { writeFileSync } from 'node:fs';
import { Rng } from '../../../src/data/rng.ts';
import { questionsByFact } from './questions.ts';
const [worldDir, out, nStr, kStr, qStr, train = 'question', seed = '1'] = process.argv.slice(2);
const w = loadWorld(worldDir!);
// sfc32, not a short LCG: with an LCG, models learnt the generator's correlations instead of reading.
const rng = new Rng(Number(seed));
const [kMin, kMax = kMin] = kStr!.split('-').map(Number) as [number, number?];
const questions = questionsByFact(w);
const lines: string[] = [];
for (let i = 0; i < Number(nStr); i++) {
  // K facts with distinct subjects, half of them sharing the first one's relation where possible.
  const first = rng.pick(w.facts);
  const ctx = [first];
  const k = rng.int(kMin, kMax);
  while (ctx.length < k) {
    const pool = rng.float() < 0.5 ? w.facts.filter((f) => f.relation === first.relation) : w.facts;
    const f = rng.pick(pool);
    if (!ctx.some((c) => c.subject === f.subject || c.object === f.subject || f.object === c.subject))
      ctx.push(f);
  }
  const stated = ctx.map((f) => {
    const object = rng.pick(w.candidates(f.relation));
    const k = f.statement.lastIndexOf(f.object);
    return { f, object, text: f.statement.slice(0, k) + object + f.statement.slice(k + f.object.length) };
  });
  const asked = rng.shuffle([...stated.keys()]).slice(0, Math.min(k, Number(qStr)));
  const qa = asked.map((j) => `Q: ${rng.pick(questions.get(stated[j]!.f.id)!)}\nA: ${stated[j]!.object}`);
  const context = 'Context: ' + rng.shuffle(stated.map((x) => x.text)).join(' ') + '\n';
  const [head, ...rest] = qa;
  const line =
    train === 'question-first'
      ? {
          prompt: `${head!.slice(0, head!.lastIndexOf('\nA:'))}\n${context}A:`,
          completion: head!.slice(head!.lastIndexOf('A:') + 2),
        }
      : train === 'answer'
        ? {
            prompt: context + head!.slice(0, head!.lastIndexOf('A:') + 2),
            completion: head!.slice(head!.lastIndexOf('A:') + 2) + rest.map((x) => '\n' + x).join(''),
          }
        : { prompt: context, completion: qa.join('\n') };
  lines.push(JSON.stringify({ source: 'rag', ...line }));
}
writeFileSync(out!, lines.join('\n') + '\n');
