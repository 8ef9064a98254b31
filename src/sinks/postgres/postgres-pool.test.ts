import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { createPool } from './postgres-pool.js';

const settings = {
  url: 'postgres://u:secret@127.0.0.1:1/db',
  poolSize: 2,
  statementTimeoutMs: 1_000,
  connectTimeoutMs: 100,
};

describe('postgres pool', () => {
  it('reports errors of idle and of checked-out clients instead of leaving them unhandled', async () => {
    const seen: string[] = [];
    const pool = createPool(settings, (error) => seen.push(error.message));
    try {
      pool.emit('error', new Error('idle client lost'));
      // a client in use has no pg-pool listener: the server going away mid-COPY emits 'error' on it, which
      // threw (and ended the engine process) when nobody listened (found by the end-to-end PostgreSQL outage test)
      const client = new EventEmitter();
      pool.emit('connect', client);
      expect(() =>
        client.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })),
      ).not.toThrow();
      expect(seen).toEqual(['idle client lost', 'write EPIPE']);
    } finally {
      await pool.end();
    }
  });
});
