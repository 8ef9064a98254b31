// Tick validation at the edge: an untrusted parsed JSON object or CSV row in, a Tick or a DeadLetter out.
// Hot path (one call per message): no try/catch, no regex for numbers, no allocation for a good tick beyond
// the Tick itself. Rules, in the order they are checked (the first problem wins):
//   input     a plain object (prototype Object.prototype or null), else wrong_type; only the keys below are
//             read, the object is never copied or enumerated, extra keys (`__proto__` included) are ignored
//   symbol    required string matching `symbolPattern` (bad_symbol)
//   ts        required: epoch ms number, digit string or ISO-8601 (parseTime); bad_time outside 1970..2200
//   price     required number (or numeric string, see below), finite (not_finite), > 0 (non_positive_price)
//   size      required, finite, >= 0 (negative_size); 0 is allowed (some feeds print zero-size trades)
//   bid, ask  optional (undefined, null, '' or blanks = absent); when present finite and > 0
//   exchange  optional string matching `exchangePattern` (bad_symbol, field exchange)
//   seq       optional non-negative safe integer (wrong_type otherwise)
//   then      crossed_quote when bid > ask (locked bid = ask is fine), unless allowCrossedQuotes;
//             future_time when ts > now() + maxFutureMs (only if maxFutureMs is set: bars.maxClockSkewMs);
//             key_mismatch when a Kafka key was passed and is not the symbol's bytes (keyMatchesSymbol);
//             duplicate_sequence when seq <= the last accepted seq of the same (exchange, symbol).
// Numbers as strings: with numbersAsStrings (the default, for CSV text rows) price, size, bid, ask and seq
// may be strings in a plain decimal grammar: [blanks][+-]digits[.digits][(e|E)[+-]digits][blanks] or
// [+-].digits...; "NaN", "Infinity", "inf" (any case, signed) are not_finite; anything else is wrong_type.
// With numbersAsStrings false (JSON/Avro ticks: config validation.numbersAsStrings) every non-blank string
// there is wrong_type before it is read ("NaN" included), and so is a ts string that reads as a number
// ("1709562600123"); ISO-8601 ts strings stay valid. Blank strings still mean absent (missing_field).
// Caveat: a getter or Proxy that throws will throw through validate(): JSON.parse and CSV rows cannot
// contain either, and a try/catch here would also hide our own bugs.

import { MlfpError, type ErrorCode } from '../errors.js';
import {
  badTimeLetter,
  keyMismatchLetter,
  kindOf,
  missingField,
  rejectTick,
  wrongTypeField,
} from './tick-dead-letters.js';
import { isAbsent, isNumericText, keyMatchesSymbol, readNumber, scanDefaultSymbol } from './tick-fields.js';
import {
  checkInteger,
  checkPattern,
  DEFAULT_EXCHANGE_PATTERN,
  DEFAULT_SYMBOL_PATTERN,
  type TickValidatorOptions,
} from './tick-validator-options.js';
import {
  parseTickValidatorSnapshot,
  writeTickValidatorSnapshot,
  type SequencesByExchange,
  type TickValidatorSnapshot,
} from './tick-validator-snapshot.js';
import { parseTime } from './time.js';
import type { DeadLetter, SourceRef, Tick } from './types.js';

export { keyMismatchLetter } from './tick-dead-letters.js';
export { isAbsent, keyMatchesSymbol, readNumber, type NumberProblem } from './tick-fields.js';
export {
  DEFAULT_EXCHANGE_PATTERN,
  DEFAULT_SYMBOL_PATTERN,
  type TickValidatorOptions,
} from './tick-validator-options.js';
export type { TickValidatorSnapshot } from './tick-validator-snapshot.js';
export { isDeadLetter } from './types.js';

const NO_EXCHANGE = '';

/** Validates ticks; remembers the last seq per (exchange, symbol) to reject duplicates (O(1) per key). */
export class TickValidator {
  private readonly symbolPattern: RegExp | undefined;
  private readonly maxSymbolLength: number;
  private readonly exchangePattern: RegExp;
  private readonly maxFutureMs: number;
  private readonly now: () => number;
  private readonly allowCrossedQuotes: boolean;
  private readonly maxSequenceKeys: number;
  private readonly numbersAsStrings: boolean;
  /** exchange ('' when absent) -> symbol -> last accepted seq */
  private sequences: SequencesByExchange = new Map();
  private sequenceKeyCount = 0;
  /** Why the last toNumber() returned NaN; a field, not a return object, so a good tick allocates nothing. */
  private numberProblem: ErrorCode = 'wrong_type';

  constructor(options: TickValidatorOptions = {}) {
    const symbolPattern = options.symbolPattern ?? DEFAULT_SYMBOL_PATTERN;
    checkPattern('symbolPattern', symbolPattern);
    const exchangePattern = options.exchangePattern ?? DEFAULT_EXCHANGE_PATTERN;
    checkPattern('exchangePattern', exchangePattern);
    // the default pattern is checked by scanDefaultSymbol(), about 5x faster than RegExp.test
    this.symbolPattern = symbolPattern === DEFAULT_SYMBOL_PATTERN ? undefined : symbolPattern;
    this.maxSymbolLength = checkInteger('maxSymbolLength', options.maxSymbolLength ?? 32, 1, 1024);
    this.exchangePattern = exchangePattern;
    const maxFutureMs = options.maxFutureMs;
    if (maxFutureMs !== undefined && !(typeof maxFutureMs === 'number' && maxFutureMs >= 0))
      throw new MlfpError('config_invalid', 'maxFutureMs must be a number >= 0', {
        field: 'maxFutureMs',
        value: maxFutureMs,
      });
    this.maxFutureMs = maxFutureMs ?? Number.POSITIVE_INFINITY;
    this.now = options.now ?? Date.now;
    this.allowCrossedQuotes = options.allowCrossedQuotes ?? false;
    this.maxSequenceKeys = checkInteger('maxSequenceKeys', options.maxSequenceKeys ?? 1_000_000, 1, 2 ** 31);
    const numbersAsStrings = options.numbersAsStrings ?? true;
    if (typeof numbersAsStrings !== 'boolean')
      throw new MlfpError('config_invalid', 'numbersAsStrings must be a boolean', {
        field: 'numbersAsStrings',
        value: numbersAsStrings,
      });
    this.numbersAsStrings = numbersAsStrings;
  }

  /**
   * Returns a Tick, or a DeadLetter (see isDeadLetter) naming the first problem. Never throws for data.
   * `key`: the Kafka message key when it must equal the symbol (config validation.keyMustEqualSymbol), null
   * for a message without a key; leave it undefined to skip the check (CSV, or the check turned off). It is
   * checked after every field, so a malformed message keeps its own reason, and before the seq is
   * remembered, so a mis-keyed tick cannot make the correctly keyed one with its seq a duplicate.
   */
  validate(input: unknown, source?: SourceRef, key?: Buffer | Uint8Array | null): Tick | DeadLetter {
    if (typeof input !== 'object' || input === null) {
      return rejectTick(
        'wrong_type',
        undefined,
        input,
        source,
        `tick must be a JSON object, got ${kindOf(input)}`,
      );
    }
    const prototype: unknown = Object.getPrototypeOf(input);
    if (prototype !== Object.prototype && prototype !== null) {
      return rejectTick(
        'wrong_type',
        undefined,
        input,
        source,
        `tick must be a JSON object, got ${kindOf(input)}`,
      );
    }
    const record = input as Record<string, unknown>;

    const symbolValue = record.symbol;
    if (isAbsent(symbolValue)) return missingField('symbol', symbolValue, source);
    if (typeof symbolValue !== 'string') return wrongTypeField('symbol', symbolValue, source, 'a string');
    if (!this.isSymbol(symbolValue))
      return rejectTick(
        'bad_symbol',
        'symbol',
        symbolValue,
        source,
        'symbol does not match the symbol pattern',
      );

    const tsValue = record.ts;
    if (isAbsent(tsValue)) return missingField('ts', tsValue, source);
    if (!this.numbersAsStrings && typeof tsValue === 'string' && isNumericText(tsValue))
      return wrongTypeField('ts', tsValue, source, 'epoch ms as a number or an ISO-8601 string');
    const ts = parseTime(tsValue);
    if (ts !== ts) return badTimeLetter(tsValue, source);

    const price = this.toNumber(record.price);
    if (price !== price) return this.badNumber('price', record.price, source);
    if (!(price > 0)) return rejectTick('non_positive_price', 'price', price, source, 'price must be > 0');

    const size = this.toNumber(record.size);
    if (size !== size) return this.badNumber('size', record.size, source);
    if (size < 0) return rejectTick('negative_size', 'size', size, source, 'size must be >= 0');

    let bid: number | undefined;
    const bidValue = record.bid;
    if (!isAbsent(bidValue)) {
      bid = this.toNumber(bidValue);
      if (bid !== bid) return this.badNumber('bid', bidValue, source);
      if (!(bid > 0)) return rejectTick('non_positive_price', 'bid', bid, source, 'bid must be > 0');
    }
    let ask: number | undefined;
    const askValue = record.ask;
    if (!isAbsent(askValue)) {
      ask = this.toNumber(askValue);
      if (ask !== ask) return this.badNumber('ask', askValue, source);
      if (!(ask > 0)) return rejectTick('non_positive_price', 'ask', ask, source, 'ask must be > 0');
    }

    let exchange: string | undefined;
    const exchangeValue = record.exchange;
    if (!isAbsent(exchangeValue)) {
      if (typeof exchangeValue !== 'string')
        return wrongTypeField('exchange', exchangeValue, source, 'a string');
      if (exchangeValue.length > this.maxSymbolLength || !this.exchangePattern.test(exchangeValue))
        return rejectTick(
          'bad_symbol',
          'exchange',
          exchangeValue,
          source,
          'exchange does not match the pattern',
        );
      exchange = exchangeValue;
    }

    let seq: number | undefined;
    const seqValue = record.seq;
    if (!isAbsent(seqValue)) {
      seq = this.toNumber(seqValue);
      if (seq !== seq) return this.badNumber('seq', seqValue, source);
      if (!(Number.isSafeInteger(seq) && seq >= 0))
        return rejectTick('wrong_type', 'seq', seqValue, source, 'seq must be an integer in 0..2^53-1');
      seq += 0; // -0 -> 0
    }

    if (bid !== undefined && ask !== undefined && bid > ask && !this.allowCrossedQuotes)
      return rejectTick('crossed_quote', 'bid', bid, source, `crossed quote: bid ${bid} > ask ${ask}`);
    if (this.maxFutureMs !== Number.POSITIVE_INFINITY) {
      const nowMs = this.now();
      if (ts > nowMs + this.maxFutureMs)
        return rejectTick(
          'future_time',
          'ts',
          tsValue,
          source,
          `ts is ${ts - nowMs} ms ahead of the wall clock (bars.maxClockSkewMs ${this.maxFutureMs})`,
        );
    }
    if (key !== undefined && !keyMatchesSymbol(key, symbolValue))
      return keyMismatchLetter(key, symbolValue, source);
    if (seq !== undefined && !this.acceptSequence(exchange ?? NO_EXCHANGE, symbolValue, seq)) {
      return rejectTick(
        'duplicate_sequence',
        'seq',
        seq,
        source,
        `seq ${seq} <= last accepted ${this.sequences.get(exchange ?? NO_EXCHANGE)?.get(symbolValue)} for this symbol and exchange`,
      );
    }

    // one object shape for every tick (absent optionals are undefined) keeps consumers monomorphic
    return { symbol: symbolValue, ts, price, size: size + 0, bid, ask, exchange, seq };
  }

  /** The duplicate-detection state as versioned plain JSON. */
  snapshot(): TickValidatorSnapshot {
    return writeTickValidatorSnapshot(this.sequences);
  }

  /** Replaces the duplicate-detection state; validates all of it first (snapshot_invalid), so a bad snapshot changes nothing. */
  restore(snapshot: unknown): void {
    const { sequences, count } = parseTickValidatorSnapshot(snapshot, this.maxSequenceKeys);
    this.sequences = sequences;
    this.sequenceKeyCount = count;
  }

  /** Number of (exchange, symbol) keys remembered. */
  get sequenceKeys(): number {
    return this.sequenceKeyCount;
  }

  private acceptSequence(exchange: string, symbol: string, seq: number): boolean {
    let bySymbol = this.sequences.get(exchange);
    if (bySymbol === undefined) {
      bySymbol = new Map();
      this.sequences.set(exchange, bySymbol);
    }
    const last = bySymbol.get(symbol);
    if (last !== undefined) {
      if (seq <= last) return false;
    } else if (++this.sequenceKeyCount > this.maxSequenceKeys) {
      this.forgetOldestKey(bySymbol);
    }
    bySymbol.set(symbol, seq);
    return true;
  }

  /** Bounds memory: drops the oldest key of this exchange (or of any exchange when this one is empty). */
  private forgetOldestKey(preferred: Map<string, number>): void {
    let victim = preferred;
    if (victim.size === 0) {
      for (const bySymbol of this.sequences.values()) {
        if (bySymbol.size > 0) {
          victim = bySymbol;
          break;
        }
      }
    }
    for (const symbol of victim.keys()) {
      victim.delete(symbol);
      this.sequenceKeyCount--;
      return;
    }
  }

  private isSymbol(symbol: string): boolean {
    if (symbol.length > this.maxSymbolLength) return false;
    return this.symbolPattern === undefined ? scanDefaultSymbol(symbol) : this.symbolPattern.test(symbol);
  }

  /** A finite number from a number or numeric string; NaN (with numberProblem set) when unusable. */
  private toNumber(value: unknown): number {
    if (!this.numbersAsStrings && typeof value === 'string' && !isAbsent(value)) {
      this.numberProblem = 'wrong_type';
      return Number.NaN;
    }
    const result = readNumber(value);
    if (typeof result === 'number') return result;
    this.numberProblem = result;
    return Number.NaN;
  }

  private badNumber(field: string, value: unknown, source: SourceRef | undefined): DeadLetter {
    const problem = this.numberProblem;
    if (problem === 'missing_field') return missingField(field, value, source);
    if (problem === 'not_finite')
      return rejectTick('not_finite', field, value, source, `${field} must be finite`);
    return wrongTypeField(
      field,
      value,
      source,
      this.numbersAsStrings ? 'a number or a numeric string' : 'a JSON number (numbersAsStrings is off)',
    );
  }
}
