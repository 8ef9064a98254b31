import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FEATURE_COLUMNS, type FeatureVector } from '../domain/types.js';
import { ModelRegistry } from '../models/registry.js';
import { SCORER_EVENTS, Scorer } from '../models/scoring/scorer.js';
import { fakeManifest, fakeModel } from '../../test/models/fake-model.js';
import { EngineMetrics, INFERENCE_CHANNEL, MAX_FED_SERIES } from './metrics.js';
import { EngineStats } from './stats.js';

const open: EngineMetrics[] = [];
afterEach(() => {
  for (const metrics of open.splice(0)) metrics.close();
});

function engineMetrics(stats: EngineStats, options: ConstructorParameters<typeof EngineMetrics>[1] = {}) {
  const metrics = new EngineMetrics(stats, { defaultMetrics: false, ...options });
  open.push(metrics);
  return metrics;
}

/** One sample's value from Prometheus text (undefined when absent). */
function sample(text: string, series: string): number | undefined {
  for (const line of text.split('\n'))
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  return undefined;
}

function vector(symbol: string, i: number): FeatureVector {
  return {
    symbol,
    timeframe: '5m',
    ts: i * 300_000,
    revision: 0,
    close: 100,
    values: new Float64Array(FEATURE_COLUMNS.length).fill(1),
  };
}

describe('EngineMetrics', () => {
  it('times predictions from the bar end and from the newest tick event time, on the wall clock', async () => {
    let wall = 0;
    const stats = new EngineStats(0, () => wall);
    const metrics = engineMetrics(stats);
    stats.tickEventTime(1_000_000);
    stats.tickEventTime(999_000); // older: the newest stays
    wall = 1_000_250;
    // 5m bar [700_000, 1_000_000): closed 250 ms before publication
    stats.prediction({ model: 'm', latencyMs: 3, ts: 700_000, timeframe: '5m' });
    wall = 1_000_000 - 5; // event time ahead of the wall clock: 0, not negative
    stats.prediction({ model: 'm', latencyMs: 3, ts: 700_000, timeframe: '5m' });
    const text = await metrics.registry.metrics();
    expect(sample(text, 'mlfp_bar_close_to_prediction_seconds_count{timeframe="5m"}')).toBe(2);
    expect(sample(text, 'mlfp_bar_close_to_prediction_seconds_sum{timeframe="5m"}')).toBeCloseTo(0.25, 9);
    expect(sample(text, 'mlfp_bar_close_to_prediction_seconds_count{timeframe="1h"}')).toBeUndefined();
    expect(sample(text, 'mlfp_tick_to_prediction_seconds_count')).toBe(2);
    expect(sample(text, 'mlfp_tick_to_prediction_seconds_sum')).toBeCloseTo(0.25, 9);
    expect(sample(text, 'mlfp_prediction_latency_seconds_count')).toBe(2);
  });

  it('observes no tick latency before a tick event time was reported, nor bar latencies without the bar', async () => {
    const stats = new EngineStats(0, () => 5_000_000);
    const metrics = engineMetrics(stats);
    stats.prediction({ model: 'm', latencyMs: 1, ts: 0, timeframe: '1h' });
    stats.prediction({ model: 'm', latencyMs: 1 });
    const text = await metrics.registry.metrics();
    expect(sample(text, 'mlfp_tick_to_prediction_seconds_count')).toBe(0);
    expect(sample(text, 'mlfp_bar_close_to_prediction_seconds_count{timeframe="1h"}')).toBe(1);
    expect(sample(text, 'mlfp_bar_close_to_prediction_seconds_sum{timeframe="1h"}')).toBe(1_400);
    expect(sample(text, 'mlfp_prediction_latency_seconds_count')).toBe(2);
  });

  it('reads consumer lag per partition, sink errors and sink retries at scrape time', async () => {
    const stats = new EngineStats(0);
    const metrics = engineMetrics(stats);
    let lags: Array<[number, number]> = [
      [0, 12],
      [3, 0],
    ];
    stats.consumerLag = (report) => {
      for (const [partition, lag] of lags) report(partition, lag);
    };
    stats.sinkError('postgres');
    stats.sinkError('postgres');
    let retries = 4;
    metrics.addHealthCheck({ name: 'sink:redis', status: () => ({ state: 'up', values: { retries } }) });
    metrics.addHealthCheck({ name: 'store:redis', status: () => ({ state: 'up', values: { retries: 99 } }) });
    metrics.addHealthCheck({ name: 'source:kafka', status: () => ({ state: 'up', values: { lag: 12 } }) });
    let text = await metrics.registry.metrics();
    expect(sample(text, 'mlfp_consumer_lag{partition="0"}')).toBe(12);
    expect(sample(text, 'mlfp_consumer_lag{partition="3"}')).toBe(0);
    expect(sample(text, 'mlfp_sink_errors_total{sink="postgres"}')).toBe(2);
    expect(sample(text, 'mlfp_sink_retries_total{sink="redis"}')).toBe(4);
    expect(text).not.toMatch(/mlfp_sink_retries_total\{sink="(store:)?redis"\} 99/);
    lags = [[3, 7]]; // partition 0 revoked
    retries = 6;
    text = await metrics.registry.metrics();
    expect(sample(text, 'mlfp_consumer_lag{partition="0"}')).toBeUndefined();
    expect(sample(text, 'mlfp_consumer_lag{partition="3"}')).toBe(7);
    expect(sample(text, 'mlfp_sink_retries_total{sink="redis"}')).toBe(6);
  });

  it('times broker requests by Kafka API', async () => {
    const stats = new EngineStats(0);
    const metrics = engineMetrics(stats);
    stats.brokerRequest('Heartbeat', 0.002);
    stats.brokerRequest('Heartbeat', 0.004);
    stats.brokerRequest('Fetch', 0.5);
    const text = await metrics.registry.metrics();
    expect(sample(text, 'mlfp_broker_request_seconds_count{api="Heartbeat"}')).toBe(2);
    expect(sample(text, 'mlfp_broker_request_seconds_sum{api="Heartbeat"}')).toBeCloseTo(0.006, 9);
    expect(sample(text, 'mlfp_broker_request_seconds_bucket{le="0.0025",api="Heartbeat"}')).toBe(1);
    expect(sample(text, 'mlfp_broker_request_seconds_count{api="Fetch"}')).toBe(1);
  });

  it("observes every successful inference run of a scorer, by model and provider, on the scorer's channel", async () => {
    expect(INFERENCE_CHANNEL).toBe(SCORER_EVENTS.inference);
    const metrics = engineMetrics(new EngineStats(0));
    const registry = new ModelRegistry();
    registry.add(fakeModel(fakeManifest({ name: 'trees' }), { output: () => [1] }));
    registry.add(fakeModel(fakeManifest({ name: 'net' }), { output: () => [2], async: true }));
    registry.add(
      fakeModel(fakeManifest({ name: 'broken' }), { output: () => [3], throws: () => new Error('boom') }),
    );
    const scorer = new Scorer(registry, { maxRunRows: 2 });
    await scorer.scoreBatch([vector('A', 1), vector('B', 1), vector('C', 1)], new Float64Array(3).fill(0));
    const text = await metrics.registry.metrics();
    // synchronous: one run of 3 rows; asynchronous with maxRunRows 2: runs of 2 and 1
    expect(sample(text, 'mlfp_inference_seconds_count{model="trees",provider="fake"}')).toBe(1);
    expect(sample(text, 'mlfp_inference_batch_rows_sum{model="trees",provider="fake"}')).toBe(3);
    expect(sample(text, 'mlfp_inference_seconds_count{model="net",provider="fake"}')).toBe(2);
    expect(sample(text, 'mlfp_inference_batch_rows_sum{model="net",provider="fake"}')).toBe(3);
    expect(sample(text, 'mlfp_inference_batch_rows_bucket{le="2",model="net",provider="fake"}')).toBe(2);
    // failed runs are model errors, not timings
    expect(text).not.toMatch(/model="broken"/);
  });

  it('stops observing inference runs once closed', async () => {
    const metrics = new EngineMetrics(new EngineStats(0), { defaultMetrics: false });
    metrics.close();
    const registry = new ModelRegistry();
    registry.add(fakeModel(fakeManifest({ name: 'trees' }), { output: () => [1] }));
    await new Scorer(registry).scoreBatch([vector('A', 1)], new Float64Array(1));
    expect(await metrics.registry.metrics()).not.toMatch(/mlfp_inference_seconds_count\{/);
  });

  it('feeds drift, performance and alert gauges through set / remove / reset', async () => {
    const metrics = engineMetrics(new EngineStats(0));
    metrics.drift.set({ model: 'lgbm-return', input: 'rsi_14', detector: 'psi' }, 0.31);
    metrics.drift.set({ model: 'lgbm-return', input: 'returns', detector: 'ks' }, 0.05);
    metrics.drift.set({ model: 'lgbm-return', input: 'rsi_14', detector: 'psi' }, 0.12); // replaces
    metrics.performance.set({ model: 'lgbm-return', metric: 'accuracy' }, 0.55);
    metrics.alerts.set({ alertname: 'MlfpDrift', state: 'firing' }, 2);
    metrics.alerts.set({ alertname: 'MlfpDrift', state: 'pending' }, 1);
    let text = await metrics.registry.metrics();
    expect(sample(text, 'mlfp_drift_score{model="lgbm-return",input="rsi_14",detector="psi"}')).toBe(0.12);
    expect(sample(text, 'mlfp_drift_score{model="lgbm-return",input="returns",detector="ks"}')).toBe(0.05);
    expect(sample(text, 'mlfp_model_performance{model="lgbm-return",metric="accuracy"}')).toBe(0.55);
    expect(sample(text, 'mlfp_alerts{alertname="MlfpDrift",state="firing"}')).toBe(2);
    expect(metrics.drift.size).toBe(2);
    metrics.drift.remove({ model: 'lgbm-return', input: 'returns', detector: 'ks' });
    metrics.alerts.reset();
    metrics.alerts.set({ alertname: 'MlfpDrift', state: 'firing' }, 3);
    text = await metrics.registry.metrics();
    expect(text).not.toMatch(/detector="ks"/);
    expect(sample(text, 'mlfp_alerts{alertname="MlfpDrift",state="pending"}')).toBeUndefined();
    expect(sample(text, 'mlfp_alerts{alertname="MlfpDrift",state="firing"}')).toBe(3);
    expect(metrics.drift.size).toBe(1);
  });

  it('refuses and counts label sets past the bound of a fed gauge (a symbol used as a label)', async () => {
    const metrics = engineMetrics(new EngineStats(0));
    for (let i = 0; i < MAX_FED_SERIES + 5; i++)
      metrics.performance.set({ model: `m${i}`, metric: 'mae' }, i);
    metrics.performance.set({ model: 'm0', metric: 'mae' }, -1); // an existing series is still updated
    const text = await metrics.registry.metrics();
    expect(metrics.performance.size).toBe(MAX_FED_SERIES);
    expect(sample(text, 'mlfp_metric_series_refused_total{metric="mlfp_model_performance"}')).toBe(5);
    expect(sample(text, 'mlfp_model_performance{model="m0",metric="mae"}')).toBe(-1);
    expect(text).not.toMatch(new RegExp(`model="m${MAX_FED_SERIES}"`));
  });

  it('exposes the process I/O counters it can read, and promtool finds nothing in the metrics', async () => {
    const proc = await mkdtemp(join(tmpdir(), 'mlfp-proc-'));
    try {
      await mkdir(join(proc, 'self', 'net'), { recursive: true });
      await writeFile(
        join(proc, 'self', 'io'),
        'rchar: 100\nwchar: 200\nsyscr: 1\nsyscw: 2\nread_bytes: 4096\nwrite_bytes: 8192\ncancelled_write_bytes: 0\n',
      );
      await writeFile(
        join(proc, 'self', 'net', 'dev'),
        'Inter-|   Receive                                                |  Transmit\n' +
          ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n' +
          '    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0\n' +
          '  eth0:     500       5    0    0    0     0          0         0      300       3    0    0    0     0       0          0\n',
      );
      const stats = new EngineStats(0);
      const metrics = engineMetrics(stats, { defaultMetrics: true, procRoot: proc });
      metrics.drift.set({ model: 'm', input: 'rsi_14', detector: 'psi' }, 0.1);
      metrics.performance.set({ model: 'm', metric: 'accuracy' }, 0.5);
      metrics.alerts.set({ alertname: 'MlfpDrift', state: 'firing' }, 1);
      stats.consumerLag = (report) => report(0, 1);
      stats.sinkError('kafka');
      stats.brokerRequest('Metadata', 0.001);
      stats.tickEventTime(0);
      stats.prediction({ model: 'm', latencyMs: 1, ts: 0, timeframe: '5m' });
      const text = await metrics.registry.metrics();
      expect(sample(text, 'mlfp_process_io_read_bytes_total')).toBe(100);
      expect(sample(text, 'mlfp_process_io_written_bytes_total')).toBe(200);
      expect(sample(text, 'mlfp_process_disk_read_bytes_total')).toBe(4096);
      expect(sample(text, 'mlfp_process_disk_written_bytes_total')).toBe(8192);
      expect(sample(text, 'mlfp_process_network_receive_bytes_total')).toBe(1500);
      expect(sample(text, 'mlfp_process_network_transmit_bytes_total')).toBe(1300);
      expect(sample(text, 'mlfp_process_fs_read_operations_total')).toBeGreaterThanOrEqual(0);
      expect(text).toMatch(/^# TYPE mlfp_nodejs_gc_duration_seconds histogram$/m);
      expect(text).toMatch(/^# TYPE mlfp_nodejs_eventloop_lag_p99_seconds gauge$/m);
      const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      expect(lint.error, 'promtool not found: scripts/install-tools.sh installs it').toBeUndefined();
      // prom-client's own defaults aside (mlfp_nodejs_active_*_total are gauges)
      const findings = `${lint.stdout}${lint.stderr}`
        .split('\n')
        .filter((line) => line.trim() !== '' && !/^mlfp_nodejs_active_\w+_total /.test(line));
      expect(findings).toEqual([]);
    } finally {
      await rm(proc, { recursive: true, force: true });
    }
  });

  it('leaves out the /proc counters where /proc cannot be read', async () => {
    const metrics = engineMetrics(new EngineStats(0), { defaultMetrics: true, procRoot: '/nonexistent' });
    const text = await metrics.registry.metrics();
    expect(metrics.processMetrics).toEqual([
      'mlfp_process_fs_read_operations_total',
      'mlfp_process_fs_write_operations_total',
    ]);
    expect(text).not.toMatch(/mlfp_process_(disk|io|network)_/);
  });
});
