// Option checks shared by the drift detectors: a bad option is a config_invalid error naming its key, thrown
// once in a constructor, never on the hot path.

import type { SnapshotReader } from '../../indicators/snapshot-codec.js';
import { MlfpError } from '../../errors.js';

export function checkInteger(
  field: string,
  value: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (!(Number.isInteger(value) && value >= min && value <= max))
    throw new MlfpError('config_invalid', `${field} must be an integer in [${min}, ${max}]`, {
      field,
      value,
    });
  return value;
}

/** A finite number in [min, max] (inclusive unless `exclusiveMin`). */
export function checkNumber(
  field: string,
  value: number,
  min: number,
  max: number,
  exclusiveMin = false,
): number {
  const aboveMin = exclusiveMin ? value > min : value >= min;
  if (!(Number.isFinite(value) && aboveMin && value <= max))
    throw new MlfpError(
      'config_invalid',
      `${field} must be a finite number in ${exclusiveMin ? '(' : '['}${min}, ${max}]`,
      { field, value },
    );
  return value;
}

/** A constructor's config_invalid met while restoring a snapshot: snapshot_invalid, naming the option. */
export function asSnapshotError(kind: string, error: unknown): MlfpError {
  const cause = error as Partial<MlfpError>;
  const field =
    typeof cause.field === 'string' ? cause.field.slice(cause.field.lastIndexOf('.') + 1) : undefined;
  return new MlfpError('snapshot_invalid', `${kind} snapshot: ${cause.message ?? String(error)}`, {
    field,
    value: cause.value,
    cause: error,
  });
}

/** The part of a sliding-window detector's snapshot every detector shares: its reference and window options. */
export interface WindowSnapshotOptions {
  window: number;
  minCount: number;
  every: number;
}

/**
 * Reads a sliding-window detector snapshot's reference fingerprint (it must be `fingerprint`) and window
 * options; snapshot_invalid (through `reader`) names the first bad field.
 */
export function readWindowSnapshot(
  reader: SnapshotReader,
  snapshot: unknown,
  fingerprint: string,
  maxWindow: number,
): WindowSnapshotOptions {
  if ((snapshot as Record<string, unknown>)['reference'] !== fingerprint)
    reader.fail('reference', `taken against another reference (expected ${fingerprint})`);
  const window = reader.integer('window', 2, maxWindow);
  return {
    window,
    minCount: reader.integer('minCount', 2, window),
    every: reader.integer('every', 1, maxWindow),
  };
}

/** Builds a detector from restored options; an option the constructor refuses becomes snapshot_invalid. */
export function restoredWith<T>(kind: string, build: () => T): T {
  try {
    return build();
  } catch (error) {
    throw asSnapshotError(kind, error);
  }
}
