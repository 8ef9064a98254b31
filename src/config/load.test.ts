import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { envOverrides, loadConfig, parseConfig } from './load.js';
import { MlfpError } from '../errors.js';

describe('engine config', () => {
  it('has defaults that run embedded', () => {
    const config = parseConfig({});
    expect(config.source).toBe('synthetic');
    expect(config.synthetic.symbols.length).toBeGreaterThan(1);
    expect(config.bars.allowedLatenessMs).toBe(2000);
  });

  it('names the bad key and the value it got', () => {
    try {
      parseConfig({ bars: { allowedLatenessMs: -5 }, synthetic: { seed: 'x' } });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(MlfpError);
      const e = error as MlfpError;
      expect(e.code).toBe('config_invalid');
      expect(e.message).toMatch(/bars\.allowedLatenessMs: .*\(got -5\)/);
      expect(e.message).toMatch(/synthetic\.seed: .*\(got "x"\)/);
    }
  });

  it('refuses unknown keys, so a typo is not silently ignored', () => {
    expect(() => parseConfig({ bars: { allowedLatency: 5 } })).toThrow(/allowedLatency/);
  });

  it('validates the session time zone and hours', () => {
    expect(() =>
      parseConfig({ bars: { session: { timezone: 'Mars/Olympus', open: '09:30', close: '16:00' } } }),
    ).toThrow(/bars\.session\.timezone: unknown IANA time zone/);
    expect(() =>
      parseConfig({ bars: { session: { timezone: 'UTC', open: '16:00', close: '09:30' } } }),
    ).toThrow(/bars\.session\.close/);
  });

  it('reads MLFP_SECTION__KEY environment overrides over the file', async () => {
    expect(
      envOverrides({ MLFP_BARS__ALLOWED_LATENESS_MS: '250', MLFP___PROTO____X: '1', OTHER: 'x' }),
    ).toEqual({
      bars: { allowedLatenessMs: 250 },
    });
    const dir = await mkdtemp(join(tmpdir(), 'mlfp-cfg-'));
    const path = join(dir, 'c.json');
    await writeFile(path, JSON.stringify({ bars: { allowedLatenessMs: 100, idleTimeoutMs: 1000 } }));
    const config = await loadConfig(path, { MLFP_BARS__ALLOWED_LATENESS_MS: '250' });
    expect(config.bars).toMatchObject({ allowedLatenessMs: 250, idleTimeoutMs: 1000 });
  });

  it('explains an unreadable or non-JSON file', async () => {
    await expect(loadConfig('/nonexistent.json', {})).rejects.toThrow(/cannot read config file/);
    const dir = await mkdtemp(join(tmpdir(), 'mlfp-cfg-'));
    const path = join(dir, 'bad.json');
    await writeFile(path, '{ nope');
    await expect(loadConfig(path, {})).rejects.toThrow(/not valid JSON/);
  });
});

describe('sink config', () => {
  it('has no PostgreSQL or Redis sink by default and Kafka outputs with contract topic names', () => {
    const config = parseConfig({});
    expect(config.postgres).toBeUndefined();
    expect(config.redis).toBeUndefined();
    expect(config.outputs.kafka).toMatchObject({
      enabled: true,
      topics: {
        predictions: 'ml.predictions',
        alerts: 'ml.alerts',
        deadLetters: 'market.ticks.dlq',
        bars: 'market.bars.{timeframe}',
        features: 'features.{timeframe}',
      },
      bars: false,
      features: false,
      createTopics: true,
      maxOriginalBytes: 65_536,
    });
    expect(config.outputs.kafka.retentionMs).toBeUndefined();
  });

  it('fills PostgreSQL and Redis defaults from a URL alone (MLFP_POSTGRES__URL, MLFP_REDIS__URL)', async () => {
    const config = await loadConfig(undefined, {
      MLFP_POSTGRES__URL: 'postgres://engine:pw@db:5432/mlfp',
      MLFP_REDIS__URL: 'redis://cache:6379',
      MLFP_POSTGRES__TIMESCALE__RETENTION: '2 years',
    });
    expect(config.postgres).toMatchObject({
      schema: 'mlfp',
      poolSize: 4,
      writeMethod: 'copy',
      partitioning: 'auto',
      tables: { bars: true, features: true, predictions: true, alerts: true, deadLetters: true },
      timescale: {
        chunkInterval: '7 days',
        compressAfter: '30 days',
        retention: '2 years',
        dailyAggregate: true,
      },
      retry: { initialDelayMs: 200, maxDelayMs: 10_000 },
    });
    expect(config.redis).toMatchObject({ keyPrefix: 'mlfp', ttlSeconds: 604_800, latest: { bars: true } });
  });

  it('refuses values that would reach SQL or Kafka unchecked, naming the key', () => {
    expect(() =>
      parseConfig({ postgres: { url: 'postgres://x/y', schema: 'a"; DROP TABLE x; --' } }),
    ).toThrow(/postgres\.schema: expected a lower-case SQL identifier/);
    expect(() =>
      parseConfig({
        postgres: { url: 'postgres://x/y', timescale: { compressAfter: "1 day'); DROP TABLE x; --" } },
      }),
    ).toThrow(/postgres\.timescale\.compressAfter/);
    expect(() => parseConfig({ postgres: { url: 'mysql://x' } })).toThrow(
      /postgres\.url: expected a postgres:\/\/ URL/,
    );
    expect(() => parseConfig({ postgres: { url: 'postgresq://engine:s3cret@db/mlfp' } })).toThrow(
      /\(got "postgresq:\/\/engine:\*\*\*@db\/mlfp"\)/,
    );
    expect(() => parseConfig({ redis: { url: 'redis://x', keyPrefix: 'a:b' } })).toThrow(/redis\.keyPrefix/);
    expect(() => parseConfig({ outputs: { kafka: { topics: { bars: 'market.bars' } } } })).toThrow(
      /outputs\.kafka\.topics\.bars: expected a topic name with one \{timeframe\} placeholder/,
    );
    expect(() => parseConfig({ outputs: { kafka: { maxOriginalBytes: 2_000_000 } } })).toThrow(
      /outputs\.kafka\.maxOriginalBytes/,
    );
    expect(() =>
      parseConfig({ redis: { url: 'redis://x', retry: { initialDelayMs: 500, maxDelayMs: 100 } } }),
    ).toThrow(/redis\.retry\.maxDelayMs/);
  });
});

describe('kafka, snapshots and delivery config', () => {
  const kafkaConfig = (kafka: Record<string, unknown> = {}, rest: Record<string, unknown> = {}) =>
    parseConfig({ source: 'kafka', kafka: { brokers: ['127.0.0.1:19092'], ...kafka }, ...rest });

  it('has defaults for every key, and the embedded default needs no broker', () => {
    expect(parseConfig({}).kafka.brokers).toEqual([]);
    const config = kafkaConfig();
    expect(config.kafka).toMatchObject({
      clientId: 'mlfp-engine',
      groupId: 'mlfp-engine',
      format: 'json',
      maxMessageBytes: 65_536,
      topics: {
        ticks: 'market.ticks',
        corporateActions: 'corporate.actions',
      },
    });
    expect(config.snapshots).toEqual({ store: 'memory', intervalMs: 5_000 });
    expect(config.delivery).toMatchObject({
      flushIntervalMs: 200,
      maxBatchRecords: 20_000,
      maxPendingRecords: 200_000,
    });
  });

  it('names the key a cross-field rule needs', () => {
    expect(() => parseConfig({ source: 'kafka' })).toThrow(
      /kafka\.brokers: source 'kafka' needs at least one broker/,
    );
    expect(() => kafkaConfig({ format: 'avro' })).toThrow(
      /kafka\.registry\.url: format 'avro' needs a schema registry url/,
    );
    expect(() => kafkaConfig({ sessionTimeoutMs: 3_000, heartbeatIntervalMs: 3_000 })).toThrow(
      /kafka\.heartbeatIntervalMs/,
    );
    expect(() => kafkaConfig({}, { delivery: { maxBatchRecords: 10, maxPendingRecords: 5 } })).toThrow(
      /delivery\.maxPendingRecords: must be at least delivery\.maxBatchRecords/,
    );
    expect(() =>
      kafkaConfig({}, { outputs: { kafka: { topics: { deadLetters: 'market.ticks' } } } }),
    ).toThrow(/kafka\.topics: topic names \(kafka\.topics and outputs\.kafka\.topics\) must differ/);
    expect(() => kafkaConfig({ brokers: ['no-port'] })).toThrow(/kafka\.brokers\.0: expected host:port/);
    expect(
      kafkaConfig({ format: 'avro', registry: { url: 'http://127.0.0.1:18081/apis/ccompat/v7' } }).kafka
        .format,
    ).toBe('avro');
  });

  it('never shows a secret it rejects', () => {
    const secret = 'hunter2-secret';
    for (const raw of [
      { kafka: { sasl: { mechanism: 'oauth', username: 'u', password: secret } } },
      { kafka: { sasl: { mechanism: 'plain', username: 'u', password: secret, extra: 1 } } },
      { kafka: { registry: { url: 'not a url', auth: { username: 'u', password: secret } } } },
      { kafka: { unknownKey: 1, sasl: { mechanism: 'plain', username: 'u', password: secret } } },
      { kafka: { ssl: { key: 5, cert: secret } } },
    ]) {
      let message = '';
      try {
        parseConfig(raw);
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/kafka/);
      expect(message).not.toContain(secret);
    }
  });

  it('takes brokers from the environment as JSON', async () => {
    const config = await loadConfig(undefined, {
      MLFP_KAFKA__BROKERS: '["10.0.0.1:9092","10.0.0.2:9092"]',
      MLFP_KAFKA__GROUP_ID: 'engine-a',
      MLFP_SNAPSHOTS__STORE: 'none',
    });
    expect(config.kafka.brokers).toEqual(['10.0.0.1:9092', '10.0.0.2:9092']);
    expect(config.kafka.groupId).toBe('engine-a');
    expect(config.snapshots.store).toBe('none');
  });
});
