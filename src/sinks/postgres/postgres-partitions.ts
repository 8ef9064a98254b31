// Native range partitioning (PostgreSQL without TimescaleDB): one partition per UTC month per time table,
// created on demand before a write that needs it, under an advisory lock so instances do not race. The DEFAULT
// partition is the safety net; rows that landed there are moved into the month's partition when it is created.

import type pg from 'pg';
import type { TableName } from './postgres-tables.js';
import { qualified, quoteIdentifier, quoteLiteral } from './postgres-tables.js';

/** Second key space of pg_advisory_xact_lock(int, int) for partition DDL ("mlfq"). */
export const PARTITION_LOCK_CLASS = 0x6d6c6671;
const CHECK_VIOLATION = '23514';
const NAME = /^(.+)_p(\d{4})_(\d{2})$/;

/** Months since year 0: year * 12 + month (0-based), in UTC. */
export function monthIndex(ms: number): number {
  const date = new Date(ms);
  return date.getUTCFullYear() * 12 + date.getUTCMonth();
}

export function monthStartMs(index: number): number {
  const date = new Date(0);
  date.setUTCFullYear(Math.floor(index / 12), index % 12, 1);
  return date.getTime();
}

export function partitionName(table: TableName, month: number): string {
  const year = String(Math.floor(month / 12)).padStart(4, '0');
  const monthOfYear = String((month % 12) + 1).padStart(2, '0');
  return `${table}_p${year}_${monthOfYear}`;
}

const bound = (month: number): string => quoteLiteral(new Date(monthStartMs(month)).toISOString());

export function createPartitionSql(schema: string, table: TableName, month: number): string {
  return (
    `CREATE TABLE IF NOT EXISTS ${qualified(schema, partitionName(table, month))} PARTITION OF ` +
    `${qualified(schema, table)} FOR VALUES FROM (${bound(month)}) TO (${bound(month + 1)})`
  );
}

/** Creates the month's partition from rows that fell into DEFAULT: detached table, move, attach. */
export function moveFromDefaultSql(schema: string, table: TableName, month: number): string[] {
  const partition = qualified(schema, partitionName(table, month));
  const parent = qualified(schema, table);
  const fallback = qualified(schema, `${table}_default`);
  return [
    `CREATE TABLE ${partition} (LIKE ${parent} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`,
    `WITH moved AS (DELETE FROM ${fallback} WHERE ${quoteIdentifier('ts')} >= ${bound(month)} AND ` +
      `${quoteIdentifier('ts')} < ${bound(month + 1)} RETURNING *) INSERT INTO ${partition} SELECT * FROM moved`,
    `ALTER TABLE ${parent} ATTACH PARTITION ${partition} FOR VALUES FROM (${bound(month)}) TO (${bound(month + 1)})`,
  ];
}

/** Collects the distinct months of many times; a run of times in one month costs one comparison each. */
export class MonthCollector {
  readonly months = new Set<number>();
  private startMs = Number.POSITIVE_INFINITY;
  private endMs = Number.NEGATIVE_INFINITY;

  add(ms: number): void {
    if (ms >= this.startMs && ms < this.endMs) return;
    // out-of-range times are refused by the row encoder, naming the record
    if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) return;
    const month = monthIndex(ms);
    this.months.add(month);
    this.startMs = monthStartMs(month);
    this.endMs = monthStartMs(month + 1);
  }
}

export class PartitionManager {
  private readonly known = new Map<TableName, Set<number>>();

  constructor(
    private readonly schema: string,
    tables: readonly TableName[],
  ) {
    for (const table of tables) this.known.set(table, new Set());
  }

  /** Reads the partitions that exist (other instances may have created some). */
  async load(client: pg.ClientBase): Promise<void> {
    const result = await client.query<{ child: string }>(
      `SELECT child.relname AS child
         FROM pg_inherits i
         JOIN pg_class parent ON parent.oid = i.inhparent
         JOIN pg_class child ON child.oid = i.inhrelid
         JOIN pg_namespace n ON n.oid = parent.relnamespace
        WHERE n.nspname = $1 AND parent.relname = ANY($2::text[])`,
      [this.schema, [...this.known.keys()]],
    );
    for (const { child } of result.rows) {
      const match = NAME.exec(child);
      if (match === null) continue;
      const months = this.known.get(match[1] as TableName);
      months?.add(Number(match[2]) * 12 + Number(match[3]) - 1);
    }
  }

  /** The months of `needed` that have no partition yet, per table. */
  missing(table: TableName, needed: ReadonlySet<number>): number[] {
    const known = this.known.get(table);
    if (known === undefined) return [];
    return [...needed].filter((month) => !known.has(month)).sort((a, b) => a - b);
  }

  /** Creates the partitions `needed` lacks (each in its own short transaction). */
  async ensure(client: pg.ClientBase, table: TableName, needed: ReadonlySet<number>): Promise<number> {
    const months = this.missing(table, needed);
    for (const month of months) {
      await this.create(client, table, month);
      this.known.get(table)?.add(month);
    }
    return months.length;
  }

  private async create(client: pg.ClientBase, table: TableName, month: number): Promise<void> {
    try {
      await this.locked(client, [createPartitionSql(this.schema, table, month)]);
    } catch (error) {
      // the DEFAULT partition holds rows of this month: move them into the new partition instead
      if ((error as { code?: string }).code !== CHECK_VIOLATION) throw error;
      await this.locked(client, moveFromDefaultSql(this.schema, table, month));
    }
  }

  private async locked(client: pg.ClientBase, statements: readonly string[]): Promise<void> {
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [
        PARTITION_LOCK_CLASS,
        this.schema,
      ]);
      for (const statement of statements) await client.query(statement);
      await client.query('COMMIT');
    } catch (error) {
      // the statement's error is the one to report; a failed ROLLBACK means the connection is gone anyway
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }
}
