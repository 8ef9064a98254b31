// The ways a batch of rows is merged into a table, all inside the caller's transaction: COPY (binary or text
// format, streamed through pg-copy-streams) into a session TEMP staging table then one INSERT … SELECT … ON
// CONFLICT, or one INSERT … SELECT FROM unnest($1::type[], …) ON CONFLICT per chunk of rows.
// benchmarks/postgres.bench.ts measures them against multi-row and single-row INSERTs.

import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { BinaryCopyWriter } from './postgres-binary.js';
import type { RowCodec } from './postgres-rows.js';
import {
  copyIntoStageSql,
  createStageTableSql,
  mergeFromArraysSql,
  mergeFromStageSql,
  TABLES,
} from './postgres-tables.js';

/** copy = binary COPY (the default: measured fastest), copy-text = text COPY, unnest = array parameters */
export type WriteMethod = 'copy' | 'copy-text' | 'unnest';
export type CopyFormat = 'binary' | 'text';

/** COPY data is sent in pieces of about this many characters (bounded memory, the event loop breathes). */
const COPY_PIECE_CHARS = 64 * 1024;
/** UNNEST parameters are built for at most this many rows per statement. */
export const UNNEST_CHUNK_ROWS = 5_000;

/** Creates the session's staging tables (once per connection; they live as long as it does). */
export async function createStageTables(client: pg.ClientBase): Promise<void> {
  for (const spec of Object.values(TABLES)) await client.query(createStageTableSql(spec));
}

function* binaryPieces<R>(rows: readonly R[], codec: RowCodec<R>): Generator<Buffer> {
  const writer = new BinaryCopyWriter();
  for (const row of rows) {
    codec.writeBinary(row, writer);
    if (writer.pendingBytes > 0) yield* writer.take();
  }
  writer.finish();
  yield* writer.take();
}

function* textPieces<R>(rows: readonly R[], codec: RowCodec<R>): Generator<string> {
  let piece = '';
  for (const row of rows) {
    piece += codec.copyLine(row);
    if (piece.length >= COPY_PIECE_CHARS) {
      yield piece;
      piece = '';
    }
  }
  if (piece !== '') yield piece;
}

/**
 * COPY `rows` into the staging table and merge them into the table. Needs an open transaction (the staging rows
 * vanish at its end) and createStageTables on this connection. `rows` must hold each key once (latestPerKey).
 */
export async function mergeWithCopy<R>(
  client: pg.ClientBase,
  schema: string,
  codec: RowCodec<R>,
  rows: readonly R[],
  format: CopyFormat = 'binary',
): Promise<number> {
  if (rows.length === 0) return 0;
  const copy = client.query(copyFrom(copyIntoStageSql(codec.spec, format)));
  const pieces = format === 'binary' ? binaryPieces(rows, codec) : textPieces(rows, codec);
  // an encoding error (a record refused) destroys the COPY, which sends CopyFail: the transaction stays usable
  await pipeline(Readable.from(pieces, { objectMode: false }), copy);
  const result = await client.query(mergeFromStageSql(schema, codec.spec));
  return result.rowCount ?? 0;
}

/** Merge `rows` through UNNEST of one array parameter per column, `chunkRows` rows per statement. */
export async function mergeWithUnnest<R>(
  client: pg.ClientBase,
  schema: string,
  codec: RowCodec<R>,
  rows: readonly R[],
  chunkRows = UNNEST_CHUNK_ROWS,
): Promise<number> {
  const sql = mergeFromArraysSql(schema, codec.spec);
  let written = 0;
  for (let start = 0; start < rows.length; start += chunkRows) {
    const end = Math.min(rows.length, start + chunkRows);
    const columns: unknown[][] = codec.spec.columns.map(() => []);
    for (let i = start; i < end; i++) codec.pushColumns(rows[i] as R, columns);
    const result = await client.query(sql, columns);
    written += result.rowCount ?? 0;
  }
  return written;
}
