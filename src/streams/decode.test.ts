import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isDeadLetter } from '../domain/types.js';
import { TickValidator } from '../domain/validate-tick.js';
import { MlfpError } from '../errors.js';
import {
  AvroTickDecoder,
  countTopLevelMembers,
  DecodeFailure,
  isDecodeFailure,
  JsonTickDecoder,
  type SchemaLookup,
} from './decode.js';

const json = new JsonTickDecoder(65_536);
const TS = 1_709_562_600_123;

/** decode, then validate: the reason a message ends with (undefined for a good tick). */
function reasonOf(bytes: Buffer | null, decoder = json): string | undefined {
  const decoded = decoder.decode(bytes);
  if (isDecodeFailure(decoded)) return decoded.reason;
  const result = new TickValidator().validate(decoded);
  return isDeadLetter(result) ? result.reason : undefined;
}

describe('JsonTickDecoder', () => {
  it('decodes a good tick into a plain object the validator accepts', () => {
    const value = json.decode(Buffer.from(`{"symbol":"AAPL","ts":${TS},"price":171.32,"size":100}`));
    expect(value).toEqual({ symbol: 'AAPL', ts: TS, price: 171.32, size: 100 });
    expect(
      reasonOf(Buffer.from(`{"symbol":"AAPL","ts":"2024-03-04T14:30:00Z","price":"1.5","size":0}`)),
    ).toBeUndefined();
  });

  it.each([
    ['tombstone', null, 'tombstone'],
    ['truncated JSON', Buffer.from('{"symbol":"AAPL","ts":1'), 'bad_json'],
    ['empty value', Buffer.alloc(0), 'bad_json'],
    ['a bare NaN literal', Buffer.from('NaN'), 'bad_json'],
    ['trailing garbage', Buffer.from('{"a":1}}'), 'bad_json'],
    ['a JSON array', Buffer.from('[1,2,3]'), 'wrong_type'],
    ['a JSON number', Buffer.from('42'), 'wrong_type'],
    ['a JSON string', Buffer.from('"AAPL"'), 'wrong_type'],
    ['JSON null', Buffer.from('null'), 'wrong_type'],
    ['a lone 0xff byte', Buffer.from([0x7b, 0xff, 0x7d]), 'bad_encoding'],
    ['an overlong encoding of "/"', Buffer.from([0x22, 0xc0, 0xaf, 0x22]), 'bad_encoding'],
    ['an encoded UTF-16 surrogate', Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22]), 'bad_encoding'],
    ['a truncated multi-byte character', Buffer.from([0x22, 0xe2, 0x82]), 'bad_encoding'],
    ['symbol of the wrong type', Buffer.from(`{"symbol":12,"ts":${TS},"price":1,"size":1}`), 'wrong_type'],
    ['price "NaN"', Buffer.from(`{"symbol":"A","ts":${TS},"price":"NaN","size":1}`), 'not_finite'],
    ['price 1e999', Buffer.from(`{"symbol":"A","ts":${TS},"price":1e999,"size":1}`), 'not_finite'],
    ['size "-Infinity"', Buffer.from(`{"symbol":"A","ts":${TS},"price":1,"size":"-Infinity"}`), 'not_finite'],
    ['a negative price', Buffer.from(`{"symbol":"A","ts":${TS},"price":-3,"size":1}`), 'non_positive_price'],
    ['a zero price', Buffer.from(`{"symbol":"A","ts":${TS},"price":0,"size":1}`), 'non_positive_price'],
    [
      'a price that is an object',
      Buffer.from(`{"symbol":"A","ts":${TS},"price":{"v":1},"size":1}`),
      'wrong_type',
    ],
    ['ts in year 3000', Buffer.from(`{"symbol":"A","ts":"3000-01-01","price":1,"size":1}`), 'bad_time'],
  ])('%s → %s', (_name, bytes, reason) => {
    expect(reasonOf(bytes)).toBe(reason);
  });

  it('refuses a 5 MB message by its size before reading it', () => {
    const huge = Buffer.from(`{"symbol":"A","pad":"${'x'.repeat(5_000_000)}"}`);
    const failure = json.decode(huge) as DecodeFailure;
    expect(failure).toBeInstanceOf(DecodeFailure);
    expect(failure.reason).toBe('too_large');
    expect(failure.value).toBe(`${huge.length} bytes`);
  });

  it('survives 100k nested brackets: too large by default, a wrong type when the limit allows them', () => {
    const nested = Buffer.from('['.repeat(100_000) + ']'.repeat(100_000));
    expect(reasonOf(nested)).toBe('too_large');
    const roomy = new JsonTickDecoder(1_000_000);
    expect(reasonOf(nested, roomy)).toBe('wrong_type');
    expect(reasonOf(Buffer.from('['.repeat(100_000)), roomy)).toBe('bad_json');
    const deepField = Buffer.from(
      `{"symbol":"A","ts":${TS},"price":${'['.repeat(100_000)}${']'.repeat(100_000)},"size":1}`,
    );
    expect(reasonOf(deepField, roomy)).toBe('wrong_type');
    const deepObject = Buffer.from(`${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`);
    expect(reasonOf(deepObject, roomy)).toBe('missing_field');
  });

  it('leaves Object.prototype untouched and reads no inherited field from __proto__ or constructor keys', () => {
    const payload = Buffer.from(
      `{"__proto__":{"price":5,"size":1,"polluted":true},"constructor":{"prototype":{"polluted":true}},"symbol":"A","ts":${TS}}`,
    );
    const value = json.decode(payload) as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.keys(value)).toEqual(['__proto__', 'constructor', 'symbol', 'ts']);
    expect(reasonOf(payload)).toBe('missing_field'); // price lives only under the own "__proto__" key
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    expect(Object.prototype).not.toHaveProperty('price');
  });

  it('never throws and yields a plain object or a failure for any bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const value = json.decode(Buffer.from(bytes));
        if (isDecodeFailure(value)) return true;
        return typeof value === 'object' && value !== null && !Array.isArray(value);
      }),
      { numRuns: 2_000 },
    );
    fc.assert(
      fc.property(fc.json(), (text) => {
        const value = json.decode(Buffer.from(text));
        expect(() => new TickValidator().validate(value)).not.toThrow();
      }),
      { numRuns: 1_000 },
    );
  });
});

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const TICK = `{"symbol":"AAPL","ts":${TS},"price":171.32,"size":100}`;

function failureOf(value: unknown): DecodeFailure {
  if (!isDecodeFailure(value)) throw new Error(`expected a DecodeFailure, got ${JSON.stringify(value)}`);
  return value;
}

describe('JsonTickDecoder duplicate member names', () => {
  it('rejects a second "ts" naming the member and both values, instead of keeping the last', () => {
    const text = `{"symbol":"AAPL","ts":"2024-03-04T21:07:00Z","price":1.5,"size":1,"ts":"2024-03-04T22:07:00Z"}`;
    const failure = failureOf(json.decode(Buffer.from(text)));
    expect(failure).toMatchObject({
      reason: 'duplicate_member',
      field: 'ts',
      value: '"2024-03-04T21:07:00Z" then "2024-03-04T22:07:00Z"',
    });
    expect(failure.message).toMatch(/"ts" twice/);
  });

  it.each([
    ['a name spelled with an escape', `{"ts":1,"symbol":"A","\\u0074s":2}`, 'ts'],
    [
      '"__proto__" twice (JSON.parse makes it an own key)',
      `{"__proto__":{},"a":1,"__proto__":{"b":2}}`,
      '__proto__',
    ],
    ['names with escaped quotes and backslashes', `{"a\\"b":1,"a\\\\":2,"a\\"b":3}`, 'a"b'],
    ['whitespace around every token', `{ "ts" :\t1 ,\r\n "size" : 2 ,\n "ts" : 3 }`, 'ts'],
    ['the first repeated name when several repeat', `{"a":1,"b":2,"b":3,"a":4}`, 'b'],
    ['an empty name', `{"":1,"x":[1,{"":2}],"":3}`, ''],
    ['values holding colons, braces and quotes', `{"p":"x:{\\"}[","q":{"r":":"},"p":"]"}`, 'p'],
  ])('%s', (_name, text, field) => {
    expect(JSON.parse(text)).toBeTypeOf('object'); // each case is valid JSON
    expect(failureOf(json.decode(Buffer.from(text)))).toMatchObject({ reason: 'duplicate_member', field });
  });

  it.each([
    ['a duplicate inside a nested (ignored) member', `{"symbol":"A","extra":{"x":1,"x":2}}`],
    ['a duplicate inside an array member', `{"symbol":"A","list":[{"b":1,"b":2}]}`],
    ['names that only look alike', `{"ts":1,"Ts":2,"ts ":3,"t\\u0073x":4}`],
    ['colons and commas inside names and strings', `{"a:b":1,"a":"x,\\"a\\":2","b\\\\":"\\\\"}`],
    ['an empty object', `{}`],
  ])('accepts %s (top level only)', (_name, text) => {
    expect(json.decode(Buffer.from(text))).toEqual(JSON.parse(text));
  });

  it('bounds the name and values it renders', () => {
    const name = 'n'.repeat(5_000);
    const text = `{"${name}":"${'x'.repeat(5_000)}","${name}":2}`;
    const failure = failureOf(new JsonTickDecoder(1_000_000).decode(Buffer.from(text)));
    expect(failure.reason).toBe('duplicate_member');
    expect(failure.field!.length).toBeLessThanOrEqual(160);
    expect(failure.value!.length).toBeLessThanOrEqual(130);
    expect(failure.message.length).toBeLessThanOrEqual(260);
  });

  it('keeps the last value, as JSON.parse does, with rejectDuplicateMembers false', () => {
    const lenient = new JsonTickDecoder(65_536, { rejectDuplicateMembers: false });
    const text = `{"symbol":"AAPL","ts":1,"price":1.5,"size":1,"ts":${TS}}`;
    expect(lenient.decode(Buffer.from(text))).toEqual({ symbol: 'AAPL', ts: TS, price: 1.5, size: 1 });
    expect(reasonOf(Buffer.from(text), lenient)).toBeUndefined();
  });

  it('counts top-level members like Object.keys on generated JSON objects (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(0, 1, 2, '\t'), (value, indent) => {
        const text = JSON.stringify(value, null, indent);
        const parsed: unknown = JSON.parse(text);
        const expected =
          typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
            ? Object.keys(parsed).length
            : 0;
        expect(countTopLevelMembers(Buffer.from(text))).toBe(expected);
      }),
      { numRuns: 2_000 },
    );
  });

  it('rejects exactly the objects that repeat a decoded name, naming the first repeat (property)', () => {
    const name = fc.oneof(
      fc.constantFrom('ts', 'symbol', '__proto__', 'a"b', 'a\\', '', ':', '{', ',', 'é', '\u2028'),
      fc.string({ maxLength: 6 }),
    );
    const space = fc.constantFrom('', ' ', '\t', '\n', '\r\n ');
    const member = fc.record({
      name,
      value: fc.jsonValue({ maxDepth: 2 }),
      escaped: fc.boolean(),
      gap: space,
    });
    fc.assert(
      fc.property(fc.array(member, { maxLength: 8 }), (members) => {
        // a name written with every character as \uXXXX decodes to the same name: still a duplicate
        const written = members.map(
          ({ name, value, escaped, gap }) =>
            `${gap}${escaped ? escapeAll(name) : JSON.stringify(name)}${gap}:${gap}${JSON.stringify(value)}${gap}`,
        );
        const text = `{${written.join(',')}}`;
        expect(countTopLevelMembers(Buffer.from(text))).toBe(members.length);
        const seen = new Set<string>();
        const repeated = members.find(({ name }) => seen.has(name) || (seen.add(name), false));
        const decoded = new JsonTickDecoder(1_000_000).decode(Buffer.from(text));
        if (repeated === undefined) expect(decoded).toEqual(JSON.parse(text));
        else expect(failureOf(decoded)).toMatchObject({ reason: 'duplicate_member', field: repeated.name });
      }),
      { numRuns: 2_000 },
    );
  });
});

function escapeAll(name: string): string {
  let out = '"';
  for (let index = 0; index < name.length; index++)
    out += `\\u${name.charCodeAt(index).toString(16).padStart(4, '0')}`;
  return `${out}"`;
}

describe('JsonTickDecoder byte-order mark', () => {
  it.each([
    ['a BOM before a valid tick', Buffer.concat([BOM, Buffer.from(TICK)])],
    ['a BOM and a space before a valid tick', Buffer.concat([BOM, Buffer.from(` ${TICK}`)])],
    ['a BOM alone', BOM],
  ])('rejects %s as bad_encoding citing RFC 8259 §8.1 by default', (_name, bytes) => {
    const failure = failureOf(json.decode(bytes));
    expect(failure.reason).toBe('bad_encoding');
    expect(failure.message).toMatch(/RFC 8259 §8\.1/);
  });

  it('strips one leading BOM with rejectByteOrderMark false, and only one', () => {
    const stripping = new JsonTickDecoder(65_536, { rejectByteOrderMark: false });
    const tick = JSON.parse(TICK) as unknown;
    expect(stripping.decode(Buffer.concat([BOM, Buffer.from(TICK)]))).toEqual(tick);
    expect(stripping.decode(Buffer.concat([BOM, Buffer.from(` ${TICK}`)]))).toEqual(tick);
    expect(failureOf(stripping.decode(BOM)).reason).toBe('bad_json');
    expect(failureOf(stripping.decode(Buffer.concat([BOM, BOM, Buffer.from(TICK)]))).reason).toBe('bad_json');
    expect(failureOf(stripping.decode(Buffer.from([0xef, 0xbb]))).reason).toBe('bad_encoding');
  });

  it('keeps a U+FEFF inside the text as data (the symbol then fails its pattern)', () => {
    const bytes = Buffer.from(`{"symbol":"\uFEFFAAPL","ts":${TS},"price":1,"size":1}`);
    expect((json.decode(bytes) as { symbol: string }).symbol).toBe('\uFEFFAAPL');
    expect(reasonOf(bytes)).toBe('bad_symbol');
  });
});

/** A stand-in registry: schema ids map to readers (the wire body is JSON here; real Avro is in the integration test). */
class FakeRegistry implements SchemaLookup {
  calls = 0;
  failure: unknown;
  constructor(private readonly readers: Map<number, unknown>) {}
  async getSchema(id: number): Promise<unknown> {
    this.calls++;
    if (this.failure !== undefined) throw this.failure;
    const reader = this.readers.get(id);
    if (reader === undefined) throw Object.assign(new Error('Schema not found'), { status: 404 });
    return reader;
  }
}

const jsonBody = {
  fromBuffer: (buffer: Buffer): unknown => {
    const parsed = JSON.parse(buffer.toString()) as Record<string, unknown>;
    if (typeof parsed.ts === 'string') parsed.ts = new Date(parsed.ts);
    return Object.assign(Object.create({ inherited: 1 }) as object, parsed);
  },
};

function frame(id: number, body: string): Buffer {
  const header = Buffer.alloc(5);
  header.writeInt32BE(id, 1);
  return Buffer.concat([header, Buffer.from(body)]);
}

describe('AvroTickDecoder', () => {
  it('looks a schema up once, then decodes synchronously into a plain object (Date ts as epoch ms)', async () => {
    const registry = new FakeRegistry(new Map([[7, jsonBody]]));
    const decoder = new AvroTickDecoder(registry, 65_536);
    const bytes = frame(7, `{"symbol":"A","ts":"2024-03-04T14:30:00.123Z","price":2,"size":3,"extra":1}`);
    expect(decoder.needsLookup(bytes)).toBe(7);
    await decoder.lookup(7);
    expect(decoder.needsLookup(bytes)).toBeUndefined();
    const value = decoder.decodeCached(bytes) as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(value).toEqual({
      symbol: 'A',
      ts: TS,
      price: 2,
      size: 3,
      bid: undefined,
      ask: undefined,
      exchange: undefined,
      seq: undefined,
    });
    decoder.decodeCached(bytes);
    expect(registry.calls).toBe(1);
  });

  it('turns frames without the magic byte, unknown ids and unreadable bodies into bad_schema', async () => {
    const registry = new FakeRegistry(
      new Map<number, unknown>([
        [7, jsonBody],
        [8, { notAReader: true }],
      ]),
    );
    const decoder = new AvroTickDecoder(registry, 65_536);
    expect((decoder.decodeCached(Buffer.from('{"symbol":"A"}')) as DecodeFailure).reason).toBe('bad_schema');
    expect((decoder.decodeCached(Buffer.from([0, 0, 0])) as DecodeFailure).reason).toBe('bad_schema');
    await decoder.lookup(99);
    expect((decoder.decodeCached(frame(99, '{}')) as DecodeFailure).reason).toBe('bad_schema');
    await decoder.lookup(99); // remembered: the registry is not asked again by needsLookup
    expect(decoder.needsLookup(frame(99, '{}'))).toBeUndefined();
    await decoder.lookup(8);
    expect((decoder.decodeCached(frame(8, '{}')) as DecodeFailure).message).toMatch(/not an Avro schema/);
    await decoder.lookup(7);
    expect((decoder.decodeCached(frame(7, '{"symbol":')) as DecodeFailure).reason).toBe('bad_schema');
    expect((decoder.decodeCached(null) as DecodeFailure).reason).toBe('tombstone');
    expect(
      (new AvroTickDecoder(registry, 10).decodeCached(frame(7, '{"symbol":"AAAA"}')) as DecodeFailure).reason,
    ).toBe('too_large');
  });

  it('treats an unreachable registry as retriable and refused credentials as fatal, never as bad data', async () => {
    const registry = new FakeRegistry(new Map());
    const decoder = new AvroTickDecoder(registry, 65_536);
    registry.failure = new Error('connect ECONNREFUSED');
    const down = await decoder.lookup(5).catch((error: unknown) => error);
    expect(down).toBeInstanceOf(MlfpError);
    expect((down as MlfpError).code).toBe('source_unavailable');
    expect((down as MlfpError).retriable).toBe(true);
    expect(decoder.needsLookup(frame(5, '{}'))).toBe(5);
    registry.failure = Object.assign(new Error('Unauthorized'), { status: 401 });
    const refused = await decoder.lookup(5).catch((error: unknown) => error);
    expect((refused as MlfpError).retriable).toBe(false);
    expect(() => decoder.decodeCached(frame(5, '{}'))).toThrow(/not looked up/);
  });
});
