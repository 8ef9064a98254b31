// Issue 19 acceptance: a forced latency breach, a forced model error and a forced sink outage each raise
// exactly one firing and one resolved alert, seen on Kafka (the alerts topic), in PostgreSQL (the alerts
// table) and by an Alertmanager webhook receiver. One engine runs in-process (runCommand, Kafka source) on a
// live tick feed; its PostgreSQL is a throwaway cluster on a spare port (the shared one is never stopped).
// Latency: one inference run of the model stalls the event loop (a subscriber of the scorer's inference
// channel busy-waits), so exactly that run's predictions are late. Model error: registry.json makes a version
// whose outputs overflow to Infinity live, then the good one again. Outage: the cluster stops, then starts.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCommand } from '../../../src/cli/run-command.js';
import { SCORER_EVENTS, type InferenceEvent } from '../../../src/models/scoring/scorer.js';
import { uniqueName, writeConfig } from '../e2e/engine-config.js';
import { createTopics, deleteTopics, testKafka } from '../e2e/kafka-cluster.js';
import { canRunPostgresCluster, freePort, ThrowawayPostgres } from '../sinks/throwaway-services.js';
import {
  alertsOf,
  describeAlerts,
  makeLive,
  modelsWithPoisonedVersion,
  OutputWatcher,
  POISONED_VERSION,
  postgresAlerts,
  TickFeed,
  WebhookReceiver,
  type SeenAlert,
} from './alert-observers.js';

const services = inject('services');
const kafka = testKafka(services.kafkaBrokers);
const MODEL = 'lgbm-return';
const GOOD_VERSION = '1.0.0';
const LATENCY_THRESHOLD_MS = 1_000;
/** the stall of one inference run: far over the threshold, which is far over any scheduling noise */
const STALL_MS = 2_500;
// above the engine's start: the monitor counts a dependency 'starting' (connecting, migrations, the group join) as down
const SINK_DOWN_FOR_MS = 3_000;
/** the outage lasts at least this long: past the rule's forMs, and long enough for backpressure to pause the source */
const OUTAGE_MS = 6_000;
const WAIT_MS = 30_000;

const group = uniqueName('mlfp_alerts_e2e');
const topics = {
  ticks: `${group}.ticks`,
  actions: `${group}.actions`,
  alerts: `${group}.alerts`,
  predictions: `${group}.predictions`,
  deadLetters: `${group}.dlq`,
  labels: `${group}.labels`,
  performance: `${group}.performance`,
};
/** the conditions the test forces: rule and subject of each */
const FORCED = {
  latency: { rule: 'PredictionLatencyHigh', subject: MODEL },
  modelError: { rule: 'ModelErrors', subject: MODEL },
  outage: { rule: 'DependencyDown', subject: 'sink:postgres' },
} as const;

let dir: string;
let cluster: ThrowawayPostgres | undefined;
let postgresUrl: string;
const receiver = new WebhookReceiver();
const watcher = new OutputWatcher(kafka, `${group}_watcher`, topics);
const feed = new TickFeed(kafka, topics.ticks, {
  symbols: ['AAPL', 'MSFT', 'XOM', 'JPM'],
  startMs: Date.UTC(2024, 2, 4, 14, 30),
  // 30 ticks 10 s apart per send, 20 sends a second: a 5m bar closes per symbol in every send
  stepMs: 10_000,
  stepsPerSend: 30,
  everyMs: 50,
});
const stop = new AbortController();
let running: Promise<number> | undefined;
let exitCode: number | undefined;
const logLines: string[] = [];
/** the engine's ops port, from its http.listening log line */
let opsPort: number | undefined;
/** the forced conditions that ran (the outage needs a throwaway cluster) */
const forced: Array<keyof typeof FORCED> = [];

const engineLog = (): string => logLines.slice(-40).join('');

/** The engine's /readyz dependencies (its ops port is in the http.listening log line). */
async function readiness(): Promise<Record<string, { state: string; detail?: string }>> {
  if (opsPort === undefined) throw new Error(`no http.listening line\n${engineLog()}`);
  const response = await fetch(`http://127.0.0.1:${opsPort}/readyz`);
  return ((await response.json()) as { dependencies: Record<string, { state: string; detail?: string }> })
    .dependencies;
}

/** Polls `check` every 50 ms; fails after `timeoutMs` (or when the engine exits) saying what it saw. */
async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = WAIT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (exitCode !== undefined)
      throw new Error(`the engine exited (${exitCode}) waiting for ${what}\n${engineLog()}`);
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}; Kafka alerts: ${describeAlerts(watcher.alerts)}; ` +
          `webhook: ${describeAlerts(receiver.alerts)}\n${engineLog()}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const resolvedIn = (
  alerts: readonly SeenAlert[],
  { rule, subject }: { rule: string; subject: string },
): boolean => alertsOf(alerts, rule, subject).some((alert) => alert.state === 'resolved');

/** Exactly one firing then one resolved alert for the condition, the same alert (fingerprint, startsAt). */
function expectOneCycle(
  alerts: readonly SeenAlert[],
  { rule, subject }: { rule: string; subject: string },
  where: string,
): void {
  const cycle = alertsOf(alerts, rule, subject);
  const context = `${where}: ${rule} ${subject} in ${describeAlerts(alerts)}`;
  expect(
    cycle.map((alert) => alert.state),
    context,
  ).toEqual(['firing', 'resolved']);
  const [firing, resolved] = cycle as [SeenAlert, SeenAlert];
  expect(firing.fingerprint, context).toMatch(/^[0-9a-f]{16}$/);
  expect(resolved.fingerprint, context).toBe(firing.fingerprint);
  expect(firing.startsAt, context).toBe(firing.ts);
  expect(resolved.startsAt, context).toBe(firing.startsAt);
  expect(resolved.ts, context).toBeGreaterThan(firing.ts);
}

function engineConfig(modelsDir: string, webhookUrl: string): Record<string, unknown> {
  const retry = { initialDelayMs: 100, maxDelayMs: 500 };
  return {
    source: 'kafka',
    bars: { idleTimeoutMs: 3_600_000 },
    kafka: {
      brokers: services.kafkaBrokers,
      clientId: group,
      groupId: group,
      topics: { ticks: topics.ticks, corporateActions: topics.actions },
      maxWaitTimeInMs: 100,
      sessionTimeoutMs: 6_000,
      heartbeatIntervalMs: 500,
    },
    outputs: {
      kafka: {
        topics: {
          predictions: topics.predictions,
          alerts: topics.alerts,
          deadLetters: topics.deadLetters,
          labels: topics.labels,
          performance: topics.performance,
        },
        partitions: 1,
        retry,
      },
    },
    postgres: {
      url: postgresUrl,
      schema: group,
      connectTimeoutMs: 2_000,
      partitioning: 'native',
      tables: { features: false },
      retry,
    },
    snapshots: { store: 'none' },
    // a small bound: the source pauses (backpressure) during the outage, as it would with real volumes
    delivery: { flushIntervalMs: 100, maxBatchRecords: 100, maxPendingRecords: 300 },
    models: { enabled: true, dir: modelsDir, watchIntervalMs: 250 },
    http: { port: 0 },
    api: { enabled: false },
    progress: { intervalMs: 0 },
    log: { level: 'info' },
    monitoring: {
      evaluationIntervalMs: 200,
      labels: { enabled: false },
      drift: { enabled: false },
      alerts: {
        rules: {
          latency: { forMs: 0, keepFiringForMs: 1_000, thresholdMs: LATENCY_THRESHOLD_MS },
          modelErrors: { forMs: 0, keepFiringForMs: 2_000 },
          sinkDown: { forMs: SINK_DOWN_FOR_MS, keepFiringForMs: 1_000 },
          drift: { enabled: false },
          performance: { enabled: false },
        },
        webhook: { url: webhookUrl, retry },
      },
    },
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlfp-alerts-e2e-'));
  const modelsDir = join(dir, 'models');
  await modelsWithPoisonedVersion('models', modelsDir, MODEL);
  if (canRunPostgresCluster) {
    cluster = new ThrowawayPostgres(group.slice(0, 40), await freePort());
    await cluster.create();
    postgresUrl = cluster.url;
  } else postgresUrl = services.postgresUrl;
  await createTopics(
    kafka,
    Object.values(topics).map((topic) => ({ topic, numPartitions: 1 })),
  );
  const webhookUrl = await receiver.start();
  await watcher.start();
  await feed.start();
  const config = await writeConfig(dir, group, engineConfig(modelsDir, webhookUrl));
  const io = {
    stdout: () => undefined,
    stderr: (text: string) => {
      logLines.push(text);
      if (text.includes('"http.listening"')) opsPort = (JSON.parse(text) as { port: number }).port;
      if (logLines.length > 2_000) logLines.splice(0, 1_000);
    },
  };
  running = runCommand({ config }, io, { stopSignal: stop.signal }).catch((error: unknown) => {
    logLines.push(`runCommand threw: ${String(error)}\n`);
    return -1;
  });
  void running.then((code) => (exitCode = code));
  await waitFor(
    () => watcher.predictionsOf(MODEL, GOOD_VERSION) >= 20,
    `predictions of ${MODEL}@${GOOD_VERSION}`,
    60_000,
  );
}, 120_000);

afterAll(async () => {
  // every step runs, whatever failed before it (the throwaway cluster must not outlive the test)
  const failures: unknown[] = [];
  const step = (work: () => Promise<unknown>): Promise<void> =>
    work().then(
      () => undefined,
      (error: unknown) => void failures.push(error),
    );
  await step(() => feed.stop());
  stop.abort();
  await step(async () => running);
  await step(() => watcher.stop());
  await step(() => receiver.close());
  await step(async () => cluster?.drop());
  await step(() => deleteTopics(kafka, Object.values(topics)));
  if (cluster === undefined)
    await step(async () => {
      const client = new pg.Client({ connectionString: services.postgresUrl });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${group}" CASCADE`);
      await client.end();
    });
  if (dir !== undefined) await step(() => rm(dir, { recursive: true, force: true }));
  if (failures.length > 0) throw failures[0];
}, 60_000);

describe('model monitoring alerts end to end', { timeout: 60_000 }, () => {
  it('one stalled inference run raises one PredictionLatencyHigh firing and one resolved', async () => {
    let stalled = false;
    const stall = (message: unknown): void => {
      const event = message as InferenceEvent;
      if (stalled || event.model !== MODEL) return;
      stalled = true;
      // the run's predictions are published after this returns: their latency includes the stall
      const until = performance.now() + STALL_MS;
      while (performance.now() < until) stalled = true;
    };
    subscribe(SCORER_EVENTS.inference, stall);
    try {
      await waitFor(() => stalled, 'an inference run to stall');
    } finally {
      unsubscribe(SCORER_EVENTS.inference, stall);
    }
    forced.push('latency');
    await waitFor(
      () => resolvedIn(watcher.alerts, FORCED.latency) && resolvedIn(receiver.alerts, FORCED.latency),
      'the latency alert to resolve on Kafka and at the webhook',
    );
    expectOneCycle(watcher.alerts, FORCED.latency, 'Kafka');
    expectOneCycle(receiver.alerts, FORCED.latency, 'webhook');
  });

  it('a live model with infinite outputs raises one ModelErrors firing and one resolved', async () => {
    await makeLive(join(dir, 'models'), MODEL, POISONED_VERSION);
    forced.push('modelError');
    await waitFor(
      () => alertsOf(watcher.alerts, FORCED.modelError.rule, MODEL).length > 0,
      'the model error alert to fire on Kafka',
    );
    const goodBefore = watcher.predictionsOf(MODEL, GOOD_VERSION);
    await makeLive(join(dir, 'models'), MODEL, GOOD_VERSION);
    await waitFor(
      () =>
        resolvedIn(watcher.alerts, FORCED.modelError) &&
        resolvedIn(receiver.alerts, FORCED.modelError) &&
        watcher.predictionsOf(MODEL, GOOD_VERSION) > goodBefore,
      'the model error alert to resolve and the good version to score again',
    );
    expectOneCycle(watcher.alerts, FORCED.modelError, 'Kafka');
    expectOneCycle(receiver.alerts, FORCED.modelError, 'webhook');
    // a poisoned run publishes no prediction: its outputs are model errors, never NaN or Infinity in a sink
    expect(watcher.predictionsOf(MODEL, POISONED_VERSION)).toBe(0);
  });

  it.skipIf(!canRunPostgresCluster)(
    'a PostgreSQL outage raises one DependencyDown firing and one resolved for sink:postgres',
    async () => {
      await cluster!.stop();
      const stoppedAt = Date.now();
      forced.push('outage');
      const sourceStates = new Set<string>();
      try {
        await waitFor(async () => {
          const source = (await readiness())['source:kafka'];
          sourceStates.add(`${source?.state} (${source?.detail})`);
          return (
            alertsOf(receiver.alerts, FORCED.outage.rule, FORCED.outage.subject).length > 0 &&
            Date.now() - stoppedAt >= OUTAGE_MS
          );
        }, 'the sink outage alert at the webhook');
      } finally {
        await cluster!.start();
      }
      // the source paused (backpressure) for most of the outage: an effect of the outage, which alerts once
      expect([...sourceStates]).toContain('retrying (paused: outputs are behind (backpressure))');
      await waitFor(
        () => resolvedIn(receiver.alerts, FORCED.outage) && resolvedIn(watcher.alerts, FORCED.outage),
        'the sink outage alert to resolve at the webhook and on Kafka',
      );
      await waitFor(
        async () => resolvedIn(await postgresAlerts(postgresUrl, group), FORCED.outage),
        'PostgreSQL to hold the resolved sink outage alert',
      );
      expectOneCycle(receiver.alerts, FORCED.outage, 'webhook');
      expectOneCycle(watcher.alerts, FORCED.outage, 'Kafka');
      expectOneCycle(await postgresAlerts(postgresUrl, group), FORCED.outage, 'PostgreSQL');
    },
  );

  it('each forced condition is one firing and one resolved alert on Kafka, in PostgreSQL and at the webhook', async () => {
    expect(forced.length).toBeGreaterThanOrEqual(2);
    const conditions = forced.map((name) => FORCED[name]);
    await waitFor(async () => {
      const rows = await postgresAlerts(postgresUrl, group);
      return conditions.every((condition) => resolvedIn(rows, condition));
    }, 'PostgreSQL to hold every resolved alert');
    const rows = await postgresAlerts(postgresUrl, group);
    for (const condition of conditions) {
      expectOneCycle(watcher.alerts, condition, 'Kafka');
      expectOneCycle(rows, condition, 'PostgreSQL');
      expectOneCycle(receiver.alerts, condition, 'webhook');
      const fingerprints = [watcher.alerts, rows, receiver.alerts].map(
        (alerts) => alertsOf(alerts, condition.rule, condition.subject)[0]!.fingerprint,
      );
      expect(new Set(fingerprints).size, `${condition.rule} fingerprint everywhere`).toBe(1);
    }
    // Alertmanager v4 payloads, each alert with its status, fingerprint and alertname
    for (const { payload, alert } of receiver.alerts) {
      expect(payload).toMatchObject({ version: '4', receiver: 'mlfp' });
      expect(payload.status).toBe(payload.alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved');
      expect(alert.fingerprint).toMatch(/^[0-9a-f]{16}$/);
      expect(alert.labels['alertname']).toBeTruthy();
      expect(alert.endsAt === '0001-01-01T00:00:00Z').toBe(alert.status === 'firing');
    }
    // nothing but the forced conditions raised an alert
    const others = [...watcher.alerts, ...receiver.alerts].filter(
      (alert) => !conditions.some((c) => c.rule === alert.rule && c.subject === alert.subject),
    );
    expect(describeAlerts(others)).toBe('none');
    // the scorer's own model_error alerts are the monitor's input, never an output
    expect(watcher.rawAlerts.filter((alert) => alert.startsWith('model_error'))).toEqual([]);
  });

  it('a graceful stop raises no alert', async () => {
    const before = receiver.alerts.length;
    await feed.stop();
    stop.abort();
    expect(await running, engineLog()).toBe(0);
    expect(describeAlerts(receiver.alerts.slice(before))).toBe('none');
  });
});
