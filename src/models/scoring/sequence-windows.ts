// The last N feature vectors of each (symbol, timeframe), in Float64Array rings, for sequence models.
// Bounded in symbols (least recently updated evicted) and in depth; part of the scorer's snapshot state.
// Besides the raw vectors, each ring keeps one "plane" per registered transform (a sequence model's input
// columns, scaling and missing-value policy), filled once per vector as it arrives: a window is then
// copied ready to score instead of being rescaled step by step on every bar (16x less work for N = 16).
// A plane holds its ring twice over (row r at r and r + depth), so every window is one contiguous run:
// one memcpy (TypedArray.set) per window, several times faster than an element loop.

import { MlfpError } from '../../errors.js';

export interface WindowSnapshot {
  version: 1;
  width: number;
  depth: number;
  /** per key: bar times and rows (oldest first); NaN as null */
  entries: { key: string; ts: number[]; values: (number | null)[] }[];
}

/** How one sequence model reads the windows: input j is raw column columns[j], then scaled, then missing values handled. */
export interface PlaneSpec {
  columns: Int32Array;
  /** standard scaling, (x - mean[j]) / std[j] in doubles; none when undefined */
  mean?: Float64Array;
  std?: Float64Array;
  /** NaN after scaling: kept (`native`), 0 (`zero`), or the window is not scored (`skip`) */
  missing: 'native' | 'zero' | 'skip';
  /** the plane holds float32 (for a model that takes float32: rows are copied without conversion) */
  float32?: boolean;
}

/** A plane's, or a model input's, element type. */
export type Rows = Float64Array | Float32Array;

/** One key's ring; opaque outside this module except for handing it back to copyPlane. */
export class WindowRing {
  readonly values: Float64Array;
  readonly ts: Float64Array;
  /** index of the next write */
  head = 0;
  count = 0;
  /** the windows' clock at the last update (least recently updated is evicted first) */
  touched = 0;
  /** the plane layout the planes below were built for */
  layout = -1;
  /** per plane: 2 * depth rows of its inputs (the ring twice over) */
  planes: Rows[] = [];
  /** per plane: 1 where the slot's row has a missing value under a `skip` policy (twice over too) */
  gaps: Uint8Array[] = [];
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
  private readonly rings = new Map<string, WindowRing>();
  private clock = 0;
  private planeSpecs: PlaneSpec[] = [];
  private planeKeys: string[] = [];
  /** bumped whenever planes are dropped or reordered: rings rebuild theirs from the raw rows */
  private layout = 0;
  /** what the last update did (push() reads it) */
  private lastUpdate: WindowUpdate = 'appended';

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
   * The plane for `spec`, registered under `key` (equal keys must mean equal specs) the first time:
   * its index for copyPlane. Rings fill a new plane from their raw rows when next touched.
   */
  plane(key: string, spec: PlaneSpec): number {
    const at = this.planeKeys.indexOf(key);
    if (at >= 0) return at;
    for (const c of spec.columns)
      if (!(c >= 0 && c < this.width)) throw new MlfpError('internal', `plane ${key} reads column ${c} of ${this.width}`);
    this.planeKeys.push(key);
    this.planeSpecs.push(spec);
    return this.planeKeys.length - 1;
  }

  /** Drops the planes whose key is not in `keys` (models no longer scored); indexes may change. */
  keepPlanes(keys: ReadonlySet<string>): void {
    if (this.planeKeys.every((k) => keys.has(k))) return;
    const kept = this.planeKeys.map((k, i) => [k, this.planeSpecs[i]!] as const).filter(([k]) => keys.has(k));
    this.planeKeys = kept.map(([k]) => k);
    this.planeSpecs = kept.map(([, s]) => s);
    this.layout++;
  }

  /**
   * Adds the vector of bar `ts` (values[offset .. offset + width)) to `key`'s window. The same bar time
   * again (a revision) replaces the newest entry; an older bar time leaves the window alone ('stale').
   */
  push(key: string, ts: number, values: ArrayLike<number>, offset = 0): WindowUpdate {
    this.update(key, ts, values, offset);
    return this.lastUpdate;
  }

  /** push() that returns the key's ring (for copyPlane), or undefined when the bar was stale. */
  update(key: string, ts: number, values: ArrayLike<number>, offset = 0): WindowRing | undefined {
    const depth = this.depthValue;
    let ring = this.rings.get(key);
    if (ring === undefined) {
      if (this.rings.size >= this.maxKeys) this.evict();
      ring = new WindowRing(depth, this.width);
      this.rings.set(key, ring);
    }
    let slot: number;
    if (ring.count > 0) {
      const newest = (ring.head + depth - 1) % depth;
      const last = ring.ts[newest]!;
      if (ts < last) {
        this.lastUpdate = 'stale';
        return undefined;
      }
      if (ts === last) {
        slot = newest;
        this.lastUpdate = 'revised';
      } else {
        slot = ring.head;
        this.lastUpdate = 'appended';
      }
    } else {
      slot = ring.head;
      this.lastUpdate = 'appended';
    }
    if (this.lastUpdate === 'appended') {
      ring.head = (ring.head + 1) % depth;
      if (ring.count < depth) ring.count++;
    }
    ring.touched = ++this.clock;
    ring.ts[slot] = ts;
    const width = this.width;
    const base = slot * width;
    const raw = ring.values;
    for (let i = 0; i < width; i++) raw[base + i] = values[offset + i]!;
    if (ring.layout !== this.layout || ring.planes.length !== this.planeSpecs.length) this.buildPlanes(ring);
    else for (let p = 0; p < this.planeSpecs.length; p++) this.fillPlane(ring, p, slot);
    return ring;
  }

  /** Vectors held for `key` (0 when unknown). */
  count(key: string): number {
    return this.rings.get(key)?.count ?? 0;
  }

  /**
   * Copies the newest `steps` rows of plane `plane` of `ring` (oldest first) into out[outOffset ..].
   * False when fewer than `steps` are held, or a row among them has a missing value under `skip`.
   */
  copyPlane(ring: WindowRing, plane: number, steps: number, out: Rows, outOffset: number): boolean {
    if (ring.count < steps) return false;
    if (ring.layout !== this.layout || ring.planes.length !== this.planeSpecs.length) this.buildPlanes(ring);
    const inputs = this.planeSpecs[plane]!.columns.length;
    const end = ring.head + this.depthValue;
    const start = end - steps;
    const gaps = ring.gaps[plane]!;
    for (let r = start; r < end; r++) if (gaps[r] === 1) return false;
    out.set(ring.planes[plane]!.subarray(start * inputs, end * inputs), outOffset);
    return true;
  }

  /**
   * Copies the newest `steps` raw vectors of `key` (oldest first) into out[outOffset ..], picking
   * `columns[j]` of each vector as input j. Returns false when fewer than `steps` are held.
   */
  copyWindow(key: string, steps: number, columns: Int32Array, out: Rows, outOffset: number): boolean {
    const ring = this.rings.get(key);
    if (ring === undefined || ring.count < steps) return false;
    const depth = this.depthValue;
    const width = this.width;
    const inputs = columns.length;
    const values = ring.values;
    let slot = (ring.head + depth - steps) % depth;
    let at = outOffset;
    for (let s = 0; s < steps; s++) {
      const base = slot * width;
      for (let j = 0; j < inputs; j++) out[at + j] = values[base + columns[j]!]!;
      at += inputs;
      slot = slot + 1 === depth ? 0 : slot + 1;
    }
    return true;
  }

  clear(): void {
    this.rings.clear();
  }

  snapshot(): WindowSnapshot {
    const entries: WindowSnapshot['entries'] = [];
    // least recently updated first, so that a restore keeps the eviction order
    const ordered = [...this.rings].sort((a, b) => a[1].touched - b[1].touched);
    const depth = this.depthValue;
    for (const [key, ring] of ordered) {
      const ts: number[] = [];
      const values: (number | null)[] = [];
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

  /**
   * Makes room for one key: drops the least recently updated 1/64 of the keys (at least one), so a
   * stream of new symbols at the cap costs O(log n) per symbol, not a scan each.
   */
  private evict(): void {
    const n = this.rings.size;
    const drop = Math.max(1, Math.floor(n / 64));
    const stamps = new Float64Array(n);
    let i = 0;
    for (const ring of this.rings.values()) stamps[i++] = ring.touched;
    stamps.sort();
    const threshold = stamps[drop - 1]!;
    for (const [key, ring] of this.rings) if (ring.touched <= threshold) this.rings.delete(key);
  }

  /** (Re)builds every plane of `ring` from its raw rows. */
  private buildPlanes(ring: WindowRing): void {
    const depth = this.depthValue;
    ring.planes = this.planeSpecs.map((spec) =>
      spec.float32 === true ? new Float32Array(2 * depth * spec.columns.length) : new Float64Array(2 * depth * spec.columns.length),
    );
    ring.gaps = this.planeSpecs.map(() => new Uint8Array(2 * depth));
    ring.layout = this.layout;
    for (let p = 0; p < this.planeSpecs.length; p++)
      for (let s = 0; s < ring.count; s++) this.fillPlane(ring, p, (ring.head + depth - ring.count + s) % depth);
  }

  /** Plane p's row at `slot` from the raw row there: the same double operations as the training scripts. */
  private fillPlane(ring: WindowRing, p: number, slot: number): void {
    const spec = this.planeSpecs[p]!;
    const columns = spec.columns;
    const mean = spec.mean;
    const std = spec.std;
    const missing = spec.missing;
    const inputs = columns.length;
    const raw = ring.values;
    const rawBase = slot * this.width;
    const out = ring.planes[p]!;
    const base = slot * inputs;
    const twin = base + this.depthValue * inputs;
    let gap = 0;
    for (let j = 0; j < inputs; j++) {
      let v = raw[rawBase + columns[j]!]!;
      if (mean !== undefined) v = (v - mean[j]!) / std![j]!;
      if (v !== v) {
        if (missing === 'zero') v = 0;
        else if (missing === 'skip') gap = 1;
      }
      out[base + j] = v;
      out[twin + j] = v;
    }
    ring.gaps[p]![slot] = gap;
    ring.gaps[p]![slot + this.depthValue] = gap;
  }
}
