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
import { parseTime } from './time.js';
import type { DeadLetter, SourceRef, Tick } from './types.js';

export const DEFAULT_SYMBOL_PATTERN = /^[A-Z0-9][A-Z0-9._:/-]{0,31}$/;
export const DEFAULT_EXCHANGE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,31}$/;

export interface TickValidatorOptions {
  /** Symbols must match it (default DEFAULT_SYMBOL_PATTERN, checked by an equivalent hand-written scan). */
  symbolPattern?: RegExp;
  /** Longest symbol read before the pattern is tried (default 32); bounds the cost of a custom pattern. */
  maxSymbolLength?: number;
  /** Exchanges must match it (default DEFAULT_EXCHANGE_PATTERN: case-insensitive, 1..32 characters). */
  exchangePattern?: RegExp;
  /** Reject ticks whose ts is more than this ahead of now() (future_time). Default: no such check (replays). */
  maxFutureMs?: number;
  /** Wall clock for maxFutureMs, epoch ms (default Date.now); the operator passes its scheduler's now(). */
  now?: () => number;
  /** Accept bid > ask (default false: crossed_quote). */
  allowCrossedQuotes?: boolean;
  /** Most (exchange, symbol) keys remembered for duplicate detection (default 1,000,000); past it the oldest key of the same exchange is forgotten. */
  maxSequenceKeys?: number;
  /**
   * Accept numeric strings ("170.5") for price, size, bid, ask, seq and digit strings for ts. Default true:
   * CSV rows are text. The Kafka engine passes config validation.numbersAsStrings (default false).
   */
  numbersAsStrings?: boolean;
}

/** Versioned plain-JSON state of a TickValidator: the last accepted seq per (exchange, symbol). */
export interface TickValidatorSnapshot {
  version: 1;
  kind: 'mlfp.tick-validator';
  /** [exchange ('' when absent), symbol, last accepted seq], oldest key first */
  sequences: Array<[string, string, number]>;
}

const MAX_NUMBER_CHARS = 64;
const MAX_DESCRIBED_CHARS = 200;
const NO_EXCHANGE = '';

export { isDeadLetter } from './types.js';

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
  private sequences = new Map<string, Map<string, number>>();
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
      return this.reject(
        'wrong_type',
        undefined,
        input,
        source,
        `tick must be a JSON object, got ${kindOf(input)}`,
      );
    }
    const prototype: unknown = Object.getPrototypeOf(input);
    if (prototype !== Object.prototype && prototype !== null) {
      return this.reject(
        'wrong_type',
        undefined,
        input,
        source,
        `tick must be a JSON object, got ${kindOf(input)}`,
      );
    }
    const record = input as Record<string, unknown>;

    const symbolValue = record.symbol;
    if (isAbsent(symbolValue)) return this.missing('symbol', symbolValue, source);
    if (typeof symbolValue !== 'string') return this.wrongType('symbol', symbolValue, source, 'a string');
    if (!this.isSymbol(symbolValue))
      return this.reject(
        'bad_symbol',
        'symbol',
        symbolValue,
        source,
        'symbol does not match the symbol pattern',
      );

    const tsValue = record.ts;
    if (isAbsent(tsValue)) return this.missing('ts', tsValue, source);
    if (!this.numbersAsStrings && typeof tsValue === 'string' && isNumericText(tsValue))
      return this.wrongType('ts', tsValue, source, 'epoch ms as a number or an ISO-8601 string');
    const ts = parseTime(tsValue);
    if (ts !== ts) return this.badTime(tsValue, source);

    const price = this.toNumber(record.price);
    if (price !== price) return this.badNumber('price', record.price, source);
    if (!(price > 0)) return this.reject('non_positive_price', 'price', price, source, 'price must be > 0');

    const size = this.toNumber(record.size);
    if (size !== size) return this.badNumber('size', record.size, source);
    if (size < 0) return this.reject('negative_size', 'size', size, source, 'size must be >= 0');

    let bid: number | undefined;
    const bidValue = record.bid;
    if (!isAbsent(bidValue)) {
      bid = this.toNumber(bidValue);
      if (bid !== bid) return this.badNumber('bid', bidValue, source);
      if (!(bid > 0)) return this.reject('non_positive_price', 'bid', bid, source, 'bid must be > 0');
    }
    let ask: number | undefined;
    const askValue = record.ask;
    if (!isAbsent(askValue)) {
      ask = this.toNumber(askValue);
      if (ask !== ask) return this.badNumber('ask', askValue, source);
      if (!(ask > 0)) return this.reject('non_positive_price', 'ask', ask, source, 'ask must be > 0');
    }

    let exchange: string | undefined;
    const exchangeValue = record.exchange;
    if (!isAbsent(exchangeValue)) {
      if (typeof exchangeValue !== 'string')
        return this.wrongType('exchange', exchangeValue, source, 'a string');
      if (exchangeValue.length > this.maxSymbolLength || !this.exchangePattern.test(exchangeValue))
        return this.reject(
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
        return this.reject('wrong_type', 'seq', seqValue, source, 'seq must be an integer in 0..2^53-1');
      seq += 0; // -0 -> 0
    }

    if (bid !== undefined && ask !== undefined && bid > ask && !this.allowCrossedQuotes)
      return this.reject('crossed_quote', 'bid', bid, source, `crossed quote: bid ${bid} > ask ${ask}`);
    if (this.maxFutureMs !== Number.POSITIVE_INFINITY) {
      const nowMs = this.now();
      if (ts > nowMs + this.maxFutureMs)
        return this.reject(
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
      return this.reject(
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
    const sequences: Array<[string, string, number]> = [];
    for (const [exchange, bySymbol] of this.sequences) {
      for (const [symbol, seq] of bySymbol) sequences.push([exchange, symbol, seq]);
    }
    return { version: 1, kind: 'mlfp.tick-validator', sequences };
  }

  /** Replaces the duplicate-detection state; validates all of it first (snapshot_invalid), so a bad snapshot changes nothing. */
  restore(snapshot: unknown): void {
    const fail = (message: string): never => {
      throw new MlfpError('snapshot_invalid', `tick validator snapshot: ${message}`);
    };
    if (typeof snapshot !== 'object' || snapshot === null) return fail('not an object');
    const candidate = snapshot as Partial<TickValidatorSnapshot>;
    if (candidate.version !== 1 || candidate.kind !== 'mlfp.tick-validator')
      return fail(`unsupported version/kind ${String(candidate.version)}/${String(candidate.kind)}`);
    if (!Array.isArray(candidate.sequences)) return fail('sequences must be an array');
    const sequences = new Map<string, Map<string, number>>();
    let count = 0;
    for (const entry of candidate.sequences as unknown[]) {
      if (!Array.isArray(entry) || entry.length !== 3)
        return fail('each sequence is [exchange, symbol, seq]');
      const [exchange, symbol, seq] = entry as unknown[];
      if (typeof exchange !== 'string' || typeof symbol !== 'string')
        return fail('exchange and symbol must be strings');
      if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0)
        return fail(`seq of ${symbol} must be a non-negative safe integer`);
      let bySymbol = sequences.get(exchange);
      if (bySymbol === undefined) sequences.set(exchange, (bySymbol = new Map()));
      if (!bySymbol.has(symbol)) count++;
      bySymbol.set(symbol, seq);
    }
    if (count > this.maxSequenceKeys)
      return fail(`${count} keys exceed maxSequenceKeys ${this.maxSequenceKeys}`);
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
    if (problem === 'missing_field') return this.missing(field, value, source);
    if (problem === 'not_finite')
      return this.reject('not_finite', field, value, source, `${field} must be finite`);
    return this.wrongType(
      field,
      value,
      source,
      this.numbersAsStrings ? 'a number or a numeric string' : 'a JSON number (numbersAsStrings is off)',
    );
  }

  private badTime(value: unknown, source: SourceRef | undefined): DeadLetter {
    if (typeof value === 'number' && !Number.isFinite(value))
      return this.reject('not_finite', 'ts', value, source, 'ts must be finite');
    if (typeof value !== 'number' && typeof value !== 'string')
      return this.wrongType('ts', value, source, 'epoch ms or an ISO-8601 string');
    return this.reject(
      'bad_time',
      'ts',
      value,
      source,
      'ts must be epoch ms or ISO-8601 (YYYY-MM-DD[Thh:mm[:ss[.fff]]][Z|±hh:mm]) within 1970..2200',
    );
  }

  private missing(field: string, value: unknown, source: SourceRef | undefined): DeadLetter {
    return this.reject('missing_field', field, value, source, `${field} is required`);
  }

  private wrongType(
    field: string,
    value: unknown,
    source: SourceRef | undefined,
    expected: string,
  ): DeadLetter {
    return this.reject(
      'wrong_type',
      field,
      value,
      source,
      `${field} must be ${expected}, got ${kindOf(value)}`,
    );
  }

  private reject(
    reason: ErrorCode,
    field: string | undefined,
    value: unknown,
    source: SourceRef | undefined,
    message: string,
  ): DeadLetter {
    const letter: DeadLetter = { reason, message };
    if (field !== undefined) letter.field = field;
    if (value !== undefined) letter.value = describeBounded(value);
    if (source !== undefined) letter.source = source;
    return letter;
  }
}

export type NumberProblem = 'missing_field' | 'not_finite' | 'wrong_type';

/**
 * Reads a numeric field given as a number or a plain decimal string: the finite number, or why it is unusable
 * (absent, not finite — NaN, Infinity, "1e999" — or of the wrong type, such as "0x1f", "1,000" or an object).
 */
export function readNumber(value: unknown): number | NumberProblem {
  if (typeof value === 'number') return value - value === 0 ? value : 'not_finite'; // NaN/Infinity fail x-x===0
  if (typeof value === 'string') {
    if (isAbsent(value)) return 'missing_field';
    if (value.length <= MAX_NUMBER_CHARS && isDecimal(value)) {
      const parsed = Number(value);
      return parsed - parsed === 0 ? parsed : 'not_finite';
    }
    return value.length <= MAX_NUMBER_CHARS && isNonFiniteWord(value) ? 'not_finite' : 'wrong_type';
  }
  return value === undefined || value === null ? 'missing_field' : 'wrong_type';
}

/**
 * True when the Kafka message key is exactly the symbol (its UTF-8 bytes; symbols are ASCII by the default
 * pattern, compared byte by byte without allocating). A null or absent key never matches; nor do "aapl"
 * for "AAPL" or " AAPL".
 */
export function keyMatchesSymbol(key: Buffer | Uint8Array | null | undefined, symbol: string): boolean {
  if (key === null || key === undefined) return false;
  const length = symbol.length;
  if (key.length < length) return false; // UTF-8 never has fewer bytes than UTF-16 code units
  for (let index = 0; index < length; index++) {
    const code = symbol.charCodeAt(index);
    if (code > 0x7f) return Buffer.from(symbol, 'utf8').equals(key); // a custom non-ASCII pattern: rare
    if (key[index] !== code) return false;
  }
  return key.length === length;
}

/** The dead letter of a tick whose Kafka key is not its symbol: key_mismatch, field key, value the key (null for none). */
export function keyMismatchLetter(
  key: Buffer | Uint8Array | null | undefined,
  symbol: string,
  source?: SourceRef,
): DeadLetter {
  const shownSymbol = describeBounded(symbol);
  const letter: DeadLetter = {
    reason: 'key_mismatch',
    field: 'key',
    value: describeKey(key),
    message:
      key === null || key === undefined
        ? `message has no key; the key must be the tick's symbol ${shownSymbol}`
        : `message key is not the tick's symbol ${shownSymbol} (a symbol's ticks must share one partition)`,
  };
  if (source !== undefined) letter.source = source;
  return letter;
}

/** A key as text for a dead letter: "null", or its first 200 bytes as a JSON string (invalid UTF-8 as U+FFFD). */
function describeKey(key: Buffer | Uint8Array | null | undefined): string {
  if (key === null || key === undefined) return 'null';
  const text = LENIENT_UTF8.decode(key.subarray(0, MAX_DESCRIBED_CHARS));
  const shown = describeBounded(text);
  return key.length > MAX_DESCRIBED_CHARS && !shown.endsWith('…') ? `${shown}…` : shown;
}

const LENIENT_UTF8 = new TextDecoder('utf-8');

/** undefined, null, '' and blank strings mean "not given" (CSV leaves empty cells). */
export function isAbsent(value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (typeof value !== 'string') return false;
  for (let index = 0; index < value.length; index++) {
    const code = value.charCodeAt(index);
    if (code !== 32 && code !== 9) return false;
  }
  return true;
}

/** A string that reads as a number (the decimal grammar below), checked only up to 64 characters. */
function isNumericText(text: string): boolean {
  return text.length <= MAX_NUMBER_CHARS && isDecimal(text);
}

/** [blanks][+-](digits[.digits*] | .digits)[(e|E)[+-]digits][blanks], by char codes. */
function isDecimal(text: string): boolean {
  let end = text.length;
  let at = 0;
  while (at < end && isBlank(text.charCodeAt(at))) at++;
  while (end > at && isBlank(text.charCodeAt(end - 1))) end--;
  let code = text.charCodeAt(at);
  if (code === 43 || code === 45) code = text.charCodeAt(++at);
  let mantissaDigits = 0;
  while (at < end && isDigit(code)) {
    mantissaDigits++;
    code = text.charCodeAt(++at);
  }
  if (at < end && code === 46) {
    code = text.charCodeAt(++at);
    while (at < end && isDigit(code)) {
      mantissaDigits++;
      code = text.charCodeAt(++at);
    }
  }
  if (mantissaDigits === 0) return false;
  if (at < end && (code === 101 || code === 69)) {
    code = text.charCodeAt(++at);
    if (code === 43 || code === 45) code = text.charCodeAt(++at);
    let exponentDigits = 0;
    while (at < end && isDigit(code)) {
      exponentDigits++;
      code = text.charCodeAt(++at);
    }
    if (exponentDigits === 0) return false;
  }
  return at === end;
}

const NON_FINITE_WORDS: ReadonlySet<string> = new Set(['nan', 'inf', 'infinity']);

/** Rejection path only (may allocate). */
function isNonFiniteWord(text: string): boolean {
  let word = text.trim().toLowerCase();
  if (word.startsWith('+') || word.startsWith('-')) word = word.slice(1);
  return NON_FINITE_WORDS.has(word);
}

/** Same language as DEFAULT_SYMBOL_PATTERN: [A-Z0-9] then [A-Z0-9._:/-], 1..32 characters. */
function scanDefaultSymbol(symbol: string): boolean {
  const length = symbol.length;
  if (length === 0 || length > 32) return false;
  const first = symbol.charCodeAt(0);
  if (!(isDigit(first) || (first >= 65 && first <= 90))) return false;
  for (let index = 1; index < length; index++) {
    const code = symbol.charCodeAt(index);
    // A-Z, 0-9, '.', ':', '/', '-', '_'
    if (!((code >= 65 && code <= 90) || (code >= 45 && code <= 58) || code === 95)) return false;
  }
  return true;
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

function isBlank(code: number): boolean {
  return code === 32 || code === 9;
}

/** A short rendering that never reads more than 200 characters of a string nor serialises an object. */
function describeBounded(value: unknown): string {
  if (typeof value === 'string') {
    // slice before stringify: a 100 MB string must not be copied to describe it
    const text = JSON.stringify(value.slice(0, MAX_DESCRIBED_CHARS));
    return text.length > MAX_DESCRIBED_CHARS || value.length > MAX_DESCRIBED_CHARS
      ? `${text.slice(0, MAX_DESCRIBED_CHARS - 1)}…`
      : text;
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  return kindOf(value);
}

/** The kind of a value for messages: "null", "array", "object", "string", "boolean", ... */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function checkPattern(name: string, pattern: unknown): void {
  if (!(pattern instanceof RegExp))
    throw new MlfpError('config_invalid', `${name} must be a RegExp`, { field: name, value: pattern });
  // test() on a global or sticky RegExp depends on lastIndex, so the same symbol would alternate
  if (pattern.global || pattern.sticky)
    throw new MlfpError('config_invalid', `${name} must not have the g or y flag`, {
      field: name,
      value: pattern.source,
    });
}

function checkInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw new MlfpError('config_invalid', `${name} must be an integer in ${min}..${max}`, {
      field: name,
      value,
    });
  return value;
}
