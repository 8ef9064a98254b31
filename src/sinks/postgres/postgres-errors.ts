// Which PostgreSQL failures pass on retry (the server or the network is away, a transient conflict) and which are
// final (the data or the schema is wrong), as one MlfpError naming the table and, for COPY, the record.

import { MlfpError, isMlfpError } from '../../errors.js';
import { UNREACHABLE_SOCKET_CODES } from '../retrier.js';

/** SQLSTATE classes and codes worth retrying the whole (idempotent) batch transaction for. */
const RETRIABLE_CLASSES = new Set(['08', '53']); // connection exception, insufficient resources (53300 too many connections)
const RETRIABLE_CODES = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available
  '57014', // query_canceled (statement_timeout): the server was too slow this time
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, recovering)
  '57P05', // idle_session_timeout
  '25006', // read_only_sql_transaction: writing to a standby during a failover
  '58030', // io_error
]);

/** node-postgres and pg-pool errors without a code that mean "the connection went away". */
const RETRIABLE_MESSAGES = [
  /Connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /Connection ended unexpectedly/i,
  /Client has encountered a connection error/i,
  /server closed the connection unexpectedly/i,
  /terminating connection/i,
];

export interface PostgresErrorFields {
  code?: string;
  detail?: string;
  where?: string;
  table?: string;
  column?: string;
  constraint?: string;
}

export function isRetriablePostgresError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as PostgresErrorFields).code;
  if (typeof code === 'string') {
    if (code.length === 5 && /^[0-9A-Z]{5}$/.test(code))
      return RETRIABLE_CODES.has(code) || RETRIABLE_CLASSES.has(code.slice(0, 2));
    if (UNREACHABLE_SOCKET_CODES.has(code)) return true;
  }
  const message = error instanceof Error ? error.message : '';
  if (RETRIABLE_MESSAGES.some((pattern) => pattern.test(message))) return true;
  // an AggregateError (several addresses refused) is retriable when all its parts are
  if (error instanceof AggregateError)
    return error.errors.length > 0 && error.errors.every(isRetriablePostgresError);
  return false;
}

export interface FailureContext {
  /** the engine table the statement wrote, when known */
  table?: string;
  /** names the record at a COPY line (1-based), when the error points at one */
  describeLine?: (line: number) => string | undefined;
}

/**
 * Wraps a pg / socket error: sink_unavailable (retriable) for outages, sink_rejected (final) for data and
 * schema errors, with the SQLSTATE, the table and the record when PostgreSQL names a COPY line.
 */
export function classifyPostgresError(error: unknown, context: FailureContext = {}): MlfpError {
  if (isMlfpError(error)) return error;
  const fields = (typeof error === 'object' && error !== null ? error : {}) as PostgresErrorFields;
  const message = error instanceof Error ? error.message : String(error);
  const state = typeof fields.code === 'string' ? ` (${fields.code})` : '';
  const where = context.table === undefined ? '' : ` writing ${context.table}`;
  if (isRetriablePostgresError(error))
    return new MlfpError('sink_unavailable', `postgres${where}: ${message}${state}`, {
      cause: error,
      retriable: true,
    });
  let record: string | undefined;
  const line = /COPY \S+, line (\d+)/.exec(fields.where ?? '')?.[1];
  if (line !== undefined) record = context.describeLine?.(Number(line));
  const detail = fields.detail === undefined ? '' : ` — ${fields.detail}`;
  return new MlfpError(
    'sink_rejected',
    `postgres${where} refused the batch: ${message}${state}${detail}${record === undefined ? '' : ` at ${record}`}`,
    { cause: error, retriable: false, field: context.table, value: record },
  );
}
