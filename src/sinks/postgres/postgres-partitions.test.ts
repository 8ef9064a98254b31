import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MonthCollector,
  createPartitionSql,
  monthIndex,
  monthStartMs,
  moveFromDefaultSql,
  partitionName,
} from './postgres-partitions.js';

describe('monthly partitions', () => {
  it('maps times to UTC months and back', () => {
    const march2024 = monthIndex(Date.UTC(2024, 2, 31, 23, 59, 59, 999));
    expect(march2024).toBe(2024 * 12 + 2);
    expect(monthStartMs(march2024)).toBe(Date.UTC(2024, 2, 1));
    expect(monthStartMs(march2024 + 1)).toBe(Date.UTC(2024, 3, 1));
    expect(monthIndex(Date.UTC(2024, 3, 1))).toBe(march2024 + 1);
    expect(partitionName('bars', march2024)).toBe('bars_p2024_03');
    expect(partitionName('features', monthIndex(Date.UTC(2015, 11, 5)))).toBe('features_p2015_12');
    fc.assert(
      fc.property(fc.integer({ min: -2_000_000_000_000, max: 4_000_000_000_000 }), (ms) => {
        const month = monthIndex(ms);
        expect(monthStartMs(month)).toBeLessThanOrEqual(ms);
        expect(ms).toBeLessThan(monthStartMs(month + 1));
      }),
    );
  });

  it('creates a partition for [month start, next month start), in UTC', () => {
    expect(createPartitionSql('mlfp', 'bars', 2024 * 12 + 11)).toBe(
      `CREATE TABLE IF NOT EXISTS "mlfp"."bars_p2024_12" PARTITION OF "mlfp"."bars" ` +
        `FOR VALUES FROM ('2024-12-01T00:00:00.000Z') TO ('2025-01-01T00:00:00.000Z')`,
    );
    const move = moveFromDefaultSql('mlfp', 'alerts', 2024 * 12);
    expect(move[0]).toBe(
      'CREATE TABLE "mlfp"."alerts_p2024_01" (LIKE "mlfp"."alerts" INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
    );
    expect(move[1]).toContain(
      'DELETE FROM "mlfp"."alerts_default" WHERE "ts" >= \'2024-01-01T00:00:00.000Z\'',
    );
    expect(move[2]).toContain('ATTACH PARTITION "mlfp"."alerts_p2024_01" FOR VALUES FROM');
  });

  it('collects the distinct months of a batch and skips invalid times', () => {
    const collector = new MonthCollector();
    for (const ms of [
      Date.UTC(2024, 0, 31, 23),
      Date.UTC(2024, 0, 2),
      Date.UTC(2024, 1, 1),
      Date.UTC(2015, 5, 1),
    ])
      collector.add(ms);
    collector.add(Number.NaN);
    collector.add(1e20);
    expect([...collector.months].sort()).toEqual([2015 * 12 + 5, 2024 * 12, 2024 * 12 + 1].sort());
  });
});
