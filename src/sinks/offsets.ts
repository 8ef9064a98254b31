// Kafka offsets as the decimal strings the snapshot stores keep: validation, normal form and comparison as
// big integers (offsets reach 2^63 - 1, past JavaScript's exact integers).

import { MlfpError } from '../errors.js';

const MAX_OFFSET = 2n ** 63n - 1n;
const DIGITS = /^\d{1,19}$/;

/** The offset in normal form (no leading zeros); throws snapshot_invalid unless it is an integer in [0, 2^63). */
export function normaliseOffset(offset: string, field = 'offset'): string {
  if (typeof offset !== 'string' || !DIGITS.test(offset))
    throw new MlfpError('snapshot_invalid', `${field} must be a decimal string of 1-19 digits`, {
      field,
      value: offset,
    });
  const value = BigInt(offset);
  if (value > MAX_OFFSET)
    throw new MlfpError('snapshot_invalid', `${field} exceeds 2^63 - 1`, { field, value: offset });
  return value.toString();
}

/** Negative, zero or positive as a < b, a = b, a > b; both in normal form. */
export function compareOffsets(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}
