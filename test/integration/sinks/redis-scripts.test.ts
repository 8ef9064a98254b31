// The monotone Lua scripts run on the real Redis against random write sequences: whatever the order, the stored
// latest value is the greatest (ts, revision) written (the later of equal ones), and the stored snapshot offset
// is the greatest offset saved, compared as a 63-bit integer.
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { defineMonotoneCommands, monotonePipeline } from '../../../src/sinks/redis/redis-scripts.js';
import { uniqueSuffix } from '../../sinks/records.js';

const services = inject('services');
const prefix = `mlfp-it-lua-${uniqueSuffix()}`;
const redis = new Redis(services.redisUrl, { lazyConnect: true });

beforeAll(async () => {
  await redis.connect();
  defineMonotoneCommands(redis);
});
afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

describe('monotone Lua scripts', () => {
  it('latest value: the greatest (ts, revision) wins, equal ones rewrite, TTL set', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            ts: fc.integer({ min: 1_700_000_000_000, max: 1_700_000_000_004 }),
            revision: fc.nat(3),
          }),
          {
            minLength: 1,
            maxLength: 30,
          },
        ),
        async (writes) => {
          const key = `${prefix}:latest:${run++}`;
          const pipeline = monotonePipeline(redis);
          writes.forEach((w, i) =>
            pipeline.mlfpSetLatest(
              key,
              w.ts,
              w.revision,
              60,
              'ts',
              String(w.ts),
              'revision',
              String(w.revision),
              'n',
              String(i),
            ),
          );
          const results = await pipeline.exec();
          let best = -1;
          const expectedResults = writes.map((w, i) => {
            const held = writes[best];
            if (held === undefined || w.ts > held.ts || (w.ts === held.ts && w.revision >= held.revision)) {
              best = i;
              return 1;
            }
            return 0;
          });
          expect(results?.map(([error, result]) => (error === null ? result : error))).toEqual(
            expectedResults,
          );
          expect(await redis.hget(key, 'n')).toBe(String(best));
          expect(await redis.ttl(key)).toBeGreaterThan(0);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('snapshot: the greatest offset wins, compared as a big integer', async () => {
    let run = 0;
    const offsets = fc.oneof(
      fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }),
      fc.bigInt({ min: 2n ** 53n - 3n, max: 2n ** 53n + 3n }),
      fc.bigInt({ min: 0n, max: 20n }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(offsets, { minLength: 1, maxLength: 20 }), async (saves) => {
        const key = `${prefix}:snapshot:${run++}`;
        const pipeline = monotonePipeline(redis);
        saves.forEach((offset, i) =>
          pipeline.mlfpSaveSnapshot(key, offset.toString(), `{"i":${i}}`, 1, 'g', 't', 0),
        );
        await pipeline.exec();
        const max = saves.reduce((a, b) => (b > a ? b : a));
        expect(await redis.hget(key, 'offset')).toBe(max.toString());
        // the state saved with it: the last save at the maximum offset (equal offsets rewrite)
        const state = JSON.parse((await redis.hget(key, 'state')) ?? 'null') as { i: number };
        expect(saves[state.i]).toBe(max);
        expect(saves.slice(state.i + 1).every((offset) => offset < max)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });
});
