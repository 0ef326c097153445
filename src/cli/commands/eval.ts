// Subcommands of the eval area (see src/cli/commands.ts). `rlcp eval gsm8k --responses FILE` scores saved
// GSM8K generations without a model; every other form runs the model-based suites (src/eval/suites).
import { join } from 'node:path';
import { registerCommand } from '../main.ts';
import { optFlag, optString, requireString, type ParsedArgs } from '../args.ts';
import type { Gsm8kPromptStyle, Gsm8kSummary } from '../../eval/gsm8k.ts';
import { MODEL_EVAL_USAGE, runModelEval } from '../../eval/suites/cli.ts';

const USAGE = [
  MODEL_EVAL_USAGE,
  '',
  'rlcp eval gsm8k --responses FILE.jsonl --gsm8k FILE.jsonl [--stop STYLE] [--out DIR] [--json]',
  'Scoring saved responses: each line of --responses is {"index": i, "response": "..."}, i = 0-based line',
  'of the --gsm8k file. --stop zero-shot|zero-shot-cot|cot-8shot|plain first cuts each response at that',
  "prompt style's stop sequences. --out DIR writes DIR/results.json and DIR/items/gsm8k.jsonl. The last",
  'line printed is the JSON summary; --json prints only that line.',
].join('\n');

registerCommand('eval', async () => ({
  summary: 'evaluate a model, or score saved GSM8K responses (eval gsm8k --responses)',
  usage: USAGE,
  flags: ['json'],
  async run(args) {
    if (args.positional[0] === 'gsm8k' && args.options.has('responses')) return scoreSavedGsm8k(args);
    return runModelEval(args);
  },
}));

async function scoreSavedGsm8k(args: ParsedArgs): Promise<number> {
  const { GSM8K_PROMPT_STYLES, GSM8K_STOP_SEQUENCES, scoreGsm8kResponses } =
    await import('../../eval/gsm8k.ts');
  const { writeFileAtomic, writeJsonAtomic } = await import('../../io/atomic.ts');
  const { toJsonl } = await import('../../io/jsonl.ts');
  const responsesPath = requireString(args, 'responses');
  const gsm8kPath = requireString(args, 'gsm8k');
  const stop = optString(args, 'stop');
  if (stop !== undefined && !GSM8K_PROMPT_STYLES.includes(stop as Gsm8kPromptStyle)) {
    throw new Error(`--stop must be one of ${GSM8K_PROMPT_STYLES.join(', ')}, got "${stop}"`);
  }
  const { summary, items } = scoreGsm8kResponses(gsm8kPath, responsesPath, {
    stopSequences: stop === undefined ? [] : GSM8K_STOP_SEQUENCES[stop as Gsm8kPromptStyle],
  });
  const out = optString(args, 'out');
  if (out !== undefined) {
    writeJsonAtomic(join(out, 'results.json'), { gsm8k: summary });
    writeFileAtomic(join(out, 'items', 'gsm8k.jsonl'), toJsonl(items));
  }
  if (!optFlag(args, 'json')) console.log(formatGsm8kTable(summary, responsesPath));
  console.log(JSON.stringify(summary));
  return 0;
}

function formatGsm8kTable(s: Gsm8kSummary, responsesPath: string): string {
  const value = (v: number | null, digits = 4): string => (v === null ? '—' : v.toFixed(digits));
  const rows: Array<[string, string, string]> = [
    [
      'strict accuracy',
      value(s.strict_accuracy),
      `[${value(s.strict_ci95.low)}, ${value(s.strict_ci95.high)}]`,
    ],
    [
      'flexible accuracy',
      value(s.flexible_accuracy),
      `[${value(s.flexible_ci95.low)}, ${value(s.flexible_ci95.high)}]`,
    ],
    ['CoT rate', value(s.cot_rate), `${s.n_cot} of ${s.n}`],
    ['strict | CoT', value(s.strict_accuracy_cot), ''],
    ['strict | no CoT', value(s.strict_accuracy_no_cot), ''],
    ['flexible | CoT', value(s.flexible_accuracy_cot), ''],
    ['flexible | no CoT', value(s.flexible_accuracy_no_cot), ''],
    ['mean tokens', value(s.mean_tokens, 1), ''],
  ];
  const lines = [
    `GSM8K: ${s.n} responses from ${responsesPath}`,
    `${'metric'.padEnd(20)}${'value'.padEnd(10)}95% CI / count`,
  ];
  for (const [name, v, extra] of rows) lines.push(`${name.padEnd(20)}${v.padEnd(10)}${extra}`.trimEnd());
  return lines.join('\n');
}
