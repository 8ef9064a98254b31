// The public API's channels: what each carries, who may read it, how a record is named (a stable id that is
// the same in every replay tier and on every instance) and whether a slow consumer may get only the latest
// value per key (conflation: feature vectors and predictions; bars and alerts are never conflated).

import type { Alert, Bar, FeatureVector, Prediction, Timeframe } from '../domain/types.js';
import type { Role } from '../security/roles.js';

export const CHANNELS = [
  'bars.5m',
  'bars.1h',
  'bars.1d',
  'features.5m',
  'features.1h',
  'features.1d',
  'predictions',
  'alerts',
] as const;

export type Channel = (typeof CHANNELS)[number];

export type ChannelRecord = Bar | FeatureVector | Prediction | Alert;

/** The weakest role that may subscribe: read_only → bars, features, alerts; analyst → also predictions. */
export function requiredRole(channel: Channel): Role {
  return channel === 'predictions' ? 'analyst' : 'read_only';
}

/** Market data past a subscriber's soft byte budget is conflated to the latest value per key. */
export function conflatable(channel: Channel): boolean {
  return channel.startsWith('features.') || channel === 'predictions';
}

export function isChannel(value: unknown): value is Channel {
  return typeof value === 'string' && (CHANNELS as readonly string[]).includes(value);
}

export const barChannel = (timeframe: Timeframe): Channel => `bars.${timeframe}`;
export const featuresChannel = (timeframe: Timeframe): Channel => `features.${timeframe}`;

/**
 * The stable id of a record: bar:<symbol>:<tf>:<bar start ms>:<revision>,
 * features:<symbol>:<tf>:<bar start ms>:<revision>, <model>:<version>:<symbol>:<tf>:<bar start ms> for a
 * prediction, alert:<type>:<subject>:<state>:<ts> for an alert.
 */
export function recordId(channel: Channel, record: ChannelRecord): string {
  if (channel === 'alerts') {
    const alert = record as Alert;
    return `alert:${alert.type}:${alert.subject}:${alert.state}:${alert.ts}`;
  }
  if (channel === 'predictions') {
    const p = record as Prediction;
    return `${p.model}:${p.version}:${p.symbol}:${p.timeframe}:${p.ts}`;
  }
  const r = record as Bar | FeatureVector;
  return `${channel.startsWith('bars.') ? 'bar' : 'features'}:${r.symbol}:${r.timeframe}:${r.ts}:${r.revision}`;
}

/** The symbol a record is about ('' for alerts, which a symbol filter never hides). */
export function recordSymbol(channel: Channel, record: ChannelRecord): string {
  return channel === 'alerts' ? '' : (record as Bar).symbol;
}

/** The key conflation keeps the latest value of: symbol (and model for predictions). */
export function conflationKey(channel: Channel, record: ChannelRecord): string {
  return channel === 'predictions'
    ? `${(record as Prediction).symbol}|${(record as Prediction).model}`
    : (record as Bar).symbol;
}

/** A record as JSON-ready data (feature vectors: named columns, not a Float64Array). */
export function recordData(
  channel: Channel,
  record: ChannelRecord,
  columns: readonly string[],
): Record<string, unknown> {
  if (!channel.startsWith('features.')) return record as unknown as Record<string, unknown>;
  const vector = record as FeatureVector;
  const values: Record<string, number | null> = {};
  for (let index = 0; index < columns.length; index++) {
    const v = vector.values[index]!;
    values[columns[index]!] = Number.isFinite(v) ? v : null;
  }
  return {
    symbol: vector.symbol,
    timeframe: vector.timeframe,
    ts: vector.ts,
    revision: vector.revision,
    close: vector.close,
    values,
  };
}
