// Subcommands of the report area (see src/cli/commands.ts).
import { registerCommand } from '../main.ts';

registerCommand('report', async () => ({
  summary: 'rebuild a run folder’s report.html from its results.json and config.json',
  usage: 'rlcp report RUN_DIR',
  async run(args) {
    const [runDir, ...extra] = args.positional;
    const unknown = [...args.options.keys()];
    if (unknown.length > 0) throw new Error(`unknown option --${unknown[0]}; usage: rlcp report RUN_DIR`);
    if (runDir === undefined || extra.length > 0) {
      throw new Error('expected exactly one run folder: rlcp report RUN_DIR');
    }
    const { writeReport } = await import('../../report/write.ts');
    console.log(`wrote ${writeReport(runDir)}`);
  },
}));
