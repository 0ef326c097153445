// The `rlcp` command line: a table of subcommands, each a module that exports `run(args)`.
import { parseArgs, type ParsedArgs } from './args.ts';

export interface Command {
  summary: string;
  usage: string;
  /** Boolean options (`--json`): they never take the next word as their value. */
  flags?: readonly string[];
  run(args: ParsedArgs): Promise<number | void>;
}

const commands: Record<string, () => Promise<Command>> = {};

/** Registers a subcommand; the loader is lazy so `rlcp --help` stays fast. */
export function registerCommand(name: string, load: () => Promise<Command>): void {
  commands[name] = load;
}

async function help(): Promise<string> {
  const lines = [
    'rlcp — Regenerative Logic-Core Protocol toolkit',
    '',
    'Usage: rlcp <command> [options]',
    '',
  ];
  for (const name of Object.keys(commands).sort()) {
    const command = await commands[name]!();
    lines.push(`  ${name.padEnd(12)} ${command.summary}`);
  }
  lines.push('', 'Run `rlcp <command> --help` for the options of one command.');
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  await import('./commands.ts');
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(await help());
    return 0;
  }
  const load = commands[name];
  if (!load) {
    console.error(`rlcp: unknown command "${name}". Run \`rlcp --help\` for the list.`);
    return 2;
  }
  const command = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(`${command.summary}\n\nUsage: ${command.usage}`);
    return 0;
  }
  try {
    const code = await command.run(parseArgs(rest, command.flags));
    return typeof code === 'number' ? code : 0;
  } catch (error) {
    console.error(`rlcp ${name}: ${error instanceof Error ? error.message : String(error)}`);
    if (process.env.RLCP_DEBUG) console.error(error);
    return 1;
  }
}
