// RedisSink and RedisSnapshotStore against the real Redis (unique key prefix per run, deleted after), and an
// outage on a throwaway redis-server we start and kill ourselves.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import type { RedisConfig } from '../../../src/config/schema.js';
import { FEATURE_COLUMNS } from '../../../src/domain/types.js';
import { barKey, featuresKey, predictionKey, RedisSink } from '../../../src/sinks/redis/redis-sink.js';
import { RedisSnapshotStore, snapshotKey } from '../../../src/sinks/redis/redis-snapshot-store.js';
import { batchOf, makeBar, makeFeatures, makePrediction, times, uniqueSuffix } from '../../sinks/records.js';
import { canRunRedisServer, freePort, ThrowawayRedis } from './throwaway-services.js';

const services = inject('services');
const prefix = `mlfp-it-${uniqueSuffix()}`;
const redis = new Redis(services.redisUrl, { lazyConnect: true });

function configFor(url: string, overrides: Record<string, unknown> = {}): RedisConfig {
  const config = parseConfig({
    redis: {
      url,
      keyPrefix: prefix,
      ttlSeconds: 3600,
      retry: { initialDelayMs: 20, maxDelayMs: 200 },
      ...overrides,
    },
  }).redis;
  if (config === undefined) throw new Error('no redis config');
  return config;
}

beforeAll(async () => {
  await redis.connect();
});
afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

describe('redis sink', () => {
  let sink: RedisSink;
  beforeAll(async () => {
    sink = new RedisSink(configFor(services.redisUrl, { maxPipelineCommands: 7 }));
    await sink.start();
  });
  afterAll(async () => {
    await sink.close();
  });

  it('keeps the latest bar, features and prediction per symbol as hashes with a TTL', async () => {
    const ts = times(Date.UTC(2024, 0, 2, 14, 30), 20);
    await sink.write(
      batchOf({
        bars: ts.flatMap((t) => [makeBar('AAPL', t), makeBar('BTC/USD', t)]),
        features: ts.map((t) => makeFeatures('AAPL', t, 0, 3)),
        predictions: ts.map((t) => makePrediction('AAPL', t)),
      }),
    );
    const last = ts[19] as number;
    const bar = makeBar('BTC/USD', last);
    expect(await redis.hgetall(barKey(prefix, '5m', 'BTC/USD'))).toEqual({
      symbol: 'BTC/USD',
      timeframe: '5m',
      ts: String(bar.ts),
      end: String(bar.end),
      open: String(bar.open),
      high: String(bar.high),
      low: String(bar.low),
      close: String(bar.close),
      volume: String(bar.volume),
      vwap: String(bar.vwap),
      trades: String(bar.trades),
      revision: '0',
    });
    const features = await redis.hgetall(featuresKey(prefix, '5m', 'AAPL'));
    const vector = makeFeatures('AAPL', last, 0, 3);
    expect(features['ts']).toBe(String(last));
    FEATURE_COLUMNS.forEach((name, i) =>
      expect(features[name], name).toBe(i < 3 ? '' : String(vector.values[i])),
    );
    const prediction = await redis.hgetall(predictionKey(prefix, 'lgbm-return', '5m', 'AAPL'));
    expect(JSON.parse(prediction['output'] ?? 'null')).toEqual({ label: 'up', p_up: 0.625, p_down: 0.375 });
    const ttl = await redis.ttl(barKey(prefix, '5m', 'AAPL'));
    expect(ttl).toBeGreaterThan(3500);
    expect(ttl).toBeLessThanOrEqual(3600);
  });

  it('never lets an older (ts, revision) replace a newer one; equal rewrites', async () => {
    const t = Date.UTC(2024, 1, 1, 10, 0);
    await sink.write(batchOf({ bars: [makeBar('NVDA', t, 2)] }));
    await sink.write(batchOf({ bars: [makeBar('NVDA', t, 1), makeBar('NVDA', t - 300_000, 5)] }));
    expect(await redis.hmget(barKey(prefix, '5m', 'NVDA'), 'ts', 'revision', 'close')).toEqual([
      String(t),
      '2',
      String(makeBar('NVDA', t, 2).close),
    ]);
    await sink.write(batchOf({ bars: [makeBar('NVDA', t, 3)] }));
    expect(await redis.hget(barKey(prefix, '5m', 'NVDA'), 'revision')).toBe('3');
    await sink.write(batchOf({ bars: [makeBar('NVDA', t + 300_000, 0)] }));
    expect(await redis.hmget(barKey(prefix, '5m', 'NVDA'), 'ts', 'revision')).toEqual([
      String(t + 300_000),
      '0',
    ]);
  });
});

describe('redis snapshot store', () => {
  it('saves pipelined and forward only, comparing offsets as big integers', async () => {
    const store = new RedisSnapshotStore(configFor(services.redisUrl));
    await store.start();
    try {
      const base = {
        group: 'group:with:colons',
        topic: 'market.ticks',
        partition: 5,
        takenAtMs: 1_700_000_000_000,
      };
      await store.save([
        { ...base, offset: '9007199254740993', state: { symbols: ['AAPL'], n: 1 } },
        { ...base, partition: 6, offset: '12', state: { n: 6 } },
      ]);
      await store.save([{ ...base, offset: '9007199254740992', state: { n: 0 } }]); // lower, past 2^53
      await store.save([{ ...base, offset: '999', state: { n: -1 } }]); // shorter = lower
      expect(await store.load(base.group, base.topic, 5)).toEqual({
        ...base,
        offset: '9007199254740993',
        state: { symbols: ['AAPL'], n: 1 },
      });
      await store.save([{ ...base, offset: '9223372036854775807', state: { n: 2 } }]);
      expect(await store.load(base.group, base.topic, 5)).toMatchObject({
        offset: '9223372036854775807',
        state: { n: 2 },
      });
      expect((await store.load(base.group, base.topic, 6))?.offset).toBe('12');
      expect(await store.load(base.group, base.topic, 7)).toBeUndefined();
      expect(await redis.exists(snapshotKey(prefix, base.group, base.topic, 5))).toBe(1);
      await redis.hset(snapshotKey(prefix, 'g', 't', 0), 'offset', '1', 'state', '{nope', 'takenAtMs', '1');
      await expect(store.load('g', 't', 0)).rejects.toMatchObject({ code: 'snapshot_invalid' });
    } finally {
      await store.close();
    }
  });
});

describe.skipIf(!canRunRedisServer)('redis sink outage (throwaway redis-server)', () => {
  it('waits while Redis is away, then writes everything', { timeout: 60_000 }, async () => {
    const server = new ThrowawayRedis(await freePort());
    const sink = new RedisSink(configFor(server.url, { connectTimeoutMs: 500, commandTimeoutMs: 1_000 }));
    const ts = times(Date.UTC(2024, 2, 4, 14, 30), 300);
    try {
      const started = sink.start();
      const written = sink.write(batchOf({ bars: ts.slice(0, 100).map((t) => makeBar('MSFT', t)) }));
      await vi.waitFor(() => expect(sink.health().state).toBe('retrying'), { timeout: 10_000, interval: 20 });
      expect(sink.health().pendingRecords).toBe(100);
      await server.start();
      await Promise.all([started, written]);
      const check = new Redis(server.url);
      const checkErrors: Error[] = [];
      // this reader loses its server on purpose below; ioredis reconnects it
      check.on('error', (error: Error) => checkErrors.push(error));
      try {
        expect(await check.hget(barKey(prefix, '5m', 'MSFT'), 'ts')).toBe(String(ts[99]));
        // killed mid-run: the next write waits; a new empty server takes it (this Redis keeps nothing on disk)
        await server.stop();
        const rewritten = sink.write(batchOf({ bars: ts.slice(100).map((t) => makeBar('MSFT', t)) }));
        await vi.waitFor(() => expect(sink.health().state).toBe('retrying'), {
          timeout: 10_000,
          interval: 20,
        });
        await server.start();
        await rewritten;
        expect(sink.health()).toMatchObject({ state: 'up', pendingRecords: 0 });
        await vi.waitFor(
          async () => expect(await check.hget(barKey(prefix, '5m', 'MSFT'), 'ts')).toBe(String(ts[299])),
          {
            timeout: 10_000,
          },
        );
      } finally {
        check.disconnect();
      }
    } finally {
      await sink.close();
      await server.stop();
    }
  });
});
