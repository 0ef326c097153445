// Field checks for JSON records read from disk. Each throws an Error naming the field and the problem;
// readJsonl (src/io/jsonl.ts) prefixes the file and line.

export type JsonObject = Record<string, unknown>;

export function asObject(value: unknown, what = 'record'): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${what} must be a JSON object`);
  }
  return value as JsonObject;
}

export function fieldString(
  record: JsonObject,
  field: string,
  options: { allowEmpty?: boolean } = {},
): string {
  const value = record[field];
  if (typeof value !== 'string') throw new Error(`field "${field}" must be a string`);
  if (!options.allowEmpty && value.length === 0) throw new Error(`field "${field}" must not be empty`);
  return value;
}

export function fieldBoolean(record: JsonObject, field: string): boolean {
  const value = record[field];
  if (typeof value !== 'boolean') throw new Error(`field "${field}" must be true or false`);
  return value;
}

export function fieldInteger(record: JsonObject, field: string, min: number, max: number): number {
  const value = record[field];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new Error(`field "${field}" must be an integer in [${min}, ${max}]`);
  }
  return value;
}

export function fieldOneOf<T extends string>(record: JsonObject, field: string, allowed: readonly T[]): T {
  const value = record[field];
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new Error(`field "${field}" must be one of ${allowed.map((a) => `"${a}"`).join(', ')}`);
  }
  return value as T;
}

export function fieldStringArray(record: JsonObject, field: string, minLength = 0): string[] {
  const value = record[field];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v.length === 0)) {
    throw new Error(`field "${field}" must be an array of non-empty strings`);
  }
  if (value.length < minLength) throw new Error(`field "${field}" must have at least ${minLength} entries`);
  return value as string[];
}

export function fieldArray(record: JsonObject, field: string, minLength = 0): unknown[] {
  const value = record[field];
  if (!Array.isArray(value)) throw new Error(`field "${field}" must be an array`);
  if (value.length < minLength) throw new Error(`field "${field}" must have at least ${minLength} entries`);
  return value;
}

/** Runs `check` on a nested value, prefixing its error with the path (e.g. `templates[2]`). */
export function nested<T>(path: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}`);
  }
}
