// Where each of a channel's recent messages came from in Kafka (partition, offset), by seq: the Kafka replay
// tier's map from a client's position to the records it missed once the ring no longer holds them. A bounded
// ring of typed arrays (12 bytes a message), so it reaches much further back than the frame ring.

export interface KafkaPosition {
  partition: number;
  offset: number;
}

export class PositionIndex {
  private readonly seqs: Float64Array;
  private readonly partitions: Int32Array;
  private readonly offsets: Float64Array;
  private next = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    this.seqs = new Float64Array(capacity);
    this.partitions = new Int32Array(capacity);
    this.offsets = new Float64Array(capacity);
  }

  push(seq: number, partition: number, offset: number): void {
    if (this.capacity === 0) return;
    this.seqs[this.next] = seq;
    this.partitions[this.next] = partition;
    this.offsets[this.next] = offset;
    this.next = (this.next + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
  }

  /**
   * The positions of the messages with from < seq < to, in seq order, when the index still holds the one right
   * after `from` (and every message in between came from Kafka); undefined otherwise.
   */
  between(from: number, to: number): Array<KafkaPosition & { seq: number }> | undefined {
    if (this.count === 0) return undefined;
    const start = (this.next - this.count + this.capacity) % this.capacity;
    const first = this.seqs[start]!;
    if (first > from + 1) return undefined;
    const out: Array<KafkaPosition & { seq: number }> = [];
    let expected = from + 1;
    for (let index = 0; index < this.count; index++) {
      const at = (start + index) % this.capacity;
      const seq = this.seqs[at]!;
      if (seq <= from) continue;
      if (seq >= to) break;
      if (seq !== expected) return undefined; // a message that did not come from Kafka: cannot replay it
      out.push({ seq, partition: this.partitions[at]!, offset: this.offsets[at]! });
      expected++;
    }
    return expected === to ? out : undefined;
  }
}
