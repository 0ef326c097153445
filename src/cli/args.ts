// Minimal argument parser: `--key value`, `--flag`, repeated keys collect into arrays, positionals kept.
// A command declares its boolean flags so that `--json "question"` keeps the question a positional.

export interface ParsedArgs {
  positional: string[];
  options: Map<string, string[]>;
}

export function parseArgs(argv: string[], booleanFlags: readonly string[] = []): ParsedArgs {
  const positional: string[] = [];
  const options = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (!token.startsWith('--')) {
      positional.push(token);
      continue;
    }
    const eq = token.indexOf('=');
    const key = eq >= 0 ? token.slice(2, eq) : token.slice(2);
    let value: string;
    if (eq >= 0) value = token.slice(eq + 1);
    else if (!booleanFlags.includes(key) && i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) {
      value = argv[++i]!;
    } else value = 'true';
    const list = options.get(key) ?? [];
    list.push(value);
    options.set(key, list);
  }
  return { positional, options };
}

/** The last value given for `--key`, or undefined. */
export function optString(args: ParsedArgs, key: string): string | undefined {
  const values = args.options.get(key);
  return values?.[values.length - 1];
}

export function requireString(args: ParsedArgs, key: string): string {
  const value = optString(args, key);
  if (value === undefined || value === 'true') throw new Error(`missing required option --${key}`);
  return value;
}

export function optNumber(args: ParsedArgs, key: string, fallback: number): number {
  const value = optString(args, key);
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed)) throw new Error(`--${key} must be a number, got "${value}"`);
  return parsed;
}

export function optFlag(args: ParsedArgs, key: string): boolean {
  const value = optString(args, key);
  return value !== undefined && value !== 'false';
}

/** Every value of a repeatable option, also accepting comma-separated lists. */
export function optList(args: ParsedArgs, key: string): string[] {
  return (args.options.get(key) ?? []).flatMap((v) => v.split(',')).filter((v) => v.length > 0);
}
