import { describe, expect, it } from 'vitest';
import { makeBar, makeFeatures, makePrediction } from '../../../test/sinks/records.js';
import { classifyRedisError, isRetriableRedisError, redisOptions, reconnectDelayMs } from './redis-client.js';
import { barWrite, featuresWrite, predictionWrite } from './redis-sink.js';

const replyError = (message: string): Error => Object.assign(new Error(message), { name: 'ReplyError' });

describe('redis client settings', () => {
  it('queues nothing offline and fails in-flight commands on a dropped connection (the sink retries)', () => {
    const options = redisOptions({
      url: 'redis://h',
      connectTimeoutMs: 1_000,
      commandTimeoutMs: 2_000,
      tls: { rejectUnauthorized: false, ca: 'PEM' },
    });
    expect(options).toMatchObject({
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      connectTimeout: 1_000,
      commandTimeout: 2_000,
      tls: { rejectUnauthorized: false, ca: 'PEM' },
    });
    expect(redisOptions({ url: 'redis://h', connectTimeoutMs: 1, commandTimeoutMs: 1 }).tls).toBeUndefined();
    expect([1, 5, 100].map(reconnectDelayMs)).toEqual([100, 500, 2_000]);
  });

  it('retries outages and "not now" replies; refuses the rest without showing the password', () => {
    expect(
      isRetriableRedisError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
    ).toBe(true);
    expect(
      isRetriableRedisError(new Error("Stream isn't writeable and enableOfflineQueue options is false")),
    ).toBe(true);
    expect(isRetriableRedisError(Object.assign(new Error('x'), { name: 'MaxRetriesPerRequestError' }))).toBe(
      true,
    );
    expect(isRetriableRedisError(new Error('Command timed out'))).toBe(true);
    // ioredis's AbortError for the rest of a pipeline the server answered in part before it went away
    // (found by the end-to-end Redis outage test: it stopped the engine as a refusal)
    const aborted = Object.assign(new Error('Command aborted due to connection close'), {
      name: 'AbortError',
    });
    expect(isRetriableRedisError(aborted)).toBe(true);
    expect(classifyRedisError(aborted, 'redis://cache:6379')).toMatchObject({
      code: 'sink_unavailable',
      retriable: true,
    });
    for (const reply of [
      'LOADING Redis is loading',
      'BUSY script',
      'READONLY replica',
      'OOM command not allowed',
    ])
      expect(isRetriableRedisError(replyError(reply)), reply).toBe(true);
    for (const reply of ['WRONGTYPE Operation', 'ERR unknown command', 'NOAUTH Authentication required'])
      expect(isRetriableRedisError(replyError(reply)), reply).toBe(false);
    const refused = classifyRedisError(replyError('WRONGTYPE Operation'), 'redis://:hunter2@cache:6379');
    expect(refused).toMatchObject({ code: 'sink_rejected', retriable: false });
    expect(refused.message).not.toContain('hunter2');
  });
});

describe('redis latest-value hashes', () => {
  const T = Date.UTC(2024, 0, 2, 14, 30);
  it('spell keys per the contract and carry (ts, revision) for the monotone script', () => {
    const bar = barWrite('mlfp', makeBar('BTC/USD', T, 2));
    expect(bar).toMatchObject({ key: 'mlfp:bar:5m:BTC/USD', ts: T, revision: 2 });
    expect(bar.fields).toHaveLength(24);
    const features = featuresWrite('p', makeFeatures('AAPL', T, 1, 2));
    expect(features.key).toBe('p:features:5m:AAPL');
    expect(features.fields.slice(10, 14)).toEqual(['returns', '', 'log_returns', '']);
    expect(features.fields).toHaveLength(42);
    const prediction = predictionWrite('p', makePrediction('AAPL', T, 'lgbm', '2.0.0'));
    expect(prediction).toMatchObject({ key: 'p:prediction:lgbm:5m:AAPL', ts: T, revision: 0 });
  });
});
