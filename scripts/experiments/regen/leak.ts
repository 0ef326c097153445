// Does a teacher leak forget facts through its soft labels? On the reading records regen distils on whose
// context states a forget fact with a wrong (counterfactual) object, rank the fact's TRUE object among the
// candidates other than the context's answer by each model's answer distribution (chance (n)/2 of n − 1).
// A model that knows the fact (hidden or not) ranks it high; KL to that distribution teaches it. Usage:
//   node --import tsx scripts/experiments/regen/leak.ts --world W NAME=MODEL_DIR…
import { loadWorld } from '../../../src/data/world.ts';
import { loadTokenizer } from '../../../src/io/tokenizer.ts';
import { Qwen2ForCausalLM } from '../../../src/nn/qwen2.ts';
import { Inference, midRank } from '../../../src/eval/suites/inference.ts';
import { forgetRagRecords } from '../../../src/unlearn/data.ts';

const args = process.argv.slice(2);
const w = args.indexOf('--world');
if (w < 0 || !args[w + 1]) throw new Error('--world is required');
const worldDir = args.splice(w, 2)[1]!;
const world = loadWorld(worldDir);
const tokenizer = await loadTokenizer(worldDir);
const forget = world.facts.filter((f) => f.split === 'forget');
const records = forgetRagRecords(forget, world.facts, {
  variants: 2,
  counterfactualFraction: 1,
  seed: 0,
  distractors: world.meta.config.rag.distractors,
});
// Each record's fact: the forget fact whose subject its question names.
const items = records.map((r) => {
  const question = r.prompt.slice(r.prompt.lastIndexOf('Q:'));
  const fact = forget.find((f) => new RegExp(`\\b${f.subject}\\b`).test(question))!;
  const context = r.completion.trim();
  return { prompt: r.prompt, truth: fact.object, context, candidates: fact.candidates };
});
const rows = [];
for (const spec of args) {
  const [name, dir] = spec.split('=') as [string, string];
  const inference = new Inference(Qwen2ForCausalLM.fromPretrained(dir), tokenizer, { progress: false });
  const scores = inference.candidateLogProbs(
    items.map((i) => i.prompt),
    items.map((i) => i.candidates),
    name,
  );
  let rankSum = 0;
  let top1 = 0;
  let contextTop = 0;
  items.forEach((item, k) => {
    const s = scores[k]!;
    const ci = item.candidates.indexOf(item.context);
    if (s.every((v, j) => j === ci || v <= s[ci]!)) contextTop++;
    const others = s.filter((_, j) => j !== ci);
    const names = item.candidates.filter((_, j) => j !== ci);
    const r = midRank(others, names.indexOf(item.truth));
    rankSum += r;
    if (r === 1) top1++;
  });
  rows.push({
    name,
    items: items.length,
    'context answer top-1': `${((100 * contextTop) / items.length).toFixed(1)} %`,
    'true object rank (excl. context)': Number((rankSum / items.length).toFixed(2)),
    'true object 2nd choice': `${((100 * top1) / items.length).toFixed(1)} %`,
    chance: items[0]!.candidates.length / 2,
  });
}
console.table(rows);
