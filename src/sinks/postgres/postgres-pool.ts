// The pg connection pool from the engine's `postgres` config (TLS, timeouts, application name) and a URL form
// that is safe to print: the password never reaches a log line or a health message.

import pg from 'pg';
import { redactUrl } from '../../config/redact.js';
import type { PostgresConfig, TlsConfig } from '../../config/schema.js';

export { redactUrl };

/** node's tls options from the config form (true = verify against the system CAs). */
export function tlsOptions(tls: TlsConfig | undefined): boolean | Record<string, unknown> | undefined {
  if (tls === undefined || typeof tls === 'boolean') return tls;
  const options: Record<string, unknown> = { rejectUnauthorized: tls.rejectUnauthorized };
  if (tls.ca !== undefined) options['ca'] = tls.ca;
  if (tls.cert !== undefined) options['cert'] = tls.cert;
  if (tls.key !== undefined) options['key'] = tls.key;
  if (tls.servername !== undefined) options['servername'] = tls.servername;
  return options;
}

export type PoolSettings = Pick<
  PostgresConfig,
  'url' | 'ssl' | 'poolSize' | 'statementTimeoutMs' | 'connectTimeoutMs'
>;

/**
 * A pool whose connection errors are reported to `onError` instead of crashing the process: pg emits them on
 * the pool for an idle client, and on the client itself while it is checked out (a server that goes away in
 * the middle of a COPY: EPIPE, ECONNRESET), where pg-pool listens for nothing and an unhandled 'error' event
 * would end the process. The query in flight fails as well, and its caller's retry loop takes over.
 * `sslmode` in the URL overrides `ssl`.
 */
export function createPool(settings: PoolSettings, onError: (error: Error) => void): pg.Pool {
  const ssl = tlsOptions(settings.ssl);
  const pool = new pg.Pool({
    connectionString: settings.url,
    ...(ssl === undefined ? {} : { ssl: ssl as pg.PoolConfig['ssl'] }),
    max: settings.poolSize,
    connectionTimeoutMillis: settings.connectTimeoutMs,
    statement_timeout: settings.statementTimeoutMs === 0 ? undefined : settings.statementTimeoutMs,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    application_name: 'mlfp-engine',
  });
  pool.on('error', onError);
  pool.on('connect', (client) => client.on('error', onError));
  return pool;
}
