// Plain-JSON snapshots of indicator state: doubles round-trip exactly through JSON (non-finite values are
// written as strings, since JSON has none), and restore rejects anything malformed with 'snapshot_invalid'.

import { MlfpError } from '../errors.js';

/** A double as written into a snapshot: itself when finite, else its name (JSON has no NaN/Infinity). */
export type SnapshotNumber = number | 'NaN' | 'Infinity' | '-Infinity';

export function encodeNumber(value: number): SnapshotNumber {
  if (Number.isFinite(value)) return value;
  if (Number.isNaN(value)) return 'NaN';
  return value > 0 ? 'Infinity' : '-Infinity';
}

export function encodeNumbers(values: Float64Array, start = 0, end = values.length): SnapshotNumber[] {
  const encoded: SnapshotNumber[] = [];
  for (let i = start; i < end; i++) encoded.push(encodeNumber(values[i] as number));
  return encoded;
}

function decodeNumber(raw: unknown): number | undefined {
  if (typeof raw === 'number') return raw;
  if (raw === 'NaN') return Number.NaN;
  if (raw === 'Infinity') return Number.POSITIVE_INFINITY;
  if (raw === '-Infinity') return Number.NEGATIVE_INFINITY;
  return undefined;
}

/** Reads one snapshot object field by field; every accessor throws MlfpError('snapshot_invalid') on bad input. */
export class SnapshotReader {
  private readonly record: Record<string, unknown>;

  constructor(
    raw: unknown,
    private readonly kind: string,
    version: number,
  ) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      throw new MlfpError('snapshot_invalid', `${kind} snapshot: not an object`, { value: raw });
    this.record = raw as Record<string, unknown>;
    if (this.record['kind'] !== kind) this.fail('kind', `expected "${kind}"`);
    if (this.record['version'] !== version) this.fail('version', `unsupported version, expected ${version}`);
  }

  fail(field: string, why: string): never {
    throw new MlfpError('snapshot_invalid', `${this.kind} snapshot: ${field}: ${why}`, {
      field,
      value: this.record[field],
    });
  }

  /** Any double (NaN and infinities included, since poisoned state must still round-trip). */
  number(field: string): number {
    const value = decodeNumber(this.record[field]);
    if (value === undefined) this.fail(field, 'not a number');
    return value;
  }

  integer(field: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const value = this.record[field];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
      this.fail(field, `not an integer in [${min}, ${max}]`);
    return value;
  }

  /** A finite double in [min, max]: for parameters, where NaN would silently break every later value. */
  finite(field: string, min: number, max: number): number {
    const value = this.record[field];
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max)
      this.fail(field, `not a finite number in [${min}, ${max}]`);
    return value;
  }

  boolean(field: string): boolean {
    const value = this.record[field];
    if (typeof value !== 'boolean') this.fail(field, 'not a boolean');
    return value;
  }

  choice<T extends string>(field: string, allowed: readonly T[]): T {
    const value = this.record[field];
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value))
      this.fail(field, `expected one of ${allowed.join(', ')}`);
    return value as T;
  }

  /** Copies an array of exactly `length` numbers into target[offset..]. */
  numbers(field: string, length: number, target: Float64Array, offset = 0): void {
    const value = this.record[field];
    if (!Array.isArray(value) || value.length !== length) this.fail(field, `expected ${length} numbers`);
    for (let i = 0; i < length; i++) {
      const decoded = decodeNumber(value[i]);
      if (decoded === undefined) this.fail(field, `element ${i} is not a number`);
      target[offset + i] = decoded;
    }
  }
}
