// A throwaway Kafka broker for outage tests: the same KRaft broker scripts/services.sh starts for the suite,
// but on spare ports with its state (config, data, log, pid) in a folder of its own, so it can be stopped and
// restarted on the same data while the shared broker on 19092 serves everyone else.
import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from '../../support/build-once.js';

const SCRIPT = join(REPO_ROOT, 'scripts', 'services.sh');

export class ThrowawayKafka {
  constructor(
    /** MLFP_SERVICES_DIR of this broker: kafka/server.properties, kafka/data-<version>/, kafka/kafka.log */
    readonly stateDir: string,
    readonly port: number,
    readonly controllerPort: number,
  ) {}

  get brokers(): string[] {
    return [`127.0.0.1:${this.port}`];
  }

  /** `services.sh up kafka`: formats the data folder the first time, then starts and waits until ready. */
  up(): Promise<void> {
    return this.script('up');
  }

  /**
   * `services.sh down kafka`: SIGTERM (SIGKILL after 30 s) and waits for the exit; the data folder stays, so
   * the next up() brings back the same topics, records and committed offsets.
   */
  down(): Promise<void> {
    return this.script('down');
  }

  /** Stops the broker and deletes its state folder. */
  async remove(): Promise<void> {
    await this.down();
    await rm(this.stateDir, { recursive: true, force: true });
  }

  /** The last lines of the broker's own log, for a failure message. */
  async logTail(lines = 30): Promise<string> {
    const text = await readFile(join(this.stateDir, 'kafka', 'kafka.log'), 'utf8').catch(() => '');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  }

  private script(command: 'up' | 'down'): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn('bash', [SCRIPT, command, 'kafka'], {
        cwd: REPO_ROOT,
        env: {
          ...process.env,
          MLFP_SERVICES_DIR: this.stateDir,
          MLFP_KAFKA_PORT: String(this.port),
          MLFP_KAFKA_CONTROLLER_PORT: String(this.controllerPort),
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (chunk: string) => {
        stderr += chunk;
      });
      child.on('error', reject);
      child.on('close', (code) =>
        code === 0
          ? resolve()
          : reject(
              new Error(`services.sh ${command} kafka (port ${this.port}) exited with ${code}:\n${stderr}`),
            ),
      );
    });
  }
}
