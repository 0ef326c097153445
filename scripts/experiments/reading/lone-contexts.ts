// A world's RAG lines with every context cut to the asked fact's statement (its distractors dropped):
// OUT/pretrain.jsonl (the world's mix, RAG lines cut) and OUT/rag_test.jsonl, OUT/rag_counterfactual.jsonl
// as reading lines for line-accuracy.ts. Probes whether one-statement reading is learnt quickly.
// Usage: node --import tsx scripts/experiments/reading/lone-contexts.ts WORLD OUT
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ragPrompt } from '../../../src/data/format.ts';
import type { RagRecord } from '../../../src/data/schema.ts';
import { loadWorld } from '../../../src/data/world.ts';
import { WORLD_RELATIONS, fillTemplate } from '../../../src/data/relations.ts';

const [worldDir, out] = process.argv.slice(2);
const world = loadWorld(worldDir!);
mkdirSync(out!, { recursive: true });

/** The asked fact's statement, as the world renders it (with the context's object). */
function askedStatement(r: RagRecord): string {
  const asked = r.context_facts.find((f) => f.fact_id === r.fact_id)!;
  const relation = WORLD_RELATIONS.find((x) => x.name === asked.relation)!;
  return fillTemplate(relation.statement, asked.subject, asked.object);
}

const question = (r: RagRecord) =>
  r.prompt.slice(r.prompt.indexOf('\nQ: ') + 4, r.prompt.lastIndexOf('\nA:'));
const contextLine = (r: RagRecord) => `Context: ${askedStatement(r)}\n`;

// The mix's RAG lines are `{"prompt": "Context: …\n", "completion": "Q: …\nA: answer"}`, one per rag_train record.
const byContext = new Map(world.ragTrain.map((r) => [r.prompt.slice(0, r.prompt.indexOf('\n') + 1), r]));
const mix = readFileSync(join(worldDir!, 'pretrain.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((line) => {
    const record = JSON.parse(line) as { source: string; prompt?: string };
    if (record.source !== 'rag') return line;
    const rag = byContext.get(record.prompt!);
    if (!rag) throw new Error(`${worldDir}/pretrain.jsonl: no rag_train record for ${record.prompt}`);
    return JSON.stringify({ ...record, prompt: contextLine(rag) });
  });
writeFileSync(join(out!, 'pretrain.jsonl'), mix.join('\n') + '\n');

for (const [name, records] of [
  ['rag_test', world.ragTest],
  ['rag_counterfactual', world.ragCounterfactual],
] as const) {
  const lines = records.map((r) =>
    JSON.stringify({ prompt: ragPrompt([askedStatement(r)], question(r)), completion: r.completion }),
  );
  writeFileSync(join(out!, `${name}.jsonl`), lines.join('\n') + '\n');
}
console.log(`wrote ${out}/pretrain.jsonl, rag_test.jsonl, rag_counterfactual.jsonl`);
