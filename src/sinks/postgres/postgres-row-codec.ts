// How one table's records become rows (RowCodec: COPY text, COPY binary, UNNEST columns), and the in-batch
// de-duplication an ON CONFLICT statement needs (one row per key per statement).

import type { BinaryCopyWriter } from './postgres-binary.js';
import type { TableSpec } from './postgres-tables.js';

/** How one table's records become rows. */
export interface RowCodec<R> {
  spec: TableSpec;
  keyOf(row: R): string;
  /** rows with a revision: the highest wins (equal: the later one) */
  revisionOf?: (row: R) => number;
  /** one line of COPY text format, newline-terminated */
  copyLine(row: R): string;
  /** one tuple of COPY binary format */
  writeBinary(row: R, writer: BinaryCopyWriter): void;
  /** appends the row's values to one array per column (UNNEST parameters) */
  pushColumns(row: R, columns: unknown[][]): void;
  /** a short description naming the record, for error messages */
  describe(row: R): string;
}

/**
 * One row per key, as a single INSERT … ON CONFLICT must have: the highest revision wins, equal revisions (or
 * tables without one) keep the later record. Returns `rows` itself when no key repeats. Order: first appearance.
 */
export function latestPerKey<R>(rows: readonly R[], codec: RowCodec<R>): readonly R[] {
  if (rows.length < 2) return rows;
  const positions = new Map<string, number>();
  const kept: R[] = [];
  const revisionOf = codec.revisionOf;
  for (const row of rows) {
    const key = codec.keyOf(row);
    const at = positions.get(key);
    if (at === undefined) {
      positions.set(key, kept.length);
      kept.push(row);
    } else if (revisionOf === undefined || revisionOf(row) >= revisionOf(kept[at] as R)) kept[at] = row;
  }
  return kept.length === rows.length ? rows : kept;
}
