// Reads the arrays of plain objects inside a snapshot (SnapshotReader reads one flat object): a bad element
// field is a snapshot_invalid error naming its path, e.g. `entries[3].closeT`, so a corrupt snapshot is
// refused whole before any state is built from it.

import { MlfpError } from '../../errors.js';
import type { SnapshotReader } from '../../indicators/snapshot-codec.js';

/** The array in `field` of an already checked snapshot object, at most `maxLength` long. */
export function arrayField(
  reader: SnapshotReader,
  raw: unknown,
  field: string,
  maxLength: number,
): unknown[] {
  const value = (raw as Record<string, unknown>)[field];
  if (!Array.isArray(value)) reader.fail(field, 'not an array');
  if (value.length > maxLength) reader.fail(field, `more than ${maxLength} elements`);
  return value;
}

/** One object of a snapshot array; every accessor throws snapshot_invalid naming `path.field`. */
export class ItemReader {
  private readonly record: Record<string, unknown>;

  constructor(
    private readonly kind: string,
    raw: unknown,
    private readonly path: string,
  ) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      throw new MlfpError('snapshot_invalid', `${kind} snapshot: ${path}: not an object`, {
        field: path,
        value: raw,
      });
    this.record = raw as Record<string, unknown>;
  }

  fail(field: string, why: string): never {
    throw new MlfpError('snapshot_invalid', `${this.kind} snapshot: ${this.path}.${field}: ${why}`, {
      field: `${this.path}.${field}`,
      value: this.record[field],
    });
  }

  has(field: string): boolean {
    return this.record[field] !== undefined;
  }

  raw(field: string): unknown {
    return this.record[field];
  }

  string(field: string, maxLength = 1_000): string {
    const value = this.record[field];
    if (typeof value !== 'string' || value.length === 0 || value.length > maxLength)
      this.fail(field, `not a string of 1 to ${maxLength} characters`);
    return value;
  }

  integer(field: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const value = this.record[field];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
      this.fail(field, `not an integer in [${min}, ${max}]`);
    return value;
  }

  finite(field: string, min: number, max: number): number {
    const value = this.record[field];
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max)
      this.fail(field, `not a finite number in [${min}, ${max}]`);
    return value;
  }

  /** A double written by encodeNumber (NaN and infinities as their names). */
  number(field: string): number {
    const value = this.record[field];
    if (typeof value === 'number') return value;
    if (value === 'NaN') return Number.NaN;
    if (value === 'Infinity') return Number.POSITIVE_INFINITY;
    if (value === '-Infinity') return Number.NEGATIVE_INFINITY;
    return this.fail(field, 'not a number');
  }

  choice<T extends string>(field: string, allowed: readonly T[]): T {
    const value = this.record[field];
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value))
      this.fail(field, `expected one of ${allowed.join(', ')}`);
    return value as T;
  }
}
