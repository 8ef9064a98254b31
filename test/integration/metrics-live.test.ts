// Every metric in the README's metrics table, scraped from /metrics of a real `mlfp run` child process, in
// the embedded mode (the synthetic market) and in the Kafka mode (a small topic on the shared broker): each is
// exposed and has moved (counters > 0, histogram counts > 0, gauges with samples), and `promtool check metrics`
// (Debian's `prometheus` package; scripts/install-tools.sh) finds nothing in the engine's own metrics.
// mlfp_model_errors_total moves because the models directory holds a model whose trees sum to Infinity. The
// Kafka run also proves predictions are counted once (summary = records on the topic) and that the idempotent
// producer starts without kafkajs' limited-retries warning.
// Embedded exception: mlfp_bar_revisions_total stays 0 there (the synthetic market is in event-time order, so
// no tick ever revises a closed bar); the Kafka run revises one bar on purpose. The Kafka-only metrics (consumer
// lag, broker round trips) have no samples in the embedded run; the metrics the README marks as moving only on
// a failure, or on storage I/O that the page cache absorbs, are exposed but not required to move. The gauges the
// drift, performance and alert monitors feed must move (the drift and performance ones in the embedded run, whose
// history is long enough). The engine's own metrics (prom-client's
// nodejs defaults aside) pass promtool; the event-loop delay and GC defaults move.

import { spawnSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kafka, Message } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureBuilt, REPO_ROOT } from '../support/build-once.js';
import { apiUrlFrom, exerciseApi } from '../support/api-exerciser.js';
import { EngineProcess } from '../support/engine-process.js';
import { e2eConfig, outputTopics, uniqueName, writeConfig } from './e2e/engine-config.js';
import { createTopics, deleteTopics, produce, testKafka } from './kafka/harness.js';

const services = inject('services');
const FIVE_MINUTES = 300_000;
const WAIT_MS = 90_000;
/** Move only when something fails, or when I/O reaches the storage device (a short run's reads and writes stay in the page cache). */
const FAILURE_OR_DISK_ONLY = [
  'mlfp_sink_errors_total',
  'mlfp_sink_retries_total',
  'mlfp_metric_series_refused_total',
  'mlfp_monitor_errors_total',
  'mlfp_process_disk_read_bytes_total',
  'mlfp_process_disk_written_bytes_total',
  'mlfp_process_fs_read_operations_total',
  'mlfp_process_fs_write_operations_total',
  // only with monitoring.alerts.webhook.url (test/integration/monitoring/ sees it move)
  'mlfp_alert_webhook_total',
];

/**
 * Moved in the embedded run only if the input revises a closed bar, which the synthetic market never does; the
 * Kafka source's own metrics have no samples there.
 */
const EMBEDDED_STILL = new Set([
  'mlfp_bar_revisions_total',
  'mlfp_consumer_lag',
  'mlfp_broker_request_seconds',
  ...FAILURE_OR_DISK_ONLY,
]);

/**
 * A stalled API client fills the loopback socket's kernel buffers (megabytes) before the server sees a byte in
 * flight: the Kafka run's few thousand records cannot, the embedded run's stream does. test/api/protocol.test.ts
 * sees all three move on a Kafka-independent hub.
 */
const KAFKA_STILL = new Set([
  // the Kafka run's ~400 bars are fewer than a drift window (1,000 values) and a performance window (500
  // labels per model, one record per window by default); the embedded run sees all three move
  'mlfp_drift_score',
  'mlfp_model_performance',
  'mlfp_performance_records_total',
  'mlfp_api_conflated_total',
  'mlfp_api_lag_notices_total',
  'mlfp_api_slow_consumer_closes_total',
  ...FAILURE_OR_DISK_ONLY,
]);

/** Small byte budgets, so that one stalled client goes through conflation, the lag notice and the close. */
const API_CONFIG = { port: 0, softBytes: 1_024, hardBytes: 2_048, lagGraceMs: 2_000 };

/** Waits for the run's public API and drives it (src/api: every mlfp_api_* metric gets something to count). */
async function driveApi(engine: EngineProcess): Promise<() => void> {
  const deadline = Date.now() + WAIT_MS;
  let url = apiUrlFrom(engine.stderr);
  while (url === undefined && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    url = apiUrlFrom(engine.stderr);
  }
  if (url === undefined) throw new Error(`no api.listening line\n${engine.tail()}`);
  return exerciseApi(url);
}

/** Metric names in the README's metrics table (rows like | `mlfp_x` | type | labels |), as check-metrics reads them. */
async function readmeMetrics(): Promise<string[]> {
  const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
  return [...new Set([...readme.matchAll(/^\| `(mlfp_[a-z_]+)`/gm)].map((match) => match[1]!))].sort();
}

interface Exposed {
  type: string;
  /** counters: the sum of all samples; histograms: the sum of the _count samples; gauges: the sample count */
  moved: number;
}

/** Parses Prometheus text: each metric family's type and how far it moved. */
function exposition(text: string): Map<string, Exposed> {
  const families = new Map<string, Exposed>();
  for (const match of text.matchAll(/^# TYPE (\S+) (\S+)$/gm))
    families.set(match[1]!, { type: match[2]!, moved: 0 });
  for (const line of text.split('\n')) {
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{.*\})? (\S+)$/.exec(line);
    if (sample === null) continue;
    const [, name, value] = sample as unknown as [string, string, string];
    const family =
      families.get(name) ??
      (name.endsWith('_count') ? families.get(name.slice(0, -'_count'.length)) : undefined);
    if (family === undefined) continue;
    if (family.type === 'gauge') family.moved++;
    else if (family.type === 'counter') family.moved += Number(value);
    else if (family.type === 'histogram' && name.endsWith('_count')) family.moved += Number(value);
  }
  return families;
}

/** What promtool finds in the engine's own metrics (prom-client's nodejs defaults left out: its gauges named *_total). */
function promtoolFindings(text: string): string[] {
  const version = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  if (version.error !== undefined || version.status !== 0)
    throw new Error(
      'promtool not found: install it with scripts/install-tools.sh (Debian package `prometheus`), as .ci/run does',
    );
  const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return `${result.stdout}${result.stderr}`
    .split('\n')
    .filter((line) => line.trim() !== '' && !/^mlfp_nodejs_/.test(line));
}

/** The value of one sample (the first line starting with `series `), or undefined. */
function sampleValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** prom-client's event-loop and GC defaults and the process I/O counters moved; inference was timed per model. */
function expectProcessAndInference(metrics: string, tail: string): void {
  expect(sampleValue(metrics, 'mlfp_nodejs_eventloop_lag_p99_seconds'), tail).toBeGreaterThan(0);
  expect(metrics).toMatch(/^mlfp_nodejs_gc_duration_seconds_count\{kind="\w+"\} [1-9]/m);
  expect(sampleValue(metrics, 'mlfp_process_cpu_seconds_total')).toBeGreaterThan(0);
  expect(sampleValue(metrics, 'mlfp_process_io_read_bytes_total')).toBeGreaterThan(0);
  expect(sampleValue(metrics, 'mlfp_process_network_transmit_bytes_total')).toBeGreaterThan(0);
  expect(metrics).toMatch(/^mlfp_inference_seconds_count\{model="lgbm-return",provider="native"\} [1-9]/m);
  expect(metrics).toMatch(/^mlfp_inference_batch_rows_count\{model="lgbm-return",provider="native"\} [1-9]/m);
}

/** Names that are missing from the scrape, or exposed but never moved (except `still`). */
function notMoved(names: readonly string[], text: string, still: ReadonlySet<string> = new Set()): string[] {
  const families = exposition(text);
  const problems: string[] = [];
  for (const name of names) {
    const family = families.get(name);
    if (family === undefined) problems.push(`${name}: not exposed`);
    else if (family.moved <= 0 && !still.has(name)) problems.push(`${name} (${family.type}): never moved`);
  }
  return problems;
}

/** Scrapes /metrics until every README metric moved (or the time is up); returns the last scrape. */
async function scrapeWhenMoved(
  engine: EngineProcess,
  names: readonly string[],
  still: ReadonlySet<string> = new Set(),
): Promise<string> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const { body } = await engine.get('/metrics');
    if (notMoved(names, body, still).length === 0 || Date.now() > deadline) return body;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The demo models plus `overflow-return`: the LightGBM demo with every leaf at 1e308, so its trees sum to Infinity. */
async function modelsWithAFailingOne(dir: string): Promise<string> {
  const models = join(dir, 'models');
  await mkdir(models, { recursive: true });
  const registry = JSON.parse(await readFile(join(REPO_ROOT, 'models', 'registry.json'), 'utf8')) as {
    models: Record<string, unknown>;
  };
  for (const name of Object.keys(registry.models))
    await cp(join(REPO_ROOT, 'models', name), join(models, name), { recursive: true });
  const overflow = join(models, 'overflow-return');
  await cp(join(REPO_ROOT, 'models', 'lgbm-return'), overflow, { recursive: true });
  const manifest = JSON.parse(await readFile(join(overflow, 'manifest.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  delete manifest.reference;
  await writeFile(
    join(overflow, 'manifest.json'),
    JSON.stringify({ ...manifest, name: 'overflow-return', description: 'test: trees that sum to Infinity' }),
  );
  const trees = await readFile(join(overflow, 'model.txt'), 'utf8');
  await writeFile(
    join(overflow, 'model.txt'),
    trees.replace(
      /^leaf_value=(.*)$/gm,
      (_line, values: string) =>
        `leaf_value=${values
          .trim()
          .split(/\s+/)
          .map(() => '1e308')
          .join(' ')}`,
    ),
  );
  registry.models['overflow-return'] = { live: '1.0.0', shadow: null, history: [] };
  await writeFile(join(models, 'registry.json'), JSON.stringify(registry));
  return models;
}

/**
 * Four symbols, a tick every 10 s for 8 hours, a few malformed messages; every symbol's last tick lies 100 ms
 * before a 5m boundary, so the last bars close only on the idle timeout (and a later tick can revise one).
 */
function kafkaTicks(): { messages: Message[]; lastBarEnd: number } {
  const symbols = ['AAA', 'BBB', 'CCC', 'DDD'];
  const start = Date.UTC(2024, 2, 4, 14, 0);
  const lastBarEnd = start + 8 * 3_600_000;
  const messages: Message[] = [];
  let step = 0;
  for (let ts = start; ts < lastBarEnd - 100; ts += 10_000, step++)
    for (const [i, symbol] of symbols.entries()) {
      const price = (50 + 10 * i) * (1 + 0.01 * Math.sin(step / 17 + i) + 0.002 * Math.cos(step / 3));
      messages.push({
        key: symbol,
        value: JSON.stringify({
          symbol,
          ts: new Date(ts).toISOString(),
          price,
          size: 100 + ((step * 7 + i) % 50),
        }),
      });
    }
  for (const [i, symbol] of symbols.entries())
    messages.push({
      key: symbol,
      value: JSON.stringify({
        symbol,
        ts: new Date(lastBarEnd - 100).toISOString(),
        price: 50 + 10 * i,
        size: 1,
      }),
    });
  messages.splice(100, 0, { key: 'AAA', value: 'not json' }, { key: 'BBB', value: '{"symbol":"BBB"}' });
  return { messages, lastBarEnd };
}

/** Records on a topic (no transactions, no compaction: high − low watermark per partition). */
async function topicRecords(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  } finally {
    await admin.disconnect();
  }
}

let dir: string;
let models: string;
let names: string[];
const engines: EngineProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlfp-metrics-live-'));
  models = await modelsWithAFailingOne(dir);
  names = await readmeMetrics();
  await ensureBuilt();
});

afterAll(async () => {
  for (const engine of engines) await engine.crash();
  await rm(dir, { recursive: true, force: true });
});

describe('README metrics on a live engine', { timeout: 180_000 }, () => {
  it('every README metric moves in an embedded run and promtool finds nothing', async () => {
    expect(names.length).toBeGreaterThanOrEqual(11);
    const config = await writeConfig(dir, 'embedded', {
      models: { dir: models, watchIntervalMs: 0 },
      http: { port: 0 },
      api: API_CONFIG,
      progress: { intervalMs: 200 },
    });
    const engine = EngineProcess.spawn('embedded', config);
    engines.push(engine);
    const closeApi = await driveApi(engine);
    const metrics = await scrapeWhenMoved(engine, names, EMBEDDED_STILL);
    closeApi();
    expect(notMoved(names, metrics, EMBEDDED_STILL), engine.tail()).toEqual([]);
    expect(metrics).toMatch(/^mlfp_sink_write_seconds_count\{sink="local"\} [1-9]/m);
    expect(metrics).toMatch(/^mlfp_bar_close_to_prediction_seconds_count\{timeframe="5m"\} [1-9]/m);
    expectProcessAndInference(metrics, engine.tail());
    expect(metrics).not.toMatch(/^mlfp_consumer_lag\{/m);
    expect(promtoolFindings(metrics)).toEqual([]);
    // the progress lines' "latest:" part takes the symbols in turn
    const shown = (): Set<string> =>
      new Set([...engine.stdout.matchAll(/lgbm-return@1\.0\.0 (\S+) /g)].map((match) => match[1]!));
    const deadline = Date.now() + WAIT_MS;
    while (shown().size < 3 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 100));
    expect(shown().size, engine.stdout.slice(-2_000)).toBeGreaterThanOrEqual(3);
    expect(await engine.stop()).toEqual({ code: 0, signal: null });
  });

  it('every README metric moves in a Kafka run, predictions counted once, and promtool finds nothing', async () => {
    const kafka = testKafka(services.kafkaBrokers);
    const group = uniqueName('mlfp_it_metrics');
    const ticksTopic = `${group}.ticks`;
    const actionsTopic = `${group}.actions`;
    const outputs = outputTopics(group);
    const { messages, lastBarEnd } = kafkaTicks();
    await createTopics(kafka, [
      { topic: ticksTopic, numPartitions: 1 },
      { topic: actionsTopic, numPartitions: 1 },
    ]);
    try {
      await produce(kafka, ticksTopic, messages);
      const config = e2eConfig({
        brokers: services.kafkaBrokers,
        groupId: group,
        ticksTopic,
        actionsTopic,
        kafkaOutputs: group,
        snapshots: 'memory',
        models: true,
      });
      config.models = { dir: models, watchIntervalMs: 0 };
      config.api = API_CONFIG;
      // the idle close (once, idleTimeoutMs after the last tick) moves event time on by that much: 3 s
      // passes the last bars' end + the allowed lateness (100 ms + 2 s)
      config.bars = { allowedLatenessMs: 2_000, idleTimeoutMs: 3_000 };
      const engine = EngineProcess.spawn('kafka', await writeConfig(dir, group, config));
      engines.push(engine);
      const closeApi = await driveApi(engine);
      // the last bars close on the idle timeout; then a tick inside
      // the last closed 5m bar of AAA revises it
      const deadline = Date.now() + WAIT_MS;
      const allBars = (8 * 3_600_000 * 4) / FIVE_MINUTES;
      while (
        ((await engine.metric('mlfp_bars_total')).find((s) => s.labels.timeframe === '5m')?.value ?? 0) <
        allBars
      ) {
        if (Date.now() > deadline) throw new Error(`the Kafka run closed too few bars\n${engine.tail()}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      await produce(kafka, ticksTopic, [
        {
          key: 'AAA',
          value: JSON.stringify({
            symbol: 'AAA',
            ts: new Date(lastBarEnd - 50).toISOString(),
            price: 51,
            size: 5,
          }),
        },
      ]);
      const metrics = await scrapeWhenMoved(engine, names, KAFKA_STILL);
      closeApi();
      expect(notMoved(names, metrics, KAFKA_STILL), engine.tail()).toEqual([]);
      expect(metrics).toMatch(/^mlfp_sink_write_seconds_count\{sink="kafka"\} [1-9]/m);
      expectProcessAndInference(metrics, engine.tail());
      // one partition, read to its end: lag 0; the consumer's requests are timed by Kafka API
      expect(sampleValue(metrics, 'mlfp_consumer_lag{partition="0"}')).toBe(0);
      expect(metrics).toMatch(/^mlfp_broker_request_seconds_count\{api="Fetch"\} [1-9]/m);
      expect(metrics).toMatch(/^mlfp_broker_request_seconds_count\{api="OffsetCommit"\} [1-9]/m);
      expect(metrics).toMatch(/^mlfp_sink_retries_total\{sink="kafka"\} 0$/m);
      // the idempotent producer starts without kafkajs' "Limiting retries … may invalidate EoS guarantees"
      expect(engine.stderr).toMatch(/kafka run: /);
      expect(engine.stderr).not.toMatch(/Limiting retries|EoS guarantees/);
      expect(promtoolFindings(metrics)).toEqual([]);
      expect(await engine.stop()).toEqual({ code: 0, signal: null });
      // counted once: the closing summary's predictions equal the records on the predictions topic
      const summary = engine.stdout.trimEnd().split('\n').pop() ?? '';
      const counted = Number(/\| predictions (\d+) \|/.exec(summary)?.[1]);
      expect(counted, summary).toBeGreaterThan(0);
      expect(counted).toBe(await topicRecords(kafka, outputs.predictions));
    } finally {
      await deleteTopics(kafka, [ticksTopic, actionsTopic, ...outputs.all]);
    }
  });
});
