// Accuracy of a model on pretraining-style reading lines ({"prompt": "Context: …\n", "completion":
// "Q: …\nA: answer"}, or a prompt ending "A:" and the answer as completion): greedy answer after the last "A:"; one-word answers by the first word said, longer ones whole. Usage:
//   node --import tsx scripts/experiments/reading/line-accuracy.ts MODEL LINES.jsonl [N=200]
import { Qwen2ForCausalLM } from '../../../src/nn/qwen2.ts';
import { loadTokenizer } from '../../../src/io/tokenizer.ts';
import { Inference } from '../../../src/eval/suites/inference.ts';
import { readFileSync } from 'node:fs';
const [modelDir, file, nStr = '200'] = process.argv.slice(2);
const model = Qwen2ForCausalLM.fromPretrained(modelDir!);
const tok = await loadTokenizer('models/world-base/world');
const inf = new Inference(model, tok as never, { progress: false });
const lines = readFileSync(file!, 'utf8')
  .trim()
  .split('\n')
  .slice(0, Number(nStr))
  .map((l) => JSON.parse(l));
// A completion without "A:" is the answer alone (its prompt ends with "A:").
const answerAt = (c: string) => (c.includes('A:') ? c.lastIndexOf('A:') + 2 : 0);
const prompts = lines.map((l) => l.prompt + l.completion.slice(0, answerAt(l.completion)));
const answers = lines.map((l) => l.completion.slice(answerAt(l.completion) + 1));
const gen = inf.generate(prompts, { maxNewTokens: 16, stopStrings: ['\n'], label: 'x' });
const clean = (text: string) => text.trim().replace(/\.$/, '');
let ok = 0;
gen.forEach((g, i) => {
  const said = clean(g.text);
  if ((answers[i]!.includes(' ') ? said : said.split(/[ .]/)[0]) === clean(answers[i]!)) ok++;
  else if (i < 5) console.log(JSON.stringify(prompts[i]), '->', g.text, 'want', answers[i]);
});
console.log('acc', ok / lines.length);
