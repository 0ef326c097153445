// Relearning attacks over several splits of the forget facts, with per-item ranks, for regen's selection
// (dev splits, never the evaluation ones) and its final check (eval splits: the suite's alternating one,
// its mirror, and one shuffle not used for selection). Per model and split: held-out accuracy and mean rank
// of the evaluated half after each of --at steps, and, against --oracle, a two-sided Mann–Whitney test of
// the pooled per-item ranks (split × item: p), and of the per-fact mean ranks (split × fact: pFact — an
// item-level test counts a fact's 3 templates as 3 independent draws and overstates the evidence). Usage:
//   node --import tsx scripts/experiments/regen/attack.ts --world W --oracle DIR --splits dev|eval
//     [--at 30,100] [--seed 0] [--out FILE.json] NAME=MODEL_DIR…
// or, to summarise a saved run again without attacking: --world W --from FILE.json
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadWorld } from '../../../src/data/world.ts';
import { loadTokenizer } from '../../../src/io/tokenizer.ts';
import { writeJsonAtomic } from '../../../src/io/atomic.ts';
import { readJson } from '../../../src/io/jsonl.ts';
import { Qwen2ForCausalLM } from '../../../src/nn/qwen2.ts';
import { Inference } from '../../../src/eval/suites/inference.ts';
import { factSuitesFromWorld, type FactSuites } from '../../../src/eval/suites/items.ts';
import { evaluateFactItems } from '../../../src/eval/suites/recall.ts';
import { cloneModel, DEFAULT_RELEARN_OPTIONS, type RelearnSplit } from '../../../src/eval/suites/relearn.ts';
import { erfc } from '../../../src/eval/stats.ts';
import { Rng } from '../../../src/tensor/random.ts';
import { DEFAULT_LM_TRAIN_CONFIG, trainCausalLm } from '../../../src/train/lm-trainer.ts';

const args = process.argv.slice(2);
const flag = (name: string, fallback?: string) => {
  const i = args.indexOf(`--${name}`);
  if (i < 0) {
    if (fallback === undefined) throw new Error(`--${name} is required`);
    return fallback;
  }
  const [value] = args.splice(i, 2).slice(1);
  if (value === undefined) throw new Error(`--${name} needs a value`);
  return value;
};
const worldDir = flag('world');
const fromPath = flag('from', '');
const saved = fromPath
  ? readJson<{
      splits: Record<string, { train: string[] }>;
      at: number[];
      seed: number;
      models: { name: string; dir: string }[];
      results: Record<string, Record<string, Record<number, { ranks: number[]; correct: number }>>>;
    }>(fromPath)
  : null;
const oracleDir = saved ? '' : flag('oracle');
// A saved run's splits are the dev ones (shuffles 11 and 12) or the eval ones.
const splitKind = saved ? ('shuffle11' in saved.splits ? 'dev' : 'eval') : flag('splits');
const at = saved ? saved.at : flag('at', '30,100').split(',').map(Number);
const seed = saved ? saved.seed : Number(flag('seed', '0'));
const outPath = saved ? '' : flag('out', '');
if (splitKind !== 'dev' && splitKind !== 'eval')
  throw new Error(`--splits must be dev or eval, got ${splitKind}`);
if (!at.every((s) => Number.isInteger(s) && s >= 1)) throw new Error(`--at must list positive steps`);
const models = args.map((a) => {
  const eq = a.indexOf('=');
  if (eq <= 0) throw new Error(`expected NAME=MODEL_DIR, got ${a}`);
  return { name: a.slice(0, eq), dir: a.slice(eq + 1) };
});

const suites = factSuitesFromWorld(loadWorld(worldDir));
const facts = [...new Set(suites.forgetTrain.map((i) => i.fact_id))];

function splitOf(trainFacts: string[], suites: FactSuites): RelearnSplit {
  const evalFacts = facts.filter((f) => !trainFacts.includes(f));
  return {
    trainFacts,
    evalFacts,
    trainItems: suites.forgetTrain.filter((i) => trainFacts.includes(i.fact_id)),
    evalItems: suites.forgetHeldout.filter((i) => evalFacts.includes(i.fact_id)),
  };
}
function shuffled(shuffleSeed: number): string[] {
  const rng = new Rng(shuffleSeed);
  const order = [...facts];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rng.uniform() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order.slice(0, Math.ceil(facts.length / 2));
}
// Dev splits are seeded shuffles 11 and 12; eval splits never feed a choice of config.
const splits: Record<string, RelearnSplit> =
  splitKind === 'dev'
    ? { shuffle11: splitOf(shuffled(11), suites), shuffle12: splitOf(shuffled(12), suites) }
    : {
        alternating: splitOf(
          facts.filter((_, i) => i % 2 === 0),
          suites,
        ),
        mirror: splitOf(
          facts.filter((_, i) => i % 2 === 1),
          suites,
        ),
        shuffle13: splitOf(shuffled(13), suites),
      };

const tokenizer = await loadTokenizer(worldDir);
const eos = tokenizer.eosTokenId!;
const lastStep = Math.max(...at);

/** Per step in `at`: the evaluated half's per-item ranks and correctness after that many attack steps. */
function attack(model: Qwen2ForCausalLM, split: RelearnSplit, label: string) {
  const copy = cloneModel(model);
  const inference = new Inference(copy, tokenizer, { progress: false });
  const byStep = new Map<number, { ranks: number[]; correct: number }>();
  const measure = (step: number) => {
    const { items } = evaluateFactItems(inference, split.evalItems, label);
    byStep.set(step, { ranks: items.map((r) => r.rank), correct: items.filter((r) => r.correct).length });
    return {};
  };
  mkdirSync('.tmp', { recursive: true });
  const runDir = mkdtempSync(join('.tmp', 'regen-attack-'));
  try {
    trainCausalLm({
      model: copy,
      records: split.trainItems.map((item) => ({ prompt: item.prompt, completion: ` ${item.answer}` })),
      tokenizer: {
        encode: (t, o) => tokenizer.encode(t, o),
        eosTokenId: eos,
        padTokenId: tokenizer.padTokenId ?? eos,
      },
      // The suite's attack (src/eval/suites/relearn.ts): constant lr 3e-4, batch 8, no warmup or decay.
      config: {
        ...DEFAULT_LM_TRAIN_CONFIG,
        steps: lastStep,
        batchSize: DEFAULT_RELEARN_OPTIONS.batchSize,
        lr: DEFAULT_RELEARN_OPTIONS.lr,
        warmupSteps: 0,
        minLrRatio: 1,
        weightDecay: 0,
        seed,
        logEvery: 1,
        checkpointEvery: lastStep,
      },
      runDir,
      label,
      onLog: (step) => (at.includes(step) ? measure(step) : {}),
    });
  } finally {
    rmSync(runDir, { recursive: true, force: true });
  }
  return byStep;
}

/** Two-sided Mann–Whitney U (normal approximation, tie-corrected): P(ranks of a ≠ ranks of b). */
function mannWhitney(a: number[], b: number[]): { p: number; z: number } {
  const all = [...a.map((v) => ({ v, g: 0 })), ...b.map((v) => ({ v, g: 1 }))].sort((x, y) => x.v - y.v);
  const n = all.length;
  const r = new Array<number>(n);
  let tie = 0;
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && all[j + 1]!.v === all[i]!.v) j++;
    for (let k = i; k <= j; k++) r[k] = (i + j) / 2 + 1;
    const t = j - i + 1;
    tie += t ** 3 - t;
    i = j + 1;
  }
  const n1 = a.length;
  const n2 = b.length;
  const r1 = all.reduce((s, x, i) => s + (x.g === 0 ? r[i]! : 0), 0);
  const u = r1 - (n1 * (n1 + 1)) / 2;
  const sd = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tie / (n * (n - 1))));
  const z = sd === 0 ? 0 : (u - (n1 * n2) / 2) / sd;
  return { p: erfc(Math.abs(z) / Math.SQRT2), z };
}

const all = saved ? saved.models : [{ name: 'oracle', dir: oracleDir }, ...models];
const results: Record<string, Record<string, Record<number, { ranks: number[]; correct: number }>>> = saved
  ? saved.results
  : {};
if (saved)
  for (const [name, split] of Object.entries(saved.splits))
    if (splits[name]?.trainFacts.join() !== split.train.join())
      throw new Error(`${fromPath}: split ${name} is not this world's (${worldDir})`);
for (const { name, dir } of saved ? [] : all) {
  const model = Qwen2ForCausalLM.fromPretrained(dir);
  results[name] = {};
  for (const [splitName, split] of Object.entries(splits))
    results[name][splitName] = Object.fromEntries(attack(model, split, `${name} ${splitName}`));
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** Per split × fact: the mean rank over the fact's evaluated items (its templates). */
const factMeans = (name: string, step: number) =>
  Object.entries(results[name]!).flatMap(([splitName, s]) => {
    const items = splits[splitName]!.evalItems;
    return splits[splitName]!.evalFacts.map((f) =>
      mean(s[step]!.ranks.filter((_, i) => items[i]!.fact_id === f)),
    );
  });
const summary = all.map(({ name }) => {
  const row: Record<string, unknown> = { name };
  for (const step of at) {
    const pooled = Object.values(results[name]!).flatMap((s) => s[step]!.ranks);
    const oracle = Object.values(results.oracle!).flatMap((s) => s[step]!.ranks);
    const correct = Object.values(results[name]!).map((s) => s[step]!.correct);
    const oracleCorrect = Object.values(results.oracle!).map((s) => s[step]!.correct);
    const test = mannWhitney(pooled, oracle);
    row[`rank@${step}`] = Number(mean(pooled).toFixed(2));
    row[`correct@${step}`] = correct.join('/');
    row[`Δcorrect@${step}`] = Number((mean(correct) - mean(oracleCorrect)).toFixed(2));
    row[`p@${step}`] = Number(test.p.toFixed(3));
    row[`pFact@${step}`] = Number(mannWhitney(factMeans(name, step), factMeans('oracle', step)).p.toFixed(3));
  }
  return row;
});
console.table(summary);
if (outPath)
  writeJsonAtomic(outPath, {
    splits: Object.fromEntries(
      Object.entries(splits).map(([k, s]) => [
        k,
        { train: s.trainFacts, eval: s.evalFacts, items: s.evalItems.length },
      ]),
    ),
    at,
    seed,
    models: all,
    summary,
    results,
  });
