// PostgresSink through real outages, on a throwaway cluster (the shared PostgreSQL stays up for other runs):
// started while nothing listens, writes wait with health 'retrying', then land with nothing lost once the
// server is there; the same after a fast shutdown in the middle of a run.
import pg from 'pg';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { PostgresSink } from '../../../src/sinks/postgres/postgres-sink.js';
import { batchOf, makeBar, makeFeatures, times } from '../../sinks/records.js';
import { canRunPostgresCluster, freePort, ThrowawayPostgres } from './throwaway-services.js';

const clusters: ThrowawayPostgres[] = [];
afterAll(async () => {
  for (const cluster of clusters) await cluster.drop();
});

async function rowCount(url: string, sql: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return Number((await client.query(sql)).rows[0].n);
  } finally {
    await client.end();
  }
}

describe.skipIf(!canRunPostgresCluster)('postgres sink outage (throwaway cluster)', () => {
  it('waits while the server is away, then writes everything once', { timeout: 120_000 }, async () => {
    const cluster = new ThrowawayPostgres(`mlfp_outage_${process.pid}`, await freePort());
    clusters.push(cluster);
    const config = parseConfig({
      postgres: { url: cluster.url, connectTimeoutMs: 1_000, retry: { initialDelayMs: 50, maxDelayMs: 500 } },
    }).postgres;
    if (config === undefined) throw new Error('no postgres config');
    const sink = new PostgresSink(config);
    const first = times(Date.UTC(2024, 0, 2, 14, 30), 200);
    const second = times(Date.UTC(2024, 0, 3, 14, 30), 200);
    try {
      // 1. nothing listens: start and a write both wait, health says why
      const started = sink.start();
      const written = sink.write(
        batchOf({
          bars: first.map((t) => makeBar('AAPL', t)),
          features: first.map((t) => makeFeatures('AAPL', t)),
        }),
      );
      await vi.waitFor(() => expect(sink.health().state).toBe('retrying'), { timeout: 10_000, interval: 20 });
      expect(sink.health()).toMatchObject({
        pendingRecords: 400,
        lastError: expect.stringMatching(/ECONNREFUSED/),
      });
      expect(sink.health().lastError).not.toMatch(/password/);

      // 2. the server appears: migrations run, the waiting batch lands
      const createStartedAt = Date.now();
      await cluster.create();
      const createdAt = Date.now();
      await Promise.all([started, written]);
      const landedAt = Date.now();
      expect(sink.health()).toMatchObject({ state: 'up', pendingRecords: 0 });
      expect(await rowCount(cluster.url, 'SELECT count(*) AS n FROM mlfp.bars')).toBe(200);

      // 3. a fast shutdown mid-run: the next write waits, then lands after the restart
      await cluster.stop();
      const retriesBefore = sink.health().retries;
      const rewritten = sink.write(
        batchOf({
          bars: [...first.slice(150), ...second].map((t) => makeBar('AAPL', t)),
          features: second.map((t) => makeFeatures('AAPL', t)),
        }),
      );
      await vi.waitFor(() => expect(sink.health().state).toBe('retrying'), { timeout: 10_000, interval: 20 });
      await cluster.start();
      await rewritten;
      expect(sink.health().state).toBe('up');
      expect(sink.health().retries).toBeGreaterThan(retriesBefore);
      expect(await rowCount(cluster.url, 'SELECT count(*) AS n FROM mlfp.bars')).toBe(400);
      expect(await rowCount(cluster.url, 'SELECT count(*) AS n FROM mlfp.features')).toBe(400);
      expect(
        await rowCount(
          cluster.url,
          'SELECT count(*) AS n FROM (SELECT 1 FROM mlfp.bars GROUP BY symbol, timeframe, ts HAVING count(*) > 1) d',
        ),
      ).toBe(0);
      console.info(
        `postgres outage: pg_createcluster --start took ${createdAt - createStartedAt} ms; the waiting batch ` +
          `had landed ${landedAt - createStartedAt} ms after it began (the server accepts connections before it returns)`,
      );
    } finally {
      await sink.close();
    }
  });
});
