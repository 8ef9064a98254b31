import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpsHttpServer } from './http-server.js';
import { EngineMetrics, type DependencyStatus } from './metrics.js';
import { EngineStats } from './stats.js';

describe('operational HTTP endpoint', () => {
  const stats = new EngineStats(0);
  const metrics = new EngineMetrics(stats, { defaultMetrics: false });
  let sinkStatus: DependencyStatus = { state: 'up', values: { pending_records: 0 } };
  metrics.addHealthCheck({ name: 'sink:postgres', status: () => sinkStatus });
  const server = new OpsHttpServer(metrics, { host: '127.0.0.1', port: 0 });
  let base = '';

  beforeAll(async () => {
    const address = await server.start();
    base = `http://127.0.0.1:${address.port}`;
  });
  afterAll(() => server.close());

  it('exposes the engine counters in Prometheus text format, read at scrape time', async () => {
    stats.ticks = 1234;
    stats.reject('bad_json');
    stats.reject('bad_json');
    stats.reject('late');
    stats.bars['5m'] = 7;
    stats.prediction({ model: 'lgbm', latencyMs: 2 });
    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await response.text();
    expect(text).toMatch(/^mlfp_ticks_total 1234$/m);
    expect(text).toMatch(/^mlfp_rejects_total\{reason="bad_json"\} 2$/m);
    expect(text).toMatch(/^mlfp_rejects_total\{reason="late"\} 1$/m);
    expect(text).toMatch(/^mlfp_bars_total\{timeframe="5m"\} 7$/m);
    expect(text).toMatch(/^mlfp_predictions_total\{model="lgbm"\} 1$/m);
    expect(text).toMatch(/^mlfp_dependency_up\{dependency="sink:postgres",state="up"\} 1$/m);
  });

  it('answers /readyz 503 with the dependency states while a sink is retrying, 200 when all are up', async () => {
    sinkStatus = { state: 'retrying', detail: 'connect ECONNREFUSED', values: { pending_records: 42 } };
    const down = await fetch(`${base}/readyz`);
    expect(down.status).toBe(503);
    expect(await down.json()).toEqual({
      ready: false,
      dependencies: {
        'sink:postgres': {
          state: 'retrying',
          detail: 'connect ECONNREFUSED',
          values: { pending_records: 42 },
        },
      },
    });
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/^mlfp_dependency_up\{dependency="sink:postgres",state="retrying"\} 0$/m);
    expect(text).toMatch(/^mlfp_dependency_value\{dependency="sink:postgres",value="pending_records"\} 42$/m);
    sinkStatus = { state: 'up' };
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });

  it('answers /healthz 200 until the engine fails, then 503 with the error', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    server.failure = 'boom';
    const failed = await fetch(`${base}/healthz`);
    expect(failed.status).toBe(503);
    expect(await failed.json()).toEqual({ status: 'failed', error: 'boom' });
    server.failure = undefined;
  });

  it('refuses other paths (404) and methods (405)', async () => {
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    const post = await fetch(`${base}/metrics`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('names the port when it cannot listen', async () => {
    const first = new OpsHttpServer(metrics, { host: '127.0.0.1', port: 0 });
    const address = await first.start();
    const clash = new OpsHttpServer(metrics, { host: '127.0.0.1', port: address.port });
    await expect(clash.start()).rejects.toThrow(/cannot listen on http 127\.0\.0\.1:\d+: EADDRINUSE/);
    await first.close();
  });
});
