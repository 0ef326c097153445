// A run directory: the full resolved config beside the outputs, an append-only metrics log, and
// a fresh timestamped folder per run so nothing already written is ever overwritten.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../io/atomic.ts';
import { appendJsonl, readJsonl } from '../io/jsonl.ts';

/** Creates `root/<UTC timestamp>[-N]/`, never reusing an existing folder. */
export function createTimestampedDir(root: string, now = new Date()): string {
  mkdirSync(root, { recursive: true });
  const stamp = now.toISOString().replace(/[:]/g, '-').replace(/\..+$/, '');
  for (let attempt = 0; ; attempt++) {
    const dir = join(root, attempt === 0 ? stamp : `${stamp}-${attempt}`);
    try {
      mkdirSync(dir);
      return dir;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

export function writeRunConfig(dir: string, config: unknown): void {
  writeJsonAtomic(join(dir, 'config.json'), config);
}

export class MetricsLog {
  readonly path: string;
  constructor(dir: string) {
    mkdirSync(dir, { recursive: true });
    this.path = join(dir, 'metrics.jsonl');
  }

  append(record: Record<string, unknown>): void {
    appendJsonl(this.path, record);
  }

  read(): Record<string, unknown>[] {
    return existsSync(this.path) ? readJsonl<Record<string, unknown>>(this.path) : [];
  }

  /** On resume: drop records past the checkpoint's step so the log continues exactly. */
  truncateAfter(step: number): void {
    if (!existsSync(this.path)) return;
    const kept = readFileSync(this.path, 'utf8')
      .split('\n')
      .filter((line) => line.trim().length > 0)
      .filter((line) => Number((JSON.parse(line) as { step?: number }).step ?? 0) <= step);
    writeFileSync(this.path, kept.map((line) => line + '\n').join(''));
  }
}
