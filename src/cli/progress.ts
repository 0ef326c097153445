// Progress bars for long work: one line redrawn in place on a terminal, a line every few seconds
// otherwise (CI logs), always on stderr so stdout stays machine-readable (`--json` last lines).

export interface ProgressOptions {
  label: string;
  total: number;
  /** Unit counted for the throughput figure, e.g. "tok" gives "1234 tok/s". */
  unit?: string;
  stream?: NodeJS.WriteStream;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

/** A bar of `width` cells, the first `fraction` of them filled. */
export function barCells(fraction: number, width = 24): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return '█'.repeat(filled) + '░'.repeat(width - filled);
}

export class ProgressBar {
  private readonly started = Date.now();
  private lastDraw = 0;
  private drawnAt = -1;
  private done = 0;
  private units = 0;
  private fields: Record<string, string> = {};
  private readonly stream: NodeJS.WriteStream;
  private readonly interactive: boolean;

  constructor(private readonly options: ProgressOptions) {
    this.stream = options.stream ?? process.stderr;
    this.interactive = Boolean(this.stream.isTTY) && !process.env.CI;
  }

  /** Advances by `steps`, counting `units` of throughput (e.g. tokens), with fields such as loss. */
  tick(steps = 1, units = 0, fields: Record<string, number | string> = {}): void {
    this.done += steps;
    this.units += units;
    for (const [key, value] of Object.entries(fields)) {
      this.fields[key] = typeof value === 'number' ? formatNumber(value) : value;
    }
    const now = Date.now();
    const interval = this.interactive ? 100 : 5000;
    if (now - this.lastDraw >= interval || this.done >= this.options.total) this.draw(now);
  }

  finish(): void {
    // tick() already drew the completed bar when the last step arrived; draw only if it did not.
    if (this.drawnAt !== this.done) this.draw(Date.now());
    if (this.interactive) this.stream.write('\n');
  }

  private draw(now: number): void {
    this.lastDraw = now;
    this.drawnAt = this.done;
    const { label, total, unit } = this.options;
    const elapsed = (now - this.started) / 1000;
    const fraction = total > 0 ? Math.min(1, this.done / total) : 1;
    const bar = barCells(fraction);
    const eta = fraction > 0 ? (elapsed / fraction) * (1 - fraction) : Number.NaN;
    const parts = [`${label} ${bar} ${this.done}/${total}`];
    for (const [key, value] of Object.entries(this.fields)) parts.push(`${key} ${value}`);
    if (unit && elapsed > 0) parts.push(`${formatNumber(this.units / elapsed)} ${unit}/s`);
    parts.push(`${formatDuration(elapsed)} elapsed, ETA ${formatDuration(eta)}`);
    const line = parts.join(' | ');
    if (this.interactive) this.stream.write(`\r\x1b[2K${line}`);
    else this.stream.write(`${line}\n`);
  }
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e5)) return value.toExponential(2);
  return abs >= 100 ? value.toFixed(0) : value.toPrecision(4);
}
