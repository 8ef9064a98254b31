// `mlfp run --config <file>` as a child process, the way an operator runs it: its stdout/stderr, the HTTP
// port it printed, /healthz /readyz /metrics, its resident memory from /proc, and signals (SIGTERM = a
// graceful stop, SIGKILL = a crash). Also runs the batch commands (`mlfp bars`, `mlfp features`, `mlfp score`).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './build-once.js';

const execFileAsync = promisify(execFile);
const MLFP = join(REPO_ROOT, 'bin', 'mlfp.js');
/** Output kept per stream: enough for every event line of a test run, bounded if something loops. */
const MAX_OUTPUT_CHARS = 4 * 1024 * 1024;
const PORT_LINE = /metrics and health on http:\/\/[^:]+:(\d+)\/metrics/;

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Readiness {
  status: number;
  ready: boolean;
  dependencies: Record<
    string,
    { state: string; detail?: string; values?: Record<string, number> } | undefined
  >;
}

/** Runs `mlfp <args>` to completion (batch commands); rejects with its stderr when it exits non-zero. */
export async function runMlfp(args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
  try {
    return await execFileAsync(process.execPath, [MLFP, ...args], {
      cwd: REPO_ROOT,
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    const failed = error as Error & { stderr?: string; code?: number };
    throw new Error(`mlfp ${args.join(' ')} exited with ${failed.code}: ${failed.stderr ?? failed.message}`);
  }
}

export class EngineProcess {
  readonly exited: Promise<ExitStatus>;
  private output = { stdout: '', stderr: '' };
  private exit: ExitStatus | undefined;
  private port: number | undefined;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    for (const stream of ['stdout', 'stderr'] as const) {
      child[stream]?.setEncoding('utf8');
      child[stream]?.on('data', (chunk: string) => {
        const text = this.output[stream] + chunk;
        this.output[stream] = text.length > MAX_OUTPUT_CHARS ? text.slice(-MAX_OUTPUT_CHARS) : text;
        if (this.port === undefined && stream === 'stderr') {
          const match = PORT_LINE.exec(this.output.stderr);
          if (match !== null) this.port = Number(match[1]);
        }
      });
    }
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
  }

  /** Spawns `node bin/mlfp.js run --config <configPath>` in the repository root (so `models/` resolves). */
  static spawn(name: string, configPath: string): EngineProcess {
    const child = spawn(process.execPath, [MLFP, 'run', '--config', configPath], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new EngineProcess(name, child);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get isRunning(): boolean {
    return this.exit === undefined;
  }

  get exitStatus(): ExitStatus | undefined {
    return this.exit;
  }

  get stdout(): string {
    return this.output.stdout;
  }

  get stderr(): string {
    return this.output.stderr;
  }

  /** The last lines of both streams, for a failure message. */
  tail(lines = 40): string {
    const last = (text: string): string => text.trimEnd().split('\n').slice(-lines).join('\n');
    return `--- ${this.name} (pid ${this.pid}) stderr:\n${last(this.stderr)}\n--- stdout:\n${last(this.stdout)}`;
  }

  /** Resolves with the HTTP port once the engine printed it (its HTTP server starts before Kafka). */
  async httpPort(timeoutMs = 60_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.port === undefined) {
      if (!this.isRunning) throw new Error(`${this.name} exited before serving HTTP\n${this.tail()}`);
      if (Date.now() > deadline) throw new Error(`${this.name} printed no HTTP port\n${this.tail()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return this.port;
  }

  async get(path: string): Promise<{ status: number; body: string }> {
    const port = await this.httpPort();
    try {
      const response = await fetch(`http://127.0.0.1:${port}${path}`, {
        signal: AbortSignal.timeout(10_000),
      });
      return { status: response.status, body: await response.text() };
    } catch (error) {
      // most often the process has just died: say how, with its last words
      await Promise.race([this.exited, new Promise((resolve) => setTimeout(resolve, 1_000))]);
      throw new Error(
        `GET ${path} on ${this.name} failed (${(error as Error).message}; exit ${JSON.stringify(this.exit)})\n${this.tail()}`,
        { cause: error },
      );
    }
  }

  async readiness(): Promise<Readiness> {
    const { status, body } = await this.get('/readyz');
    const parsed = JSON.parse(body) as Omit<Readiness, 'status'>;
    return { status, ...parsed };
  }

  /** Every sample of one metric as `{labels} value` pairs, from /metrics. */
  async metric(name: string): Promise<Array<{ labels: Record<string, string>; value: number }>> {
    const { body } = await this.get('/metrics');
    const samples: Array<{ labels: Record<string, string>; value: number }> = [];
    for (const line of body.split('\n')) {
      if (!line.startsWith(name)) continue;
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (match === null || match[1] !== name) continue;
      const labels: Record<string, string> = {};
      for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
        labels[pair[1]!] = pair[2]!;
      samples.push({ labels, value: Number(match[3]) });
    }
    return samples;
  }

  /** Resident set size in bytes (VmRSS of /proc/<pid>/status), or undefined once the process is gone. */
  rssBytes(): number | undefined {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
      const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
      return match === null ? undefined : Number(match[1]) * 1024;
    } catch {
      return undefined; // the process exited between the check and the read
    }
  }

  /** Sends a signal to this child only (never a process group). */
  signal(signal: NodeJS.Signals): void {
    if (this.isRunning) this.child.kill(signal);
  }

  /** SIGTERM, then waits for the exit; SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 45_000): Promise<ExitStatus> {
    if (!this.isRunning) return this.exit!;
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** A crash: SIGKILL, then waits for the exit. */
  async crash(): Promise<ExitStatus> {
    this.signal('SIGKILL');
    return this.exited;
  }
}
