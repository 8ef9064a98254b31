import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { alertFingerprint, compareCodePoints } from './fingerprint.js';

/** A plain reference: FNV-1a 64 in BigInt over UTF-8 bytes, names sorted bytewise (as Go sorts strings). */
function referenceFingerprint(labels: Record<string, string>): string {
  const prime = 0x100000001b3n;
  let hash = 0xcbf29ce484222325n;
  const names = Object.keys(labels)
    .map((name) => Buffer.from(name, 'utf8'))
    .sort(Buffer.compare);
  for (const name of names) {
    const value = Buffer.from(labels[name.toString('utf8')] ?? '', 'utf8');
    for (const bytes of [name, value])
      for (const byte of [...bytes, 0xff]) hash = BigInt.asUintN(64, (hash ^ BigInt(byte)) * prime);
  }
  return hash.toString(16).padStart(16, '0');
}

const hex = (value: bigint): string => value.toString(16).padStart(16, '0');

describe('alertFingerprint', () => {
  it("matches prometheus/common's own test vectors (model/signature_test.go)", () => {
    expect(alertFingerprint({})).toBe(hex(14695981039346656037n));
    expect(alertFingerprint({})).toBe('cbf29ce484222325');
    expect(alertFingerprint({ name: 'garland, briggs', fear: 'love is not enough' })).toBe(
      hex(5799056148416392346n),
    );
    expect(alertFingerprint({ 'first-label': 'first-label-value' })).toBe(hex(5146282821936882169n));
    expect(
      alertFingerprint({ 'first-label': 'first-label-value', 'second-label': 'second-label-value' }),
    ).toBe(hex(3195800080984914717n));
    expect(
      alertFingerprint({
        'third-label': 'third-label-value',
        'first-label': 'first-label-value',
        'second-label': 'second-label-value',
      }),
    ).toBe(hex(13843036195897128121n));
  });

  it('hashes non-ASCII text as UTF-8 (a value computed independently in Python)', () => {
    expect(alertFingerprint({ name: 'é€😀' })).toBe('4f6c46c944585edd');
  });

  it('is 16 lower-case hex digits, leading zeros kept', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.string()), (labels) => {
        expect(alertFingerprint(labels)).toMatch(/^[0-9a-f]{16}$/);
      }),
    );
  });

  it('equals the BigInt reference for any labels, astral characters included', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' })), (labels) => {
        expect(alertFingerprint(labels)).toBe(referenceFingerprint(labels));
      }),
      { numRuns: 500 },
    );
  });

  it('hashes a lone surrogate as U+FFFD, as Go converts it', () => {
    expect(alertFingerprint({ a: 'x\uD800y' })).toBe(alertFingerprint({ a: 'x\uFFFDy' }));
    expect(alertFingerprint({ a: 'x\uDC00' })).toBe(referenceFingerprint({ a: 'x\uDC00' }));
  });

  it('does not depend on the order the labels were written in', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(fc.string({ unit: 'binary' }), fc.string()), { selector: ([name]) => name }),
        fc.nat(),
        (entries, seed) => {
          const shuffled = [...entries].reverse();
          if (shuffled.length > 1) shuffled.push(shuffled.splice(seed % shuffled.length, 1)[0]!);
          expect(alertFingerprint(Object.fromEntries(shuffled))).toBe(
            alertFingerprint(Object.fromEntries(entries)),
          );
        },
      ),
    );
  });

  it('tells apart label sets that concatenate to the same text', () => {
    expect(alertFingerprint({ a: 'bc' })).not.toBe(alertFingerprint({ ab: 'c' }));
    expect(alertFingerprint({ a: '' })).not.toBe(alertFingerprint({}));
  });
});

describe('compareCodePoints', () => {
  it('orders as UTF-8 bytes do, where UTF-16 order differs', () => {
    const privateUse = '\uE000';
    const astral = '😀';
    expect(privateUse < astral).toBe(false); // UTF-16 order puts the astral character first
    expect(compareCodePoints(privateUse, astral)).toBeLessThan(0);
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
        const bytes = Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
        expect(Math.sign(compareCodePoints(a, b))).toBe(bytes);
      }),
    );
  });
});
