// Installs the model-based suites as the runner of `rlcp eval --model ...` (src/cli/commands/eval.ts).
// Imported once from src/cli/commands.ts; the suites themselves load only when the command runs.
import { setModelEvalRunner } from '../../cli/commands/eval.ts';

setModelEvalRunner(async (args) => (await import('./cli.ts')).runModelEval(args));
