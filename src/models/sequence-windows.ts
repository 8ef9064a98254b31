// The last N feature vectors of each (symbol, timeframe), in Float64Array rings, for sequence models.
// Bounded in symbols (oldest-updated evicted) and in depth; part of the scorer's snapshot state.

import { MlfpError } from '../errors.js';

export interface WindowSnapshot {
  version: 1;
  width: number;
  depth: number;
  /** per key: bar times and rows (oldest first); NaN as null */
  entries: { key: string; ts: number[]; values: (number | null)[] }[];
}

class Ring {
  readonly values: Float64Array;
  readonly ts: Float64Array;
  /** index of the next write */
  head = 0;
  count = 0;
  constructor(depth: number, width: number) {
    this.values = new Float64Array(depth * width);
    this.ts = new Float64Array(depth);
  }
}

export type WindowUpdate = 'appended' | 'revised' | 'stale';

export class SequenceWindows {
  readonly width: number;
  private depthValue: number;
  readonly maxKeys: number;
  private readonly rings = new Map<string, Ring>();

  constructor(width: number, depth: number, maxKeys = 100_000) {
    if (!(Number.isInteger(width) && width > 0 && Number.isInteger(depth) && depth > 0 && maxKeys > 0))
      throw new MlfpError('internal', `bad window shape ${width} x ${depth} (max ${maxKeys} keys)`);
    this.width = width;
    this.depthValue = depth;
    this.maxKeys = maxKeys;
  }

  get depth(): number {
    return this.depthValue;
  }

  get size(): number {
    return this.rings.size;
  }

  /** Grows every ring to hold at least `depth` vectors, keeping what they hold. */
  ensureDepth(depth: number): void {
    if (depth <= this.depthValue) return;
    const snapshot = this.snapshot();
    this.depthValue = depth;
    this.rings.clear();
    this.restore(snapshot);
  }

  /**
   * Adds the vector of bar `ts` (values[offset .. offset + width)) to `key`'s window. The same bar time
   * again (a revision) replaces the newest entry; an older bar time leaves the window alone ('stale').
   */
  push(key: string, ts: number, values: ArrayLike<number>, offset = 0): WindowUpdate {
    let ring = this.rings.get(key);
    if (ring === undefined) {
      if (this.rings.size >= this.maxKeys) {
        const oldest = this.rings.keys().next().value as string;
        this.rings.delete(oldest);
      }
      ring = new Ring(this.depthValue, this.width);
      this.rings.set(key, ring);
    } else {
      // keep the map in least-recently-updated order for eviction
      this.rings.delete(key);
      this.rings.set(key, ring);
    }
    const depth = this.depthValue;
    let slot: number;
    let result: WindowUpdate;
    if (ring.count > 0) {
      const newest = (ring.head + depth - 1) % depth;
      const last = ring.ts[newest]!;
      if (ts < last) return 'stale';
      if (ts === last) {
        slot = newest;
        result = 'revised';
      } else {
        slot = ring.head;
        result = 'appended';
      }
    } else {
      slot = ring.head;
      result = 'appended';
    }
    if (result === 'appended') {
      ring.head = (ring.head + 1) % depth;
      if (ring.count < depth) ring.count++;
    }
    ring.ts[slot] = ts;
    const base = slot * this.width;
    for (let i = 0; i < this.width; i++) ring.values[base + i] = values[offset + i]!;
    return result;
  }

  /** Vectors held for `key` (0 when unknown). */
  count(key: string): number {
    return this.rings.get(key)?.count ?? 0;
  }

  /**
   * Copies the newest `steps` vectors of `key` (oldest first) into out[outOffset ..], picking
   * `columns[j]` of each vector as input j. Returns false when fewer than `steps` are held.
   */
  copyWindow(key: string, steps: number, columns: Int32Array, out: Float64Array, outOffset: number): boolean {
    const ring = this.rings.get(key);
    if (ring === undefined || ring.count < steps) return false;
    const depth = this.depthValue;
    const width = this.width;
    const inputs = columns.length;
    if (inputs === width && isIdentity(columns)) {
      // every column in order: the window is at most two contiguous runs of the ring
      const first = (ring.head + depth - steps) % depth;
      const run = Math.min(steps, depth - first);
      out.set(ring.values.subarray(first * width, (first + run) * width), outOffset);
      if (run < steps) out.set(ring.values.subarray(0, (steps - run) * width), outOffset + run * width);
      return true;
    }
    let at = outOffset;
    for (let s = 0; s < steps; s++) {
      const slot = (ring.head + depth - steps + s) % depth;
      const base = slot * width;
      for (let j = 0; j < inputs; j++) out[at++] = ring.values[base + columns[j]!]!;
    }
    return true;
  }

  clear(): void {
    this.rings.clear();
  }

  snapshot(): WindowSnapshot {
    const entries: WindowSnapshot['entries'] = [];
    for (const [key, ring] of this.rings) {
      const ts: number[] = [];
      const values: (number | null)[] = [];
      const depth = this.depthValue;
      for (let s = 0; s < ring.count; s++) {
        const slot = (ring.head + depth - ring.count + s) % depth;
        ts.push(ring.ts[slot]!);
        for (let i = 0; i < this.width; i++) {
          const v = ring.values[slot * this.width + i]!;
          values.push(Number.isNaN(v) ? null : v);
        }
      }
      entries.push({ key, ts, values });
    }
    return { version: 1, width: this.width, depth: this.depthValue, entries };
  }

  /** Replaces the state with a snapshot's (a shallower ring keeps the newest vectors). */
  restore(snapshot: WindowSnapshot): void {
    if (snapshot.version !== 1 || snapshot.width !== this.width)
      throw new MlfpError(
        'bad_schema',
        `window snapshot v${snapshot.version} of width ${snapshot.width} does not fit width ${this.width}`,
      );
    this.rings.clear();
    const row = new Float64Array(this.width);
    for (const entry of snapshot.entries) {
      if (entry.values.length !== entry.ts.length * this.width)
        throw new MlfpError('bad_schema', `window snapshot entry ${entry.key} has a ragged shape`);
      for (let s = 0; s < entry.ts.length; s++) {
        for (let i = 0; i < this.width; i++) row[i] = entry.values[s * this.width + i] ?? Number.NaN;
        this.push(entry.key, entry.ts[s]!, row);
      }
    }
  }
}

/** columns[j] === j for every j */
function isIdentity(columns: Int32Array): boolean {
  for (let j = 0; j < columns.length; j++) if (columns[j] !== j) return false;
  return true;
}
