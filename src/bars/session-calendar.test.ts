import { describe, expect, it } from 'vitest';
import { SessionCalendar } from './session-calendar.js';

const NEW_YORK = { timezone: 'America/New_York', open: '09:30', close: '16:00' };
const utc = (text: string) => Date.parse(text);

describe('SessionCalendar without a session (24/7, UTC days)', () => {
  it('puts every 5m bar, weekends included, in its UTC day', () => {
    const calendar = new SessionCalendar();
    for (const start of [
      utc('2024-03-09T00:00:00Z'),
      utc('2024-03-10T23:55:00Z'),
      utc('2024-03-10T12:05:00Z'),
    ]) {
      expect(calendar.locate(start)).toBe(true);
      expect(calendar.dayStartMs).toBe(start - (start % 86_400_000));
      expect(calendar.dayEndMs).toBe(calendar.dayStartMs + 86_400_000);
    }
  });
});

describe('SessionCalendar America/New_York 09:30-16:00', () => {
  const calendar = new SessionCalendar(NEW_YORK);

  it.each([
    ['Fri 2024-03-08, EST', '2024-03-08T14:30:00Z', '2024-03-08T21:00:00Z'],
    ['Sun 2024-03-10, first EDT day', '2024-03-10T13:30:00Z', '2024-03-10T20:00:00Z'],
    ['Mon 2024-03-11, EDT', '2024-03-11T13:30:00Z', '2024-03-11T20:00:00Z'],
    ['Sat 2024-11-02, EDT', '2024-11-02T13:30:00Z', '2024-11-02T20:00:00Z'],
    ['Sun 2024-11-03, first EST day', '2024-11-03T14:30:00Z', '2024-11-03T21:00:00Z'],
    ['Mon 2024-11-04, EST', '2024-11-04T14:30:00Z', '2024-11-04T21:00:00Z'],
  ])('%s: open and close instants follow DST', (_name, open, close) => {
    expect(calendar.locate(utc(open))).toBe(true);
    expect(calendar.dayStartMs).toBe(utc(open));
    expect(calendar.dayEndMs).toBe(utc(close));
    expect(calendar.locate(utc(close) - 300_000)).toBe(true);
    expect(calendar.dayStartMs).toBe(utc(open));
  });

  it.each([
    ['pre-market 08:00 EST', '2024-03-08T13:00:00Z'],
    ['one bar before the open', '2024-03-08T14:25:00Z'],
    ['the close bar itself', '2024-03-08T21:00:00Z'],
    ['after-hours 17:00 EDT', '2024-03-11T21:00:00Z'],
    ['13:30Z is 08:30 EST before the switch', '2024-03-08T13:30:00Z'],
    ['14:30Z after the fall-back is 09:30 EST, but 13:30Z is 08:30', '2024-11-04T13:30:00Z'],
  ])('%s is outside the session', (_name, start) => {
    expect(calendar.locate(utc(start))).toBe(false);
  });

  it('answers the same when bars come back in time order and out of it (cache)', () => {
    const fresh = new SessionCalendar(NEW_YORK);
    const starts = [
      '2024-03-11T13:30:00Z',
      '2024-03-08T14:30:00Z',
      '2024-03-11T19:55:00Z',
      '2024-03-08T21:00:00Z',
      '2024-03-11T13:25:00Z',
    ].map(utc);
    const answers = starts.map((start) => fresh.locate(start));
    expect(answers).toStrictEqual([true, true, true, false, false]);
  });

  it('reports the zone offset on both sides of each transition', () => {
    expect(calendar.offsetAt(utc('2024-03-10T06:59:59Z'))).toBe(-5 * 3_600_000);
    expect(calendar.offsetAt(utc('2024-03-10T07:00:00Z'))).toBe(-4 * 3_600_000);
    expect(calendar.offsetAt(utc('2024-11-03T05:59:59Z'))).toBe(-4 * 3_600_000);
    expect(calendar.offsetAt(utc('2024-11-03T06:00:00Z'))).toBe(-5 * 3_600_000);
  });

  it('resolves a local time in the spring-forward gap forward, and one in the fall-back overlap to the earlier instant', () => {
    expect(calendar.localToUtc(2024, 3, 10, 2 * 60 + 30)).toBe(utc('2024-03-10T07:30:00Z')); // 03:30 EDT
    expect(calendar.localToUtc(2024, 11, 3, 60 + 30)).toBe(utc('2024-11-03T05:30:00Z')); // 01:30 EDT
  });
});

describe('SessionCalendar local-midnight days (00:00-24:00) across DST', () => {
  const calendar = new SessionCalendar({ timezone: 'America/New_York', open: '00:00', close: '24:00' });
  it('gives the 23-hour and 25-hour days', () => {
    expect(calendar.locate(utc('2024-03-10T12:00:00Z'))).toBe(true);
    expect(calendar.dayEndMs - calendar.dayStartMs).toBe(23 * 3_600_000);
    expect(calendar.dayStartMs).toBe(utc('2024-03-10T05:00:00Z'));
    expect(calendar.locate(utc('2024-11-03T12:00:00Z'))).toBe(true);
    expect(calendar.dayEndMs - calendar.dayStartMs).toBe(25 * 3_600_000);
    expect(calendar.dayStartMs).toBe(utc('2024-11-03T04:00:00Z'));
  });
});

describe('SessionCalendar options', () => {
  it.each([
    [{ timezone: 'Mars/Olympus', open: '09:30', close: '16:00' }],
    [{ timezone: '', open: '09:30', close: '16:00' }],
    [{ timezone: 'UTC', open: '9:30', close: '16:00' }],
    [{ timezone: 'UTC', open: '09:32', close: '16:00' }],
    [{ timezone: 'UTC', open: '09:30', close: '24:05' }],
    [{ timezone: 'UTC', open: '24:00', close: '24:00' }],
    [{ timezone: 'UTC', open: '16:00', close: '09:30' }],
    [{ timezone: 'UTC', open: '09:75', close: '16:00' }],
  ])('rejects %j with config_invalid', (session) => {
    expect(() => new SessionCalendar(session)).toThrow(expect.objectContaining({ code: 'config_invalid' }));
  });
});
