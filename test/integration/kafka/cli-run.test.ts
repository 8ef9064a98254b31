// `mlfp run --config` with source 'kafka': consumes until stopped (here by an abort signal, as SIGTERM
// would), prints progress with lag and commits, exits 0; a broker that cannot be reached or a bad config
// is a clear message and a non-zero exit code.

import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { main, type CliIo } from '../../../src/cli/main.js';
import { runCommand } from '../../../src/cli/run-command.js';
import { MemorySink } from '../../support/memory-sink.js';
import {
  batchReference,
  createTopics,
  deleteTopics,
  jsonMessages,
  makeTicks,
  produce,
  testKafka,
  uniqueName,
  waitUntil,
} from './harness.js';

const services = inject('services');
const kafka = testKafka(services.kafkaBrokers);
const ticksTopic = uniqueName('mlfp-it-cli-ticks');
const actionsTopic = uniqueName('mlfp-it-cli-actions');
const data = makeTicks(6_000, 6, 13);
let dir: string;

function capture(): { io: CliIo; out: () => string; err: () => string } {
  let stdout = '';
  let stderr = '';
  return {
    io: { stdout: (text) => void (stdout += text), stderr: (text) => void (stderr += text) },
    out: () => stdout,
    err: () => stderr,
  };
}

async function configFile(name: string, config: unknown): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, JSON.stringify(config));
  return path;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlfp-cli-kafka-'));
  await createTopics(kafka, [
    { topic: ticksTopic, numPartitions: 3 },
    { topic: actionsTopic, numPartitions: 1 },
  ]);
  await produce(kafka, ticksTopic, jsonMessages(data.ticks));
});

afterAll(async () => {
  await deleteTopics(kafka, [ticksTopic, actionsTopic]);
});

// broker round trips on a shared 2-core machine: allow more than the default 30 s
describe('mlfp run with source kafka', { timeout: 90_000 }, () => {
  it('runs the Kafka engine until stopped, with progress, lag and commits, and exits 0', async () => {
    const path = await configFile('kafka.json', {
      source: 'kafka',
      bars: { idleTimeoutMs: 3_600_000 },
      kafka: {
        brokers: services.kafkaBrokers,
        groupId: uniqueName('mlfp-it-cli'),
        topics: { ticks: ticksTopic, corporateActions: actionsTopic },
        maxWaitTimeInMs: 100,
        sasl: undefined,
      },
      snapshots: { intervalMs: 200 },
      progress: { intervalMs: 100 },
      log: { level: 'info' },
      http: { port: 0 },
    });
    const sink = new MemorySink();
    const stop = new AbortController();
    const { io, out, err } = capture();
    const running = runCommand({ config: path }, io, { sinks: [sink], stopSignal: stop.signal });
    const reference = batchReference(data.ticks);
    await waitUntil(() => sink.bars.size >= reference.bars.size, 30_000, 'all bars');
    stop.abort();
    expect(await running).toBe(0);
    const lines = err()
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.every((line) => typeof line.time === 'string' && typeof line.event === 'string')).toBe(true);
    expect(lines).toContainEqual(
      expect.objectContaining({
        component: 'cli',
        event: 'run.started',
        msg: expect.stringMatching(/^kafka run: .* \(json\) on 127\.0\.0\.1:\d+, group mlfp-it-cli/),
      }),
    );
    expect(lines).toContainEqual(expect.objectContaining({ component: 'engine', event: 'partition.fresh' }));
    expect(lines.at(-1)).toMatchObject({
      level: 'info',
      component: 'cli',
      event: 'run.stopped',
      msg: 'stopped',
    });
    const last = out().trimEnd().split('\n').pop() ?? '';
    expect(last).toMatch(
      new RegExp(`ticks ${data.ticks.length} .*partitions 0 \\| lag 0 \\| pending 0 \\| commits [1-9]`),
    );
  });

  it('fails to start with a clear message and exit code 1 when no broker answers', async () => {
    const path = await configFile('unreachable.json', {
      source: 'kafka',
      kafka: {
        brokers: ['127.0.0.1:1'],
        connectRetries: 0,
        sasl: { mechanism: 'plain', username: 'u', password: 'p4ss-w0rd' },
      },
      http: { port: 0 },
    });
    const { io, err } = capture();
    expect(await runCommand({ config: path }, io, { sinks: [new MemorySink()] })).toBe(1);
    expect(err()).toMatch(
      /"event":"run\.start_failed","code":"source_unavailable","msg":"source_unavailable: cannot start: Kafka: /,
    );
    expect(err()).not.toContain('p4ss-w0rd');
  });

  it('exits 2 naming the key when the config is not usable', async () => {
    const path = await configFile('nobrokers.json', { source: 'kafka' });
    const { io, err } = capture();
    expect(await main(['run', '--config', path], io)).toBe(2);
    expect(err()).toMatch(/kafka\.brokers: source 'kafka' needs at least one broker/);
  });
});
