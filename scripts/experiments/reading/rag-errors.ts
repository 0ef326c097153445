// Where RAG answers go wrong: per split, accuracy and the wrong answers sorted into the world's object
// (memory won), another context statement's object (same or other relation) or anything else, with the
// asked statement's position in the context. Usage:
//   node --import tsx scripts/experiments/reading/rag-errors.ts MODEL [WORLD=models/world-base/world]
import { Qwen2ForCausalLM } from '../../../src/nn/qwen2.ts';
import { loadTokenizer } from '../../../src/io/tokenizer.ts';
import { Inference } from '../../../src/eval/suites/inference.ts';
import { evaluateRag } from '../../../src/eval/suites/recall.ts';
import { loadWorld } from '../../../src/data/world.ts';

const [modelDir, worldDir = 'models/world-base/world'] = process.argv.slice(2);
if (!modelDir) throw new Error('usage: rag-errors.ts MODEL [WORLD]');
const world = loadWorld(worldDir);
const inference = new Inference(Qwen2ForCausalLM.fromPretrained(modelDir), await loadTokenizer(worldDir), {
  progress: false,
});
for (const [name, records] of [
  ['rag_test', world.ragTest],
  ['rag_counterfactual', world.ragCounterfactual],
  ['rag_train (first 200)', world.ragTrain.slice(0, 200)],
] as const) {
  const { items, summary } = evaluateRag(inference, records, name);
  const kinds: Record<string, number> = {};
  items.forEach((item, i) => {
    const record = records[i]!;
    let kind = 'correct';
    if (!item.correct) {
      const said = item.generated.trim();
      const from = record.context_facts.find((f) => said.startsWith(f.object) && f.object !== record.answer);
      const asked = record.context_facts.findIndex((f) => f.subject === record.subject);
      kind = item.says_true_object
        ? 'world object'
        : from
          ? `other statement (${from.relation === record.relation ? 'same' : 'other'} relation)`
          : 'not in context';
      kind += `, asked statement at ${asked}`;
    }
    kinds[kind] = (kinds[kind] ?? 0) + 1;
  });
  const pct = (v: number | null) => (v === null ? '—' : `${(100 * v).toFixed(1)} %`);
  console.log(
    `${name}: ${pct(summary.accuracy)} (forget ${pct(summary.forget_accuracy)}, retain ${pct(summary.retain_accuracy)})`,
  );
  console.log(kinds);
}
