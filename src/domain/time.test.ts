import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { daysFromCivil, formatTime, parseTime } from './time.js';

describe('parseTime', () => {
  it('reads epoch milliseconds as numbers and digit strings, flooring fractions', () => {
    expect(parseTime(1709562600123)).toBe(1709562600123);
    expect(parseTime(1709562600123.9)).toBe(1709562600123);
    expect(parseTime('1709562600123')).toBe(1709562600123);
    expect(parseTime(' 1709562600123.75 ')).toBe(1709562600123);
    expect(parseTime(0)).toBe(0);
    expect(Object.is(parseTime(-0), 0)).toBe(true);
  });

  it('reads ISO-8601 with and without offsets, fractions and separators', () => {
    expect(parseTime('2024-03-04T14:30:00.123Z')).toBe(Date.UTC(2024, 2, 4, 14, 30, 0, 123));
    expect(parseTime('2024-03-04 14:30:00')).toBe(Date.UTC(2024, 2, 4, 14, 30));
    expect(parseTime('2024-03-04t14:30z')).toBe(Date.UTC(2024, 2, 4, 14, 30));
    expect(parseTime('2024-03-04')).toBe(Date.UTC(2024, 2, 4));
    expect(parseTime('2024-03-04T14:30:00.1Z')).toBe(Date.UTC(2024, 2, 4, 14, 30, 0, 100));
    expect(parseTime('2024-03-04T14:30:00,25Z')).toBe(Date.UTC(2024, 2, 4, 14, 30, 0, 250));
    expect(parseTime('2024-03-04T14:30:00.123999999Z')).toBe(Date.UTC(2024, 2, 4, 14, 30, 0, 123));
    expect(parseTime('2024-03-04T09:30:00-05:00')).toBe(Date.UTC(2024, 2, 4, 14, 30));
    expect(parseTime('2024-03-04T20:00:00+0530')).toBe(Date.UTC(2024, 2, 4, 14, 30));
    expect(parseTime('2024-03-04T16:30:00+02')).toBe(Date.UTC(2024, 2, 4, 14, 30));
    expect(parseTime('1969-12-31T23:00:00-01:00')).toBe(0);
    expect(parseTime('2024-02-29T00:00:00Z')).toBe(Date.UTC(2024, 1, 29));
  });

  it('agrees with Date.parse on every ISO string toISOString can print in range', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Date.UTC(2200, 0, 1) - 1 }), (ms) => {
        expect(parseTime(new Date(ms).toISOString())).toBe(ms);
      }),
    );
  });

  it.each([
    ['2024-02-30'],
    ['2023-02-29'],
    ['2024-13-01'],
    ['2024-00-10'],
    ['2024-03-04T24:00:00Z'],
    ['2024-03-04T14:60Z'],
    ['2024-03-04T14:30:60Z'],
    ['2024-03-04T14:30:00.Z'],
    ['2024-03-04T14:30:00.1234567891Z'],
    ['2024-03-04T14:30:00+24:00'],
    ['2024-03-04T14:30:00+05:60'],
    ['2024-03-04T14:30:00+5'],
    ['2024-03-04T14:30:00 Z'],
    ['2024-03-04Z'],
    ['2024-3-4'],
    ['0050-01-01'],
    ['1969-12-31T23:59:59Z'],
    ['2200-01-01'],
    ['12345678901234567'],
    ['1e12'],
    ['0x10'],
    ['-5'],
    ['1.'],
    [''],
    ['   '],
    ['NaN'],
    ['2024-03-04T14:30:00Z' + ' '.repeat(40)],
  ])('rejects %j', (text) => {
    expect(parseTime(text)).toBeNaN();
  });

  it('rejects non-finite, negative, out-of-range and non-time values', () => {
    for (const value of [
      Number.NaN,
      Infinity,
      -1,
      Date.UTC(2200, 0, 1),
      null,
      undefined,
      true,
      {},
      [],
      10n,
    ]) {
      expect(parseTime(value)).toBeNaN();
    }
  });

  it('never throws and returns an integer in range or NaN for any input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.anything(), fc.double()), (value) => {
        const ms = parseTime(value);
        if (!Number.isNaN(ms)) {
          expect(Number.isInteger(ms)).toBe(true);
          expect(ms).toBeGreaterThanOrEqual(0);
          expect(ms).toBeLessThan(Date.UTC(2200, 0, 1));
        }
      }),
    );
  });
});

describe('daysFromCivil', () => {
  it('matches Date.UTC over four centuries', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('1800-01-01'), max: new Date('2399-12-31'), noInvalidDate: true }),
        (date) => {
          const days = daysFromCivil(date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate());
          expect(days).toBe(Math.floor(date.getTime() / 86_400_000));
        },
      ),
    );
  });
});

describe('formatTime', () => {
  it('prints ISO-8601 UTC with milliseconds', () => {
    expect(formatTime(Date.UTC(2024, 2, 4, 14, 30, 0, 5))).toBe('2024-03-04T14:30:00.005Z');
  });
});
