// A pretraining mix whose RAG lines keep the asked statement and a uniformly drawn 0, 1 or 2 of their
// distractors (order kept), so contexts of one or two statements — what a precise retrieval returns — are
// in distribution. Other lines are copied unchanged.
// Usage: node --import tsx scripts/experiments/reading/variable-contexts.ts WORLD MIX.jsonl OUT.jsonl [SEED=1]
import { readFileSync, writeFileSync } from 'node:fs';
import { Rng } from '../../../src/data/rng.ts';
const [worldDir, mixFile, out, seed = '1'] = process.argv.slice(2);
const rng = new Rng(Number(seed));
const records = new Map<string, { fact_id: string; context_facts: { fact_id: string }[] }>();
for (const line of readFileSync(`${worldDir}/rag_train.jsonl`, 'utf8').trim().split('\n')) {
  const r = JSON.parse(line);
  records.set(r.prompt, r);
}
const lines = readFileSync(mixFile!, 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l));
let changed = 0;
const result = lines.map((l) => {
  if (l.source !== 'rag') return l;
  const key = l.prompt + l.completion.slice(0, l.completion.lastIndexOf('\nA:') + 3);
  const record = records.get(key);
  if (!record) throw new Error(`no rag_train record for ${JSON.stringify(key)}`);
  const statements = l.prompt.slice('Context: '.length, -1).split(/(?<=\.) /);
  if (statements.length !== record.context_facts.length) throw new Error(`cannot split ${l.prompt}`);
  const keep = Math.floor(rng.float() * statements.length); // distractors kept: 0 … n-1
  const distractors = rng
    .shuffle(
      record.context_facts.map((f, i) => (f.fact_id === record.fact_id ? -1 : i)).filter((i) => i >= 0),
    )
    .slice(0, keep);
  const kept = statements.filter(
    (_: string, i: number) => record.context_facts[i]!.fact_id === record.fact_id || distractors.includes(i),
  );
  if (kept.length < statements.length) changed++;
  return { ...l, prompt: `Context: ${kept.join(' ')}\n` };
});
writeFileSync(out!, result.map((l) => JSON.stringify(l)).join('\n') + '\n');
console.log(`${changed} of ${result.filter((l) => l.source === 'rag').length} RAG lines shortened`);
