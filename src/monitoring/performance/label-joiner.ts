// Joins each prediction with the bar that labels it, for one stream (one Kafka partition): the prediction at
// bar t with horizon h is labelled by the same series' bar t+h (start t + h × the timeframe's length), or
// expires (gap, timeout, evicted) with a record saying why, so that no prediction goes unaccounted for.
// A late revision of bar t or t+h re-emits the label with revision + 1 while it is still revisable.
// Per event: O(1) amortised to add, settle or expire a label (deadline FIFOs per timeframe and horizon with lazy
// deletion; a heap only for the few out of order), O(models) for a revised bar; no scan of pending labels.
// Entries are pooled and indexed without a Map entry, so a label allocates only the LabelRecord it emits.

import type { Bar, LabelExpiry, LabelRecord, ModelKind, Prediction, Timeframe } from '../../domain/types.js';
import { TIMEFRAMES } from '../../domain/types.js';
import { TIMEFRAME_MS } from '../../domain/time.js';
import { MlfpError } from '../../errors.js';
import { SnapshotReader, encodeNumber, type SnapshotNumber } from '../../indicators/snapshot-codec.js';
import { checkInteger } from '../drift/checks.js';
import { signClassesOf } from './performance-metrics.js';
import { ItemReader, arrayField } from './snapshot-items.js';

export type JoinableLabelKind = 'return_sign' | 'return' | 'return_percent';
const LABEL_KINDS: readonly (JoinableLabelKind | 'custom')[] = [
  'return_sign',
  'return',
  'return_percent',
  'custom',
];
const MODEL_KINDS: readonly ModelKind[] = ['classifier', 'regressor', 'sequence'];

/** What the joiner needs of a model's manifest (monitoring does not import src/models). */
export interface LabelSpec {
  model: string;
  version: string;
  kind: ModelKind;
  timeframe: Timeframe;
  /** the manifest's `label.horizonBars` */
  horizonBars: number;
  /** the manifest's `label.kind`; 'custom' labels are not joinable */
  labelKind: JoinableLabelKind | 'custom';
  /**
   * A classifier's `output.labels`, in order. For return_sign the realised class is "up" when
   * close[t+h] > close[t], else "down", when the classes are exactly that pair; otherwise the last class
   * (>) or the first (≤).
   */
  classes?: readonly string[];
  /** the regressor output key scored (default: the prediction output's first key) */
  valueName?: string;
}

export interface LabelJoinerOptions {
  /** bars a label stays revisable after its labelling bar ends (default 0: while that bar is the newest) */
  lateness?: number;
  /** bars a pending label waits past its horizon bar's end plus lateness before it times out (default 3) */
  maxWaitBars?: number;
  /** pending labels at most; past it the oldest (first added) expire as 'evicted' (default 100,000) */
  maxPending?: number;
}

export const LABEL_JOINER_DEFAULTS = { lateness: 0, maxWaitBars: 3, maxPending: 100_000 } as const;

const MAX_HORIZON_BARS = 10_000;
const MAX_LATENESS_BARS = 1_000;
const MAX_WAIT_BARS = 10_000;
const MAX_PENDING = 10_000_000;
const MAX_MODELS = 10_000;
const MAX_SERIES = 1_000_000;
const MAX_CLOSES = MAX_HORIZON_BARS + MAX_LATENESS_BARS + MAX_WAIT_BARS + 2;
const KIND = 'mlfp.label-joiner';
const TIMEFRAME_INDEX: Readonly<Record<Timeframe, number>> = { '5m': 0, '1h': 1, '1d': 2 };

const PENDING = 0;
const LABELLED = 1;
/** evicted, its expiry record not emitted yet (onPrediction has no emitter: the next onBar emits it) */
const EVICTED = 2;
/** forgotten, in the pool */
const FREE = 3;
/** forgotten entries kept for reuse at most (~300 bytes each; never more than were live at once) */
const POOL_MAX = 131_072;
const STATES = ['pending', 'labelled', 'evicted'] as const;
type EntryStateName = (typeof STATES)[number];

export interface LabelSpecSnapshot {
  model: string;
  version: string;
  kind: ModelKind;
  timeframe: Timeframe;
  horizonBars: number;
  labelKind: JoinableLabelKind;
  classes?: string[];
  valueName?: string;
}

export interface LabelJoinerSnapshot {
  kind: 'mlfp.label-joiner';
  version: 1;
  /** newest bar end of any series (−Infinity before the first bar) */
  eventTime: SnapshotNumber;
  nextSeq: number;
  unwatched: number;
  duplicates: number;
  malformed: number;
  /** watched models, in watch order (entries refer to them by index) */
  models: LabelSpecSnapshot[];
  /** every series seen, with its recent closes as [bar start, close], oldest first */
  series: {
    symbol: string;
    timeframe: Timeframe;
    newestTs: SnapshotNumber;
    newestEnd: SnapshotNumber;
    closes: [number, number][];
  }[];
  /** pending, revisable (labelled) and evicted-not-yet-emitted labels, by seq */
  entries: {
    seq: number;
    model: number;
    series: number;
    ts: number;
    state: EntryStateName;
    predicted: number | string;
    closeT: SnapshotNumber;
    closeH: SnapshotNumber;
    revision: number;
  }[];
}

class Watched {
  readonly up: string;
  readonly down: string;
  readonly classes: readonly string[];
  readonly isClassifier: boolean;

  constructor(
    readonly index: number,
    readonly spec: LabelSpecSnapshot,
    /** the pending labels of this model's timeframe and horizon, by deadline */
    readonly deadlines: DeadlineQueue,
    /** where this model's ring of entries starts in a series' slots */
    readonly slotOffset: number,
    /** slots of that ring */
    readonly slotCount: number,
  ) {
    const classes = spec.classes ?? [];
    const sign = signClassesOf(classes);
    this.classes = classes;
    this.isClassifier = spec.kind === 'classifier';
    this.up = classes[sign.up] ?? '';
    this.down = classes[sign.down] ?? '';
  }
}

/** One prediction's label, pooled: the joiner reuses it once it is forgotten (seq tells the uses apart). */
class Entry {
  seq = 0;
  /** bar start of the predicted bar */
  ts = Number.NaN;
  /** bar start of the labelling bar */
  due = Number.NaN;
  /** event time past which the pending label times out */
  deadline = Number.NaN;
  /** a classifier's class index, or a regressor's value */
  predicted = Number.NaN;
  /** close[t] as known when the prediction came (NaN when bar t was not seen) */
  closeT = Number.NaN;
  closeH = Number.NaN;
  realisedReturn = Number.NaN;
  /** a classifier's outcome: 1 when close[t+h] > close[t] (the "up" class), else 0 */
  rising = 0;
  state = PENDING;
  revision = 0;
  /** series' newest bar end past which a labelled entry is forgotten */
  retainUntil = Number.NaN;
  /** place in the series' pending heap (−1: none) */
  heapIndex = -1;
  /** neighbours in the order pending labels were added (eviction takes the oldest) */
  older: Entry | undefined = undefined;
  newer: Entry | undefined = undefined;

  constructor(
    public series: Series,
    public watched: Watched,
  ) {}
}

function dueBefore(a: Entry, b: Entry): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq);
}

/**
 * One (symbol, timeframe), held in one object so that a bar or a prediction touches few cache lines: its
 * recent closes, its pending labels by due bar, its labelled ones still revisable, and every entry by model
 * and predicted bar.
 */
class Series {
  newestTs = Number.NEGATIVE_INFINITY;
  newestEnd = Number.NEGATIVE_INFINITY;
  /** pending entries: a binary min-heap by (due, seq), each entry knowing its place (heapIndex) */
  private readonly pending: Entry[] = [];
  /** labelled entries by (retainUntil, seq): a ring, retainedCount from retainedHead (nearly in order) */
  private retained: (Entry | undefined)[] = [undefined, undefined, undefined, undefined];
  private retainedHead = 0;
  private retainedCount = 0;
  /**
   * entries (pending, labelled, evicted) by model and predicted bar: model w's ring is at w.slotOffset +
   * bar number mod w.slotCount
   */
  private slots: (Entry | undefined)[];
  /** per watched model index: the entries whose ring slot was taken (rare) */
  private overflow: (Map<number, Entry> | undefined)[] | undefined = undefined;
  /** recent closes: bar start and close at 2i and 2i + 1 for bar number i mod capacity (bar start −∞: none) */
  private closeRing: Float64Array;

  constructor(
    readonly index: number,
    readonly symbol: string,
    readonly timeframe: Timeframe,
    readonly lengthMs: number,
    capacity: number,
    slotTotal: number,
  ) {
    this.closeRing = emptyCloseRing(capacity);
    this.slots = new Array<Entry | undefined>(slotTotal).fill(undefined);
  }

  /** close of the bar starting at `ts` if it is still in the ring, else NaN */
  closeAt(ts: number): number {
    const at = 2 * this.barSlot(ts, this.closeRing.length / 2);
    return this.closeRing[at] === ts ? (this.closeRing[at + 1] as number) : Number.NaN;
  }

  /** Keeps the close of bar `ts` unless its slot already holds a newer bar. */
  record(ts: number, close: number): void {
    const at = 2 * this.barSlot(ts, this.closeRing.length / 2);
    if ((this.closeRing[at] as number) > ts) return;
    this.closeRing[at] = ts;
    this.closeRing[at + 1] = close;
  }

  /** The ring's bars as [ts, close], oldest first. */
  closes(): [number, number][] {
    const bars: [number, number][] = [];
    const ring = this.closeRing;
    for (let at = 0; at < ring.length; at += 2)
      if (ring[at] !== Number.NEGATIVE_INFINITY) bars.push([ring[at] as number, ring[at + 1] as number]);
    return bars.sort((a, b) => a[0] - b[0]);
  }

  resize(capacity: number): void {
    const bars = this.closes();
    this.closeRing = emptyCloseRing(capacity);
    for (const [ts, close] of bars) this.record(ts, close);
  }

  /** Makes room for the rings of models watched since (slotTotal: every watched model's slotCount summed). */
  growSlots(slotTotal: number): void {
    while (this.slots.length < slotTotal) this.slots.push(undefined);
  }

  entryOf(watched: Watched, ts: number): Entry | undefined {
    const held = this.slots[watched.slotOffset + this.barSlot(ts, watched.slotCount)];
    if (held !== undefined && held.ts === ts) return held;
    return this.overflow?.[watched.index]?.get(ts);
  }

  /** Indexes an entry whose (model, ts) is not held yet. */
  addEntry(entry: Entry): void {
    const watched = entry.watched;
    const at = watched.slotOffset + this.barSlot(entry.ts, watched.slotCount);
    if (this.slots[at] === undefined) this.slots[at] = entry;
    else {
      const overflow = (this.overflow ??= []);
      (overflow[watched.index] ??= new Map()).set(entry.ts, entry);
    }
  }

  deleteEntry(entry: Entry): void {
    const watched = entry.watched;
    const at = watched.slotOffset + this.barSlot(entry.ts, watched.slotCount);
    if (this.slots[at] === entry) this.slots[at] = undefined;
    else this.overflow?.[watched.index]?.delete(entry.ts);
  }

  collectEntries(into: Entry[]): void {
    for (const entry of this.slots) if (entry !== undefined) into.push(entry);
    for (const byTs of this.overflow ?? [])
      if (byTs !== undefined) for (const entry of byTs.values()) into.push(entry);
  }

  /** The pending entry first by (due, seq). */
  firstPending(): Entry | undefined {
    return this.pending[0];
  }

  pushPending(entry: Entry): void {
    this.pending.push(entry);
    this.siftUp(this.pending.length - 1, entry);
  }

  removePending(entry: Entry): void {
    const items = this.pending;
    const at = entry.heapIndex;
    const last = items.pop() as Entry;
    entry.heapIndex = -1;
    if (last === entry) return;
    if (at > 0 && dueBefore(last, items[(at - 1) >> 1] as Entry)) this.siftUp(at, last);
    else this.siftDown(at, last);
  }

  /** The labelled entry first by (retainUntil, seq). */
  firstRetained(): Entry | undefined {
    return this.retainedCount > 0 ? this.retained[this.retainedHead] : undefined;
  }

  shiftRetained(): void {
    this.retained[this.retainedHead] = undefined;
    this.retainedHead = (this.retainedHead + 1) & (this.retained.length - 1);
    this.retainedCount--;
  }

  retain(entry: Entry): void {
    if (this.retainedCount === this.retained.length) this.growRetained();
    const ring = this.retained;
    const mask = ring.length - 1;
    const head = this.retainedHead;
    let at = this.retainedCount;
    while (at > 0) {
      const before = ring[(head + at - 1) & mask] as Entry;
      if (
        before.retainUntil < entry.retainUntil ||
        (before.retainUntil === entry.retainUntil && before.seq < entry.seq)
      )
        break;
      ring[(head + at) & mask] = before;
      at--;
    }
    ring[(head + at) & mask] = entry;
    this.retainedCount++;
  }

  private growRetained(): void {
    const ring = this.retained;
    const grown = new Array<Entry | undefined>(ring.length * 2).fill(undefined);
    for (let i = 0; i < this.retainedCount; i++) grown[i] = ring[(this.retainedHead + i) & (ring.length - 1)];
    this.retained = grown;
    this.retainedHead = 0;
  }

  /** bar number of `ts` modulo `count` */
  private barSlot(ts: number, count: number): number {
    const slot = Math.floor(ts / this.lengthMs) % count;
    return slot < 0 ? slot + count : slot;
  }

  private siftUp(at: number, entry: Entry): void {
    const items = this.pending;
    while (at > 0) {
      const parentAt = (at - 1) >> 1;
      const parent = items[parentAt] as Entry;
      if (!dueBefore(entry, parent)) break;
      items[at] = parent;
      parent.heapIndex = at;
      at = parentAt;
    }
    items[at] = entry;
    entry.heapIndex = at;
  }

  private siftDown(at: number, entry: Entry): void {
    const items = this.pending;
    const n = items.length;
    while (true) {
      const left = 2 * at + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && dueBefore(items[right] as Entry, items[left] as Entry)) child = right;
      const smaller = items[child] as Entry;
      if (!dueBefore(smaller, entry)) break;
      items[at] = smaller;
      smaller.heapIndex = at;
      at = child;
    }
    items[at] = entry;
    entry.heapIndex = at;
  }
}

function emptyCloseRing(capacity: number): Float64Array {
  const ring = new Float64Array(2 * capacity);
  for (let at = 0; at < ring.length; at += 2) ring[at] = Number.NEGATIVE_INFINITY;
  return ring;
}

/**
 * The pending labels of one (timeframe, horizon), by (deadline, seq). Their deadline is the predicted bar's
 * start plus a constant, so they come nearly in order: a FIFO ring takes those in order and a heap the few
 * that are not. Settled entries are not removed but skipped when they reach the front (lazy deletion): each
 * item keeps the deadline and seq it was queued with, so an entry settled and reused since is told apart.
 */
class DeadlineQueue {
  private ring: (Entry | undefined)[] = new Array<Entry | undefined>(16).fill(undefined);
  private ringSeqs = new Float64Array(16);
  private ringDeadlines = new Float64Array(16);
  private head = 0;
  private count = 0;
  private readonly late = new LateHeap();

  /** items queued, live or not */
  get size(): number {
    return this.count + this.late.size;
  }

  push(entry: Entry): void {
    if (this.count === this.ring.length) this.grow();
    const mask = this.ring.length - 1;
    if (
      this.count > 0 &&
      entry.deadline < (this.ringDeadlines[(this.head + this.count - 1) & mask] as number)
    ) {
      this.late.push(entry, entry.seq, entry.deadline);
      return;
    }
    const at = (this.head + this.count) & mask;
    this.ring[at] = entry;
    this.ringSeqs[at] = entry.seq;
    this.ringDeadlines[at] = entry.deadline;
    this.count++;
  }

  /**
   * The live entry first by (deadline, seq) if its deadline is before `time`, else undefined; drops the items
   * of settled entries met on the way (each once).
   */
  firstBefore(time: number): Entry | undefined {
    const ring = this.ring;
    const mask = ring.length - 1;
    let first: Entry | undefined;
    while (this.count > 0) {
      const at = this.head;
      if (!((this.ringDeadlines[at] as number) < time)) break;
      const entry = ring[at] as Entry;
      if (entry.seq === this.ringSeqs[at] && entry.state === PENDING) {
        first = entry;
        break;
      }
      ring[at] = undefined;
      this.head = (at + 1) & mask;
      this.count--;
    }
    const late = this.late.firstBefore(time);
    return late !== undefined && (first === undefined || deadlineBefore(late, first)) ? late : first;
  }

  /** Removes `entry`, just returned by firstBefore. */
  take(entry: Entry): void {
    const at = this.head;
    if (this.count > 0 && this.ring[at] === entry && this.ringSeqs[at] === entry.seq) {
      this.ring[at] = undefined;
      this.head = (at + 1) & (this.ring.length - 1);
      this.count--;
    } else this.late.pop();
  }

  /** Drops the items of entries no longer pending (bounds the queue while few deadlines pass). */
  compact(): void {
    const ring = this.ring;
    const mask = ring.length - 1;
    let kept = 0;
    for (let i = 0; i < this.count; i++) {
      const from = (this.head + i) & mask;
      const entry = ring[from] as Entry;
      ring[from] = undefined;
      if (entry.seq !== this.ringSeqs[from] || entry.state !== PENDING) continue;
      const to = (this.head + kept++) & mask;
      ring[to] = entry;
      this.ringSeqs[to] = this.ringSeqs[from] as number;
      this.ringDeadlines[to] = this.ringDeadlines[from] as number;
    }
    this.count = kept;
    this.late.compact();
  }

  private grow(): void {
    const ring = this.ring;
    const mask = ring.length - 1;
    const size = ring.length * 2;
    const grown = new Array<Entry | undefined>(size).fill(undefined);
    const seqs = new Float64Array(size);
    const deadlines = new Float64Array(size);
    for (let i = 0; i < this.count; i++) {
      const from = (this.head + i) & mask;
      grown[i] = ring[from];
      seqs[i] = this.ringSeqs[from] as number;
      deadlines[i] = this.ringDeadlines[from] as number;
    }
    this.ring = grown;
    this.ringSeqs = seqs;
    this.ringDeadlines = deadlines;
    this.head = 0;
  }
}

/** A binary min-heap of (deadline, seq, entry) items: a DeadlineQueue's out-of-order part (lazy deletion too). */
class LateHeap {
  private entries: Entry[] = [];
  private seqs: number[] = [];
  private deadlines: number[] = [];

  get size(): number {
    return this.entries.length;
  }

  push(entry: Entry, seq: number, deadline: number): void {
    const { entries, seqs, deadlines } = this;
    let at = entries.length;
    entries.push(entry);
    seqs.push(seq);
    deadlines.push(deadline);
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (!keyBefore(deadline, seq, deadlines[parent] as number, seqs[parent] as number)) break;
      this.place(at, entries[parent] as Entry, seqs[parent] as number, deadlines[parent] as number);
      at = parent;
    }
    this.place(at, entry, seq, deadline);
  }

  /** The live entry first by (deadline, seq) if its deadline is before `time`; drops settled ones on the way. */
  firstBefore(time: number): Entry | undefined {
    while (this.entries.length > 0 && (this.deadlines[0] as number) < time) {
      const entry = this.entries[0] as Entry;
      if (entry.seq === this.seqs[0] && entry.state === PENDING) return entry;
      this.pop();
    }
    return undefined;
  }

  /** Removes the first item. */
  pop(): void {
    const { entries, seqs, deadlines } = this;
    const entry = entries.pop() as Entry;
    const seq = seqs.pop() as number;
    const deadline = deadlines.pop() as number;
    const n = entries.length;
    if (n === 0) return;
    let at = 0;
    while (true) {
      const left = 2 * at + 1;
      if (left >= n) break;
      const right = left + 1;
      const child =
        right < n &&
        keyBefore(
          deadlines[right] as number,
          seqs[right] as number,
          deadlines[left] as number,
          seqs[left] as number,
        )
          ? right
          : left;
      if (!keyBefore(deadlines[child] as number, seqs[child] as number, deadline, seq)) break;
      this.place(at, entries[child] as Entry, seqs[child] as number, deadlines[child] as number);
      at = child;
    }
    this.place(at, entry, seq, deadline);
  }

  compact(): void {
    const { entries, seqs, deadlines } = this;
    this.entries = [];
    this.seqs = [];
    this.deadlines = [];
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i] as Entry;
      if (entry.seq === seqs[i] && entry.state === PENDING)
        this.push(entry, entry.seq, deadlines[i] as number);
    }
  }

  private place(at: number, entry: Entry, seq: number, deadline: number): void {
    this.entries[at] = entry;
    this.seqs[at] = seq;
    this.deadlines[at] = deadline;
  }
}

function keyBefore(deadlineA: number, seqA: number, deadlineB: number, seqB: number): boolean {
  return deadlineA < deadlineB || (deadlineA === deadlineB && seqA < seqB);
}

function deadlineBefore(a: Entry, b: Entry): boolean {
  return keyBefore(a.deadline, a.seq, b.deadline, b.seq);
}

/**
 * The join of predictions with the bars that label them, for one stream. Feed every bar of the stream
 * (`onBar`, first emission and revisions) and every prediction (`onPrediction`, after its bar); `onBar`
 * emits labelled and expired LabelRecords.
 *
 * - Labelled: by the h-th bar after t, i.e. the bar starting at t + h × timeframe length. A bar starting later
 *   closing first means bar t+h had no trades: the label expires as 'gap' (so does a label whose own bar t
 *   never reached the joiner).
 * - Revisions: a bar seen again (a revision, or a replay) that changes a revisable label's realised return or
 *   class re-emits it with revision + 1 (an unchanged outcome re-emits nothing). A label stays revisable
 *   until its series' newest bar end passes its labelling bar's end + `lateness` bars; then it is final and
 *   forgotten.
 * - Expiry: pending past horizon bar end + lateness + maxWaitBars bars of event time (the newest bar end of
 *   any series): 'timeout'; past `maxPending`, the first added: 'evicted' (emitted by the next onBar, since
 *   onPrediction has no emitter).
 * - A prediction for a bar whose label is pending replaces its predicted value (a re-score after a revision
 *   of the newest bar); one whose label was emitted or evicted is ignored (`duplicates`).
 */
export class LabelJoiner {
  readonly lateness: number;
  readonly maxWaitBars: number;
  readonly maxPending: number;

  /** predictions of a model that is not watched (or of another timeframe than the one watched) */
  unwatched = 0;
  /** predictions for a bar already pending (predicted value replaced), labelled or evicted (ignored) */
  duplicates = 0;
  /** predictions of a watched model without a usable value (class not in its classes, non-finite value, bad ts) */
  malformed = 0;

  private eventTime = Number.NEGATIVE_INFINITY;
  private nextSeq = 0;
  private pending = 0;
  private capacity: number;
  private readonly watched: Watched[] = [];
  private readonly byModel = new Map<string, Map<string, Watched>>();
  private readonly series: Series[] = [];
  /** per timeframe index: the series by symbol */
  private readonly bySymbol: Map<string, Series>[] = [new Map(), new Map(), new Map()];
  /** slots of every watched model's ring of entries in a series */
  private slotTotal = 0;
  /** pending entries by deadline, one queue per (timeframe, horizon bars) */
  private readonly deadlines: DeadlineQueue[] = [];
  private readonly deadlinesByKey = new Map<string, DeadlineQueue>();
  /** items in a deadline queue, live or not, past which its settled ones are dropped */
  private readonly queuedLimit: number;
  private readonly free: Entry[] = [];
  private oldest: Entry | undefined = undefined;
  private newest: Entry | undefined = undefined;
  private readonly outbox: Entry[] = [];
  /** entries of the outbox already emitted (an emitter that throws leaves the rest for the next bar) */
  private outboxHead = 0;

  constructor(options: LabelJoinerOptions = {}) {
    this.lateness = checkInteger(
      'labels.lateness',
      options.lateness ?? LABEL_JOINER_DEFAULTS.lateness,
      0,
      MAX_LATENESS_BARS,
    );
    this.maxWaitBars = checkInteger(
      'labels.maxWaitBars',
      options.maxWaitBars ?? LABEL_JOINER_DEFAULTS.maxWaitBars,
      0,
      MAX_WAIT_BARS,
    );
    this.maxPending = checkInteger(
      'labels.maxPending',
      options.maxPending ?? LABEL_JOINER_DEFAULTS.maxPending,
      1,
      MAX_PENDING,
    );
    this.capacity = this.lateness + this.maxWaitBars + 3;
    this.queuedLimit = 2 * this.maxPending + 1_024;
  }

  /** Labels waiting for their horizon bar (evicted ones not counted). */
  get pendingCount(): number {
    return this.pending;
  }

  /** Evicted labels whose expiry record the next onBar emits. */
  get evictedCount(): number {
    return this.outbox.length - this.outboxHead;
  }

  /**
   * Starts joining a model's predictions; false when its label cannot be joined (a 'custom' label, or one
   * its output cannot be compared with: a classifier needs return_sign, a regressor return or
   * return_percent). Watching the same model version again with the same spec does nothing.
   */
  watch(spec: LabelSpec): boolean {
    const normal = normaliseSpec(spec);
    if (normal === undefined) return false;
    const existing = this.byModel.get(normal.model)?.get(normal.version);
    if (existing !== undefined) {
      if (JSON.stringify(existing.spec) !== JSON.stringify(normal))
        throw new MlfpError(
          'config_invalid',
          `model ${normal.model}@${normal.version} is already watched with another label`,
          { field: 'label', value: spec },
        );
      return true;
    }
    if (this.watched.length >= MAX_MODELS)
      throw new MlfpError('config_invalid', `more than ${MAX_MODELS} watched models`, { field: 'models' });
    const key = `${normal.timeframe} ${normal.horizonBars}`;
    let deadlines = this.deadlinesByKey.get(key);
    if (deadlines === undefined) {
      deadlines = new DeadlineQueue();
      this.deadlinesByKey.set(key, deadlines);
      this.deadlines.push(deadlines);
    }
    const slotCount = normal.horizonBars + this.lateness + this.maxWaitBars + 3;
    const watched = new Watched(this.watched.length, normal, deadlines, this.slotTotal, slotCount);
    this.slotTotal += slotCount;
    for (const series of this.series) series.growSlots(this.slotTotal);
    this.watched.push(watched);
    let versions = this.byModel.get(normal.model);
    if (versions === undefined) this.byModel.set(normal.model, (versions = new Map()));
    versions.set(normal.version, watched);
    const capacity = normal.horizonBars + this.lateness + this.maxWaitBars + 2;
    if (capacity > this.capacity) {
      this.capacity = capacity;
      for (const series of this.series) series.resize(capacity);
    }
    return true;
  }

  /** Remembers the pending label of a prediction of a watched model (emits nothing). */
  onPrediction(p: Prediction): void {
    const watched = this.byModel.get(p.model)?.get(p.version);
    if (watched === undefined || watched.spec.timeframe !== p.timeframe) {
      this.unwatched++;
      return;
    }
    const predicted = predictedOf(p, watched);
    if (Number.isNaN(predicted) || !Number.isFinite(p.ts)) {
      this.malformed++;
      return;
    }
    const series = this.seriesOf(p.symbol, p.timeframe);
    const existing = series.entryOf(watched, p.ts);
    if (existing !== undefined) {
      this.duplicates++;
      if (existing.state === PENDING) existing.predicted = predicted;
      return;
    }
    const entry = this.newEntry(this.nextSeq++, series, watched, p.ts, predicted, series.closeAt(p.ts));
    series.addEntry(entry);
    this.addPending(entry);
    while (this.pending > this.maxPending) this.evictOldest();
  }

  /** Takes one bar (first emission or revision) and emits every label it settles, revises or expires. */
  onBar(bar: Bar, emit: (label: LabelRecord) => void): void {
    if (this.outbox.length > 0) this.flushEvicted(emit);
    const series = this.seriesOf(bar.symbol, bar.timeframe);
    const seenBefore = bar.ts <= series.newestTs;
    if (!seenBefore) {
      series.newestTs = bar.ts;
      series.newestEnd = bar.end;
    }
    series.record(bar.ts, bar.close);
    if (bar.end > this.eventTime) this.eventTime = bar.end;
    for (
      let top = series.firstPending();
      top !== undefined && top.due <= bar.ts;
      top = series.firstPending()
    ) {
      this.removePending(top);
      this.settle(top, top.due === bar.ts ? bar.close : series.closeAt(top.due), emit);
    }
    if (seenBefore) this.revise(series, bar, emit);
    this.prune(series);
    this.expire(emit);
  }

  snapshot(): LabelJoinerSnapshot {
    const entries: Entry[] = [];
    for (const series of this.series) series.collectEntries(entries);
    entries.sort((a, b) => a.seq - b.seq);
    return {
      kind: KIND,
      version: 1,
      eventTime: encodeNumber(this.eventTime),
      nextSeq: this.nextSeq,
      unwatched: this.unwatched,
      duplicates: this.duplicates,
      malformed: this.malformed,
      models: this.watched.map((w) => ({
        ...w.spec,
        ...(w.spec.classes ? { classes: [...w.spec.classes] } : {}),
      })),
      series: this.series.map((s) => ({
        symbol: s.symbol,
        timeframe: s.timeframe,
        newestTs: encodeNumber(s.newestTs),
        newestEnd: encodeNumber(s.newestEnd),
        closes: s.closes(),
      })),
      entries: entries.map((e) => ({
        seq: e.seq,
        model: e.watched.index,
        series: e.series.index,
        ts: e.ts,
        state: STATES[e.state] as EntryStateName,
        predicted: predictedOut(e),
        closeT: encodeNumber(e.closeT),
        closeH: encodeNumber(e.closeH),
        revision: e.revision,
      })),
    };
  }

  /**
   * Rebuilds a joiner from `snapshot()` with the given options (the configuration in force now): it then
   * emits exactly what the joiner that took the snapshot would have. snapshot_invalid names the bad field.
   */
  static restore(snapshot: unknown, options: LabelJoinerOptions = {}): LabelJoiner {
    const reader: SnapshotReader = new SnapshotReader(snapshot, KIND, 1);
    const joiner = new LabelJoiner(options);
    const eventTime = reader.number('eventTime');
    if (!(Number.isFinite(eventTime) || eventTime === Number.NEGATIVE_INFINITY))
      reader.fail('eventTime', 'not a finite number nor -Infinity');
    joiner.eventTime = eventTime;
    const nextSeq = reader.integer('nextSeq', 0);
    joiner.nextSeq = nextSeq;
    joiner.unwatched = reader.integer('unwatched', 0);
    joiner.duplicates = reader.integer('duplicates', 0);
    joiner.malformed = reader.integer('malformed', 0);

    arrayField(reader, snapshot, 'models', MAX_MODELS).forEach((raw, i) => {
      const item: ItemReader = new ItemReader(KIND, raw, `models[${i}]`);
      const spec: LabelSpec = {
        model: item.string('model'),
        version: item.string('version'),
        kind: item.choice('kind', MODEL_KINDS),
        timeframe: item.choice('timeframe', TIMEFRAMES),
        horizonBars: item.integer('horizonBars', 1, MAX_HORIZON_BARS),
        labelKind: item.choice('labelKind', LABEL_KINDS),
      };
      if (item.has('classes')) {
        const classes = item.raw('classes');
        if (!Array.isArray(classes) || !classes.every((c) => typeof c === 'string'))
          item.fail('classes', 'not an array of strings');
        spec.classes = classes as string[];
      }
      if (item.has('valueName')) spec.valueName = item.string('valueName');
      let joinable: boolean;
      try {
        joinable = joiner.watch(spec);
      } catch (error) {
        item.fail('label', (error as Error).message);
      }
      if (!joinable) item.fail('labelKind', 'not joinable with the output');
      if (joiner.watched.length !== i + 1) item.fail('model', 'repeats an earlier model');
    });

    arrayField(reader, snapshot, 'series', MAX_SERIES).forEach((raw, i) => {
      const item: ItemReader = new ItemReader(KIND, raw, `series[${i}]`);
      const symbol = item.string('symbol');
      const timeframe = item.choice('timeframe', TIMEFRAMES);
      if (joiner.bySymbol[TIMEFRAME_INDEX[timeframe]]?.has(symbol) === true)
        item.fail('symbol', 'repeats an earlier series');
      const series = joiner.seriesOf(symbol, timeframe);
      series.newestTs = item.number('newestTs');
      series.newestEnd = item.number('newestEnd');
      const closes = item.raw('closes');
      if (!Array.isArray(closes) || closes.length > MAX_CLOSES)
        item.fail('closes', `not an array of at most ${MAX_CLOSES} bars`);
      let before = Number.NEGATIVE_INFINITY;
      for (const bar of closes as unknown[]) {
        if (
          !Array.isArray(bar) ||
          bar.length !== 2 ||
          !Number.isFinite(bar[0]) ||
          !((bar[0] as number) > before) ||
          !((bar[0] as number) <= series.newestTs) ||
          !Number.isFinite(bar[1]) ||
          !((bar[1] as number) > 0)
        )
          item.fail('closes', 'not [bar start, positive close] pairs in increasing bar start up to newestTs');
        before = bar[0] as number;
        series.record(bar[0] as number, bar[1] as number);
      }
    });

    let lastSeq = -1;
    arrayField(reader, snapshot, 'entries', MAX_PENDING * 4).forEach((raw, i) => {
      const item: ItemReader = new ItemReader(KIND, raw, `entries[${i}]`);
      const seq = item.integer('seq', lastSeq + 1, nextSeq - 1);
      lastSeq = seq;
      const watched = joiner.watched[item.integer('model', 0, joiner.watched.length - 1)] as Watched;
      const series = joiner.series[item.integer('series', 0, joiner.series.length - 1)] as Series;
      if (series.timeframe !== watched.spec.timeframe) item.fail('series', "not of the model's timeframe");
      const ts = item.number('ts');
      if (!Number.isFinite(ts)) item.fail('ts', 'not a finite number');
      const state = STATES.indexOf(item.choice('state', STATES));
      const value = item.raw('predicted');
      const predicted = watched.isClassifier
        ? typeof value === 'string'
          ? watched.classes.indexOf(value)
          : -1
        : typeof value === 'number' && Number.isFinite(value)
          ? value
          : Number.NaN;
      if (watched.isClassifier ? predicted < 0 : Number.isNaN(predicted))
        item.fail('predicted', "not a value of the model's output");
      const closeT = item.number('closeT');
      const closeH = item.number('closeH');
      const revision = item.integer('revision', 0, state === LABELLED ? Number.MAX_SAFE_INTEGER : 0);
      if (state === LABELLED) {
        if (!(closeT > 0 && closeT < Number.POSITIVE_INFINITY)) item.fail('closeT', 'not a positive close');
        if (!(closeH > 0 && closeH < Number.POSITIVE_INFINITY)) item.fail('closeH', 'not a positive close');
      } else if (!(Number.isNaN(closeT) || (closeT > 0 && closeT < Number.POSITIVE_INFINITY)))
        item.fail('closeT', 'not a positive close nor NaN');
      if (series.entryOf(watched, ts) !== undefined)
        item.fail('ts', 'repeats an earlier entry of the same series and model');
      const entry = joiner.newEntry(seq, series, watched, ts, predicted, closeT);
      series.addEntry(entry);
      if (state === PENDING) joiner.addPending(entry);
      else if (state === EVICTED) {
        entry.state = EVICTED;
        joiner.outbox.push(entry);
      } else {
        entry.closeH = closeH;
        entry.revision = revision;
        joiner.label(entry);
      }
    });
    while (joiner.pending > joiner.maxPending) joiner.evictOldest();
    return joiner;
  }

  private seriesOf(symbol: string, timeframe: Timeframe): Series {
    const bySymbol = this.bySymbol[TIMEFRAME_INDEX[timeframe]] as Map<string, Series>;
    let series = bySymbol.get(symbol);
    if (series === undefined) {
      series = new Series(
        this.series.length,
        symbol,
        timeframe,
        TIMEFRAME_MS[timeframe],
        this.capacity,
        this.slotTotal,
      );
      this.series.push(series);
      bySymbol.set(symbol, series);
    }
    return series;
  }

  private newEntry(
    seq: number,
    series: Series,
    watched: Watched,
    ts: number,
    predicted: number,
    closeT: number,
  ): Entry {
    const entry = this.free.pop() ?? new Entry(series, watched);
    const length = series.lengthMs;
    entry.seq = seq;
    entry.series = series;
    entry.watched = watched;
    entry.ts = ts;
    entry.due = ts + watched.spec.horizonBars * length;
    entry.deadline = entry.due + (1 + this.lateness + this.maxWaitBars) * length;
    entry.predicted = predicted;
    entry.closeT = closeT;
    entry.closeH = Number.NaN;
    entry.realisedReturn = Number.NaN;
    entry.rising = 0;
    entry.state = PENDING;
    entry.revision = 0;
    entry.retainUntil = Number.NaN;
    return entry;
  }

  /** Puts a forgotten entry (in no structure but, lazily, the deadline queues) back in the pool. */
  private release(entry: Entry): void {
    entry.state = FREE;
    if (this.free.length < POOL_MAX) this.free.push(entry);
  }

  /** Forgets an entry that is in no structure but its slots and (lazily) the deadline queues. */
  private forget(entry: Entry): void {
    entry.series.deleteEntry(entry);
    this.release(entry);
  }

  private addPending(entry: Entry): void {
    entry.series.pushPending(entry);
    const deadlines = entry.watched.deadlines;
    deadlines.push(entry);
    if (deadlines.size > this.queuedLimit) deadlines.compact();
    entry.older = this.newest;
    if (this.newest === undefined) this.oldest = entry;
    else this.newest.newer = entry;
    this.newest = entry;
    this.pending++;
  }

  /** Takes a pending entry out of its series' heap and the eviction order (its deadline queue skips it later). */
  private removePending(entry: Entry): void {
    entry.series.removePending(entry);
    if (entry.older === undefined) this.oldest = entry.newer;
    else entry.older.newer = entry.newer;
    if (entry.newer === undefined) this.newest = entry.older;
    else entry.newer.older = entry.older;
    entry.older = entry.newer = undefined;
    this.pending--;
  }

  private evictOldest(): void {
    const entry = this.oldest as Entry;
    this.removePending(entry);
    entry.state = EVICTED;
    this.outbox.push(entry);
  }

  private flushEvicted(emit: (label: LabelRecord) => void): void {
    const outbox = this.outbox;
    while (this.outboxHead < outbox.length) {
      const entry = outbox[this.outboxHead++] as Entry;
      const record = expiredRecord(entry, 'evicted');
      this.forget(entry);
      emit(record);
    }
    outbox.length = 0;
    this.outboxHead = 0;
  }

  /** Times out the pending labels whose deadline the event time passed, in (deadline, seq) order. */
  private expire(emit: (label: LabelRecord) => void): void {
    const eventTime = this.eventTime;
    const queues = this.deadlines;
    while (true) {
      let first: Entry | undefined;
      for (let i = 0; i < queues.length; i++) {
        const candidate = (queues[i] as DeadlineQueue).firstBefore(eventTime);
        if (candidate !== undefined && (first === undefined || deadlineBefore(candidate, first)))
          first = candidate;
      }
      if (first === undefined) return;
      first.watched.deadlines.take(first);
      this.removePending(first);
      const record = expiredRecord(first, 'timeout');
      this.forget(first);
      emit(record);
    }
  }

  /** A pending entry whose horizon bar has come (closeH) or been skipped (NaN): labelled, or a gap. */
  private settle(entry: Entry, closeH: number, emit: (label: LabelRecord) => void): void {
    const closeT = entry.series.closeAt(entry.ts);
    if (closeT > 0) entry.closeT = closeT;
    if (!(entry.closeT > 0 && closeH > 0)) {
      const record = expiredRecord(entry, 'gap');
      this.forget(entry);
      emit(record);
      return;
    }
    entry.closeH = closeH;
    this.label(entry);
    emit(labelledRecord(entry));
  }

  private label(entry: Entry): void {
    outcome(entry);
    entry.state = LABELLED;
    entry.retainUntil = entry.due + (1 + this.lateness) * entry.series.lengthMs;
    entry.series.retain(entry);
  }

  /** Forgets labelled entries once the series' newest bar end passes their labelling bar's end + lateness. */
  private prune(series: Series): void {
    for (
      let entry = series.firstRetained();
      entry !== undefined && entry.retainUntil < series.newestEnd;
      entry = series.firstRetained()
    ) {
      series.shiftRetained();
      this.forget(entry);
    }
  }

  /** A bar seen before: re-emits the revisable labels whose bar t or t+h it is, when their outcome changed. */
  private revise(series: Series, bar: Bar, emit: (label: LabelRecord) => void): void {
    for (const watched of this.watched) {
      const asStart = series.entryOf(watched, bar.ts);
      if (asStart !== undefined && asStart.state === LABELLED && asStart.closeT !== bar.close) {
        asStart.closeT = bar.close;
        reviseOutcome(asStart, emit);
      }
      const asLabel = series.entryOf(watched, bar.ts - watched.spec.horizonBars * series.lengthMs);
      if (asLabel !== undefined && asLabel.state === LABELLED && asLabel.closeH !== bar.close) {
        asLabel.closeH = bar.close;
        reviseOutcome(asLabel, emit);
      }
    }
  }
}

function normaliseSpec(spec: LabelSpec): LabelSpecSnapshot | undefined {
  const bad = (field: string, why: string, value: unknown): never => {
    throw new MlfpError('config_invalid', `${field} ${why}`, { field, value });
  };
  if (typeof spec.model !== 'string' || spec.model.length === 0) bad('model', 'must be a name', spec.model);
  if (typeof spec.version !== 'string' || spec.version.length === 0)
    bad('version', 'must be a version', spec.version);
  if (!MODEL_KINDS.includes(spec.kind)) bad('kind', `must be one of ${MODEL_KINDS.join(', ')}`, spec.kind);
  if (!TIMEFRAMES.includes(spec.timeframe))
    bad('timeframe', `must be one of ${TIMEFRAMES.join(', ')}`, spec.timeframe);
  checkInteger('label.horizonBars', spec.horizonBars, 1, MAX_HORIZON_BARS);
  if (!LABEL_KINDS.includes(spec.labelKind))
    bad('label.kind', `must be one of ${LABEL_KINDS.join(', ')}`, spec.labelKind);
  if (spec.labelKind === 'custom') return undefined;
  const isClassifier = spec.kind === 'classifier';
  if (isClassifier !== (spec.labelKind === 'return_sign')) return undefined;
  const normal: LabelSpecSnapshot = {
    model: spec.model,
    version: spec.version,
    kind: spec.kind,
    timeframe: spec.timeframe,
    horizonBars: spec.horizonBars,
    labelKind: spec.labelKind,
  };
  if (isClassifier) {
    const classes = spec.classes;
    if (
      !Array.isArray(classes) ||
      classes.length < 2 ||
      !classes.every((c) => typeof c === 'string' && c.length > 0) ||
      new Set(classes).size !== classes.length
    )
      bad('output.labels', 'must be at least 2 distinct class names', classes);
    normal.classes = [...(classes as string[])];
  } else if (spec.valueName !== undefined) {
    if (typeof spec.valueName !== 'string' || spec.valueName.length === 0)
      bad('output.names', 'must name an output', spec.valueName);
    normal.valueName = spec.valueName;
  }
  return normal;
}

/** A classifier's class index or a regressor's value of the prediction; NaN when it has none usable. */
function predictedOf(p: Prediction, watched: Watched): number {
  const output = p.output;
  if (watched.isClassifier) {
    const label = output['label'];
    const index = typeof label === 'string' ? watched.classes.indexOf(label) : -1;
    return index < 0 ? Number.NaN : index;
  }
  let name = watched.spec.valueName;
  if (name === undefined)
    for (const key in output) {
      name = key;
      break;
    }
  const value = name === undefined ? undefined : output[name];
  return typeof value === 'number' && Number.isFinite(value) ? value : Number.NaN;
}

function predictedOut(entry: Entry): number | string {
  const watched = entry.watched;
  return watched.isClassifier ? (watched.classes[entry.predicted] as string) : entry.predicted;
}

function actualOut(entry: Entry): number | string {
  const watched = entry.watched;
  const labelKind = watched.spec.labelKind;
  return labelKind === 'return_sign'
    ? entry.rising === 1
      ? watched.up
      : watched.down
    : labelKind === 'return'
      ? entry.realisedReturn
      : 100 * entry.realisedReturn;
}

function outcome(entry: Entry): void {
  entry.realisedReturn = entry.closeH / entry.closeT - 1;
  entry.rising = entry.watched.isClassifier && entry.closeH > entry.closeT ? 1 : 0;
}

/** Re-emits a labelled entry whose closes changed when its outcome (realised return, or class) changed. */
function reviseOutcome(entry: Entry, emit: (label: LabelRecord) => void): void {
  const realised = entry.realisedReturn;
  const rising = entry.rising;
  outcome(entry);
  if (entry.realisedReturn === realised && entry.rising === rising) return;
  entry.revision++;
  emit(labelledRecord(entry));
}

function labelledRecord(entry: Entry): LabelRecord {
  const spec = entry.watched.spec;
  return {
    symbol: entry.series.symbol,
    timeframe: entry.series.timeframe,
    ts: entry.ts,
    model: spec.model,
    version: spec.version,
    kind: spec.kind,
    horizonBars: spec.horizonBars,
    labelTs: entry.due,
    state: 'labelled',
    revision: entry.revision,
    realisedReturn: entry.realisedReturn,
    actual: actualOut(entry),
    predicted: predictedOut(entry),
  };
}

function expiredRecord(entry: Entry, reason: LabelExpiry): LabelRecord {
  const spec = entry.watched.spec;
  return {
    symbol: entry.series.symbol,
    timeframe: entry.series.timeframe,
    ts: entry.ts,
    model: spec.model,
    version: spec.version,
    kind: spec.kind,
    horizonBars: spec.horizonBars,
    labelTs: entry.due,
    state: 'expired',
    reason,
    revision: entry.revision,
    realisedReturn: Number.NaN,
    actual: null,
    predicted: predictedOut(entry),
  };
}
