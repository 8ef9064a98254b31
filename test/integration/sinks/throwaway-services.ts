// Throwaway PostgreSQL clusters and Redis servers on spare ports for outage tests: stopping the machine's shared
// services would break other test runs, so each test starts, stops and removes its own.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { promisify } from 'node:util';

const run = promisify(execFile);
const PG_VERSION = '15';

/** A TCP port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

/** pg_createcluster needs root and the Debian postgresql-common tools. */
export const canRunPostgresCluster =
  process.getuid?.() === 0 &&
  existsSync('/usr/bin/pg_createcluster') &&
  existsSync(`/usr/lib/postgresql/${PG_VERSION}`);

export const canRunRedisServer = existsSync('/usr/bin/redis-server');

export class ThrowawayPostgres {
  constructor(
    readonly name: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** Creates and starts the cluster (trust authentication, no other setup). */
  async create(): Promise<void> {
    await run('pg_createcluster', [
      PG_VERSION,
      this.name,
      '-p',
      String(this.port),
      '--start',
      '--',
      '--auth=trust',
    ]);
  }

  /** A fast shutdown: the server terminates every connection (57P01) and stops. */
  async stop(): Promise<void> {
    await run('pg_ctlcluster', [PG_VERSION, this.name, 'stop', '-m', 'fast']);
  }

  async start(): Promise<void> {
    await run('pg_ctlcluster', [PG_VERSION, this.name, 'start']);
  }

  async drop(): Promise<void> {
    await run('pg_dropcluster', [PG_VERSION, this.name, '--stop']).catch((error: unknown) => {
      // nothing to drop when create() never ran; anything else is worth seeing
      if (!String((error as Error).message).includes('does not exist')) throw error;
    });
  }
}

export class ThrowawayRedis {
  private child: ChildProcess | undefined;

  /**
   * `persistDir`: keep the data in an append-only file there, fsynced on every write, so a killed and
   * restarted server comes back with everything it acknowledged (a durable Redis); without it the server
   * keeps nothing on disk.
   */
  constructor(
    readonly port: number,
    readonly persistDir?: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts redis-server in the foreground as our child; resolves once it accepts connections. */
  async start(): Promise<void> {
    const persistence =
      this.persistDir === undefined
        ? ['--appendonly', 'no']
        : ['--dir', this.persistDir, '--appendonly', 'yes', '--appendfsync', 'always'];
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', ...persistence],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      let output = '';
      child.stdout?.setEncoding('utf8');
      child.stdout?.on('data', (chunk: string) => {
        output += chunk;
        if (output.includes('Ready to accept connections')) resolve();
      });
      child.on('exit', (code) =>
        reject(new Error(`redis-server exited with ${code}: ${output.slice(-500)}`)),
      );
    });
  }

  /** Stops the server we started (SIGKILL: an outage, not a graceful shutdown). */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null) return;
    this.child = undefined;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }
}
