// A channel's recent messages: a bounded ring of serialised data frames with their position (seq in the
// hub's epoch), symbol and conflation key, for resubscriptions that name a position still inside it.

export interface RingEntry {
  seq: number;
  symbol: string;
  /** predictions: the model (a subscription may filter on it) */
  model: string | undefined;
  /** the data frame as sent (serialised once, shared by every subscriber and every replay) */
  frame: Buffer;
}

export class MessageRing {
  private readonly entries: (RingEntry | undefined)[];
  private next = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    this.entries = new Array<RingEntry | undefined>(capacity);
  }

  push(entry: RingEntry): void {
    if (this.capacity === 0) return;
    this.entries[this.next] = entry;
    this.next = (this.next + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
  }

  /** The oldest seq held (undefined when empty). */
  get firstSeq(): number | undefined {
    if (this.count === 0) return undefined;
    return this.entries[(this.next - this.count + this.capacity) % this.capacity]!.seq;
  }

  /**
   * Every entry after `seq`, oldest first, when the ring still holds the one right after it (nothing between
   * `seq` and the ring's start was dropped); undefined when it does not.
   */
  after(seq: number, head: number): RingEntry[] | undefined {
    if (seq >= head) return [];
    const first = this.firstSeq;
    if (first === undefined || first > seq + 1) return undefined;
    const out: RingEntry[] = [];
    for (let index = 0; index < this.count; index++) {
      const entry = this.entries[(this.next - this.count + index + this.capacity) % this.capacity]!;
      if (entry.seq > seq) out.push(entry);
    }
    return out;
  }
}
