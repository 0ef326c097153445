// `rlcp claims`: the paper's four headline claims tested over RLCP seeds (src/eval/claims.ts).
import { optFlag, optList, optNumber, optString, requireString } from '../args.ts';
import { registerCommand } from '../main.ts';

registerCommand('claims', async () => ({
  summary: "test the paper's four claims (retention, phase transition, crystallization, CoT) over RLCP seeds",
  usage:
    'rlcp claims --world DIR --base DIR --oracle DIR --runs RUN,RUN,... --controls RUN,RUN,...\n' +
    '            [--bootstrap B] [--bootstrap-seed S] [--batch-size N] [--out DIR] [--json]\n' +
    '  --runs: RLCP metabolize runs (one per seed). --controls: the same seeds and steps trained on the anchor\n' +
    '  streams alone (rlcp metabolize ... --set fact.lambda=0 --set fact.generic=0), matched by seed.\n' +
    '  --bootstrap: replicates of the crystallization bootstrap over prompts (default 200).\n' +
    '  Prints the claims table (Markdown); --out DIR writes DIR/claims.json and DIR/claims.md; --json prints\n' +
    '  the report as the last line.',
  flags: ['json'],
  async run(args) {
    const { runClaims } = await import('../../eval/suites/claims.ts');
    const { formatClaimsTable } = await import('../../eval/claims.ts');
    const report = await runClaims({
      world: requireString(args, 'world'),
      base: requireString(args, 'base'),
      oracle: requireString(args, 'oracle'),
      runs: optList(args, 'runs'),
      controls: optList(args, 'controls'),
      bootstrapReplicates: optNumber(args, 'bootstrap', 200),
      bootstrapSeed: optNumber(args, 'bootstrap-seed', 0),
      batchSize: optNumber(args, 'batch-size', 32),
      out: optString(args, 'out'),
    });
    console.log(formatClaimsTable(report));
    console.log(report.crystallization_definition);
    if (optFlag(args, 'json')) console.log(JSON.stringify(report));
  },
}));
