// The orchestrator's side of a benchmark worker: a child process (rlcp's TypeScript worker or the
// PyTorch peer) that reads one JSON command per stdin line and answers each with one stdout line
// `@@bench {json}`. Each side runs in its own process so its peak RSS (VmHWM) is its own, and the
// orchestrator can interleave the two step by step on a shared machine.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';

export const REPLY_PREFIX = '@@bench ';

export type Reply = Record<string, unknown>;

export interface WorkerSpec {
  /** Name used in errors and progress lines, e.g. "torch (OPENBLAS_* unset)". */
  label: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
}

export class BenchWorker {
  readonly label: string;
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending: { resolve(r: Reply): void; reject(e: Error): void }[] = [];
  private stderrTail = '';
  private exited: string | null = null;

  constructor(spec: WorkerSpec) {
    this.label = spec.label;
    this.child = spawn(spec.command, spec.args, { env: spec.env, cwd: spec.cwd, stdio: 'pipe' });
    const lines = createInterface({ input: this.child.stdout });
    lines.on('line', (line) => {
      if (!line.startsWith(REPLY_PREFIX)) {
        // Stray output (library warnings): keep it for error messages.
        this.appendStderr(`${line}\n`);
        return;
      }
      const waiter = this.pending.shift();
      if (!waiter) return;
      let reply: Reply;
      try {
        reply = JSON.parse(line.slice(REPLY_PREFIX.length)) as Reply;
      } catch (error) {
        waiter.reject(new Error(`${this.label}: unreadable reply (${String(error)}): ${line.slice(0, 200)}`));
        return;
      }
      if (typeof reply.error === 'string') waiter.reject(new Error(`${this.label}: ${reply.error}`));
      else waiter.resolve(reply);
    });
    this.child.stderr.on('data', (chunk: Buffer) => this.appendStderr(chunk.toString()));
    this.child.on('error', (error) => this.fail(`could not start: ${error.message}`));
    this.child.on('exit', (code, signal) => this.fail(`exited (code ${code}, signal ${signal})`));
  }

  private appendStderr(text: string): void {
    this.stderrTail = (this.stderrTail + text).slice(-4000);
  }

  private fail(why: string): void {
    if (this.exited !== null) return;
    this.exited = why;
    const error = new Error(`${this.label} ${why}${this.stderrTail ? `\n${this.stderrTail.trimEnd()}` : ''}`);
    for (const waiter of this.pending.splice(0)) waiter.reject(error);
  }

  /** Sends one command and waits for its reply. */
  call(cmd: string, params: Record<string, unknown> = {}): Promise<Reply> {
    if (this.exited !== null) return Promise.reject(new Error(`${this.label} ${this.exited}`));
    return new Promise<Reply>((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.child.stdin.write(`${JSON.stringify({ cmd, ...params })}\n`);
    });
  }

  /** Asks the worker to exit and waits for it (killing it after a grace period). */
  async close(): Promise<void> {
    if (this.exited !== null) return;
    const done = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin.end(`${JSON.stringify({ cmd: 'exit' })}\n`);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await done;
    clearTimeout(timer);
  }

  /** Kills the worker now (after an error elsewhere). */
  kill(): void {
    if (this.exited === null) this.child.kill('SIGKILL');
  }
}
