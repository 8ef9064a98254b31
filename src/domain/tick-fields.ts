// Readers of a tick's untrusted fields, allocation-free on the good path: numbers in the plain decimal
// grammar, absent values, the default symbol scan, and the Kafka key against the symbol.

const MAX_NUMBER_CHARS = 64;

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
export function isNumericText(text: string): boolean {
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
export function scanDefaultSymbol(symbol: string): boolean {
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
