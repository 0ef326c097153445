// JSON and JSONL reading with errors that name the file, the line and the problem.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';

export function readJson<T = unknown>(path: string): T {
  if (!existsSync(path)) throw new Error(`${path}: file not found`);
  const text = readFileSync(path, 'utf8');
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new Error(`${path}: malformed JSON (${(error as Error).message})`);
  }
}

/** Parses every non-empty line as JSON; `validate` may throw to reject a record (its message is kept). */
export function readJsonl<T = unknown>(path: string, validate?: (record: unknown, line: number) => T): T[] {
  if (!existsSync(path)) throw new Error(`${path}: file not found`);
  const lines = readFileSync(path, 'utf8').split('\n');
  const records: T[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line.length === 0) continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new Error(`${path}:${i + 1}: malformed JSON (${(error as Error).message})`);
    }
    if (validate) {
      try {
        records.push(validate(value, i + 1));
      } catch (error) {
        throw new Error(`${path}:${i + 1}: ${(error as Error).message}`);
      }
    } else records.push(value as T);
  }
  return records;
}

export function toJsonl(records: readonly unknown[]): string {
  return records.map((r) => JSON.stringify(r)).join('\n') + (records.length > 0 ? '\n' : '');
}

/** Appends one record (metrics logs); a line is written whole by a single append. */
export function appendJsonl(path: string, record: unknown): void {
  appendFileSync(path, JSON.stringify(record) + '\n');
}
