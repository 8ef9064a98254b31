import { describe, expect, it } from 'vitest';
import { MlfpError } from '../../errors.js';
import { classifyPostgresError, isRetriablePostgresError } from './postgres-errors.js';
import { chooseMode } from './postgres-migrations.js';
import { redactUrl } from './postgres-pool.js';

const pgError = (code: string, message = 'x', extra: Record<string, string> = {}): Error =>
  Object.assign(new Error(message), { code, ...extra });

describe('postgres error classification', () => {
  it('retries outages and transient conflicts', () => {
    for (const code of [
      '08006',
      '08001',
      '57P01',
      '57P03',
      '53300',
      '40001',
      '40P01',
      '57014',
      'ECONNREFUSED',
      'ECONNRESET',
    ])
      expect(isRetriablePostgresError(pgError(code)), code).toBe(true);
    expect(isRetriablePostgresError(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isRetriablePostgresError(new Error('timeout exceeded when trying to connect'))).toBe(true);
    expect(
      isRetriablePostgresError(new AggregateError([pgError('ECONNREFUSED'), pgError('ECONNREFUSED')])),
    ).toBe(true);
  });

  it('does not retry data, constraint, schema or permission errors', () => {
    for (const code of ['22003', '22P02', '23502', '23505', '23514', '42P01', '42501', '28P01'])
      expect(isRetriablePostgresError(pgError(code)), code).toBe(false);
    expect(isRetriablePostgresError(new TypeError('x is not a function'))).toBe(false);
    expect(isRetriablePostgresError('ECONNREFUSED')).toBe(false);
  });

  it('names the table and the COPY record in a final error', () => {
    const error = classifyPostgresError(
      pgError('22003', 'value "3000000000" is out of range for type integer', {
        where: 'COPY mlfp_stage_bars, line 2, column revision: "3000000000"',
      }),
      { table: 'bars', describeLine: (line) => `record ${line}` },
    );
    expect(error).toBeInstanceOf(MlfpError);
    expect(error).toMatchObject({
      code: 'sink_rejected',
      retriable: false,
      field: 'bars',
      value: '"record 2"',
    });
    expect(error.message).toBe(
      'postgres writing bars refused the batch: value "3000000000" is out of range for type integer (22003) at record 2',
    );
    expect(
      classifyPostgresError(pgError('57P01', 'terminating connection due to administrator command')),
    ).toMatchObject({
      code: 'sink_unavailable',
      retriable: true,
    });
    const own = new MlfpError('sink_rejected', 'mine');
    expect(classifyPostgresError(own)).toBe(own);
  });

  it('never shows the password of a URL', () => {
    expect(redactUrl('postgres://engine:s3cr%21t@db.example:5432/mlfp?sslmode=require')).toBe(
      'postgres://engine:***@db.example:5432/mlfp?sslmode=require',
    );
    expect(redactUrl('postgres://engine@db/mlfp')).toBe('postgres://engine@db/mlfp');
    expect(redactUrl('redis://:hunter2@cache:6379')).toBe('redis://:***@cache:6379');
    expect(redactUrl('not a url//user:pw@host')).not.toContain('pw');
  });
});

describe('partitioning mode', () => {
  const none = { installed: false, available: false, preloaded: false };
  it('uses TimescaleDB when installed or preloadable, native otherwise, unless configured', () => {
    expect(chooseMode('auto', none)).toBe('native');
    expect(chooseMode('auto', { installed: false, available: true, preloaded: false })).toBe('native');
    expect(chooseMode('auto', { installed: false, available: true, preloaded: true })).toBe('timescaledb');
    expect(chooseMode('auto', { installed: true, available: true, preloaded: true })).toBe('timescaledb');
    expect(chooseMode('native', { installed: true, available: true, preloaded: true })).toBe('native');
    expect(() => chooseMode('timescaledb', { installed: false, available: true, preloaded: false })).toThrow(
      /not in shared_preload_libraries/,
    );
    expect(() => chooseMode('timescaledb', none)).toThrow(/not available on this server/);
  });
});
