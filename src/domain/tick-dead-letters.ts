// Dead letters for rejected ticks: the letter per reason, bounded renderings of untrusted values (never more
// than 200 characters read, no object serialised), and the key_mismatch letter.

import type { ErrorCode } from '../errors.js';
import type { DeadLetter, SourceRef } from './types.js';

const MAX_DESCRIBED_CHARS = 200;

/** The dead letter of a tick whose Kafka key is not its symbol: key_mismatch, field key, value the key (null for none). */
export function keyMismatchLetter(
  key: Buffer | Uint8Array | null | undefined,
  symbol: string,
  source?: SourceRef,
): DeadLetter {
  const shownSymbol = describeBounded(symbol);
  const letter: DeadLetter = {
    reason: 'key_mismatch',
    field: 'key',
    value: describeKey(key),
    message:
      key === null || key === undefined
        ? `message has no key; the key must be the tick's symbol ${shownSymbol}`
        : `message key is not the tick's symbol ${shownSymbol} (a symbol's ticks must share one partition)`,
  };
  if (source !== undefined) letter.source = source;
  return letter;
}

/** A key as text for a dead letter: "null", or its first 200 bytes as a JSON string (invalid UTF-8 as U+FFFD). */
function describeKey(key: Buffer | Uint8Array | null | undefined): string {
  if (key === null || key === undefined) return 'null';
  const text = LENIENT_UTF8.decode(key.subarray(0, MAX_DESCRIBED_CHARS));
  const shown = describeBounded(text);
  return key.length > MAX_DESCRIBED_CHARS && !shown.endsWith('…') ? `${shown}…` : shown;
}

const LENIENT_UTF8 = new TextDecoder('utf-8');

/** A short rendering that never reads more than 200 characters of a string nor serialises an object. */
export function describeBounded(value: unknown): string {
  if (typeof value === 'string') {
    // slice before stringify: a 100 MB string must not be copied to describe it
    const text = JSON.stringify(value.slice(0, MAX_DESCRIBED_CHARS));
    return text.length > MAX_DESCRIBED_CHARS || value.length > MAX_DESCRIBED_CHARS
      ? `${text.slice(0, MAX_DESCRIBED_CHARS - 1)}…`
      : text;
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  return kindOf(value);
}

/** The kind of a value for messages: "null", "array", "object", "string", "boolean", ... */
export function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

export function badTimeLetter(value: unknown, source: SourceRef | undefined): DeadLetter {
  if (typeof value === 'number' && !Number.isFinite(value))
    return rejectTick('not_finite', 'ts', value, source, 'ts must be finite');
  if (typeof value !== 'number' && typeof value !== 'string')
    return wrongTypeField('ts', value, source, 'epoch ms or an ISO-8601 string');
  return rejectTick(
    'bad_time',
    'ts',
    value,
    source,
    'ts must be epoch ms or ISO-8601 (YYYY-MM-DD[Thh:mm[:ss[.fff]]][Z|±hh:mm]) within 1970..2200',
  );
}

export function missingField(field: string, value: unknown, source: SourceRef | undefined): DeadLetter {
  return rejectTick('missing_field', field, value, source, `${field} is required`);
}

export function wrongTypeField(
  field: string,
  value: unknown,
  source: SourceRef | undefined,
  expected: string,
): DeadLetter {
  return rejectTick('wrong_type', field, value, source, `${field} must be ${expected}, got ${kindOf(value)}`);
}

export function rejectTick(
  reason: ErrorCode,
  field: string | undefined,
  value: unknown,
  source: SourceRef | undefined,
  message: string,
): DeadLetter {
  const letter: DeadLetter = { reason, message };
  if (field !== undefined) letter.field = field;
  if (value !== undefined) letter.value = describeBounded(value);
  if (source !== undefined) letter.source = source;
  return letter;
}
