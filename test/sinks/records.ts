// Output records for sink tests: bars, feature vectors, predictions, alerts and dead letters with values that
// differ per symbol and time (so a row written to the wrong key or from the wrong revision is caught).

import { FEATURE_COUNT } from '../../src/domain/types.js';
import type { Alert, Bar, DeadLetter, FeatureVector, Prediction, Timeframe } from '../../src/domain/types.js';
import { emptyBatch, type OutputBatch } from '../../src/sinks/sink.js';

const STEP_MS: Record<Timeframe, number> = { '5m': 300_000, '1h': 3_600_000, '1d': 86_400_000 };

/** A price that depends on the symbol, the time and the revision. */
function price(symbol: string, ts: number, revision: number): number {
  let seed = 0;
  for (let i = 0; i < symbol.length; i++) seed = (seed * 31 + symbol.charCodeAt(i)) % 1000;
  return 10 + seed / 7 + ((ts / 300_000) % 97) * 0.25 + revision * 0.01;
}

export function makeBar(symbol: string, ts: number, revision = 0, timeframe: Timeframe = '5m'): Bar {
  const close = price(symbol, ts, revision);
  return {
    symbol,
    timeframe,
    ts,
    end: ts + STEP_MS[timeframe],
    open: close - 0.5,
    high: close + 1.25,
    low: close - 1.75,
    close,
    volume: 1000 + revision * 10 + (ts % 7),
    vwap: close - 0.125,
    trades: 17 + revision,
    revision,
  };
}

/** Feature values; the first `undefinedCount` columns are NaN (warm-up). */
export function makeFeatures(
  symbol: string,
  ts: number,
  revision = 0,
  undefinedCount = 0,
  timeframe: Timeframe = '5m',
): FeatureVector {
  const close = price(symbol, ts, revision);
  const values = new Float64Array(FEATURE_COUNT);
  for (let i = 0; i < FEATURE_COUNT; i++)
    values[i] = i < undefinedCount ? Number.NaN : close * (i + 1) * 1e-3 - i;
  return { symbol, timeframe, ts, revision, close, values };
}

export function makePrediction(
  symbol: string,
  ts: number,
  model = 'lgbm-return',
  version = '1.0.0',
): Prediction {
  return {
    symbol,
    timeframe: '5m',
    ts,
    model,
    version,
    kind: 'classifier',
    output: { label: 'up', p_up: 0.625, p_down: 0.375 },
    latencyMs: 1.5,
  };
}

export function makeAlert(subject: string, ts: number, state: Alert['state'] = 'firing'): Alert {
  return {
    type: 'drift',
    state,
    severity: 'warning',
    subject,
    value: 0.31,
    threshold: 0.2,
    ts,
    message: `psi of ${subject} above threshold`,
  };
}

export function makeDeadLetter(
  offset: number,
  original: string | Uint8Array = '{"symbol":"AAPL","price":-1}',
): DeadLetter {
  return {
    reason: 'non_positive_price',
    field: 'price',
    value: '-1',
    message: 'price must be positive',
    source: { topic: 'market.ticks', partition: 3, offset: String(offset) },
    original,
  };
}

export function batchOf(parts: Partial<OutputBatch>): OutputBatch {
  return { ...emptyBatch(), ...parts };
}

/** `count` consecutive 5m bar times from `startMs`. */
export function times(startMs: number, count: number, stepMs = 300_000): number[] {
  return Array.from({ length: count }, (_, i) => startMs + i * stepMs);
}

/** A random suffix for per-test names (schemas, topics, key prefixes) on the shared services. */
export function uniqueSuffix(): string {
  return `${process.pid}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`;
}
