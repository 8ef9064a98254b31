// The labels, model_performance and alert-lifecycle codecs without a database: one field per column in every
// write method, the same NULLs in each, classes and values in their own columns, non-finite doubles as NULL,
// unwritable records refused naming them. test/integration/sinks/postgres-monitoring.test.ts reads them back.
import { describe, expect, it } from 'vitest';
import type { Alert, LabelRecord, PerformanceRecord } from '../../domain/types.js';
import { MlfpError } from '../../errors.js';
import { BinaryCopyWriter } from './postgres-binary.js';
import { alertCodec, labelCodec, latestPerKey, performanceCodec, type RowCodec } from './postgres-rows.js';

const T = Date.UTC(2024, 0, 2, 14, 30);
const HEADER_BYTES = 19;

const label = (overrides: Partial<LabelRecord> = {}): LabelRecord => ({
  symbol: 'AAPL',
  timeframe: '5m',
  ts: T,
  model: 'lgbm-return',
  version: '1.0.0',
  kind: 'classifier',
  horizonBars: 3,
  labelTs: T + 900_000,
  state: 'labelled',
  revision: 0,
  realisedReturn: 0.0125,
  actual: 'up',
  predicted: 'down',
  ...overrides,
});

const performance = (overrides: Partial<PerformanceRecord> = {}): PerformanceRecord => ({
  model: 'lgbm-return',
  version: '1.0.0',
  kind: 'classifier',
  timeframe: '5m',
  ts: T,
  count: 250,
  metrics: { accuracy: 0.1 + 0.2, macro_f1: 0.5, sharpe: Number.NaN },
  errorDrift: { statistic: 1.25, threshold: 50, alarm: false },
  ...overrides,
});

const lifecycleAlert: Alert = {
  type: 'performance',
  state: 'firing',
  severity: 'critical',
  subject: 'lgbm-return@1.0.0',
  value: 0.41,
  threshold: 0.5,
  ts: T,
  rule: 'AccuracyLow',
  labels: { alertname: 'AccuracyLow', model: 'lgbm-return', note: 'tab\there' },
  fingerprint: '9f86d081884c7d65',
  startsAt: T,
  annotations: { summary: 'accuracy 0.41 < 0.5' },
};

const fields = (line: string): string[] => line.replace(/\n$/, '').split('\t');

/** One binary tuple split into its fields (null for NULL). */
function binaryFields<R>(codec: RowCodec<R>, row: R): (Buffer | null)[] {
  const writer = new BinaryCopyWriter();
  codec.writeBinary(row, writer);
  writer.finish();
  const bytes = Buffer.concat(writer.take());
  const count = bytes.readInt16BE(HEADER_BYTES);
  const out: (Buffer | null)[] = [];
  let at = HEADER_BYTES + 2;
  for (let i = 0; i < count; i++) {
    const length = bytes.readInt32BE(at);
    at += 4;
    if (length < 0) out.push(null);
    else {
      out.push(bytes.subarray(at, at + length));
      at += length;
    }
  }
  expect(bytes.readInt16BE(at)).toBe(-1);
  return out;
}

function unnestFields<R>(codec: RowCodec<R>, row: R): unknown[] {
  const columns: unknown[][] = codec.spec.columns.map(() => []);
  codec.pushColumns(row, columns);
  return columns.map((column) => {
    expect(column).toHaveLength(1);
    return column[0];
  });
}

/** Every write method gives one field per column, NULL in the same columns, and NULL only where allowed. */
function expectSameShape<R>(codec: RowCodec<R>, row: R): string[] {
  const text = fields(codec.copyLine(row));
  const binary = binaryFields(codec, row);
  const unnest = unnestFields(codec, row);
  const width = codec.spec.columns.length;
  expect([text.length, binary.length, unnest.length]).toEqual([width, width, width]);
  const nulls = text.map((field) => field === '\\N');
  expect(binary.map((field) => field === null)).toEqual(nulls);
  expect(unnest.map((field) => field === null)).toEqual(nulls);
  codec.spec.columns.forEach((column, i) => {
    if (nulls[i] === true) expect(column.nullable, column.name).toBe(true);
  });
  return text;
}

const column = <R>(codec: RowCodec<R>, text: string[], name: string): string | undefined =>
  text[codec.spec.columns.findIndex((c) => c.name === name)];

describe('labels codec', () => {
  it('writes a classifier label: classes in *_class, values NULL, every column in order', () => {
    expect(expectSameShape(labelCodec, label())).toEqual([
      'AAPL',
      '5m',
      '2024-01-02T14:30:00.000Z',
      'lgbm-return',
      '1.0.0',
      'classifier',
      '3',
      '2024-01-02T14:45:00.000Z',
      'labelled',
      '\\N',
      '0',
      '0.0125',
      'up',
      '\\N',
      'down',
      '\\N',
    ]);
  });

  it('writes a regressor label: numbers in *_value; NaN and Infinity as NULL', () => {
    const text = expectSameShape(labelCodec, label({ kind: 'regressor', actual: 0.0031, predicted: -0.002 }));
    expect(text.slice(12)).toEqual(['\\N', '0.0031', '\\N', '-0.002']);
    const infinite = expectSameShape(
      labelCodec,
      label({ kind: 'regressor', actual: Number.POSITIVE_INFINITY, predicted: Number.NaN }),
    );
    expect(infinite.slice(12)).toEqual(['\\N', '\\N', '\\N', '\\N']);
  });

  it('writes an expired label: reason set, return and actual NULL', () => {
    const text = expectSameShape(
      labelCodec,
      label({ state: 'expired', reason: 'timeout', realisedReturn: Number.NaN, actual: null }),
    );
    expect(column(labelCodec, text, 'state')).toBe('expired');
    expect(column(labelCodec, text, 'reason')).toBe('timeout');
    expect(column(labelCodec, text, 'realised_return')).toBe('\\N');
    expect(text.slice(12)).toEqual(['\\N', '\\N', 'down', '\\N']);
  });

  it('refuses a label it cannot store in every write method, naming it', () => {
    const bad: [Partial<LabelRecord>, RegExp][] = [
      [{ ts: Number.NaN }, /time NaN is outside/],
      [{ labelTs: Number.POSITIVE_INFINITY }, /time Infinity is outside/],
      [{ horizonBars: 1.5 }, /horizon_bars is 1.5, not a 32-bit integer/],
      [{ revision: 2 ** 31 }, /revision is 2147483648, not a 32-bit integer/],
    ];
    for (const [overrides, message] of bad) {
      const row = label(overrides);
      const columns = labelCodec.spec.columns.map(() => []);
      for (const write of [
        () => labelCodec.copyLine(row),
        () => labelCodec.pushColumns(row, columns),
        () => labelCodec.writeBinary(row, new BinaryCopyWriter()),
      ]) {
        expect(write).toThrow(message);
        expect(write).toThrow(/^postgres: labels: lgbm-return@1\.0\.0 AAPL 5m /);
        try {
          write();
        } catch (error) {
          expect(error).toBeInstanceOf(MlfpError);
          expect(error).toMatchObject({ code: 'sink_rejected', retriable: false, field: 'labels' });
        }
      }
    }
  });

  it('keeps the highest revision of a key within a batch', () => {
    const rows = [label({ revision: 1 }), label({ symbol: 'MSFT' }), label({ revision: 0, actual: 'flat' })];
    expect(latestPerKey(rows, labelCodec)).toEqual([label({ revision: 1 }), label({ symbol: 'MSFT' })]);
    const otherModel = [label(), label({ version: '2.0.0' })];
    expect(latestPerKey(otherModel, labelCodec)).toBe(otherModel);
  });
});

describe('model_performance codec', () => {
  it('writes metrics as jsonb (NaN as null) and the error drift columns', () => {
    const text = expectSameShape(performanceCodec, performance());
    expect(text).toEqual([
      'lgbm-return',
      '1.0.0',
      'classifier',
      '5m',
      '2024-01-02T14:30:00.000Z',
      '250',
      '{"accuracy":0.30000000000000004,"macro_f1":0.5,"sharpe":null}',
      '1.25',
      '50',
      'false',
    ]);
    const binary = binaryFields(performanceCodec, performance());
    expect(binary[6]?.toString('utf8')).toBe(`\u0001${text[6]}`);
    expect(binary[9]).toEqual(Buffer.from([0]));
  });

  it('writes non-finite drift numbers as NULL and refuses a bad time or count', () => {
    const record = performance({
      errorDrift: { statistic: Number.NaN, threshold: Number.POSITIVE_INFINITY, alarm: true },
    });
    expect(expectSameShape(performanceCodec, record).slice(7)).toEqual(['\\N', '\\N', 'true']);
    expect(() => performanceCodec.copyLine(performance({ ts: Number.NaN }))).toThrow(
      /^postgres: model_performance: lgbm-return@1\.0\.0 5m NaN: time NaN is outside/,
    );
    expect(() => performanceCodec.writeBinary(performance({ count: -0.5 }), new BinaryCopyWriter())).toThrow(
      /count is -0.5, not a 32-bit integer/,
    );
  });
});

describe('alert lifecycle columns', () => {
  it('writes rule, fingerprint, labels, starts_at and annotations after the original columns', () => {
    const text = expectSameShape(alertCodec, lifecycleAlert);
    expect(text.slice(7)).toEqual([
      '\\N',
      'AccuracyLow',
      '9f86d081884c7d65',
      '{"alertname":"AccuracyLow","model":"lgbm-return","note":"tab\\\\there"}',
      '2024-01-02T14:30:00.000Z',
      '{"summary":"accuracy 0.41 < 0.5"}',
    ]);
  });

  it('leaves them NULL for an alert raised outside the lifecycle, or with a non-finite start', () => {
    const { rule, labels, fingerprint, startsAt, annotations, ...plain } = lifecycleAlert;
    expect([rule, labels, fingerprint, startsAt, annotations].every((v) => v !== undefined)).toBe(true);
    expect(expectSameShape(alertCodec, plain).slice(8)).toEqual(['\\N', '\\N', '\\N', '\\N', '\\N']);
    const nanStart = expectSameShape(alertCodec, { ...lifecycleAlert, startsAt: Number.NaN });
    expect(nanStart[11]).toBe('\\N');
    expect(() => alertCodec.copyLine({ ...lifecycleAlert, startsAt: 9e15 })).toThrow(
      /alerts: performance firing lgbm-return@1.0.0 .*: time 9000000000000000 is outside/,
    );
  });
});
