import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareOffsets, normaliseOffset } from './offsets.js';

const MAX = 2n ** 63n - 1n;

describe('offsets', () => {
  it('normalises decimal offsets and refuses anything else', () => {
    expect(normaliseOffset('0')).toBe('0');
    expect(normaliseOffset('000123')).toBe('123');
    expect(normaliseOffset('9223372036854775807')).toBe('9223372036854775807');
    for (const bad of ['', '-1', '1.5', '1e3', ' 1', '9223372036854775808', '12345678901234567890', 'abc'])
      expect(() => normaliseOffset(bad), bad).toThrow(/offset/);
  });

  it('compares like BigInt over the whole offset range, including past 2^53', () => {
    expect(compareOffsets('9007199254740993', '9007199254740992')).toBeGreaterThan(0);
    expect(Number('9007199254740993')).toBe(Number('9007199254740992')); // why strings, not numbers
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: MAX }), fc.bigInt({ min: 0n, max: MAX }), (a, b) => {
        const expected = a < b ? -1 : a > b ? 1 : 0;
        expect(Math.sign(compareOffsets(normaliseOffset(a.toString()), normaliseOffset(b.toString())))).toBe(
          expected,
        );
      }),
      { numRuns: 2_000 },
    );
  });
});
