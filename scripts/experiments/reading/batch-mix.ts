// Padding overhead and source purity of the trainer's batches on the world's pretraining mix, per length-grouping
// window (0 = uniform batches). Usage (repository root): node --import tsx scripts/experiments/reading/batch-mix.ts
import { readFileSync } from 'node:fs';
import { loadTokenizer } from '../../../src/io/tokenizer.ts';
import { EpochSampler } from '../../../src/train/batches.ts';
const tok = await loadTokenizer('models/world-base/world');
const lines = readFileSync('models/world-base/world/pretrain.jsonl', 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l));
const lens = lines.map(
  (l) => tok.encode('text' in l ? l.text : l.prompt + l.completion, { addSpecialTokens: false }).length + 1,
);
const src = lines.map((l) => l.source);
for (const g of [0, 1, 2, 4, 16]) {
  const s = new EpochSampler(
    lens.length,
    1,
    g ? { lengths: lens, batchSize: 64, groupBatches: g } : undefined,
  );
  let padded = 0,
    real = 0,
    purity = 0;
  for (let b = 0; b < 400; b++) {
    const idx = s.next(64);
    const L = Math.max(...idx.map((i) => lens[i]!));
    padded += L * 64;
    real += idx.reduce((a, i) => a + lens[i]!, 0);
    const c: Record<string, number> = {};
    for (const i of idx) c[src[i]!] = (c[src[i]!] ?? 0) + 1;
    purity += Math.max(...Object.values(c)) / 64;
  }
  console.log(
    `groupBatches ${g}: tokens computed / real ${(padded / real).toFixed(2)}, mean share of the batch's main source ${(purity / 400).toFixed(2)}`,
  );
}
