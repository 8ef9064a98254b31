// Symbol sampling for drift at scale: a model's detectors take values from at most `maxSymbols` symbols, the
// ones of smallest hash among all seen (a bottom-k sample). The choice depends only on the set of symbols
// seen, never on their order or on the values, so it is deterministic and unbiased with respect to the data;
// as symbols arrive the share can only shrink: a symbol left out stays out, one in may be displaced by a
// later one of smaller hash. O(log maxSymbols) per new symbol, nothing per value.

/** What the sample orders: a symbol name and its hash (`symbolHash(name)`), and whether it is in now. */
export interface SampledSymbol {
  readonly name: string;
  readonly hash: number;
  admitted: boolean;
}

/** FNV-1a over the name's UTF-16 code units, then MurmurHash3's finaliser (avalanche: "SYM1"…"SYM9" spread). */
export function symbolHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Whether (hash, name) ranks above `than`: the order of the sample, ties of hash broken by name. */
function ranksAbove(hash: number, name: string, than: SampledSymbol): boolean {
  return hash > than.hash || (hash === than.hash && name > than.name);
}

/**
 * The `capacity` symbols of lowest (hash, name) among all offered, as a max-heap: its top is the threshold a
 * new symbol must rank below to get in (displacing the top) once the sample is full.
 */
export class SymbolSample<T extends SampledSymbol> {
  private readonly heap: T[] = [];

  constructor(readonly capacity: number) {}

  /** Symbols in the sample now. */
  get size(): number {
    return this.heap.length;
  }

  /** The members, in heap order. */
  members(): readonly T[] {
    return this.heap;
  }

  /** Whether a symbol not offered before would be admitted now. */
  admits(hash: number, name: string): boolean {
    const top = this.heap[0];
    return this.heap.length < this.capacity || top === undefined || !ranksAbove(hash, name, top);
  }

  /**
   * Admits a symbol `admits` accepted (marks it admitted); returns the member it displaced (marked not
   * admitted), if the sample was full.
   */
  add(entry: T): T | undefined {
    const heap = this.heap;
    entry.admitted = true;
    if (heap.length < this.capacity) {
      heap.push(entry);
      this.siftUp(heap.length - 1);
      return undefined;
    }
    const displaced = heap[0] as T;
    displaced.admitted = false;
    heap[0] = entry;
    this.siftDown(0);
    return displaced;
  }

  private siftUp(at: number): void {
    const heap = this.heap;
    const entry = heap[at] as T;
    while (at > 0) {
      const parent = (at - 1) >>> 1;
      const above = heap[parent] as T;
      if (!ranksAbove(entry.hash, entry.name, above)) break;
      heap[at] = above;
      at = parent;
    }
    heap[at] = entry;
  }

  private siftDown(at: number): void {
    const heap = this.heap;
    const entry = heap[at] as T;
    const length = heap.length;
    for (;;) {
      let child = 2 * at + 1;
      if (child >= length) break;
      const right = child + 1;
      if (right < length && ranksAbove((heap[right] as T).hash, (heap[right] as T).name, heap[child] as T))
        child = right;
      const below = heap[child] as T;
      if (!ranksAbove(below.hash, below.name, entry)) break;
      heap[at] = below;
      at = child;
    }
    heap[at] = entry;
  }
}
