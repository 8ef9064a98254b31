import { describe, expect, it } from 'vitest';
import type { Alert } from '../domain/types.js';
import type { ErrorCode } from '../errors.js';
import { DataQualityMonitor } from './data-quality.js';

/** Feeds `windows` windows of 100 records, `bad[i]` of window i rejected with `reason`; returns the alerts. */
function feed(monitor: DataQualityMonitor, bad: readonly number[], reason: ErrorCode = 'late'): Alert[][] {
  const perWindow: Alert[][] = [];
  for (const [window, count] of bad.entries()) {
    const alerts: Alert[] = [];
    for (let index = 0; index < monitor.windowRecords; index++) {
      if (index < count) monitor.reject(reason);
      if (monitor.record()) monitor.closeWindow(1_000 * (window + 1), alerts);
    }
    perWindow.push(alerts);
  }
  return perWindow;
}

describe('DataQualityMonitor', () => {
  it('fires once when a reason reaches its share, stays firing while over half of it, resolves below', () => {
    const monitor = new DataQualityMonitor('source:t[3]', { windowRecords: 100, maxShare: 0.05 });
    const alerts = feed(monitor, [4, 5, 9, 3, 2, 0]);
    expect(alerts.map((a) => a.map((x) => x.state))).toStrictEqual([
      [],
      ['firing'],
      [],
      [],
      ['resolved'],
      [],
    ]);
    expect(alerts[1]![0]).toMatchObject({
      type: 'system',
      severity: 'warning',
      subject: 'source:t[3]:late',
      value: 0.05,
      threshold: 0.05,
      ts: 2_000,
    });
    expect(alerts[1]![0]!.message).toContain('late is 5.0% of the last 100 records');
    expect(alerts[4]![0]).toMatchObject({ state: 'resolved', value: 0.02, ts: 5_000 });
    expect(monitor.degraded).toStrictEqual([]);
  });

  it('reports what is degraded for /readyz while firing', () => {
    const monitor = new DataQualityMonitor('source:t[0]', { windowRecords: 100 });
    feed(monitor, [20]);
    expect(monitor.degraded).toStrictEqual([{ reason: 'late', share: 0.2, bound: 0.05 }]);
    expect(monitor.describe()).toBe('late 20% of the last 100 records (bound 5.0%)');
  });

  it('applies per-reason bounds and keeps reasons apart', () => {
    const monitor = new DataQualityMonitor('s', { windowRecords: 100, maxShareByReason: { bad_json: 0.5 } });
    expect(feed(monitor, [30], 'bad_json').flat()).toStrictEqual([]);
    expect(
      feed(monitor, [6], 'late')
        .flat()
        .map((a) => a.subject),
    ).toStrictEqual(['s:late']);
  });

  it('carries its window and firing reasons through a snapshot', () => {
    const monitor = new DataQualityMonitor('s', { windowRecords: 100 });
    feed(monitor, [10]);
    monitor.reject('late');
    monitor.record();
    const copy = new DataQualityMonitor('s', { windowRecords: 100 });
    copy.restore(JSON.parse(JSON.stringify(monitor.snapshot())));
    expect(copy.snapshot()).toStrictEqual(monitor.snapshot());
    expect(
      feed(copy, [0])
        .flat()
        .map((a) => a.state),
    ).toStrictEqual(['resolved']);
    expect(() =>
      copy.restore({ version: 1, kind: 'mlfp.data-quality', records: 1, counts: [['nope', 1]], firing: [] }),
    ).toThrow(expect.objectContaining({ code: 'snapshot_invalid' }));
  });

  it('checks its options, naming the key', () => {
    expect(() => new DataQualityMonitor('s', { windowRecords: 5 })).toThrow(
      expect.objectContaining({ code: 'config_invalid', field: 'dataQuality.windowRecords' }),
    );
    expect(() => new DataQualityMonitor('s', { maxShareByReason: { lat: 0.1 } })).toThrow(
      expect.objectContaining({ field: 'dataQuality.maxShareByReason.lat' }),
    );
    expect(() => new DataQualityMonitor('s', { maxShare: 2 })).toThrow(
      expect.objectContaining({ field: 'dataQuality.maxShare' }),
    );
  });
});
