import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, MlfpError } from '../errors.js';
import type { DeadLetter, Tick } from './types.js';
import {
  DEFAULT_SYMBOL_PATTERN,
  isDeadLetter,
  keyMatchesSymbol,
  keyMismatchLetter,
  TickValidator,
} from './validate-tick.js';

const T0 = Date.UTC(2024, 2, 4, 14, 30);
const good = { symbol: 'AAPL', ts: T0, price: 171.32, size: 100 };

function tickOf(result: Tick | DeadLetter): Tick {
  if (isDeadLetter(result)) throw new Error(`expected a tick, got ${JSON.stringify(result)}`);
  return result;
}

function letterOf(result: Tick | DeadLetter): DeadLetter {
  if (!isDeadLetter(result)) throw new Error(`expected a dead letter, got ${JSON.stringify(result)}`);
  return result;
}

describe('TickValidator accepts', () => {
  it('a JSON tick with numbers, keeping every field and only those', () => {
    const tick = tickOf(
      new TickValidator().validate({
        ...good,
        bid: 171.3,
        ask: 171.34,
        exchange: 'XNAS',
        seq: 7,
        extra: 'x',
      }),
    );
    expect(tick).toStrictEqual({
      symbol: 'AAPL',
      ts: T0,
      price: 171.32,
      size: 100,
      bid: 171.3,
      ask: 171.34,
      exchange: 'XNAS',
      seq: 7,
    });
  });

  it('a CSV row of strings: ISO time, numeric strings, empty optional cells', () => {
    const tick = tickOf(
      new TickValidator().validate({
        symbol: 'BTC-USD',
        ts: '2024-03-04T14:30:00.000Z',
        price: ' 61234.5 ',
        size: '0.0015',
        bid: '',
        ask: '  ',
        exchange: '',
        seq: '',
      }),
    );
    expect(tick).toMatchObject({ symbol: 'BTC-USD', ts: T0, price: 61234.5, size: 0.0015 });
    expect(tick.bid).toBeUndefined();
    expect(tick.seq).toBeUndefined();
  });

  it('epoch-ms digit strings, exponents, signs and leading dots', () => {
    const tick = tickOf(
      new TickValidator().validate({ ...good, ts: String(T0), price: '1.5e2', size: '+.5' }),
    );
    expect(tick).toMatchObject({ ts: T0, price: 150, size: 0.5 });
  });

  it('size 0 (zero-size prints) and -0 as 0, locked quotes (bid = ask)', () => {
    const tick = tickOf(new TickValidator().validate({ ...good, size: -0, bid: 5, ask: 5 }));
    expect(Object.is(tick.size, 0)).toBe(true);
  });

  it('objects without a prototype and JSON "__proto__" / "constructor" keys, reading no inherited value', () => {
    const bare = Object.assign(Object.create(null) as object, good);
    expect(tickOf(new TickValidator().validate(bare)).price).toBe(171.32);
    const polluted = JSON.parse(
      '{"symbol":"AAPL","ts":1709562600000,"size":1,"__proto__":{"price":5},"constructor":{"price":6}}',
    ) as unknown;
    expect(letterOf(new TickValidator().validate(polluted))).toMatchObject({
      reason: 'missing_field',
      field: 'price',
    });
    expect(({} as Record<string, unknown>).price).toBeUndefined();
  });

  it('a bid above the ask when allowCrossedQuotes', () => {
    expect(
      isDeadLetter(new TickValidator({ allowCrossedQuotes: true }).validate({ ...good, bid: 2, ask: 1 })),
    ).toBe(false);
  });
});

describe('TickValidator rejects with a reason, field and value', () => {
  const source = { topic: 'market.ticks', partition: 3, offset: '42' };
  it.each([
    ['missing symbol', { ...good, symbol: undefined }, 'missing_field', 'symbol'],
    ['empty symbol', { ...good, symbol: '' }, 'missing_field', 'symbol'],
    ['numeric symbol', { ...good, symbol: 42 }, 'wrong_type', 'symbol'],
    ['lower-case symbol', { ...good, symbol: 'aapl' }, 'bad_symbol', 'symbol'],
    ['symbol with a space', { ...good, symbol: 'AA PL' }, 'bad_symbol', 'symbol'],
    ['33-character symbol', { ...good, symbol: 'A'.repeat(33) }, 'bad_symbol', 'symbol'],
    ['missing ts', { ...good, ts: null }, 'missing_field', 'ts'],
    ['unparseable ts', { ...good, ts: 'yesterday' }, 'bad_time', 'ts'],
    ['ts before 1970', { ...good, ts: -1 }, 'bad_time', 'ts'],
    ['ts after 2200', { ...good, ts: '2200-01-01T00:00:00Z' }, 'bad_time', 'ts'],
    ['infinite ts', { ...good, ts: Infinity }, 'not_finite', 'ts'],
    ['boolean ts', { ...good, ts: true }, 'wrong_type', 'ts'],
    ['missing price', { symbol: 'AAPL', ts: T0, size: 1 }, 'missing_field', 'price'],
    ['object price', { ...good, price: { value: 1 } }, 'wrong_type', 'price'],
    ['boolean price', { ...good, price: true }, 'wrong_type', 'price'],
    ['array price', { ...good, price: [1] }, 'wrong_type', 'price'],
    ['hex price', { ...good, price: '0x10' }, 'wrong_type', 'price'],
    ['price with a thousands separator', { ...good, price: '1,000' }, 'wrong_type', 'price'],
    ['NaN price', { ...good, price: Number.NaN }, 'not_finite', 'price'],
    ['"NaN" price', { ...good, price: 'NaN' }, 'not_finite', 'price'],
    ['"-Infinity" price', { ...good, price: '-Infinity' }, 'not_finite', 'price'],
    ['"1e999" price', { ...good, price: '1e999' }, 'not_finite', 'price'],
    ['zero price', { ...good, price: 0 }, 'non_positive_price', 'price'],
    ['negative price string', { ...good, price: '-3' }, 'non_positive_price', 'price'],
    ['missing size', { ...good, size: '' }, 'missing_field', 'size'],
    ['negative size', { ...good, size: -1 }, 'negative_size', 'size'],
    ['infinite size', { ...good, size: -Infinity }, 'not_finite', 'size'],
    ['zero bid', { ...good, bid: 0 }, 'non_positive_price', 'bid'],
    ['negative ask', { ...good, ask: '-1' }, 'non_positive_price', 'ask'],
    ['text bid', { ...good, bid: 'abc' }, 'wrong_type', 'bid'],
    ['crossed quote', { ...good, bid: 10, ask: 9.99 }, 'crossed_quote', 'bid'],
    ['numeric exchange', { ...good, exchange: 7 }, 'wrong_type', 'exchange'],
    ['exchange with a space', { ...good, exchange: 'NY SE' }, 'bad_symbol', 'exchange'],
    ['fractional seq', { ...good, seq: 1.5 }, 'wrong_type', 'seq'],
    ['negative seq', { ...good, seq: -1 }, 'wrong_type', 'seq'],
    ['unsafe seq', { ...good, seq: 2 ** 53 }, 'wrong_type', 'seq'],
  ])('%s', (_name, input, reason, field) => {
    const letter = letterOf(new TickValidator().validate(input, source));
    expect(letter).toMatchObject({ reason, field, source });
    expect(letter.message.length).toBeGreaterThan(0);
    expect(ERROR_CODES).toContain(letter.reason);
  });

  it('names the value at fault', () => {
    expect(letterOf(new TickValidator().validate({ ...good, price: -2.5 })).value).toBe('-2.5');
    expect(letterOf(new TickValidator().validate({ ...good, symbol: 'aapl' })).value).toBe('"aapl"');
  });

  it.each([
    ['null', null],
    ['an array', [good]],
    ['a string', JSON.stringify(good)],
    ['a number', 42],
    ['undefined', undefined],
    ['a Map', new Map(Object.entries(good))],
    ['a Date', new Date()],
    [
      'a class instance',
      new (class Tickish {
        symbol = 'AAPL';
        ts = T0;
        price = 1;
        size = 1;
      })(),
    ],
    ['an object inheriting tick fields', Object.create(good) as object],
  ])('input that is not a plain object: %s', (_name, input) => {
    const letter = letterOf(new TickValidator().validate(input));
    expect(letter.reason).toBe('wrong_type');
    expect(letter.field).toBeUndefined();
  });

  it('huge strings cheaply, describing at most 200 characters', () => {
    const huge = 'A'.repeat(10_000_000);
    const validator = new TickValidator();
    for (const input of [huge, { ...good, symbol: huge }, { ...good, price: huge }, { ...good, ts: huge }]) {
      const letter = letterOf(validator.validate(input));
      expect(letter.value === undefined || letter.value.length <= 200).toBe(true);
    }
  });

  it('ticks further in the future than maxFutureMs, by the given clock', () => {
    const validator = new TickValidator({ maxFutureMs: 1000, now: () => T0 });
    expect(isDeadLetter(validator.validate({ ...good, ts: T0 + 1000 }))).toBe(false);
    expect(letterOf(validator.validate({ ...good, ts: T0 + 1001 }))).toMatchObject({
      reason: 'future_time',
      field: 'ts',
    });
  });
});

describe('TickValidator duplicate sequences', () => {
  it('rejects a seq <= the last accepted one per (exchange, symbol), and only those', () => {
    const validator = new TickValidator();
    const seqOf = (symbol: string, exchange: string | undefined, seq: number | string) =>
      validator.validate({ ...good, symbol, exchange, seq });
    expect(isDeadLetter(seqOf('AAPL', undefined, 5))).toBe(false);
    expect(letterOf(seqOf('AAPL', undefined, 5))).toMatchObject({
      reason: 'duplicate_sequence',
      field: 'seq',
      value: '5',
    });
    expect(letterOf(seqOf('AAPL', undefined, '4')).reason).toBe('duplicate_sequence');
    expect(isDeadLetter(seqOf('AAPL', 'XNAS', 1))).toBe(false);
    expect(isDeadLetter(seqOf('MSFT', undefined, 1))).toBe(false);
    expect(isDeadLetter(seqOf('AAPL', undefined, 9))).toBe(false);
    expect(letterOf(seqOf('AAPL', undefined, 6)).reason).toBe('duplicate_sequence');
    expect(validator.sequenceKeys).toBe(3);
  });

  it('does not remember the seq of a tick rejected for another reason', () => {
    const validator = new TickValidator();
    expect(letterOf(validator.validate({ ...good, price: 0, seq: 10 })).reason).toBe('non_positive_price');
    expect(isDeadLetter(validator.validate({ ...good, seq: 3 }))).toBe(false);
  });

  it('keeps at most maxSequenceKeys keys, forgetting the oldest', () => {
    const validator = new TickValidator({ maxSequenceKeys: 2 });
    for (const symbol of ['A', 'B', 'C']) validator.validate({ ...good, symbol, seq: 1 });
    expect(validator.sequenceKeys).toBe(2);
    expect(isDeadLetter(validator.validate({ ...good, symbol: 'A', seq: 1 }))).toBe(false); // A was forgotten
    expect(letterOf(validator.validate({ ...good, symbol: 'C', seq: 1 })).reason).toBe('duplicate_sequence');
  });

  it('snapshot -> JSON -> restore continues identically', () => {
    const validator = new TickValidator();
    validator.validate({ ...good, seq: 5 });
    validator.validate({ ...good, symbol: 'MSFT', exchange: 'XNAS', seq: 8 });
    const restored = new TickValidator();
    restored.restore(JSON.parse(JSON.stringify(validator.snapshot())));
    expect(restored.snapshot()).toStrictEqual(validator.snapshot());
    expect(letterOf(restored.validate({ ...good, seq: 5 })).reason).toBe('duplicate_sequence');
    expect(letterOf(restored.validate({ ...good, symbol: 'MSFT', exchange: 'XNAS', seq: 8 })).reason).toBe(
      'duplicate_sequence',
    );
    expect(isDeadLetter(restored.validate({ ...good, seq: 6 }))).toBe(false);
  });

  it.each([
    ['null', null],
    ['wrong version', { version: 2, kind: 'mlfp.tick-validator', sequences: [] }],
    ['sequences not an array', { version: 1, kind: 'mlfp.tick-validator', sequences: {} }],
    ['bad entry', { version: 1, kind: 'mlfp.tick-validator', sequences: [['', 'A']] }],
    ['fractional seq', { version: 1, kind: 'mlfp.tick-validator', sequences: [['', 'A', 1.5]] }],
  ])('restore rejects a bad snapshot (%s) and keeps its state', (_name, snapshot) => {
    const validator = new TickValidator();
    validator.validate({ ...good, seq: 5 });
    expect(() => validator.restore(snapshot)).toThrow(MlfpError);
    expect(letterOf(validator.validate({ ...good, seq: 5 })).reason).toBe('duplicate_sequence');
  });
});

describe('TickValidator options', () => {
  it.each([
    [{ symbolPattern: /^[A-Z]+$/g }],
    [{ maxFutureMs: -1 }],
    [{ maxSequenceKeys: 0 }],
    [{ maxSymbolLength: 1.5 }],
    [{ exchangePattern: 'XNAS' as unknown as RegExp }],
  ])('rejects %j with config_invalid', (options) => {
    expect(() => new TickValidator(options)).toThrow(expect.objectContaining({ code: 'config_invalid' }));
  });

  it('uses a custom symbol pattern', () => {
    const validator = new TickValidator({ symbolPattern: /^[a-z]{3}-[a-z]{3}$/ });
    expect(isDeadLetter(validator.validate({ ...good, symbol: 'btc-usd' }))).toBe(false);
    expect(letterOf(validator.validate(good)).reason).toBe('bad_symbol');
  });
});

describe('TickValidator with numbersAsStrings false (JSON and Avro ticks)', () => {
  const strict = new TickValidator({ numbersAsStrings: false });

  it.each([
    ['price "170.5"', { ...good, price: '170.5' }, 'price'],
    ['size "100"', { ...good, size: '100' }, 'size'],
    ['bid "171.3"', { ...good, bid: '171.3' }, 'bid'],
    ['ask "171.4"', { ...good, ask: '171.4' }, 'ask'],
    ['seq "7"', { ...good, seq: '7' }, 'seq'],
    ['ts as a digit string', { ...good, ts: String(T0) }, 'ts'],
    ['ts as a padded decimal string', { ...good, ts: ` ${T0}.5 ` }, 'ts'],
    ['price "NaN" (a string before it is a number)', { ...good, price: 'NaN' }, 'price'],
    ['size "-Infinity"', { ...good, size: '-Infinity' }, 'size'],
    ['price "0x1f"', { ...good, price: '0x1f' }, 'price'],
  ])('rejects %s as wrong_type', (_name, input, field) => {
    const letter = letterOf(strict.validate(input));
    expect(letter).toMatchObject({ reason: 'wrong_type', field });
    if (field !== 'ts') expect(letter.message).toMatch(/numbersAsStrings/);
  });

  it('still accepts JSON numbers, ISO-8601 ts strings, and treats blank strings as absent', () => {
    expect(
      tickOf(strict.validate({ ...good, ts: '2024-03-04T14:30:00Z', bid: 171.3, seq: 1 })),
    ).toMatchObject({
      ts: T0,
      price: 171.32,
      bid: 171.3,
      seq: 1,
    });
    expect(tickOf(strict.validate({ ...good, bid: '', ask: ' ' })).bid).toBeUndefined();
    expect(letterOf(strict.validate({ ...good, price: '' }))).toMatchObject({
      reason: 'missing_field',
      field: 'price',
    });
    expect(letterOf(strict.validate({ ...good, ts: 'yesterday' })).reason).toBe('bad_time');
  });

  it('accepts the same strings by default (CSV rows are text)', () => {
    const lenient = new TickValidator();
    expect(
      tickOf(lenient.validate({ ...good, ts: String(T0), price: '170.5', size: '100', seq: '7' })),
    ).toMatchObject({ ts: T0, price: 170.5, size: 100, seq: 7 });
    expect(letterOf(lenient.validate({ ...good, price: 'NaN' })).reason).toBe('not_finite');
  });

  it('rejects a numbersAsStrings that is not a boolean', () => {
    expect(() => new TickValidator({ numbersAsStrings: 'no' as unknown as boolean })).toThrow(
      expect.objectContaining({ code: 'config_invalid' }),
    );
  });
});

describe('Kafka key = symbol', () => {
  const ascii = (text: string) => Uint8Array.from(text, (char) => char.charCodeAt(0));

  it.each([
    ['the symbol as a Buffer', Buffer.from('AAPL'), true],
    ['the symbol as a Uint8Array', ascii('AAPL'), true],
    ['the symbol inside a larger buffer', Buffer.from('xAAPLx').subarray(1, 5), true],
    ['a null key', null, false],
    ['no key', undefined, false],
    ['another key', Buffer.from('other_key'), false],
    ['the symbol in lower case', Buffer.from('aapl'), false],
    ['the symbol padded', Buffer.from(' AAPL'), false],
    ['the symbol with a trailing space', Buffer.from('AAPL '), false],
    ['a prefix of the symbol', Buffer.from('AAP'), false],
    ['an empty key', Buffer.alloc(0), false],
  ])('keyMatchesSymbol: %s → %s', (_name, key, matches) => {
    expect(keyMatchesSymbol(key, 'AAPL')).toBe(matches);
  });

  it('compares the UTF-8 bytes of a non-ASCII symbol (custom patterns)', () => {
    expect(keyMatchesSymbol(Buffer.from('ÉTÉ'), 'ÉTÉ')).toBe(true);
    expect(keyMatchesSymbol(Buffer.from('ÉTÉ', 'latin1'), 'ÉTÉ')).toBe(false);
    expect(keyMatchesSymbol(Buffer.from('ÉTÉ'), 'ETE')).toBe(false);
  });

  it('keyMatchesSymbol agrees with comparing UTF-8 encodings (property)', () => {
    const text = fc.oneof(
      fc.constantFrom('AAPL', 'BTC-USD', 'aapl', ' AAPL', ''),
      fc.string({ maxLength: 8 }),
    );
    fc.assert(
      fc.property(text, text, (keyText, symbol) => {
        const key = Buffer.from(keyText);
        expect(keyMatchesSymbol(key, symbol)).toBe(key.equals(Buffer.from(symbol)));
      }),
      { numRuns: 3_000 },
    );
  });

  it('keyMismatchLetter names the key, bounded, and the symbol', () => {
    const source = { topic: 'market.ticks', partition: 2, offset: '7' };
    expect(keyMismatchLetter(null, 'AAPL', source)).toMatchObject({
      reason: 'key_mismatch',
      field: 'key',
      value: 'null',
      source,
    });
    expect(keyMismatchLetter(null, 'AAPL').message).toMatch(/no key.*"AAPL"/);
    const other = keyMismatchLetter(Buffer.from('other_key'), 'AAPL');
    expect(other).toMatchObject({ reason: 'key_mismatch', field: 'key', value: '"other_key"' });
    expect(other.message).toMatch(/"AAPL"/);
    expect(other.source).toBeUndefined();
    const huge = keyMismatchLetter(Buffer.alloc(1_000_000, 0x41), 'AAPL');
    expect(huge.value!.length).toBeLessThanOrEqual(201);
    expect(huge.value!.endsWith('…')).toBe(true);
    expect(keyMismatchLetter(Buffer.from([0xff, 0x41]), 'A').value).toBe('"\uFFFDA"');
  });

  it('validate() checks a given key after every field and before the seq is remembered', () => {
    const validator = new TickValidator();
    const source = { topic: 'market.ticks', partition: 0, offset: '1' };
    expect(tickOf(validator.validate(good, source, Buffer.from('AAPL'))).symbol).toBe('AAPL');
    expect(tickOf(validator.validate(good, source))).toBeDefined(); // no key given: no check (CSV)
    expect(letterOf(validator.validate(good, source, null))).toMatchObject({
      reason: 'key_mismatch',
      field: 'key',
      value: 'null',
      source,
    });
    expect(letterOf(validator.validate({ ...good, price: 0 }, source, null)).reason).toBe(
      'non_positive_price',
    );
    expect(letterOf(validator.validate({ ...good, symbol: 'aapl' }, source, null)).reason).toBe('bad_symbol');
    expect(letterOf(validator.validate({ ...good, seq: 5 }, source, Buffer.from('MSFT'))).reason).toBe(
      'key_mismatch',
    );
    expect(tickOf(validator.validate({ ...good, seq: 5 }, source, Buffer.from('AAPL'))).seq).toBe(5);
  });
});

describe('TickValidator properties', () => {
  it.each([
    ['numbers as strings accepted', true],
    ['numbers as strings refused', false],
  ])(
    'never throws on arbitrary values, and returns either a valid tick or a coded dead letter (%s)',
    (_name, numbersAsStrings) => {
      const validator = new TickValidator({ numbersAsStrings });
      const field = fc.oneof(
        fc.anything(),
        fc.double(),
        fc.string(),
        fc.constantFrom('NaN', '1e999', '', ' ', '-0', '0x1', '2024-03-04T14:30:00Z'),
      );
      const tickish = fc.record(
        {
          symbol: fc.oneof(fc.constantFrom('AAPL', 'BTC-USD', 'aapl', ''), field),
          ts: fc.oneof(fc.integer({ min: -10, max: 8e12 }), field),
          price: fc.oneof(fc.double(), field),
          size: fc.oneof(fc.double(), field),
          bid: field,
          ask: field,
          exchange: field,
          seq: fc.oneof(fc.integer(), field),
          __proto__: field,
        },
        { requiredKeys: [] },
      );
      fc.assert(
        fc.property(
          fc.oneof(fc.anything({ withNullPrototype: true, withMap: true, withSet: true }), tickish),
          (input) => {
            const result = validator.validate(input);
            if (isDeadLetter(result)) {
              expect(ERROR_CODES).toContain(result.reason);
              expect(typeof result.message).toBe('string');
            } else {
              expect(DEFAULT_SYMBOL_PATTERN.test(result.symbol)).toBe(true);
              expect(Number.isInteger(result.ts)).toBe(true);
              expect(result.price).toBeGreaterThan(0);
              expect(Number.isFinite(result.price)).toBe(true);
              expect(result.size).toBeGreaterThanOrEqual(0);
              expect(Number.isFinite(result.size)).toBe(true);
              if (!numbersAsStrings) {
                const record = input as Record<string, unknown>;
                for (const field of ['price', 'size', 'bid', 'ask', 'seq'])
                  expect(typeof record[field] === 'string' && record[field].trim() !== '').toBe(false);
              }
            }
          },
        ),
        { numRuns: 2000 },
      );
    },
  );

  it('the hand-written symbol scan accepts exactly the default pattern', () => {
    const validator = new TickValidator();
    const alphabet = fc.constantFrom(...'AZaz09._:/-_ é\u0000+'.split(''));
    fc.assert(
      fc.property(fc.string({ unit: alphabet, maxLength: 34 }), (symbol) => {
        const accepted = !isDeadLetter(validator.validate({ ...good, symbol }));
        expect(accepted).toBe(symbol !== '' && DEFAULT_SYMBOL_PATTERN.test(symbol));
      }),
      { numRuns: 3000 },
    );
  });

  it('numeric strings parse like Number() on the decimal grammar', () => {
    const validator = new TickValidator();
    fc.assert(
      fc.property(fc.double({ min: 1e-300, max: 1e300, noNaN: true }), (price) => {
        for (const text of [String(price), price.toExponential(), price.toFixed(6)]) {
          if (Number(text) <= 0) continue; // toFixed may round tiny prices to 0
          expect(tickOf(validator.validate({ ...good, price: text })).price).toBe(Number(text));
        }
      }),
    );
  });
});
