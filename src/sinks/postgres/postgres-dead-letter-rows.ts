// Dead letters as rows of the dead_letters table: the idempotency key each is stored under, and their codec
// (text bounded, the original kept up to maxOriginalBytes, source coordinates NULL when out of range).

import { randomUUID } from 'node:crypto';
import type { DeadLetter } from '../../domain/types.js';
import type { RowCodec } from './postgres-row-codec.js';
import { TABLES } from './postgres-tables.js';
import { arrayText, copyText, isInt4, NULL_TEXT } from './postgres-values.js';

/** A dead letter with the idempotency key it is stored under. */
export interface KeyedDeadLetter {
  key: string;
  letter: DeadLetter;
}

/** The original bytes of a dead letter (strings as UTF-8). */
export function originalBytes(original: Uint8Array | string | undefined): Buffer | undefined {
  if (original === undefined) return undefined;
  return typeof original === 'string'
    ? Buffer.from(original, 'utf8')
    : Buffer.from(original.buffer, original.byteOffset, original.byteLength);
}

/**
 * The key a dead letter is stored under: its source coordinates and reason when known (a replay rewrites the
 * same row), else a fresh random id (nothing identifies it across a replay).
 */
export function deadLetterKey(letter: DeadLetter): string {
  const source = letter.source;
  if (source?.topic !== undefined && source.partition !== undefined && source.offset !== undefined)
    return `kafka:${source.topic}:${source.partition}:${source.offset}:${letter.reason}`;
  if (source?.file !== undefined && source.line !== undefined)
    return `file:${source.file}:${source.line}:${letter.reason}`;
  return `random:${randomUUID()}`;
}

const MAX_TEXT = 4_000;
const bounded = (text: string): string => (text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text);
const OFFSET = /^\d{1,19}$/;
const INT8_MAX = 2n ** 63n - 1n;

/** Dead letters keep up to `maxOriginalBytes` of their original; `original_bytes` has the full length. */
export function deadLetterCodec(maxOriginalBytes: number): RowCodec<KeyedDeadLetter> {
  const parts = ({ letter }: KeyedDeadLetter) => {
    const bytes = originalBytes(letter.original);
    const kept = bytes === undefined ? undefined : bytes.subarray(0, maxOriginalBytes);
    const source = letter.source;
    return {
      bytes,
      kept,
      partition: isInt4(source?.partition) ? (source?.partition as number) : null,
      offset:
        source?.offset !== undefined && OFFSET.test(source.offset) && BigInt(source.offset) <= INT8_MAX
          ? source.offset
          : null,
      line: isInt4(source?.line) ? (source?.line as number) : null,
    };
  };
  return {
    spec: TABLES.dead_letters,
    keyOf: (row) => row.key,
    copyLine(row) {
      const { letter } = row;
      const p = parts(row);
      const t = (text: string | undefined): string =>
        text === undefined ? NULL_TEXT : copyText(bounded(text));
      return (
        `${copyText(row.key)}\t${copyText(letter.reason)}\t${t(letter.field)}\t${t(letter.value)}\t` +
        `${t(letter.message)}\t${t(letter.source?.topic)}\t${p.partition ?? NULL_TEXT}\t${p.offset ?? NULL_TEXT}\t` +
        `${t(letter.source?.file)}\t${p.line ?? NULL_TEXT}\t` +
        `${p.kept === undefined ? NULL_TEXT : `\\\\x${p.kept.toString('hex')}`}\t` +
        `${p.bytes === undefined ? NULL_TEXT : p.bytes.length}\t` +
        `${p.bytes !== undefined && p.bytes.length > maxOriginalBytes}\n`
      );
    },
    pushColumns(row, c) {
      const { letter } = row;
      const p = parts(row);
      const t = (text: string | undefined): string | null =>
        text === undefined ? null : arrayText(bounded(text));
      (c[0] as unknown[]).push(arrayText(row.key));
      (c[1] as unknown[]).push(letter.reason);
      (c[2] as unknown[]).push(t(letter.field));
      (c[3] as unknown[]).push(t(letter.value));
      (c[4] as unknown[]).push(t(letter.message));
      (c[5] as unknown[]).push(t(letter.source?.topic));
      (c[6] as unknown[]).push(p.partition);
      (c[7] as unknown[]).push(p.offset);
      (c[8] as unknown[]).push(t(letter.source?.file));
      (c[9] as unknown[]).push(p.line);
      (c[10] as unknown[]).push(p.kept === undefined ? null : Buffer.from(p.kept));
      (c[11] as unknown[]).push(p.bytes === undefined ? null : p.bytes.length);
      (c[12] as unknown[]).push(p.bytes !== undefined && p.bytes.length > maxOriginalBytes);
    },
    writeBinary(row, w) {
      const { letter } = row;
      const p = parts(row);
      const t = (text: string | undefined): void => (text === undefined ? w.null() : w.text(bounded(text)));
      const n = (value: number | null, write: (value: number) => void): void =>
        value === null ? w.null() : write(value);
      w.row(13);
      w.text(row.key);
      w.text(letter.reason);
      t(letter.field);
      t(letter.value);
      t(letter.message);
      t(letter.source?.topic);
      n(p.partition, (value) => w.int4(value));
      if (p.offset === null) w.null();
      else w.int8Decimal(p.offset);
      t(letter.source?.file);
      n(p.line, (value) => w.int4(value));
      if (p.kept === undefined) w.null();
      else w.bytea(p.kept);
      n(p.bytes === undefined ? null : p.bytes.length, (value) => w.int4(value));
      w.bool(p.bytes !== undefined && p.bytes.length > maxOriginalBytes);
    },
    describe: (row) => `dead letter ${row.key}`,
  };
}
