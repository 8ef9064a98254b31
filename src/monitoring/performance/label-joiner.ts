// Joins each prediction with the bar that labels it, for one stream (one Kafka partition): the prediction at
// bar t with horizon h is labelled by the same series' bar t+h (start t + h × the timeframe's length), or
// expires (gap, timeout, evicted) with a record saying why, so that no prediction goes unaccounted for.
// A late revision of bar t or t+h re-emits the label with revision + 1 while it is still revisable.
// Per event: O(log pending) to add or settle a label, O(models) for a revised bar; no scan of pending labels.

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

  constructor(
    readonly index: number,
    readonly spec: LabelSpecSnapshot,
  ) {
    const classes = spec.classes ?? [];
    const sign = signClassesOf(classes);
    this.up = classes[sign.up] ?? '';
    this.down = classes[sign.down] ?? '';
  }
}

class Entry {
  seriesHeapIndex = -1;
  deadlineHeapIndex = -1;
  older: Entry | undefined = undefined;
  newer: Entry | undefined = undefined;
  state = PENDING;
  revision = 0;
  closeH = Number.NaN;
  realisedReturn = Number.NaN;
  actual: number | string | null = null;
  /** series' newest bar end past which a labelled entry is forgotten */
  retainUntil = Number.NaN;

  constructor(
    readonly seq: number,
    readonly series: Series,
    readonly watched: Watched,
    /** bar start of the predicted bar */
    readonly ts: number,
    /** bar start of the labelling bar */
    readonly due: number,
    /** event time past which the pending label times out */
    readonly deadline: number,
    public predicted: number | string,
    /** close[t] as known when the prediction came (NaN when bar t was not seen) */
    public closeT: number,
  ) {}
}

/** Binary min-heap of entries by (due or deadline, seq) that tracks each entry's place, so any entry leaves in O(log n). */
class EntryHeap {
  private readonly items: Entry[] = [];

  constructor(private readonly byDeadline: boolean) {}

  get size(): number {
    return this.items.length;
  }

  peek(): Entry | undefined {
    return this.items[0];
  }

  push(entry: Entry): void {
    this.items.push(entry);
    this.siftUp(this.items.length - 1, entry);
  }

  remove(entry: Entry): void {
    const items = this.items;
    const at = this.byDeadline ? entry.deadlineHeapIndex : entry.seriesHeapIndex;
    const last = items.pop() as Entry;
    this.place(entry, -1);
    if (last === entry) return;
    items[at] = last;
    this.place(last, at);
    if (at > 0 && this.less(last, items[(at - 1) >> 1] as Entry)) this.siftUp(at, last);
    else this.siftDown(at, last);
  }

  private place(entry: Entry, at: number): void {
    if (this.byDeadline) entry.deadlineHeapIndex = at;
    else entry.seriesHeapIndex = at;
  }

  private less(a: Entry, b: Entry): boolean {
    const ka = this.byDeadline ? a.deadline : a.due;
    const kb = this.byDeadline ? b.deadline : b.due;
    return ka < kb || (ka === kb && a.seq < b.seq);
  }

  private siftUp(at: number, entry: Entry): void {
    const items = this.items;
    while (at > 0) {
      const parentAt = (at - 1) >> 1;
      const parent = items[parentAt] as Entry;
      if (!this.less(entry, parent)) break;
      items[at] = parent;
      this.place(parent, at);
      at = parentAt;
    }
    items[at] = entry;
    this.place(entry, at);
  }

  private siftDown(at: number, entry: Entry): void {
    const items = this.items;
    const n = items.length;
    while (true) {
      const left = 2 * at + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && this.less(items[right] as Entry, items[left] as Entry)) child = right;
      const smaller = items[child] as Entry;
      if (!this.less(smaller, entry)) break;
      items[at] = smaller;
      this.place(smaller, at);
      at = child;
    }
    items[at] = entry;
    this.place(entry, at);
  }
}

/** One (symbol, timeframe): its recent closes, pending labels by due bar, and revisable labels. */
class Series {
  newestTs = Number.NEGATIVE_INFINITY;
  newestEnd = Number.NEGATIVE_INFINITY;
  readonly pending = new EntryHeap(false);
  /** labelled entries by (retainUntil, seq), from `retainedHead` on */
  readonly retained: (Entry | undefined)[] = [];
  retainedHead = 0;
  /** per watched model index: pending, labelled and evicted entries by predicted bar start */
  readonly entries: (Map<number, Entry> | undefined)[] = [];
  private ringTs: Float64Array;
  private ringClose: Float64Array;

  constructor(
    readonly index: number,
    readonly symbol: string,
    readonly timeframe: Timeframe,
    readonly lengthMs: number,
    capacity: number,
  ) {
    this.ringTs = new Float64Array(capacity).fill(Number.NEGATIVE_INFINITY);
    this.ringClose = new Float64Array(capacity);
  }

  private slotOf(ts: number): number {
    const capacity = this.ringTs.length;
    const slot = Math.floor(ts / this.lengthMs) % capacity;
    return slot < 0 ? slot + capacity : slot;
  }

  /** close of the bar starting at `ts` if it is still in the ring, else NaN */
  closeAt(ts: number): number {
    const slot = this.slotOf(ts);
    return this.ringTs[slot] === ts ? (this.ringClose[slot] as number) : Number.NaN;
  }

  /** Keeps the close of bar `ts` unless its slot already holds a newer bar. */
  record(ts: number, close: number): void {
    const slot = this.slotOf(ts);
    if ((this.ringTs[slot] as number) > ts) return;
    this.ringTs[slot] = ts;
    this.ringClose[slot] = close;
  }

  /** The ring's bars as [ts, close], oldest first. */
  closes(): [number, number][] {
    const bars: [number, number][] = [];
    for (let i = 0; i < this.ringTs.length; i++)
      if (this.ringTs[i] !== Number.NEGATIVE_INFINITY)
        bars.push([this.ringTs[i] as number, this.ringClose[i] as number]);
    return bars.sort((a, b) => a[0] - b[0]);
  }

  resize(capacity: number): void {
    const bars = this.closes();
    this.ringTs = new Float64Array(capacity).fill(Number.NEGATIVE_INFINITY);
    this.ringClose = new Float64Array(capacity);
    for (const [ts, close] of bars) this.record(ts, close);
  }

  retain(entry: Entry): void {
    const retained = this.retained;
    let at = retained.length;
    retained.push(entry);
    while (at > this.retainedHead) {
      const before = retained[at - 1] as Entry;
      if (
        before.retainUntil < entry.retainUntil ||
        (before.retainUntil === entry.retainUntil && before.seq < entry.seq)
      )
        break;
      retained[at] = before;
      at--;
    }
    retained[at] = entry;
  }

  /** Forgets labelled entries once the newest bar end passes their labelling bar's end + lateness. */
  prune(): void {
    const retained = this.retained;
    let head = this.retainedHead;
    while (head < retained.length) {
      const entry = retained[head] as Entry;
      if (!(entry.retainUntil < this.newestEnd)) break;
      this.entries[entry.watched.index]?.delete(entry.ts);
      retained[head++] = undefined;
    }
    if (head === retained.length) {
      retained.length = 0;
      head = 0;
    } else if (head > 1_024 && head * 2 > retained.length) {
      retained.splice(0, head);
      head = 0;
    }
    this.retainedHead = head;
  }
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
  private readonly bySymbol = new Map<string, (Series | undefined)[]>();
  private readonly deadlines = new EntryHeap(true);
  private oldest: Entry | undefined = undefined;
  private newest: Entry | undefined = undefined;
  private readonly outbox: Entry[] = [];

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
  }

  /** Labels waiting for their horizon bar (evicted ones not counted). */
  get pendingCount(): number {
    return this.pending;
  }

  /** Evicted labels whose expiry record the next onBar emits. */
  get evictedCount(): number {
    return this.outbox.length;
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
    const watched = new Watched(this.watched.length, normal);
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
    if (predicted === undefined || !Number.isFinite(p.ts)) {
      this.malformed++;
      return;
    }
    const series = this.seriesOf(p.symbol, p.timeframe);
    let byTs = series.entries[watched.index];
    if (byTs === undefined) series.entries[watched.index] = byTs = new Map();
    const existing = byTs.get(p.ts);
    if (existing !== undefined) {
      this.duplicates++;
      if (existing.state === PENDING) existing.predicted = predicted;
      return;
    }
    const entry = this.newEntry(this.nextSeq++, series, watched, p.ts, predicted, series.closeAt(p.ts));
    byTs.set(p.ts, entry);
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
      let top = series.pending.peek();
      top !== undefined && top.due <= bar.ts;
      top = series.pending.peek()
    ) {
      this.removePending(top);
      this.settle(top, top.due === bar.ts ? bar.close : series.closeAt(top.due), emit);
    }
    if (seenBefore) this.revise(series, bar, emit);
    series.prune();
    const eventTime = this.eventTime;
    for (
      let top = this.deadlines.peek();
      top !== undefined && top.deadline < eventTime;
      top = this.deadlines.peek()
    ) {
      this.removePending(top);
      top.series.entries[top.watched.index]?.delete(top.ts);
      emit(expiredRecord(top, 'timeout'));
    }
  }

  snapshot(): LabelJoinerSnapshot {
    const entries: Entry[] = [];
    for (const series of this.series)
      for (const byTs of series.entries)
        if (byTs !== undefined) for (const entry of byTs.values()) entries.push(entry);
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
        predicted: e.predicted,
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
      if (joiner.bySymbol.get(symbol)?.[TIMEFRAME_INDEX[timeframe]] !== undefined)
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
      const predicted = item.raw('predicted');
      const valid =
        watched.spec.kind === 'classifier'
          ? typeof predicted === 'string' && (watched.spec.classes as string[]).includes(predicted)
          : typeof predicted === 'number' && Number.isFinite(predicted);
      if (!valid) item.fail('predicted', "not a value of the model's output");
      const closeT = item.number('closeT');
      const closeH = item.number('closeH');
      const revision = item.integer('revision', 0, state === LABELLED ? Number.MAX_SAFE_INTEGER : 0);
      if (state === LABELLED) {
        if (!(closeT > 0 && closeT < Number.POSITIVE_INFINITY)) item.fail('closeT', 'not a positive close');
        if (!(closeH > 0 && closeH < Number.POSITIVE_INFINITY)) item.fail('closeH', 'not a positive close');
      } else if (!(Number.isNaN(closeT) || (closeT > 0 && closeT < Number.POSITIVE_INFINITY)))
        item.fail('closeT', 'not a positive close nor NaN');
      let byTs = series.entries[watched.index];
      if (byTs === undefined) series.entries[watched.index] = byTs = new Map();
      if (byTs.has(ts)) item.fail('ts', 'repeats an earlier entry of the same series and model');
      const entry = joiner.newEntry(seq, series, watched, ts, predicted as number | string, closeT);
      byTs.set(ts, entry);
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
    let byTimeframe = this.bySymbol.get(symbol);
    if (byTimeframe === undefined)
      this.bySymbol.set(symbol, (byTimeframe = [undefined, undefined, undefined]));
    const at = TIMEFRAME_INDEX[timeframe];
    let series = byTimeframe[at];
    if (series === undefined) {
      series = new Series(this.series.length, symbol, timeframe, TIMEFRAME_MS[timeframe], this.capacity);
      this.series.push(series);
      byTimeframe[at] = series;
    }
    return series;
  }

  private newEntry(
    seq: number,
    series: Series,
    watched: Watched,
    ts: number,
    predicted: number | string,
    closeT: number,
  ): Entry {
    const length = series.lengthMs;
    const due = ts + watched.spec.horizonBars * length;
    const deadline = due + (1 + this.lateness + this.maxWaitBars) * length;
    return new Entry(seq, series, watched, ts, due, deadline, predicted, closeT);
  }

  private addPending(entry: Entry): void {
    entry.series.pending.push(entry);
    this.deadlines.push(entry);
    entry.older = this.newest;
    if (this.newest === undefined) this.oldest = entry;
    else this.newest.newer = entry;
    this.newest = entry;
    this.pending++;
  }

  private removePending(entry: Entry): void {
    entry.series.pending.remove(entry);
    this.deadlines.remove(entry);
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
    for (const entry of this.outbox) {
      entry.series.entries[entry.watched.index]?.delete(entry.ts);
      emit(expiredRecord(entry, 'evicted'));
    }
    this.outbox.length = 0;
  }

  /** A pending entry whose horizon bar has come (closeH) or been skipped (NaN): labelled, or a gap. */
  private settle(entry: Entry, closeH: number, emit: (label: LabelRecord) => void): void {
    const closeT = entry.series.closeAt(entry.ts);
    if (closeT > 0) entry.closeT = closeT;
    if (!(entry.closeT > 0 && closeH > 0)) {
      entry.series.entries[entry.watched.index]?.delete(entry.ts);
      emit(expiredRecord(entry, 'gap'));
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

  /** A bar seen before: re-emits the revisable labels whose bar t or t+h it is, when their outcome changed. */
  private revise(series: Series, bar: Bar, emit: (label: LabelRecord) => void): void {
    for (const watched of this.watched) {
      const byTs = series.entries[watched.index];
      if (byTs === undefined) continue;
      const asStart = byTs.get(bar.ts);
      if (asStart !== undefined && asStart.state === LABELLED && asStart.closeT !== bar.close) {
        asStart.closeT = bar.close;
        reviseOutcome(asStart, emit);
      }
      const asLabel = byTs.get(bar.ts - watched.spec.horizonBars * series.lengthMs);
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

function predictedOf(p: Prediction, watched: Watched): number | string | undefined {
  const output = p.output;
  if (watched.spec.kind === 'classifier') {
    const label = output['label'];
    return typeof label === 'string' && (watched.spec.classes as string[]).includes(label)
      ? label
      : undefined;
  }
  let name = watched.spec.valueName;
  if (name === undefined)
    for (const key in output) {
      name = key;
      break;
    }
  const value = name === undefined ? undefined : output[name];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function outcome(entry: Entry): void {
  const realised = entry.closeH / entry.closeT - 1;
  entry.realisedReturn = realised;
  const watched = entry.watched;
  const labelKind = watched.spec.labelKind;
  entry.actual =
    labelKind === 'return_sign'
      ? entry.closeH > entry.closeT
        ? watched.up
        : watched.down
      : labelKind === 'return'
        ? realised
        : 100 * realised;
}

function reviseOutcome(entry: Entry, emit: (label: LabelRecord) => void): void {
  const realised = entry.realisedReturn;
  const actual = entry.actual;
  outcome(entry);
  if (entry.realisedReturn === realised && entry.actual === actual) return;
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
    actual: entry.actual,
    predicted: entry.predicted,
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
    predicted: entry.predicted,
  };
}
