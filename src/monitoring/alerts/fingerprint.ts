// The fingerprint of an alert's label set, bit for bit the one Prometheus and Alertmanager compute
// (prometheus/common model.LabelSet.Fingerprint): FNV-1a 64 over the label names in UTF-8 byte order, each
// name and value as UTF-8 followed by the 0xff separator, printed as 16 hex digits. Receivers de-duplicate
// and silence by it, so it must not depend on the order the labels were written in.

/** The FNV-1a 64 offset basis (the fingerprint of the empty label set), as two 32-bit halves. */
const OFFSET_HIGH = 0xcbf29ce4;
const OFFSET_LOW = 0x84222325;
/** The FNV 64 prime is 2^40 + 0x1b3: h·prime = h·0x1b3 + (h << 40). */
const PRIME_LOW = 0x1b3;
/** A byte that never occurs in UTF-8 (model.SeparatorByte). */
const SEPARATOR = 0xff;
const TWO_POW_32 = 0x1_0000_0000;

/**
 * The running hash as two unsigned 32-bit halves (plain numbers: every product below stays under 2^53, so
 * the arithmetic is exact without BigInt).
 */
class Fnv64a {
  high = OFFSET_HIGH;
  low = OFFSET_LOW;

  addByte(byte: number): void {
    const low = (this.low ^ byte) >>> 0;
    const lowProduct = low * PRIME_LOW; // < 2^41
    const carry = Math.floor(lowProduct / TWO_POW_32);
    // (h << 40) moves the low half 8 bits into the high half; the high half's own shift leaves 64 bits
    this.high = (this.high * PRIME_LOW + carry + ((low << 8) >>> 0)) >>> 0;
    this.low = lowProduct >>> 0;
  }

  /** Adds the UTF-8 bytes of `text` (a lone surrogate as U+FFFD, as Go's string conversion does). */
  addString(text: string): void {
    for (let index = 0; index < text.length; index++) {
      let code = text.charCodeAt(index);
      if (code < 0x80) {
        this.addByte(code);
        continue;
      }
      if (code < 0x800) {
        this.addByte(0xc0 | (code >> 6));
        this.addByte(0x80 | (code & 0x3f));
        continue;
      }
      if (code >= 0xd800 && code <= 0xdfff) {
        const next = index + 1 < text.length ? text.charCodeAt(index + 1) : 0;
        if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          code = 0x10000 + ((code - 0xd800) << 10) + (next - 0xdc00);
          index++;
          this.addByte(0xf0 | (code >> 18));
          this.addByte(0x80 | ((code >> 12) & 0x3f));
          this.addByte(0x80 | ((code >> 6) & 0x3f));
          this.addByte(0x80 | (code & 0x3f));
          continue;
        }
        code = 0xfffd;
      }
      this.addByte(0xe0 | (code >> 12));
      this.addByte(0x80 | ((code >> 6) & 0x3f));
      this.addByte(0x80 | (code & 0x3f));
    }
  }

  hex(): string {
    return this.high.toString(16).padStart(8, '0') + this.low.toString(16).padStart(8, '0');
  }
}

/**
 * Orders strings by code point, which is UTF-8 byte order (Go's sort.Strings). JavaScript's default sort
 * compares UTF-16 units and puts U+E000–U+FFFF after astral characters; this moves them back.
 */
export function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let index = 0; index < length; index++) {
    let x = a.charCodeAt(index);
    let y = b.charCodeAt(index);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x += x >= 0xe000 ? -0x800 : 0x2000;
      y += y >= 0xe000 ? -0x800 : 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

/** The Prometheus/Alertmanager fingerprint of a label set: 16 lower-case hex digits. */
export function alertFingerprint(labels: Readonly<Record<string, string>>): string {
  const hash = new Fnv64a();
  for (const name of Object.keys(labels).sort(compareCodePoints)) {
    hash.addString(name);
    hash.addByte(SEPARATOR);
    hash.addString(labels[name] ?? '');
    hash.addByte(SEPARATOR);
  }
  return hash.hex();
}
