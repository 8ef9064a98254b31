import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FEATURE_COUNT } from '../../domain/types.js';
import { makeFeatures } from '../../../test/sinks/records.js';
import { BinaryCopyWriter } from './postgres-binary.js';
import { featuresCodec } from './postgres-rows.js';

const HEADER_BYTES = 19;
const all = (writer: BinaryCopyWriter): Buffer => {
  writer.finish();
  return Buffer.concat(writer.take());
};
/** The bytes of the fields written after the header, without the trailer. */
const body = (write: (w: BinaryCopyWriter) => void): Buffer => {
  const writer = new BinaryCopyWriter();
  write(writer);
  const bytes = all(writer);
  return bytes.subarray(HEADER_BYTES, bytes.length - 2);
};

describe('BinaryCopyWriter', () => {
  it('writes the PGCOPY signature, zero flags and extension, and the -1 trailer', () => {
    const bytes = all(new BinaryCopyWriter());
    expect(bytes.toString('hex')).toBe('5047434f50590aff0d0a00' + '00000000' + '00000000' + 'ffff');
  });

  it('encodes fields as length + network-order bytes, NULL as length -1', () => {
    expect(body((w) => w.row(3)).toString('hex')).toBe('0003');
    expect(body((w) => w.null()).toString('hex')).toBe('ffffffff');
    expect(body((w) => w.int4(-2)).toString('hex')).toBe('00000004fffffffe');
    expect(body((w) => w.float8(1.5)).toString('hex')).toBe('000000083ff8000000000000');
    expect(body((w) => w.text('é\0')).toString('hex')).toBe(
      '00000005' + Buffer.from('é\uFFFD').toString('hex'),
    );
    expect(body((w) => w.jsonb('{}')).toString('hex')).toBe('00000003017b7d');
    expect(body((w) => w.bool(true)).toString('hex')).toBe('0000000101');
    expect(body((w) => w.bytea(Uint8Array.from([1, 2]))).toString('hex')).toBe('000000020102');
    expect(body((w) => w.finiteOrNull(Number.NaN)).toString('hex')).toBe('ffffffff');
    expect(body((w) => w.int8Decimal('9223372036854775807')).toString('hex')).toBe(
      '000000087fffffffffffffff',
    );
  });

  it('writes int8 and timestamptz exactly like BigInt arithmetic, before and after 2000-01-01', () => {
    const reference = (value: bigint): string => {
      const buffer = Buffer.alloc(12);
      buffer.writeInt32BE(8, 0);
      buffer.writeBigInt64BE(value, 4);
      return buffer.toString('hex');
    };
    expect(body((w) => w.timestamptz(Date.UTC(2000, 0, 1))).toString('hex')).toBe(reference(0n));
    fc.assert(
      fc.property(fc.integer({ min: -62_135_596_800_000, max: 253_402_300_799_999 }), (ms) => {
        expect(body((w) => w.timestamptz(ms)).toString('hex')).toBe(
          reference(BigInt(ms - 946_684_800_000) * 1000n),
        );
      }),
      { numRuns: 2_000 },
    );
    fc.assert(
      fc.property(fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }), (value) => {
        expect(body((w) => w.int8(value)).toString('hex')).toBe(reference(BigInt(value)));
      }),
      { numRuns: 2_000 },
    );
  });

  it('hands out filled 64 KiB pieces and a field larger than a piece whole', () => {
    const writer = new BinaryCopyWriter(1024);
    for (let i = 0; i < 200; i++) writer.float8(i);
    expect(writer.pendingBytes).toBeGreaterThan(0);
    writer.bytea(new Uint8Array(5_000).fill(7));
    const pieces = [...writer.take()];
    writer.finish();
    pieces.push(...writer.take());
    const bytes = Buffer.concat(pieces);
    expect(bytes.length).toBe(HEADER_BYTES + 200 * 12 + 4 + 5_000 + 2);
    expect(bytes.readDoubleBE(HEADER_BYTES + 199 * 12 + 4)).toBe(199);
  });

  it('features: 21 fields, NULL for undefined values', () => {
    const writer = new BinaryCopyWriter();
    featuresCodec.writeBinary(makeFeatures('AAPL', Date.UTC(2024, 0, 1), 0, 3), writer);
    const bytes = all(writer);
    expect(bytes.readInt16BE(HEADER_BYTES)).toBe(5 + FEATURE_COUNT);
    // symbol, timeframe, ts, revision, close, then returns (NULL)
    let at = HEADER_BYTES + 2;
    for (let field = 0; field < 5; field++) at += 4 + bytes.readInt32BE(at);
    expect(bytes.readInt32BE(at)).toBe(-1);
  });
});
