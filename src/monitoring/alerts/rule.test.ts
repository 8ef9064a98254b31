import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Alert } from '../../domain/types.js';
import { MlfpError } from '../../errors.js';
import { alertmanagerLabels } from './alertmanager.js';
import { alertFingerprint } from './fingerprint.js';
import { AlertRule, type AlertRuleSpec } from './rule.js';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;

const spec = (overrides: Partial<AlertRuleSpec> = {}): AlertRuleSpec => ({
  name: 'FeatureDrift',
  type: 'drift',
  severity: 'warning',
  forMs: MINUTE,
  keepFiringForMs: 0,
  fireAt: 0.25,
  resolveBelow: 0.2,
  ...overrides,
});

const MODEL = { subject: 'lgbm-return@1.0.0', feature: 'rsi_14' };

/** Observes `value` (undefined: nothing observed) for `labels`, then evaluates, at each `[ms, value]`. */
function run(
  rule: AlertRule,
  steps: ReadonlyArray<readonly [number, number | undefined]>,
  labels: Record<string, string> = MODEL,
): Alert[] {
  const alerts: Alert[] = [];
  for (const [nowMs, value] of steps) {
    if (value !== undefined) rule.observe(labels, value, nowMs);
    rule.evaluate(nowMs, (alert) => alerts.push(alert));
  }
  return alerts;
}

/** One step every `everyMs` from `startMs`, one value each. */
const series = (startMs: number, everyMs: number, values: ReadonlyArray<number | undefined>) =>
  values.map((value, index) => [startMs + index * everyMs, value] as const);

const brief = (alerts: readonly Alert[]) => alerts.map((alert) => [alert.state, alert.ts]);

describe('AlertRule lifecycle', () => {
  it('is pending for forMs, then fires once and resolves once (startsAt kept)', () => {
    const rule = new AlertRule(spec({ description: 'PSI of a feature against its training sample' }));
    const alerts = run(rule, series(0, 30 * SECOND, [0.3, 0.3, 0.3, 0.4, 0.3, 0.1, 0.1]));
    expect(brief(alerts)).toStrictEqual([
      ['firing', 60_000],
      ['resolved', 150_000],
    ]);
    const [firing, resolved] = alerts as [Alert, Alert];
    const fingerprint = alertFingerprint(
      alertmanagerLabels({
        rule: 'FeatureDrift',
        type: 'drift',
        severity: 'warning',
        subject: MODEL.subject,
        labels: MODEL,
      }),
    );
    expect(firing).toStrictEqual({
      type: 'drift',
      state: 'firing',
      severity: 'warning',
      subject: 'lgbm-return@1.0.0',
      value: 0.3,
      threshold: 0.25,
      ts: 60_000,
      message: 'FeatureDrift lgbm-return@1.0.0: 0.3 >= 0.25',
      rule: 'FeatureDrift',
      labels: MODEL,
      fingerprint,
      startsAt: 60_000,
      annotations: { description: 'PSI of a feature against its training sample' },
    });
    expect(resolved).toMatchObject({
      state: 'resolved',
      value: 0.1,
      ts: 150_000,
      startsAt: 60_000,
      fingerprint,
      message: 'FeatureDrift lgbm-return@1.0.0 resolved: 0.1 < 0.2',
    });
  });

  it('fires at the first evaluation that sees the condition when forMs is 0', () => {
    const rule = new AlertRule(spec({ forMs: 0 }));
    expect(brief(run(rule, [[5, 0.25]]))).toStrictEqual([['firing', 5]]);
  });

  it('cancels a pending alert whose condition breaks, without a word, and starts over', () => {
    const rule = new AlertRule(spec());
    // pending at 0, broken at 30 s (0.22 < fireAt), pending again at 60 s: fires at 120 s, not 60 s
    const alerts = run(rule, series(0, 30 * SECOND, [0.3, 0.22, 0.3, 0.3, 0.3]));
    expect(brief(alerts)).toStrictEqual([['firing', 120_000]]);
  });

  it('keeps firing for keepFiringForMs of clear values; a value back in the band restarts the wait', () => {
    const rule = new AlertRule(spec({ forMs: 0, keepFiringForMs: 2 * MINUTE }));
    // clear at 1 min, 2 min; 0.22 (in the band, not clear) at 3 min; clear from 4 min: resolves at 6 min
    const alerts = run(rule, series(0, MINUTE, [0.3, 0.1, 0.1, 0.22, 0.1, 0.1, 0.1, 0.1]));
    expect(brief(alerts)).toStrictEqual([
      ['firing', 0],
      ['resolved', 6 * MINUTE],
    ]);
  });

  it('does not flap while the value hovers between resolveBelow and fireAt (it would without hysteresis)', () => {
    const hovering = Array.from({ length: 200 }, (_, index) => [0.24, 0.26, 0.21, 0.249][index % 4]!);
    const withHysteresis = new AlertRule(spec({ forMs: 0 }));
    expect(brief(run(withHysteresis, series(0, SECOND, [0.3, ...hovering])))).toStrictEqual([['firing', 0]]);
    expect(withHysteresis.active()).toMatchObject([{ state: 'firing', since: 0, value: 0.249 }]);
    const without = new AlertRule(spec({ forMs: 0, resolveBelow: 0.25 }));
    expect(run(without, series(0, SECOND, [0.3, ...hovering])).length).toBeGreaterThan(100);
  });

  it('resolves a firing alert whose label set is no longer observed (stale), and forgets it', () => {
    const rule = new AlertRule(spec({ forMs: 0 }));
    expect(rule.staleAfterMs).toBe(5 * MINUTE); // 5 × max(forMs, 60 s)
    const alerts = run(rule, [
      [0, 0.3],
      [MINUTE, undefined],
      [5 * MINUTE - 1, undefined],
      [5 * MINUTE, undefined],
      [6 * MINUTE, undefined],
    ]);
    expect(brief(alerts)).toStrictEqual([
      ['firing', 0],
      ['resolved', 5 * MINUTE],
    ]);
    expect(alerts[1]).toMatchObject({ value: 0.3, startsAt: 0, message: expect.stringContaining('no data') });
    expect(rule.size).toBe(0);
  });

  it('takes NaN as no data: it never fires, cancels pending, and does not resolve a firing alert until stale', () => {
    const rule = new AlertRule(spec({ forMs: MINUTE, staleAfterMs: 10 * MINUTE }));
    expect(run(rule, [[0, Number.NaN]])).toStrictEqual([]);
    expect(rule.size).toBe(0); // a label set first seen without data is not tracked
    // pending at 1 min, NaN at 1.5 min cancels it
    expect(
      run(rule, [
        [MINUTE, 0.3],
        [1.5 * MINUTE, Number.NaN],
        [2 * MINUTE, 0.3],
      ]),
    ).toStrictEqual([]);
    expect(rule.active()).toMatchObject([{ state: 'pending', since: 2 * MINUTE }]);
    const alerts = run(rule, [
      [3 * MINUTE, 0.3], // fires
      [4 * MINUTE, Number.NaN], // no data: keeps firing (keepFiringForMs is 0, yet nothing resolves)
      [12 * MINUTE, Number.NaN],
      [13 * MINUTE, Number.NaN], // 10 min after the last number: stale
    ]);
    expect(brief(alerts)).toStrictEqual([
      ['firing', 3 * MINUTE],
      ['resolved', 13 * MINUTE],
    ]);
    expect(alerts[1]!.value).toBe(0.3);
  });

  it("fires on low values with direction 'below' (resolveBelow is then the upper bound)", () => {
    const rule = new AlertRule(
      spec({
        name: 'LowHitRate',
        type: 'performance',
        forMs: 0,
        fireAt: 0.5,
        resolveBelow: 0.6,
        direction: 'below',
      }),
    );
    const alerts = run(rule, series(0, SECOND, [0.7, 0.5, 0.55, 0.45, 0.6, 0.61, 0.4]));
    expect(brief(alerts)).toStrictEqual([
      ['firing', 1_000],
      ['resolved', 5_000],
      ['firing', 6_000],
    ]);
    expect(alerts[0]!.message).toBe('LowHitRate lgbm-return@1.0.0: 0.5 <= 0.5');
  });

  it('keeps label sets apart: one fingerprint each, subject from the subject label', () => {
    const rule = new AlertRule(spec({ forMs: 0 }));
    const a = { subject: 'model-a@1', feature: 'x' };
    const b = { feature: 'x', subject: 'model-b@1' };
    rule.observe(a, 0.3, 0);
    rule.observe(b, 0.1, 0);
    rule.observe({ subject: 'model-a@1', feature: 'x' }, 0.3, 0); // the same label set as a
    const alerts: Alert[] = [];
    rule.evaluate(0, (alert) => alerts.push(alert));
    expect(alerts.map((alert) => alert.subject)).toStrictEqual(['model-a@1']);
    expect(rule.size).toBe(2);
    rule.observe({ feature: 'y' }, 0.9, 1);
    rule.evaluate(1, (alert) => alerts.push(alert));
    expect(alerts[1]!.subject).toBe('FeatureDrift'); // no subject label: the rule's name
    expect(new Set(alerts.map((alert) => alert.fingerprint)).size).toBe(2);
    expect(rule.active().map((active) => active.labels)).toStrictEqual([a, { feature: 'y' }]);
  });

  it('counts observations beyond maxLabelSets and says so with its own system alert', () => {
    const rule = new AlertRule(spec({ forMs: 0, maxLabelSets: 2, staleAfterMs: MINUTE }));
    const alerts: Alert[] = [];
    const emit = (alert: Alert): number => alerts.push(alert);
    for (const subject of ['a', 'b', 'c', 'd']) rule.observe({ subject }, 0.1, 0);
    rule.evaluate(0, emit);
    expect(rule.overflow).toBe(2);
    expect(alerts).toMatchObject([
      {
        type: 'system',
        state: 'firing',
        subject: 'rule:FeatureDrift',
        rule: 'AlertRuleLabelSetsOverflow',
        value: 2,
        threshold: 2,
      },
    ]);
    rule.observe({ subject: 'a' }, 0.1, 30 * SECOND); // a tracked label set: no overflow
    rule.evaluate(30 * SECOND, emit);
    expect(alerts).toHaveLength(1); // still full: keeps firing
    rule.evaluate(61 * SECOND, emit); // b went stale: room again
    expect(alerts.map((alert) => alert.state)).toStrictEqual(['firing', 'resolved']);
    expect(alerts[1]).toMatchObject({ startsAt: 0, ts: 61 * SECOND, fingerprint: alerts[0]!.fingerprint });
  });
});

describe('AlertRule config', () => {
  const fieldOf = (overrides: Partial<AlertRuleSpec>): string | undefined => {
    try {
      new AlertRule(spec(overrides));
    } catch (error) {
      expect(error).toBeInstanceOf(MlfpError);
      expect((error as MlfpError).code).toBe('config_invalid');
      return (error as MlfpError).field;
    }
    return undefined;
  };

  it('names the key at fault', () => {
    expect(fieldOf({ name: '' })).toBe('alerts.rules.name');
    expect(fieldOf({ type: 'nope' as never })).toBe('alerts.rules.FeatureDrift.type');
    expect(fieldOf({ severity: 'page' as never })).toBe('alerts.rules.FeatureDrift.severity');
    expect(fieldOf({ forMs: -1 })).toBe('alerts.rules.FeatureDrift.forMs');
    expect(fieldOf({ keepFiringForMs: Number.NaN })).toBe('alerts.rules.FeatureDrift.keepFiringForMs');
    expect(fieldOf({ fireAt: Number.POSITIVE_INFINITY })).toBe('alerts.rules.FeatureDrift.fireAt');
    expect(fieldOf({ resolveBelow: 0.3 })).toBe('alerts.rules.FeatureDrift.resolveBelow');
    expect(fieldOf({ direction: 'below', resolveBelow: 0.2 })).toBe('alerts.rules.FeatureDrift.resolveBelow');
    expect(fieldOf({ direction: 'sideways' as never })).toBe('alerts.rules.FeatureDrift.direction');
    expect(fieldOf({ staleAfterMs: 0 })).toBe('alerts.rules.FeatureDrift.staleAfterMs');
    expect(fieldOf({ maxLabelSets: 1.5 })).toBe('alerts.rules.FeatureDrift.maxLabelSets');
    expect(fieldOf({ resolveBelow: 0.25 })).toBeUndefined(); // no hysteresis is allowed
    expect(fieldOf({ direction: 'below', resolveBelow: 0.3 })).toBeUndefined();
  });
});

describe('AlertRule invariants', () => {
  it('emits, per label set, firing and resolved strictly in turn, each resolution carrying its startsAt', () => {
    const step = fc.record({
      label: fc.constantFrom('a', 'b', 'c'),
      value: fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constant(Number.NaN)),
      gapMs: fc.integer({ min: 0, max: 3 * MINUTE }),
      observe: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.array(step, { maxLength: 200 }),
        fc.integer({ min: 0, max: 2 * MINUTE }),
        fc.integer({ min: 0, max: 2 * MINUTE }),
        (steps, forMs, keepFiringForMs) => {
          const rule = new AlertRule(spec({ forMs, keepFiringForMs }));
          const last = new Map<string, Alert>();
          let nowMs = 0;
          for (const { label, value, gapMs, observe } of steps) {
            nowMs += gapMs;
            if (observe) rule.observe({ subject: label }, value, nowMs);
            rule.evaluate(nowMs, (alert) => {
              const previous = last.get(alert.subject);
              if (alert.state === 'firing') {
                expect(previous?.state ?? 'resolved').toBe('resolved');
                expect(alert.value).toBeGreaterThanOrEqual(0.25);
                expect(alert.startsAt).toBe(nowMs);
              } else {
                expect(previous?.state).toBe('firing');
                expect(alert.startsAt).toBe(previous!.startsAt);
                expect(alert.ts).toBeGreaterThanOrEqual(previous!.ts);
              }
              last.set(alert.subject, alert);
            });
          }
          const firing = [...last.values()].filter((alert) => alert.state === 'firing').length;
          expect(rule.active().filter((active) => active.state === 'firing')).toHaveLength(firing);
        },
      ),
      { numRuns: 300 },
    );
  });
});
