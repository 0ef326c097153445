// Every subcommand of `rlcp`. Each area registers its own commands in src/cli/commands/<area>.ts.
import { registerCommand } from './main.ts';
import './commands/engine.ts';
import './commands/model.ts';
import './commands/world.ts';
import './commands/eval.ts';
import './commands/unlearn.ts';
import './commands/claims.ts';
import './commands/queue.ts';
import './commands/report.ts';
import './commands/memory.ts';
import './commands/train.ts';
import './commands/demo.ts';

registerCommand('version', async () => ({
  summary: 'print the rlcp version',
  usage: 'rlcp version',
  async run() {
    console.log('rlcp 0.1.0');
  },
}));
