// The performance window's key index: (symbol, bar start) → ring slot, by open addressing with linear probing
// over an Int32Array whose keys are read back from the ring's own arrays, so that a label costs no allocation
// (a Map per symbol would cost one per label when the window is smaller than the symbol count).

/** Index of a ring's slots by their (symbol, ts) keys; each key at most once. Hashes come from `hashOf`. */
export class SlotIndex {
  /** slot + 1 per bucket; 0 = empty */
  private readonly buckets: Int32Array;
  /** the hash each slot was inserted with, so that moving entries costs no rehash */
  private readonly hashes: Int32Array;
  private readonly mask: number;

  constructor(
    capacity: number,
    /** the ring's symbol per slot, read on every probe */
    private readonly symbols: readonly string[],
    /** the ring's bar start per slot */
    private readonly keyTs: Float64Array,
  ) {
    // at most half full, so that probe runs stay short
    let size = 4;
    while (size < 2 * capacity) size *= 2;
    this.buckets = new Int32Array(size);
    this.hashes = new Int32Array(capacity);
    this.mask = size - 1;
  }

  /** The slot holding (symbol, ts), whose hash is `hash`, or −1. */
  find(hash: number, symbol: string, ts: number): number {
    const buckets = this.buckets;
    const mask = this.mask;
    for (let at = hash & mask; ; at = (at + 1) & mask) {
      const held = (buckets[at] as number) - 1;
      if (held < 0) return -1;
      if (
        this.hashes[held] === hash &&
        this.symbols[held] === symbol &&
        sameTs(this.keyTs[held] as number, ts)
      )
        return held;
    }
  }

  /** Indexes `slot` (absent from the index) under the key the ring holds there now, whose hash is `hash`. */
  insert(slot: number, hash: number): void {
    const buckets = this.buckets;
    const mask = this.mask;
    let at = hash & mask;
    while ((buckets[at] as number) !== 0) at = (at + 1) & mask;
    buckets[at] = slot + 1;
    this.hashes[slot] = hash;
  }

  /** Drops `slot` and closes the gap, so that later probes of its run still find theirs. */
  remove(slot: number): void {
    const buckets = this.buckets;
    const mask = this.mask;
    let gap = (this.hashes[slot] as number) & mask;
    while ((buckets[gap] as number) !== slot + 1) gap = (gap + 1) & mask;
    // backward-shift deletion: move back each later entry of the run whose home is not in (gap, at]
    for (let at = (gap + 1) & mask; ; at = (at + 1) & mask) {
      const held = (buckets[at] as number) - 1;
      if (held < 0) break;
      const home = (this.hashes[held] as number) & mask;
      if (((at - home) & mask) >= ((at - gap) & mask)) {
        buckets[gap] = held + 1;
        gap = at;
      }
    }
    buckets[gap] = 0;
  }
}

/** FNV-1a over the symbol's UTF-16 units, then the bar start's two 32-bit halves (murmur3's constants). */
export function hashOf(symbol: string, ts: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < symbol.length; i++) h = Math.imul(h ^ symbol.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (ts | 0), 0x85ebca6b);
  h = Math.imul(h ^ ((ts / 4_294_967_296) | 0), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** Map key equality (SameValueZero): NaN matches NaN. */
function sameTs(a: number, b: number): boolean {
  return a === b || (a !== a && b !== b);
}
