// Token ids of reading lines for torch_reading.py: ids (prompt + completion + EOS), where the trained
// completion starts, and the answer token's index. Usage:
//   node --import tsx scripts/experiments/reading/encode-lines.ts LINES.jsonl OUT.json
import { loadTokenizer } from '../../../src/io/tokenizer.ts';
import { readFileSync, writeFileSync } from 'node:fs';
const tok = await loadTokenizer('models/world-base/world');
const [file, out] = process.argv.slice(2);
const rows = readFileSync(file!, 'utf8')
  .trim()
  .split('\n')
  .map((l) => {
    const r = JSON.parse(l);
    const p = tok.encode(r.prompt, { addSpecialTokens: false });
    const c = tok.encode(r.completion, { addSpecialTokens: false });
    const a = tok.encode(r.completion.slice(0, r.completion.lastIndexOf('A:') + 2), {
      addSpecialTokens: false,
    });
    return { ids: [...p, ...c, tok.eosTokenId], start: p.length, answerAt: p.length + a.length };
  });
writeFileSync(out!, JSON.stringify(rows));
