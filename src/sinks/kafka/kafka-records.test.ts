import { describe, expect, it } from 'vitest';
import { FEATURE_COLUMNS } from '../../domain/types.js';
import { parseConfig } from '../../config/load.js';
import {
  batchOf,
  makeAlert,
  makeBar,
  makeDeadLetter,
  makeFeatures,
  makePrediction,
} from '../../../test/sinks/records.js';
import {
  alertValue,
  barValue,
  deadLetterKey,
  deadLetterValue,
  featuresValue,
  isoOrNumber,
  predictionValue,
  topicFor,
} from './kafka-records.js';
import { outputChunks, outputRecords } from './kafka-sink.js';

const T = Date.UTC(2015, 2, 2, 15, 0);

describe('Kafka record values', () => {
  it('bar: ISO times, every OHLCV field, revision', () => {
    const bar = makeBar('IBM', T, 1, '1h');
    expect(JSON.parse(barValue(bar))).toEqual({
      ...bar,
      ts: '2015-03-02T15:00:00.000Z',
      end: '2015-03-02T16:00:00.000Z',
    });
  });

  it('features: by contract name, undefined as null', () => {
    const vector = makeFeatures('AAPL', T, 0, 3);
    const value = JSON.parse(featuresValue(vector));
    expect(Object.keys(value)).toEqual(['symbol', 'timeframe', 'ts', 'revision', 'close', 'features']);
    expect(Object.keys(value.features)).toEqual([...FEATURE_COLUMNS]);
    expect(value.features.returns).toBeNull();
    expect(value.features.obv).toBe(vector.values[15]);
  });

  it('prediction and alert per the README contract', () => {
    expect(JSON.parse(predictionValue(makePrediction('AAPL', T)))).toEqual({
      symbol: 'AAPL',
      timeframe: '5m',
      ts: '2015-03-02T15:00:00.000Z',
      model: 'lgbm-return',
      version: '1.0.0',
      kind: 'classifier',
      output: { label: 'up', p_up: 0.625, p_down: 0.375 },
      latencyMs: 1.5,
    });
    expect(
      JSON.parse(alertValue({ ...makeAlert('sink:redis', T), message: undefined, value: Number.NaN })),
    ).toEqual({
      type: 'drift',
      state: 'firing',
      severity: 'warning',
      subject: 'sink:redis',
      value: null,
      threshold: 0.2,
      ts: '2015-03-02T15:00:00.000Z',
    });
  });

  it('dead letter: truncates a 5 MB original to the maximum, keeps its length, stays far under 1 MB', () => {
    const original = new Uint8Array(5 * 1024 * 1024);
    for (let i = 0; i < original.length; i++) original[i] = i % 251;
    const value = deadLetterValue(makeDeadLetter(9, original), 64 * 1024);
    expect(Buffer.byteLength(value)).toBeLessThan(100_000);
    const record = JSON.parse(value);
    expect(record).toMatchObject({
      reason: 'non_positive_price',
      field: 'price',
      value: '-1',
      message: 'price must be positive',
      topic: 'market.ticks',
      partition: 3,
      offset: '9',
      originalBytes: 5 * 1024 * 1024,
      truncated: true,
    });
    expect(Buffer.from(record.original, 'base64')).toEqual(Buffer.from(original.subarray(0, 64 * 1024)));
    const small = JSON.parse(deadLetterValue(makeDeadLetter(9, 'héllo'), 64 * 1024));
    expect(Buffer.from(small.original, 'base64').toString('utf8')).toBe('héllo');
    expect(small.truncated).toBeUndefined();
    expect(small.originalBytes).toBe(6);
    const huge = JSON.parse(deadLetterValue({ ...makeDeadLetter(1), message: 'm'.repeat(1e6) }, 10));
    expect(huge.message.length).toBeLessThanOrEqual(4_000);
    expect(JSON.parse(deadLetterValue({ reason: 'bad_json', message: 'm' }, 10))).toEqual({
      reason: 'bad_json',
      message: 'm',
      topic: null,
      partition: null,
      offset: null,
      original: null,
    });
  });

  it('keys: dead letters by source partition; times outside Date stay numbers', () => {
    expect(deadLetterKey(makeDeadLetter(1))).toBe('market.ticks/3');
    expect(deadLetterKey({ reason: 'bad_json', message: 'm' })).toBeNull();
    expect(isoOrNumber(9e15)).toBe(9e15);
    expect(isoOrNumber(Number.NaN)).toBeNull();
    expect(topicFor('market.bars.{timeframe}', '1d')).toBe('market.bars.1d');
  });
});

describe('output records and chunks', () => {
  const config = parseConfig({ outputs: { kafka: { bars: true } } }).outputs.kafka;

  it('routes each output to its topic with its key; bars and features only when enabled', () => {
    const batch = batchOf({
      bars: [makeBar('A', T, 0, '1d')],
      features: [makeFeatures('A', T)],
      predictions: [makePrediction('B', T)],
      alerts: [makeAlert('m@1', T)],
      deadLetters: [makeDeadLetter(3)],
    });
    expect([...outputRecords(batch, config)].map((r) => [r.topic, r.key])).toEqual([
      ['market.ticks.dlq', 'market.ticks/3'],
      ['market.bars.1d', 'A'],
      ['ml.predictions', 'B'],
      ['ml.alerts', 'm@1'],
    ]);
  });

  it('cuts chunks at the record limit and the byte budget, keeping order; an oversized record goes alone', () => {
    const records = Array.from({ length: 25 }, (_, i) => ({
      topic: i % 2 === 0 ? 'even' : 'odd',
      key: 'k',
      value: i === 20 ? 'x'.repeat(5_000) : `v${i}`,
    }));
    const chunks = [...outputChunks(records, 10, 2_000)];
    expect(chunks.map((c) => c.records)).toEqual([10, 10, 1, 4]);
    expect(chunks.every((c) => c.records <= 10 && (c.bytes <= 2_000 || c.records === 1))).toBe(true);
    const replay = chunks.flatMap((c) =>
      c.topicMessages.flatMap((t) => t.messages.map((m) => `${t.topic}:${m.value}`)),
    );
    const byTopic = (topic: string): string[] => replay.filter((r) => r.startsWith(`${topic}:`));
    expect(byTopic('even')).toEqual(records.filter((r) => r.topic === 'even').map((r) => `even:${r.value}`));
    expect(byTopic('odd')).toEqual(records.filter((r) => r.topic === 'odd').map((r) => `odd:${r.value}`));
    expect([...outputChunks([], 10, 2_000)]).toEqual([]);
  });
});
