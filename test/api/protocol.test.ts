// The WebSocket protocol with real ws clients on loopback (auth mode none): typed errors for every bad frame,
// resume exactly once from the ring and from the snapshot tier, the slow-consumer policy (conflation, lag
// notice, close 4008) without touching healthy clients, heartbeats, limits and the shutdown close.

import { request as httpRequest } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Registry } from 'prom-client';
import { apiSchema, type ApiConfig } from '../../src/config/api-schemas.js';
import type { Bar, Prediction } from '../../src/domain/types.js';
import { startPublicApi, type PublicApi } from '../../src/api/public-api.js';
import { createLogger } from '../../src/monitoring/log.js';
import { MemoryStore } from '../../src/sinks/memory/memory-store.js';

const T0 = Date.UTC(2024, 0, 2);
let api: PublicApi | undefined;
let registry = new Registry();
const clients: WebSocket[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.terminate();
  await api?.server.close();
  api = undefined;
});

function bar(symbol: string, index: number, revision = 0): Bar {
  const ts = T0 + index * 300_000;
  return {
    symbol,
    timeframe: '5m',
    ts,
    end: ts + 300_000,
    open: 1,
    high: 2,
    low: 0.5,
    close: 1.5,
    volume: 10,
    vwap: 1.2,
    trades: 3,
    revision,
  };
}

function prediction(symbol: string, index: number, model = 'm'): Prediction {
  return {
    symbol,
    timeframe: '5m',
    ts: T0 + index * 300_000,
    model,
    version: '1',
    kind: 'regressor',
    output: { value: index },
    latencyMs: 1,
  };
}

async function start(overrides: Partial<ApiConfig> = {}, store = new MemoryStore()): Promise<PublicApi> {
  const config = apiSchema.parse({ port: 0, ...overrides });
  registry = new Registry();
  api = await startPublicApi({
    config,
    store,
    registry: undefined,
    metricsRegistry: registry,
    log: createLogger({ level: 'silent', write: () => undefined }),
    now: Date.now,
  });
  return api;
}

interface Client {
  ws: WebSocket;
  messages: Array<Record<string, unknown>>;
  /** the next message matching `predicate` (already received or still to come) */
  next(
    predicate: (m: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  request(message: Record<string, unknown>): Promise<Record<string, unknown>>;
  closed: Promise<{ code: number; reason: string }>;
}

async function connect(
  options: WebSocket.ClientOptions = {},
  url = `${api!.url.replace(/^http/u, 'ws')}v1/ws`,
): Promise<Client> {
  const ws = new WebSocket(url, 'mlfp.v1', options);
  clients.push(ws);
  const messages: Array<Record<string, unknown>> = [];
  const waiters: Array<{
    predicate: (m: Record<string, unknown>) => boolean;
    resolve: (m: Record<string, unknown>) => void;
  }> = [];
  ws.on('message', (data) => {
    const message = JSON.parse(data.toString()) as Record<string, unknown>;
    messages.push(message);
    for (const waiter of [...waiters])
      if (waiter.predicate(message)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(message);
      }
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const next = (predicate: (m: Record<string, unknown>) => boolean, timeoutMs = 3_000) => {
    const seen = messages.find(predicate);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no such message in time')), timeoutMs);
      waiters.push({ predicate, resolve: (m) => (clearTimeout(timer), resolve(m)) });
    });
  };
  let counter = 0;
  const request = (message: Record<string, unknown>) => {
    const id = `r${++counter}`;
    ws.send(JSON.stringify({ id, ...message }));
    return next((m) => m.id === id);
  };
  return { ws, messages, next, request, closed };
}

const data = (client: Client, channel: string) =>
  client.messages.filter((m) => m.type === 'data' && m.channel === channel);

describe('requests: every bad frame gets a typed error naming what was wrong', () => {
  it.each([
    ['not JSON', 'hello', { id: null, success: false, error: { code: 'bad_json' } }],
    [
      'an unknown op',
      '{"id":1,"op":"fly"}',
      { id: 1, op: 'fly', success: false, error: { code: 'bad_request', field: 'op' } },
    ],
    [
      'a missing channel',
      '{"id":2,"op":"subscribe","symbols":["*"]}',
      { id: 2, success: false, error: { code: 'bad_request', field: 'channel' } },
    ],
    [
      'an unknown channel',
      '{"id":3,"op":"subscribe","channel":"orders","symbols":["*"]}',
      { id: 3, success: false, error: { code: 'bad_request', field: 'channel' } },
    ],
    [
      'a bad symbol',
      '{"id":4,"op":"subscribe","channel":"bars.5m","symbols":["A B"]}',
      { id: 4, success: false, error: { code: 'bad_request', field: 'symbols.0' } },
    ],
    [
      'an extra member',
      '{"id":5,"op":"ping","x":1}',
      { id: 5, success: false, error: { code: 'bad_request' } },
    ],
    [
      'a model filter off predictions',
      '{"id":6,"op":"subscribe","channel":"bars.5m","symbols":["*"],"model":"m"}',
      { id: 6, success: false, error: { code: 'bad_request', field: 'model' } },
    ],
    [
      'unsubscribing what is not subscribed',
      '{"id":7,"op":"unsubscribe","channel":"alerts"}',
      { id: 7, success: false, error: { code: 'not_found', field: 'channel' } },
    ],
    [
      'a bad since',
      '{"id":8,"op":"subscribe","channel":"bars.5m","symbols":["*"],"since":{"epoch":"e","seq":-1}}',
      { id: 8, success: false, error: { code: 'bad_request', field: 'since.seq' } },
    ],
    [
      'auth in mode none',
      '{"id":9,"op":"auth","token":"x"}',
      { id: 9, success: false, error: { code: 'bad_request', field: 'op' } },
    ],
  ])('%s', async (_name, frame, expected) => {
    await start();
    const client = await connect();
    client.ws.send(frame);
    const reply = await client.next((m) => m.success === false);
    expect(reply).toMatchObject(expected);
    // the connection stays usable
    expect(await client.request({ op: 'ping' })).toMatchObject({ success: true, op: 'ping' });
  });

  it('a binary frame is refused; a frame over maxPayloadBytes closes with 1009', async () => {
    await start({ maxPayloadBytes: 1_024 });
    const client = await connect();
    client.ws.send(Buffer.from([1, 2, 3]));
    expect(await client.next((m) => m.success === false)).toMatchObject({ error: { code: 'bad_request' } });
    client.ws.send(JSON.stringify({ id: 1, op: 'ping', pad: 'x'.repeat(2_000) }));
    expect((await client.closed).code).toBe(1009);
  });

  it('past the control rate: rate_limited replies, then a 1008 close', async () => {
    await start({ controlPerSecond: 5 });
    const client = await connect();
    for (let i = 0; i < 12; i++) client.ws.send(JSON.stringify({ id: i, op: 'ping' }));
    const closed = await client.closed;
    expect(closed.code).toBe(1008);
    const limited = client.messages.filter(
      (m) => (m.error as { code?: string } | undefined)?.code === 'rate_limited',
    );
    expect(limited.length).toBeGreaterThanOrEqual(3);
    expect(client.messages.filter((m) => m.success === true)).toHaveLength(5);
  });

  it('the subscription limit, and list', async () => {
    await start({ maxSubscriptions: 2 });
    const client = await connect();
    expect(await client.request({ op: 'subscribe', channel: 'bars.5m', symbols: ['*'] })).toMatchObject({
      success: true,
      result: { policy: 'queue', limits: { subscriptionsLeft: 1 } },
    });
    expect(
      await client.request({ op: 'subscribe', channel: 'predictions', symbols: ['AAPL'] }),
    ).toMatchObject({ success: true, result: { policy: 'conflate' } });
    expect(await client.request({ op: 'subscribe', channel: 'alerts', symbols: ['*'] })).toMatchObject({
      success: false,
      error: { code: 'limit_exceeded', field: 'channel' },
    });
    const list = await client.request({ op: 'list' });
    const channels = (list.result as { channels: Array<{ channel: string; subscribed: boolean }> }).channels;
    expect(channels.filter((c) => c.subscribed).map((c) => c.channel)).toEqual(['bars.5m', 'predictions']);
  });
});

describe('data: filters, positions and stable ids', () => {
  it('delivers what matches the symbols and model, each message once with (channel, epoch, seq) and its id', async () => {
    await start();
    const a = await connect();
    await a.request({ op: 'subscribe', channel: 'bars.5m', symbols: ['AAPL'] });
    await a.request({ op: 'subscribe', channel: 'predictions', symbols: ['*'], model: 'lgbm' });
    const hub = api!.hub;
    for (let i = 0; i < 5; i++) {
      hub.publish('bars.5m', bar('AAPL', i));
      hub.publish('bars.5m', bar('MSFT', i));
      hub.publish('predictions', prediction('AAPL', i, 'lgbm'));
      hub.publish('predictions', prediction('AAPL', i, 'xgb'));
    }
    await a.next(
      (m) =>
        m.type === 'data' && m.channel === 'predictions' && (m.data as Prediction).ts === T0 + 4 * 300_000,
    );
    const bars = data(a, 'bars.5m');
    expect(bars.map((m) => (m.data as Bar).symbol)).toEqual(['AAPL', 'AAPL', 'AAPL', 'AAPL', 'AAPL']);
    expect(bars.map((m) => m.seq)).toEqual([1, 3, 5, 7, 9]);
    expect(bars[0]).toMatchObject({ channel: 'bars.5m', epoch: hub.epoch, id: `bar:AAPL:5m:${T0}:0` });
    const predictions = data(a, 'predictions');
    expect(predictions.map((m) => (m.data as Prediction).model)).toEqual([
      'lgbm',
      'lgbm',
      'lgbm',
      'lgbm',
      'lgbm',
    ]);
    expect(predictions[0]!.id).toBe(`lgbm:1:AAPL:5m:${T0}`);
  });
});

describe('resume: a client that drops and resubscribes with since gets every missed message exactly once', () => {
  it('from the ring', async () => {
    await start({ ringSize: 100 });
    const hub = api!.hub;
    const first = await connect();
    await first.request({ op: 'subscribe', channel: 'bars.5m', symbols: ['AAPL', 'MSFT'] });
    for (let i = 0; i < 10; i++) hub.publish('bars.5m', bar(i % 2 === 0 ? 'AAPL' : 'MSFT', i));
    await first.next((m) => m.type === 'data' && m.seq === 10);
    const last = data(first, 'bars.5m').at(-1)!;
    first.ws.terminate();
    // missed while away, plus a symbol the client does not want
    for (let i = 10; i < 30; i++) hub.publish('bars.5m', bar(['AAPL', 'MSFT', 'XOM'][i % 3]!, i));
    const second = await connect();
    const ack = await second.request({
      op: 'subscribe',
      channel: 'bars.5m',
      symbols: ['AAPL', 'MSFT'],
      since: { epoch: last.epoch, seq: last.seq },
    });
    expect(ack).toMatchObject({ success: true, result: { replay: 'ring', seq: 30 } });
    hub.publish('bars.5m', bar('AAPL', 30));
    await second.next((m) => m.type === 'data' && m.seq === 31);
    const replayed = data(second, 'bars.5m');
    const expected = Array.from({ length: 21 }, (_, k) => 11 + k).filter(
      (seq) => seq === 31 || (seq - 1) % 3 !== 2,
    );
    expect(replayed.map((m) => m.seq)).toEqual(expected);
    expect(new Set(replayed.map((m) => m.id)).size).toBe(replayed.length);
    expect((ack.result as { replayed: number }).replayed).toBe(expected.length - 1);
  });

  it('from the snapshot tier when the ring no longer holds the position (or the epoch is another instance’s)', async () => {
    const store = new MemoryStore();
    await start({ ringSize: 5 }, store);
    const hub = api!.hub;
    for (let i = 0; i < 20; i++) {
      const b = bar(i % 2 === 0 ? 'AAPL' : 'MSFT', i);
      store.bar(b); // what the delivery wrote to the store, as the hub publishes it
      hub.publish('bars.5m', b);
    }
    for (const since of [
      { epoch: hub.epoch, seq: 2 },
      { epoch: 'another-instance', seq: 19 },
    ]) {
      const client = await connect();
      const ack = await client.request({ op: 'subscribe', channel: 'bars.5m', symbols: ['*'], since });
      expect(ack).toMatchObject({ success: true, result: { replay: 'snapshot', seq: 20, replayed: 2 } });
      const snapshot = client.messages.filter((m) => m.type === 'snapshot');
      await client.next(() => client.messages.filter((m) => m.type === 'snapshot').length === 2);
      expect(
        client.messages
          .filter((m) => m.type === 'snapshot')
          .map((m) => (m.data as Bar).ts)
          .sort(),
      ).toEqual([T0 + 18 * 300_000, T0 + 19 * 300_000]);
      void snapshot;
    }
  });
});

describe('slow consumers', () => {
  it('a stalled client is conflated, told it lags, then closed (4008), while a healthy one gets everything', async () => {
    await start({ softBytes: 4_096, hardBytes: 64_000, lagGraceMs: 300 });
    const hub = api!.hub;
    const healthy = await connect();
    const stalled = await connect();
    for (const client of [healthy, stalled]) {
      await client.request({ op: 'subscribe', channel: 'predictions', symbols: ['*'] });
      await client.request({ op: 'subscribe', channel: 'bars.5m', symbols: ['*'] });
    }
    // the stalled client stops reading: its socket's kernel buffers fill, send callbacks stop coming
    const socket = (stalled.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause();
    const padding = 'x'.repeat(2_000);
    let sent = 0;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && api!.server.connections > 1) {
      for (let i = 0; i < 50; i++, sent++) {
        hub.publish('predictions', {
          ...prediction(`S${sent % 20}`, sent),
          output: { value: sent, note: padding },
        } as unknown as Prediction);
        hub.publish('bars.5m', bar(`S${sent % 20}`, sent));
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(api!.server.connections).toBe(1); // the server let the stalled one go
    const metric = async (name: string) =>
      (await registry.getSingleMetric(name)!.get()).values.reduce((sum, v) => sum + v.value, 0);
    expect(await metric('mlfp_api_conflated_total')).toBeGreaterThan(0);
    expect(await metric('mlfp_api_lag_notices_total')).toBe(1);
    expect(await metric('mlfp_api_slow_consumer_closes_total')).toBe(1);
    // reading again, the client finds the close: 4008 when the close frame got out, else an abnormal end
    socket.resume();
    expect([4008, 1006]).toContain((await stalled.closed).code);
    // the healthy client was never conflated away from a bar, nor closed
    await healthy.next(
      (m) => m.type === 'data' && m.channel === 'bars.5m' && (m.data as Bar).ts === T0 + (sent - 1) * 300_000,
      10_000,
    );
    expect(data(healthy, 'bars.5m')).toHaveLength(sent);
    expect(healthy.ws.readyState).toBe(WebSocket.OPEN);
  });
});

describe('liveness and limits', () => {
  it('an idle subscriber gets app heartbeats with each channel’s head', async () => {
    await start({ heartbeatIntervalMs: 1_000 });
    const client = await connect();
    await client.request({ op: 'subscribe', channel: 'bars.5m', symbols: ['NONE'] });
    api!.hub.publish('bars.5m', bar('AAPL', 0));
    const heartbeat = await client.next((m) => m.type === 'heartbeat', 3_000);
    expect(heartbeat.channels).toEqual({ 'bars.5m': { epoch: api!.hub.epoch, seq: 1 } });
  });

  it('a peer that stops answering pings is terminated', async () => {
    await start({ pingIntervalMs: 1_000 });
    const client = await connect({ autoPong: false });
    const closed = await Promise.race([
      client.closed,
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 4_000)),
    ]);
    expect(closed).toBeDefined();
    for (let i = 0; i < 50 && api!.server.connections > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(api!.server.connections).toBe(0);
  });

  it('a connection over the limit is refused with 1013; the old ones stay', async () => {
    await start({ maxConnections: 2 });
    const a = await connect();
    const b = await connect();
    const c = await connect();
    expect(await c.closed).toMatchObject({ code: 1013, reason: expect.stringContaining('connection limit') });
    expect(await a.request({ op: 'ping' })).toMatchObject({ success: true });
    expect(await b.request({ op: 'ping' })).toMatchObject({ success: true });
  });

  it('shutdown closes every connection with 1012 and a retry hint', async () => {
    await start({ retryAfterMs: 3_000 });
    const client = await connect();
    await api!.server.close();
    api = undefined;
    expect(await client.closed).toMatchObject({ code: 1012, reason: expect.stringContaining('3000 ms') });
  });

  it('the upgrade refuses another path (404) and a token in the query string (400 token_in_query)', async () => {
    await start();
    const status = (path: string) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(`${api!.url.replace(/^http/u, 'ws')}${path}`, 'mlfp.v1');
        ws.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
        ws.on('error', () => undefined);
      });
    expect(await status('v1/other')).toBe(404);
    expect(await status('v1/ws?access_token=abc')).toBe(400);
  });

  it('auth mode none serves only requests that name this server: a DNS-rebinding Host gets 403', async () => {
    await start();
    const { port } = new URL(api!.url);
    const get = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const request = httpRequest(
          {
            host: '127.0.0.1',
            port: Number(port),
            path: '/v1/latest/bars?symbol=AAPL&timeframe=5m',
            headers: { host },
          },
          (response) => {
            response.resume();
            resolve(response.statusCode ?? 0);
          },
        );
        request.on('error', reject);
        request.end();
      });
    expect(await get(`rebound.example:${port}`)).toBe(403);
    expect(await get(`localhost:${port}`)).toBe(404); // served: no bar yet
    expect(await get(`127.0.0.1:${port}`)).toBe(404);
    const upgrade = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${api!.url.replace(/^http/u, 'ws')}v1/ws`, 'mlfp.v1', {
        headers: { host: `rebound.example:${port}` },
      });
      ws.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
      ws.on('error', () => undefined);
    });
    expect(upgrade).toBe(403);
  });
});

describe('api config', () => {
  it('auth mode none is refused on a non-loopback host, naming the key', async () => {
    const { parseConfig } = await import('../../src/config/load.js');
    expect(() => parseConfig({ api: { host: '0.0.0.0' } })).toThrow(
      /api\.auth\.mode: auth mode 'none' is allowed only on a loopback host/,
    );
    expect(() => parseConfig({ api: { host: '0.0.0.0', enabled: false } })).not.toThrow();
    expect(() => parseConfig({ api: { softBytes: 4_096, hardBytes: 4_096 } })).toThrow(/api\.softBytes/);
  });

  it('mlfp serve refuses to start without brokers (exit 2, config_invalid)', async () => {
    const { runServe } = await import('../../src/streams/serve.js');
    const { parseConfig } = await import('../../src/config/load.js');
    let stderr = '';
    const code = await runServe(parseConfig({ api: { port: 0 } }), {
      stdout: () => undefined,
      stderr: (t) => void (stderr += t),
    });
    expect(code).toBe(2);
    expect(stderr).toMatch(/config_invalid: mlfp serve reads the output topics: set kafka.brokers/);
  });

  it('api.enabled: an embedded run starts the listener (and says where) only when enabled', async () => {
    const { runApp } = await import('../../src/streams/app.js');
    const { parseConfig } = await import('../../src/config/load.js');
    for (const enabled of [true, false]) {
      let stderr = '';
      const config = parseConfig({
        synthetic: { maxTicks: 2_000 },
        models: { enabled: false },
        http: { enabled: false },
        progress: { intervalMs: 0 },
        api: { enabled, port: 0 },
      });
      expect(await runApp(config, { stdout: () => undefined, stderr: (t) => void (stderr += t) })).toBe(0);
      expect(/"event":"api\.listening"/u.test(stderr)).toBe(enabled);
    }
  });

  it('serves OpenAPI 3.1 and AsyncAPI 3.0 documents generated from the request schemas', async () => {
    await start();
    const openapi = (await (await fetch(`${api!.url}v1/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, Record<string, { parameters?: Array<{ name: string; required: boolean }> }>>;
    };
    expect(openapi.openapi).toBe('3.1.0');
    expect(Object.keys(openapi.paths).sort()).toEqual([
      '/v1/latest/bars',
      '/v1/latest/features',
      '/v1/latest/predictions',
      '/v1/models',
      '/v1/models/load',
      '/v1/models/{name}/promote',
      '/v1/models/{name}/rollback',
      '/v1/models/{name}/shadow',
    ]);
    expect(openapi.paths['/v1/latest/bars']!.get!.parameters).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'symbol', required: true })]),
    );
    const asyncapi = (await (await fetch(`${api!.url}v1/asyncapi.json`)).json()) as {
      asyncapi: string;
      channels: {
        ws: { messages: Record<string, { payload: { properties?: Record<string, { enum?: string[] }> } }> };
      };
    };
    expect(asyncapi.asyncapi).toBe('3.0.0');
    // the subscribe message's channel enum is the protocol's, from the zod schema that validates frames
    expect(asyncapi.channels.ws.messages.subscribe!.payload.properties!.channel!.enum).toContain(
      'predictions',
    );
  });
});
