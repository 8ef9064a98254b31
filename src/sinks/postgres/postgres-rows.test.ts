import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FEATURE_COUNT } from '../../domain/types.js';
import { MlfpError } from '../../errors.js';
import {
  makeAlert,
  makeBar,
  makeDeadLetter,
  makeFeatures,
  makePrediction,
} from '../../../test/sinks/records.js';
import {
  alertCodec,
  barCodec,
  copyText,
  deadLetterCodec,
  deadLetterKey,
  featuresCodec,
  isoTime,
  jsonValue,
  latestPerKey,
  predictionCodec,
} from './postgres-rows.js';
import { BinaryCopyWriter } from './postgres-binary.js';
import { TABLES } from './postgres-tables.js';

const fields = (line: string): string[] => line.replace(/\n$/, '').split('\t');
const T = Date.UTC(2024, 0, 2, 14, 30);

describe('COPY text encoding', () => {
  it('escapes backslash, tab, newline and carriage return, and replaces NUL', () => {
    expect(copyText('plain')).toBe('plain');
    expect(copyText('a\\b\tc\nd\re\0f')).toBe('a\\\\b\\tc\\nd\\re\uFFFDf');
  });

  it('writes a bar as one line with one field per column, times as ISO-8601', () => {
    const bar = makeBar('BTC-USD', T, 2);
    const line = barCodec.copyLine(bar);
    expect(line.endsWith('\n')).toBe(true);
    expect(fields(line)).toEqual([
      'BTC-USD',
      '5m',
      '2024-01-02T14:30:00.000Z',
      '2024-01-02T14:35:00.000Z',
      String(bar.open),
      String(bar.high),
      String(bar.low),
      String(bar.close),
      String(bar.volume),
      String(bar.vwap),
      String(bar.trades),
      '2',
    ]);
    expect(fields(line)).toHaveLength(TABLES.bars.columns.length);
  });

  it('writes undefined (NaN) and infinite features as NULL, never NaN', () => {
    const vector = makeFeatures('AAPL', T, 0, 4);
    vector.values[10] = Number.POSITIVE_INFINITY;
    const values = fields(featuresCodec.copyLine(vector)).slice(5);
    expect(values).toHaveLength(FEATURE_COUNT);
    expect(values.slice(0, 4)).toEqual(['\\N', '\\N', '\\N', '\\N']);
    expect(values[10]).toBe('\\N');
    expect(values[4]).toBe(String(vector.values[4]));
    expect(values.some((value) => /nan/i.test(value))).toBe(false);
  });

  it('refuses a non-finite bar value or a non-integer count, naming the record', () => {
    const bad = { ...makeBar('AAPL', T, 1), close: Number.NaN };
    expect(() => barCodec.copyLine(bad)).toThrow(
      'postgres: bars: AAPL 5m 2024-01-02T14:30:00.000Z revision 1: close is NaN',
    );
    try {
      barCodec.copyLine(bad);
    } catch (error) {
      expect(error).toBeInstanceOf(MlfpError);
      expect(error).toMatchObject({ code: 'sink_rejected', retriable: false, field: 'bars' });
    }
    expect(() => barCodec.copyLine({ ...makeBar('AAPL', T), trades: 1.5 })).toThrow(
      /trades is 1.5, not an integer/,
    );
    expect(() => predictionCodec.copyLine({ ...makePrediction('AAPL', T), latencyMs: Infinity })).toThrow(
      /lgbm-return@1.0.0 AAPL 5m .*latency_ms is Infinity/,
    );
    const columns = TABLES.bars.columns.map(() => []);
    expect(() => barCodec.pushColumns(bad, columns)).toThrow(/close is NaN/);
    expect(() => barCodec.writeBinary(bad, new BinaryCopyWriter())).toThrow(/close is NaN/);
    expect(() =>
      barCodec.writeBinary({ ...makeBar('AAPL', T), revision: 2 ** 31 }, new BinaryCopyWriter()),
    ).toThrow(/revision is 2147483648, not a 32-bit integer/);
    expect(() => alertCodec.writeBinary(makeAlert('x', 9e15), new BinaryCopyWriter())).toThrow(/outside/);
  });

  it('refuses times PostgreSQL cannot store', () => {
    const describe = (row: string): string => row;
    expect(isoTime(-62_135_596_800_000, 'bars', 'r', describe)).toBe('0001-01-01T00:00:00.000Z');
    expect(() => isoTime(-62_135_596_800_001, 'bars', 'r', describe)).toThrow(/outside/);
    expect(() => isoTime(253_402_300_800_000, 'bars', 'r', describe)).toThrow(/outside/);
    expect(() => isoTime(Number.NaN, 'alerts', 'r', describe)).toThrow(/alerts: r: time NaN/);
  });

  it('writes predictions as JSON and alerts with optional message, escaping text', () => {
    const prediction = { ...makePrediction('AAPL', T), output: { label: 'a\tb', score: Number.NaN } };
    expect(fields(predictionCodec.copyLine(prediction))[6]).toBe('{"label":"a\\\\tb","score":null}');
    const alert = { ...makeAlert('sink:postgres', T), message: undefined, value: Number.NaN };
    expect(fields(alertCodec.copyLine(alert))).toEqual([
      'drift',
      'firing',
      'warning',
      'sink:postgres',
      '\\N',
      '0.2',
      '2024-01-02T14:30:00.000Z',
      '\\N',
      // rule, fingerprint, labels, starts_at, annotations: not set outside the alert lifecycle
      '\\N',
      '\\N',
      '\\N',
      '\\N',
      '\\N',
    ]);
    expect(jsonValue({ text: 'nul\0here' })).toBe('{"text":"nul\uFFFDhere"}');
  });

  it('keeps at most maxOriginalBytes of a dead letter original, as hex bytea, with the full length', () => {
    const codec = deadLetterCodec(4);
    const letter = makeDeadLetter(77, 'héllo');
    const line = fields(codec.copyLine({ key: deadLetterKey(letter), letter }));
    expect(line[0]).toBe('kafka:market.ticks:3:77:non_positive_price');
    expect(line[10]).toBe(`\\\\x${Buffer.from('héllo').subarray(0, 4).toString('hex')}`);
    expect(line[11]).toBe(String(Buffer.byteLength('héllo')));
    expect(line[12]).toBe('true');
    const short = fields(deadLetterCodec(64).copyLine({ key: 'k', letter }));
    expect(short[12]).toBe('false');
    const columns: unknown[][] = TABLES.dead_letters.columns.map(() => []);
    codec.pushColumns({ key: 'k', letter }, columns);
    expect(columns[10]).toEqual([Buffer.from('héllo').subarray(0, 4)]);
  });

  it('keys dead letters by source coordinates, file line, or a random id', () => {
    expect(deadLetterKey(makeDeadLetter(5))).toBe('kafka:market.ticks:3:5:non_positive_price');
    expect(
      deadLetterKey({ reason: 'malformed_row', message: 'm', source: { file: 'ticks.csv', line: 12 } }),
    ).toBe('file:ticks.csv:12:malformed_row');
    const a = deadLetterKey({ reason: 'bad_json', message: 'm' });
    expect(a).toMatch(/^random:[0-9a-f-]{36}$/);
    expect(deadLetterKey({ reason: 'bad_json', message: 'm' })).not.toBe(a);
  });
});

describe('latestPerKey', () => {
  it('returns the input itself when no key repeats', () => {
    const rows = [makeBar('A', T), makeBar('B', T), makeBar('A', T + 300_000)];
    expect(latestPerKey(rows, barCodec)).toBe(rows);
  });

  it('keeps the highest revision per key, the later of equal ones, in first-appearance order', () => {
    const rows = [makeBar('A', T, 1), makeBar('B', T, 0), makeBar('A', T, 3), makeBar('A', T, 2)];
    expect(latestPerKey(rows, barCodec)).toEqual([makeBar('A', T, 3), makeBar('B', T, 0)]);
    const equal = [
      { ...makeBar('C', T, 1), close: 1 },
      { ...makeBar('C', T, 1), close: 2 },
    ];
    expect(latestPerKey(equal, barCodec).map((bar) => bar.close)).toEqual([2]);
    const predictions = [makePrediction('A', T), { ...makePrediction('A', T), latencyMs: 9 }];
    expect(latestPerKey(predictions, predictionCodec).map((p) => p.latencyMs)).toEqual([9]);
  });

  it('matches a model of "last write wins unless its revision is lower" on random sequences', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ symbol: fc.constantFrom('A', 'B', 'C'), slot: fc.nat(3), revision: fc.nat(4) }),
          {
            maxLength: 40,
          },
        ),
        (steps) => {
          const rows = steps.map((s, i) => ({
            ...makeBar(s.symbol, T + s.slot * 300_000, s.revision),
            volume: i,
          }));
          const model = new Map<string, (typeof rows)[number]>();
          for (const row of rows) {
            const key = `${row.symbol}|${row.ts}`;
            const held = model.get(key);
            if (held === undefined || row.revision >= held.revision) model.set(key, row);
          }
          const kept = latestPerKey(rows, barCodec);
          expect(new Set(kept.map((row) => `${row.symbol}|${row.ts}`)).size).toBe(kept.length);
          expect([...kept].sort((a, b) => a.volume - b.volume)).toEqual(
            [...model.values()].sort((a, b) => a.volume - b.volume),
          );
        },
      ),
    );
  });
});
