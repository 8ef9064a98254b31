import { describe, expect, it } from 'vitest';
import type { Bar, LabelRecord, Prediction, Timeframe } from '../../domain/types.js';
import { TIMEFRAME_MS } from '../../domain/time.js';
import { Random } from '../../streams/random.js';
import {
  LabelJoiner,
  type LabelJoinerOptions,
  type LabelJoinerSnapshot,
  type LabelSpec,
} from './label-joiner.js';

const M5 = TIMEFRAME_MS['5m'];
const H1 = TIMEFRAME_MS['1h'];
const T0 = Date.UTC(2024, 0, 2);

const DIRECTION: LabelSpec = {
  model: 'xgb-direction',
  version: '1.0.0',
  kind: 'classifier',
  timeframe: '5m',
  horizonBars: 1,
  labelKind: 'return_sign',
  classes: ['down', 'up'],
};
const RETURN2: LabelSpec = {
  model: 'lgbm-return',
  version: '1.0.0',
  kind: 'regressor',
  timeframe: '5m',
  horizonBars: 2,
  labelKind: 'return',
};
const PERCENT: LabelSpec = {
  model: 'pct',
  version: '2',
  kind: 'regressor',
  timeframe: '1h',
  horizonBars: 1,
  labelKind: 'return_percent',
  valueName: 'move',
};
const THREE: LabelSpec = {
  model: 'three',
  version: '1',
  kind: 'classifier',
  timeframe: '1h',
  horizonBars: 3,
  labelKind: 'return_sign',
  classes: ['sell', 'hold', 'buy'],
};
const SPECS = [DIRECTION, RETURN2, PERCENT, THREE];

function bar(symbol: string, timeframe: Timeframe, ts: number, close: number, revision = 0): Bar {
  return {
    symbol,
    timeframe,
    ts,
    end: ts + TIMEFRAME_MS[timeframe],
    open: close,
    high: close,
    low: close,
    close,
    volume: 1,
    vwap: close,
    trades: 1,
    revision,
  };
}

function prediction(spec: LabelSpec, symbol: string, ts: number, value: number | string): Prediction {
  const output: Record<string, number | string> =
    spec.kind === 'classifier'
      ? { label: value, [`p_${String(value)}`]: 0.6 }
      : { [spec.valueName ?? 'value']: value, other: 123 };
  return {
    symbol,
    timeframe: spec.timeframe,
    ts,
    model: spec.model,
    version: spec.version,
    kind: spec.kind,
    output,
    latencyMs: 1,
  };
}

function joinerOf(options: LabelJoinerOptions = {}, specs: readonly LabelSpec[] = SPECS): LabelJoiner {
  const joiner = new LabelJoiner(options);
  for (const spec of specs) expect(joiner.watch(spec)).toBe(true);
  return joiner;
}

/** Runs bars through the joiner and returns what they emitted. */
function feed(joiner: LabelJoiner, ...bars: Bar[]): LabelRecord[] {
  const out: LabelRecord[] = [];
  for (const b of bars) joiner.onBar(b, (label) => out.push(label));
  return out;
}

describe('LabelJoiner', () => {
  it('labels the prediction at bar t with bar t+h: class, return, percent, and the predicted value', () => {
    const joiner = joinerOf();
    expect(feed(joiner, bar('AAA', '5m', T0, 100))).toEqual([]);
    joiner.onPrediction(prediction(DIRECTION, 'AAA', T0, 'up'));
    joiner.onPrediction(prediction(RETURN2, 'AAA', T0, 0.002));
    expect(joiner.pendingCount).toBe(2);
    const first = feed(joiner, bar('AAA', '5m', T0 + M5, 101));
    expect(first).toStrictEqual([
      {
        symbol: 'AAA',
        timeframe: '5m',
        ts: T0,
        model: 'xgb-direction',
        version: '1.0.0',
        kind: 'classifier',
        horizonBars: 1,
        labelTs: T0 + M5,
        state: 'labelled',
        revision: 0,
        realisedReturn: 101 / 100 - 1,
        actual: 'up',
        predicted: 'up',
      },
    ]);
    const second = feed(joiner, bar('AAA', '5m', T0 + 2 * M5, 99));
    expect(second).toHaveLength(1);
    expect(second[0]).toMatchObject({ model: 'lgbm-return', labelTs: T0 + 2 * M5, predicted: 0.002 });
    expect(second[0]!.realisedReturn).toBe(99 / 100 - 1);
    expect(second[0]!.actual).toBe(99 / 100 - 1);
    // the hour's bar closes after its 5m bars (its end is the stream's event time)
    expect(feed(joiner, bar('AAA', '1h', T0, 100))).toEqual([]);
    joiner.onPrediction(prediction(PERCENT, 'AAA', T0, -0.5));
    for (let i = 1; i < 12; i++) feed(joiner, bar('AAA', '5m', T0 + H1 + i * M5, 97));
    const hourly = feed(joiner, bar('AAA', '1h', T0 + H1, 97));
    expect(hourly).toHaveLength(1);
    expect(hourly[0]).toMatchObject({ model: 'pct', labelTs: T0 + H1, predicted: -0.5 });
    expect(hourly[0]!.actual).toBe(100 * (97 / 100 - 1));
    expect(joiner.pendingCount).toBe(0);
  });

  it('reads "up" as close[t+h] > close[t]: an unchanged close is down; other classes take first and last', () => {
    const joiner = joinerOf({}, [{ ...DIRECTION, classes: ['up', 'down'] }, THREE]);
    feed(joiner, bar('AAA', '5m', T0, 50), bar('AAA', '1h', T0, 50));
    joiner.onPrediction(prediction(DIRECTION, 'AAA', T0, 'down'));
    joiner.onPrediction(prediction(THREE, 'AAA', T0, 'hold'));
    const [flat] = feed(joiner, bar('AAA', '5m', T0 + M5, 50));
    expect(flat).toMatchObject({ actual: 'down', realisedReturn: 0, predicted: 'down' });
    feed(joiner, bar('AAA', '1h', T0 + H1, 51), bar('AAA', '1h', T0 + 2 * H1, 52));
    expect(feed(joiner, bar('AAA', '1h', T0 + 3 * H1, 50.5))).toMatchObject([{ actual: 'buy' }]);
  });

  it('keeps exact returns at price scales 1e-4 and 1e6', () => {
    for (const scale of [1e-4, 1e6]) {
      const joiner = joinerOf();
      const closes = [1.2345, 1.2346, 1.2344].map((c) => c * scale);
      feed(joiner, bar('S', '5m', T0, closes[0]!));
      joiner.onPrediction(prediction(DIRECTION, 'S', T0, 'up'));
      joiner.onPrediction(prediction(RETURN2, 'S', T0, 1e-4));
      const [direction] = feed(joiner, bar('S', '5m', T0 + M5, closes[1]!));
      expect(direction).toMatchObject({ actual: 'up', realisedReturn: closes[1]! / closes[0]! - 1 });
      const [value] = feed(joiner, bar('S', '5m', T0 + 2 * M5, closes[2]!));
      expect(value!.actual).toBe(closes[2]! / closes[0]! - 1);
      expect(Math.abs((value!.actual as number) - (1.2344 / 1.2345 - 1))).toBeLessThan(1e-15);
    }
  });

  it('expires a label as a gap when a later bar closes and bar t+h never came', () => {
    const joiner = joinerOf();
    feed(joiner, bar('AAA', '5m', T0, 100));
    joiner.onPrediction(prediction(DIRECTION, 'AAA', T0, 'up'));
    joiner.onPrediction(prediction(RETURN2, 'AAA', T0, 0.01));
    const out = feed(joiner, bar('AAA', '5m', T0 + 2 * M5, 101));
    // h = 1's bar is missing: gap; h = 2's bar is this one: labelled
    expect(out).toHaveLength(2);
    expect(out[0]).toStrictEqual({
      symbol: 'AAA',
      timeframe: '5m',
      ts: T0,
      model: 'xgb-direction',
      version: '1.0.0',
      kind: 'classifier',
      horizonBars: 1,
      labelTs: T0 + M5,
      state: 'expired',
      reason: 'gap',
      revision: 0,
      realisedReturn: Number.NaN,
      actual: null,
      predicted: 'up',
    });
    expect(out[1]).toMatchObject({ model: 'lgbm-return', state: 'labelled', realisedReturn: 101 / 100 - 1 });
  });

  it('expires a label whose own bar never reached the joiner as a gap', () => {
    const joiner = joinerOf();
    joiner.onPrediction(prediction(DIRECTION, 'AAA', T0, 'up'));
    expect(feed(joiner, bar('AAA', '5m', T0 + M5, 101))).toMatchObject([{ state: 'expired', reason: 'gap' }]);
  });

  it("times out by the stream's event time: horizon bar end + lateness + maxWaitBars bars", () => {
    const joiner = joinerOf({ lateness: 1, maxWaitBars: 2 });
    feed(joiner, bar('AAA', '5m', T0, 100), bar('BBB', '5m', T0, 10));
    joiner.onPrediction(prediction(DIRECTION, 'AAA', T0, 'up'));
    // AAA stops; BBB goes on. Deadline: bar t+1 ends at T0 + 2·5m, + (1 + 2) bars = T0 + 5·5m
    for (let i = 1; i <= 4; i++) expect(feed(joiner, bar('BBB', '5m', T0 + i * M5, 10))).toEqual([]);
    expect(joiner.pendingCount).toBe(1);
    const out = feed(joiner, bar('BBB', '5m', T0 + 5 * M5, 10));
    expect(out).toMatchObject([{ symbol: 'AAA', state: 'expired', reason: 'timeout', labelTs: T0 + M5 }]);
    expect(joiner.pendingCount).toBe(0);
    // the late bar t+1 finds nothing left to label
    expect(feed(joiner, bar('AAA', '5m', T0 + M5, 101))).toEqual([]);
  });

  it('evicts the oldest pending labels past maxPending and emits them at the next bar, never labelled after', () => {
    const joiner = joinerOf({ maxPending: 2 });
    feed(joiner, bar('AAA', '5m', T0, 100), bar('BBB', '5m', T0, 100), bar('CCC', '5m', T0, 100));
    joiner.onPrediction(prediction(DIRECTION, 'AAA', T0, 'up'));
    joiner.onPrediction(prediction(DIRECTION, 'BBB', T0, 'down'));
    joiner.onPrediction(prediction(DIRECTION, 'CCC', T0, 'up'));
    expect(joiner.pendingCount).toBe(2);
    // a repeat of the evicted prediction is a duplicate, not a new label
    joiner.onPrediction(prediction(DIRECTION, 'AAA', T0, 'down'));
    expect(joiner.duplicates).toBe(1);
    const out = feed(joiner, bar('AAA', '5m', T0 + M5, 101));
    expect(out).toMatchObject([{ symbol: 'AAA', state: 'expired', reason: 'evicted', predicted: 'up' }]);
    expect(feed(joiner, bar('BBB', '5m', T0 + M5, 99), bar('CCC', '5m', T0 + M5, 101))).toMatchObject([
      { symbol: 'BBB', state: 'labelled', actual: 'down' },
      { symbol: 'CCC', state: 'labelled', actual: 'up' },
    ]);
  });

  it('re-emits a label with revisions 1, 2 when bar t+h is revised, and on a late revision of bar t', () => {
    const joiner = joinerOf({ lateness: 1 });
    feed(joiner, bar('AAA', '5m', T0, 100));
    joiner.onPrediction(prediction(DIRECTION, 'AAA', T0, 'up'));
    expect(feed(joiner, bar('AAA', '5m', T0 + M5, 101))).toMatchObject([{ revision: 0, actual: 'up' }]);
    expect(feed(joiner, bar('AAA', '5m', T0 + M5, 99, 1))).toMatchObject([
      { revision: 1, actual: 'down', realisedReturn: 99 / 100 - 1 },
    ]);
    expect(feed(joiner, bar('AAA', '5m', T0 + M5, 102, 2))).toMatchObject([
      { revision: 2, actual: 'up', realisedReturn: 102 / 100 - 1 },
    ]);
    // a revision that leaves the outcome unchanged re-emits nothing
    expect(feed(joiner, bar('AAA', '5m', T0 + M5, 102, 3))).toEqual([]);
    // the next bar; bar t (no longer the newest) is revised late
    expect(feed(joiner, bar('AAA', '5m', T0 + 2 * M5, 102))).toEqual([]);
    expect(feed(joiner, bar('AAA', '5m', T0, 103, 1))).toMatchObject([
      { revision: 3, actual: 'down', realisedReturn: 102 / 103 - 1 },
    ]);
    // lateness 1: final once the newest bar end passes bar t+1's end + 1 bar
    expect(feed(joiner, bar('AAA', '5m', T0 + 3 * M5, 102))).toEqual([]);
    expect(feed(joiner, bar('AAA', '5m', T0 + M5, 90, 4))).toEqual([]);
  });

  it('with lateness 0 a label is revisable only while its labelling bar is the newest', () => {
    const joiner = joinerOf();
    feed(joiner, bar('AAA', '5m', T0, 100));
    joiner.onPrediction(prediction(DIRECTION, 'AAA', T0, 'up'));
    feed(joiner, bar('AAA', '5m', T0 + M5, 101));
    expect(feed(joiner, bar('AAA', '5m', T0 + M5, 99, 1))).toMatchObject([{ revision: 1 }]);
    feed(joiner, bar('AAA', '5m', T0 + 2 * M5, 99));
    expect(feed(joiner, bar('AAA', '5m', T0 + M5, 101, 2))).toEqual([]);
  });

  it('takes a re-score of a pending bar as its prediction; ignores one after the label and unwatched models', () => {
    const joiner = joinerOf();
    feed(joiner, bar('AAA', '5m', T0, 100));
    joiner.onPrediction(prediction(DIRECTION, 'AAA', T0, 'up'));
    joiner.onPrediction(prediction(DIRECTION, 'AAA', T0, 'down'));
    expect(feed(joiner, bar('AAA', '5m', T0 + M5, 101))).toMatchObject([{ predicted: 'down' }]);
    joiner.onPrediction(prediction(DIRECTION, 'AAA', T0, 'up'));
    expect(joiner.duplicates).toBe(2);
    joiner.onPrediction(prediction({ ...DIRECTION, version: '9' }, 'AAA', T0, 'up'));
    joiner.onPrediction(prediction({ ...DIRECTION, timeframe: '1h' }, 'AAA', T0, 'up'));
    expect(joiner.unwatched).toBe(2);
    joiner.onPrediction(prediction(DIRECTION, 'AAA', T0 + M5, 'sideways'));
    joiner.onPrediction(prediction(RETURN2, 'AAA', T0 + M5, Number.NaN));
    expect(joiner.malformed).toBe(2);
    expect(joiner.pendingCount).toBe(0);
  });

  it('scores the first output key of a regressor without a valueName', () => {
    const joiner = joinerOf({}, [RETURN2]);
    feed(joiner, bar('AAA', '5m', T0, 100));
    joiner.onPrediction({ ...prediction(RETURN2, 'AAA', T0, 0), output: { forecast: 0.25, value: 1 } });
    feed(joiner, bar('AAA', '5m', T0 + M5, 100));
    expect(feed(joiner, bar('AAA', '5m', T0 + 2 * M5, 100))).toMatchObject([{ predicted: 0.25 }]);
  });

  it('refuses bad options and label specs naming the key; custom or mismatched labels are not joinable', () => {
    const bad = (options: LabelJoinerOptions, field: string): void =>
      expect(() => new LabelJoiner(options)).toThrow(
        expect.objectContaining({ code: 'config_invalid', field }),
      );
    bad({ maxWaitBars: -1 }, 'labels.maxWaitBars');
    bad({ maxWaitBars: 1.5 }, 'labels.maxWaitBars');
    bad({ lateness: -1 }, 'labels.lateness');
    bad({ maxPending: 0 }, 'labels.maxPending');
    const joiner = new LabelJoiner();
    const badSpec = (spec: LabelSpec, field: string): void =>
      expect(() => joiner.watch(spec)).toThrow(expect.objectContaining({ code: 'config_invalid', field }));
    badSpec({ ...DIRECTION, horizonBars: 0 }, 'label.horizonBars');
    badSpec({ ...DIRECTION, classes: ['up'] }, 'output.labels');
    badSpec({ ...DIRECTION, classes: undefined }, 'output.labels');
    badSpec({ ...DIRECTION, timeframe: '2m' as Timeframe }, 'timeframe');
    expect(joiner.watch({ ...DIRECTION, labelKind: 'custom' })).toBe(false);
    expect(joiner.watch({ ...DIRECTION, labelKind: 'return' })).toBe(false);
    expect(joiner.watch({ ...RETURN2, labelKind: 'return_sign' })).toBe(false);
    expect(joiner.watch(DIRECTION)).toBe(true);
    expect(joiner.watch({ ...DIRECTION })).toBe(true);
    badSpec({ ...DIRECTION, horizonBars: 2 }, 'label');
  });
});

// ---------------------------------------------------------------------------------------------------------
// Random interleaved streams against a brute-force model of the same rules, and snapshot → restore.

type Event = { bar: Bar } | { prediction: Prediction };

interface NaiveEntry {
  seq: number;
  key: string;
  spec: LabelSpec;
  symbol: string;
  ts: number;
  due: number;
  deadline: number;
  predicted: number | string;
  closeT: number;
  closeH: number;
  revision: number;
  realisedReturn: number;
  actual: number | string | null;
  retainUntil: number;
}

/** The joiner's rules written the slow, obvious way: every step scans every entry. */
class NaiveJoiner {
  private seq = 0;
  private eventTime = Number.NEGATIVE_INFINITY;
  private readonly pending: NaiveEntry[] = [];
  private readonly labelled: NaiveEntry[] = [];
  private readonly evicted: NaiveEntry[] = [];
  private readonly closes = new Map<string, Map<number, number>>();
  private readonly newest = new Map<string, { ts: number; end: number }>();

  constructor(
    private readonly specs: readonly LabelSpec[],
    private readonly lateness: number,
    private readonly maxWaitBars: number,
    private readonly maxPending: number,
  ) {}

  onPrediction(p: Prediction): void {
    const spec = this.specs.find((s) => s.model === p.model && s.version === p.version);
    if (spec === undefined || spec.timeframe !== p.timeframe) return;
    const predicted = spec.kind === 'classifier' ? p.output['label']! : p.output[spec.valueName ?? 'value']!;
    const key = `${p.symbol}|${p.timeframe}|${spec.model}|${p.ts}`;
    const existing = [...this.pending, ...this.labelled, ...this.evicted].find((e) => e.key === key);
    if (existing !== undefined) {
      if (this.pending.includes(existing)) existing.predicted = predicted;
      return;
    }
    const length = TIMEFRAME_MS[p.timeframe];
    const due = p.ts + spec.horizonBars * length;
    this.pending.push({
      seq: this.seq++,
      key,
      spec,
      symbol: p.symbol,
      ts: p.ts,
      due,
      deadline: due + (1 + this.lateness + this.maxWaitBars) * length,
      predicted,
      closeT: this.closes.get(`${p.symbol}|${p.timeframe}`)?.get(p.ts) ?? Number.NaN,
      closeH: Number.NaN,
      revision: 0,
      realisedReturn: Number.NaN,
      actual: null,
      retainUntil: Number.NaN,
    });
    while (this.pending.length > this.maxPending) this.evicted.push(this.pending.shift()!);
  }

  onBar(b: Bar, emit: (label: LabelRecord) => void): void {
    for (const e of this.evicted.splice(0)) emit(this.record(e, 'evicted'));
    const series = `${b.symbol}|${b.timeframe}`;
    const length = TIMEFRAME_MS[b.timeframe];
    const newest = this.newest.get(series) ?? { ts: Number.NEGATIVE_INFINITY, end: Number.NEGATIVE_INFINITY };
    const seenBefore = b.ts <= newest.ts;
    if (!seenBefore) this.newest.set(series, { ts: b.ts, end: b.end });
    let closes = this.closes.get(series);
    if (closes === undefined) this.closes.set(series, (closes = new Map()));
    closes.set(b.ts, b.close);
    this.eventTime = Math.max(this.eventTime, b.end);
    const due = this.pending
      .filter((e) => e.symbol === b.symbol && e.spec.timeframe === b.timeframe && e.due <= b.ts)
      .sort((x, y) => x.due - y.due || x.seq - y.seq);
    for (const e of due) {
      this.pending.splice(this.pending.indexOf(e), 1);
      e.closeT = closes.get(e.ts) ?? e.closeT;
      const closeH = closes.get(e.due) ?? Number.NaN;
      if (!(e.closeT > 0 && closeH > 0)) {
        emit(this.record(e, 'gap'));
        continue;
      }
      e.closeH = closeH;
      this.outcome(e);
      e.retainUntil = e.due + (1 + this.lateness) * length;
      this.labelled.push(e);
      emit(this.record(e));
    }
    if (seenBefore)
      for (const spec of this.specs) {
        const mine = this.labelled.filter((e) => e.symbol === b.symbol && e.spec === spec);
        const asStart = mine.find((e) => e.ts === b.ts);
        if (asStart !== undefined && asStart.closeT !== b.close) {
          asStart.closeT = b.close;
          this.revise(asStart, emit);
        }
        const asLabel = mine.find((e) => e.due === b.ts);
        if (asLabel !== undefined && asLabel.closeH !== b.close) {
          asLabel.closeH = b.close;
          this.revise(asLabel, emit);
        }
      }
    const end = this.newest.get(series)!.end;
    for (const e of [...this.labelled])
      if (e.symbol === b.symbol && e.spec.timeframe === b.timeframe && e.retainUntil < end)
        this.labelled.splice(this.labelled.indexOf(e), 1);
    const late = this.pending
      .filter((e) => e.deadline < this.eventTime)
      .sort((x, y) => x.deadline - y.deadline || x.seq - y.seq);
    for (const e of late) {
      this.pending.splice(this.pending.indexOf(e), 1);
      emit(this.record(e, 'timeout'));
    }
  }

  private outcome(e: NaiveEntry): void {
    e.realisedReturn = e.closeH / e.closeT - 1;
    const classes = e.spec.classes ?? [];
    const pair = classes.length === 2 && classes.includes('up') && classes.includes('down');
    e.actual =
      e.spec.labelKind === 'return_sign'
        ? e.closeH > e.closeT
          ? pair
            ? 'up'
            : classes[classes.length - 1]!
          : pair
            ? 'down'
            : classes[0]!
        : e.spec.labelKind === 'return'
          ? e.realisedReturn
          : 100 * e.realisedReturn;
  }

  private revise(e: NaiveEntry, emit: (label: LabelRecord) => void): void {
    const before = [e.realisedReturn, e.actual];
    this.outcome(e);
    if (before[0] === e.realisedReturn && before[1] === e.actual) return;
    e.revision++;
    emit(this.record(e));
  }

  private record(e: NaiveEntry, reason?: 'gap' | 'timeout' | 'evicted'): LabelRecord {
    const common = {
      symbol: e.symbol,
      timeframe: e.spec.timeframe,
      ts: e.ts,
      model: e.spec.model,
      version: e.spec.version,
      kind: e.spec.kind,
      horizonBars: e.spec.horizonBars,
      labelTs: e.due,
    };
    return reason === undefined
      ? {
          ...common,
          state: 'labelled',
          revision: e.revision,
          realisedReturn: e.realisedReturn,
          actual: e.actual,
          predicted: e.predicted,
        }
      : {
          ...common,
          state: 'expired',
          reason,
          revision: e.revision,
          realisedReturn: Number.NaN,
          actual: null,
          predicted: e.predicted,
        };
  }
}

/**
 * Three symbols on 5m and 1h bars, interleaved in event time: missing bars (gaps), a symbol that stalls for
 * a while (timeouts), revisions of the newest and of older bars (some too late to count), re-scores, and
 * price scales from 1e-4 to 1e6.
 */
function randomEvents(seed: number, steps: number, lateness: number): Event[] {
  const random = new Random(seed);
  const symbols = [
    { symbol: 'AAA', price: 1e-4 },
    { symbol: 'BBB', price: 250 },
    { symbol: 'CCC', price: 1e6 },
  ];
  const history = new Map<string, number[]>();
  const events: Event[] = [];
  const emitBar = (symbol: string, timeframe: Timeframe, ts: number, close: number): void => {
    events.push({ bar: bar(symbol, timeframe, ts, close) });
    const key = `${symbol}|${timeframe}`;
    history.set(key, [...(history.get(key) ?? []), ts]);
    for (const spec of SPECS)
      if (spec.timeframe === timeframe && random.uniform() < 0.9) {
        const value =
          spec.kind === 'classifier'
            ? spec.classes![random.int(spec.classes!.length)]!
            : random.normal() * 0.01;
        events.push({ prediction: prediction(spec, symbol, ts, value) });
        if (random.uniform() < 0.1) events.push({ prediction: prediction(spec, symbol, ts, value) });
      }
  };
  let stalledUntil = -1;
  for (let step = 0; step < steps; step++) {
    const ts = T0 + step * M5;
    if (random.uniform() < 0.02) stalledUntil = step + 4 + random.int(10);
    for (const s of symbols) {
      s.price *= Math.exp(random.normal() * 0.002);
      const move = random.int(5) === 0 ? 0 : 1; // some unchanged closes
      const close = move === 0 ? s.price : s.price * (1 + random.normal() * 1e-3);
      if (s.symbol === 'BBB' && step < stalledUntil) continue;
      if (random.uniform() < 0.1) continue; // a 5m gap
      emitBar(s.symbol, '5m', ts, close);
      if ((step + 1) % 12 === 0 && random.uniform() < 0.9) emitBar(s.symbol, '1h', ts - 11 * M5, close);
      if (random.uniform() < 0.15) {
        // a revision of a recent bar of this series: newest, or up to lateness + 3 bars back
        const timeframe: Timeframe = random.uniform() < 0.8 ? '5m' : '1h';
        const seen = history.get(`${s.symbol}|${timeframe}`) ?? [];
        const back = random.int(Math.min(seen.length, lateness + 4));
        const at = seen[seen.length - 1 - back];
        if (at !== undefined)
          events.push({
            bar: bar(s.symbol, timeframe, at, close * (1 + random.normal() * 1e-3), 1 + random.int(3)),
          });
      }
    }
  }
  return events;
}

function run(joiner: LabelJoiner, events: readonly Event[], out: LabelRecord[]): void {
  for (const event of events)
    if ('bar' in event) joiner.onBar(event.bar, (label) => out.push(label));
    else joiner.onPrediction(event.prediction);
}

describe('LabelJoiner on random interleaved streams', () => {
  const cases: [number, LabelJoinerOptions][] = [
    [1, {}],
    [2, { lateness: 2, maxWaitBars: 1 }],
    [3, { lateness: 1, maxWaitBars: 0, maxPending: 7 }],
    [4, { lateness: 3, maxWaitBars: 5, maxPending: 20 }],
  ];

  it.each(cases)('seed %i %o: emits what the brute-force model emits', (seed, options) => {
    const events = randomEvents(seed, 400, options.lateness ?? 0);
    const joiner = joinerOf(options);
    const naive = new NaiveJoiner(
      SPECS,
      options.lateness ?? 0,
      options.maxWaitBars ?? 3,
      options.maxPending ?? 100_000,
    );
    const got: LabelRecord[] = [];
    const expected: LabelRecord[] = [];
    for (const event of events)
      if ('bar' in event) {
        joiner.onBar(event.bar, (label) => got.push(label));
        naive.onBar(event.bar, (label) => expected.push(label));
      } else {
        joiner.onPrediction(event.prediction);
        naive.onPrediction(event.prediction);
      }
    expect(got).toStrictEqual(expected);
    const reasons = new Set(got.map((l) => l.reason ?? `${l.state}${l.revision > 0 ? '+' : ''}`));
    expect(reasons).toContain('labelled');
    expect(reasons).toContain('labelled+');
    expect(reasons).toContain('gap');
    expect(reasons).toContain('timeout');
    if (options.maxPending !== undefined) expect(reasons).toContain('evicted');
    // every prediction is accounted for once: a first record (revision 0), or still pending
    const firsts = new Set<string>();
    for (const l of got)
      if (l.revision === 0) {
        const key = `${l.symbol}|${l.timeframe}|${l.model}|${l.ts}`;
        expect(firsts.has(key)).toBe(false);
        firsts.add(key);
      }
    const predicted = new Set<string>();
    for (const e of events)
      if ('prediction' in e) {
        const p = e.prediction;
        predicted.add(`${p.symbol}|${p.timeframe}|${p.model}|${p.ts}`);
      }
    expect(firsts.size + joiner.pendingCount + joiner.evictedCount).toBe(predicted.size);
  });

  it.each(cases)(
    'seed %i %o: snapshot → JSON → restore mid-stream continues as the unbroken run',
    (seed, options) => {
      const events = randomEvents(seed + 100, 300, options.lateness ?? 0);
      const unbroken = joinerOf(options);
      const expected: LabelRecord[] = [];
      run(unbroken, events, expected);
      for (const cut of [0, 1, 57, 311, 640, events.length - 1]) {
        const before = joinerOf(options);
        const got: LabelRecord[] = [];
        run(before, events.slice(0, cut), got);
        const snapshot = JSON.parse(JSON.stringify(before.snapshot())) as LabelJoinerSnapshot;
        const restored = LabelJoiner.restore(snapshot, options);
        for (const spec of SPECS) expect(restored.watch(spec)).toBe(true);
        expect(restored.snapshot()).toStrictEqual(before.snapshot());
        run(restored, events.slice(cut), got);
        expect(got).toStrictEqual(expected);
        expect(restored.snapshot()).toStrictEqual(unbroken.snapshot());
      }
    },
  );
});

/**
 * Four symbols whose predictions come out of event-time order: for their bar, an earlier bar still in the
 * joiner's closes (its deadline before the last queued), a bar far ahead (pending long, or evicted), a bar
 * whole rings of entry slots ahead (sharing a slot with a pending one), or again (a re-score); gaps, and a
 * symbol that stalls for a while (timeouts).
 */
function disorderedEvents(seed: number, steps: number): Event[] {
  const random = new Random(seed);
  const symbols = ['AAA', 'BBB', 'CCC', 'DDD'].map((symbol) => ({ symbol, price: 100 }));
  const events: Event[] = [];
  const predict = (spec: LabelSpec, symbol: string, newest: number): void => {
    const length = TIMEFRAME_MS[spec.timeframe];
    const draw = random.uniform();
    // with lateness + maxWaitBars = 3 a model's ring of entry slots is horizonBars + 6 long
    const ts =
      draw < 0.35
        ? newest
        : draw < 0.5
          ? newest - (1 + random.int(2)) * length
          : draw < 0.8
            ? newest + (1 + random.int(2_000)) * length
            : newest + (1 + random.int(3)) * (spec.horizonBars + 6) * length;
    const value =
      spec.kind === 'classifier' ? spec.classes![random.int(spec.classes!.length)]! : random.normal() * 0.01;
    events.push({ prediction: prediction(spec, symbol, ts, value) });
    if (random.uniform() < 0.1) events.push({ prediction: prediction(spec, symbol, ts, value) });
  };
  let stalledUntil = -1;
  for (let step = 0; step < steps; step++) {
    const ts = T0 + step * M5;
    if (random.uniform() < 0.02) stalledUntil = step + 4 + random.int(10);
    for (const s of symbols) {
      s.price *= Math.exp(random.normal() * 0.002);
      if (random.uniform() < 0.05 || (s.symbol === 'BBB' && step < stalledUntil)) continue;
      events.push({ bar: bar(s.symbol, '5m', ts, s.price) });
      for (const spec of [DIRECTION, RETURN2]) predict(spec, s.symbol, ts);
      if ((step + 1) % 12 === 0) {
        events.push({ bar: bar(s.symbol, '1h', ts - 11 * M5, s.price) });
        for (const spec of [PERCENT, THREE]) predict(spec, s.symbol, ts - 11 * M5);
      }
    }
  }
  return events;
}

describe('LabelJoiner on predictions out of event-time order', () => {
  const cases: [number, LabelJoinerOptions][] = [
    [1, {}],
    [2, { lateness: 1, maxWaitBars: 2 }],
    [3, { maxPending: 5 }],
  ];

  it.each(cases)(
    'seed %i %o: emits what the brute-force model emits; deadline queues stay bounded',
    (seed, options) => {
      const events = disorderedEvents(seed, 2_000);
      const joiner = joinerOf(options);
      const naive = new NaiveJoiner(
        SPECS,
        options.lateness ?? 0,
        options.maxWaitBars ?? 3,
        options.maxPending ?? 100_000,
      );
      // the queues keep settled entries until their deadline passes, or until they hold 2 × maxPending + 1,024
      const queues = (joiner as unknown as { deadlines: { size: number }[] }).deadlines;
      const bound = 2 * (options.maxPending ?? 100_000) + 1_024;
      let largest = 0;
      const got: LabelRecord[] = [];
      const expected: LabelRecord[] = [];
      events.forEach((event, i) => {
        if ('bar' in event) {
          joiner.onBar(event.bar, (label) => got.push(label));
          naive.onBar(event.bar, (label) => expected.push(label));
        } else {
          joiner.onPrediction(event.prediction);
          naive.onPrediction(event.prediction);
        }
        for (const queue of queues) largest = Math.max(largest, queue.size);
        if (i === events.length >> 1) {
          const restored = LabelJoiner.restore(JSON.parse(JSON.stringify(joiner.snapshot())), options);
          expect(restored.snapshot()).toStrictEqual(joiner.snapshot());
        }
      });
      expect(got).toStrictEqual(expected);
      expect(largest).toBeLessThanOrEqual(bound);
      if (options.maxPending !== undefined) expect(largest).toBeGreaterThan(0.9 * bound);
      const reasons = new Set(got.map((l) => l.reason ?? `${l.state}${l.revision > 0 ? '+' : ''}`));
      expect(reasons).toContain('labelled');
      expect(reasons).toContain('gap');
      expect(reasons).toContain(options.maxPending === undefined ? 'timeout' : 'evicted');
    },
  );
});

describe('LabelJoiner.restore', () => {
  function goodSnapshot(): LabelJoinerSnapshot {
    const joiner = joinerOf({ lateness: 1 });
    feed(joiner, bar('AAA', '5m', T0, 100));
    joiner.onPrediction(prediction(DIRECTION, 'AAA', T0, 'up'));
    joiner.onPrediction(prediction(RETURN2, 'AAA', T0, 0.1));
    feed(joiner, bar('AAA', '5m', T0 + M5, 101));
    return JSON.parse(JSON.stringify(joiner.snapshot())) as LabelJoinerSnapshot;
  }

  it('keeps the options of now: a smaller maxPending evicts at restore', () => {
    const snapshot = goodSnapshot();
    expect(snapshot.entries.map((e) => e.state)).toEqual(['labelled', 'pending']);
    const restored = LabelJoiner.restore(snapshot, { lateness: 1, maxPending: 1 });
    expect(restored.pendingCount).toBe(1);
    const shrunk = LabelJoiner.restore(snapshot, { maxPending: 1 });
    expect(shrunk.pendingCount).toBe(1);
  });

  it('refuses a bad snapshot naming the field', () => {
    const cases: [string, (s: LabelJoinerSnapshot) => void][] = [
      ['kind', (s) => ((s as { kind: string }).kind = 'mlfp.other')],
      ['version', (s) => ((s as { version: number }).version = 2)],
      ['eventTime', (s) => ((s as { eventTime: unknown }).eventTime = 'soon')],
      ['nextSeq', (s) => (s.nextSeq = -1)],
      ['models', (s) => ((s as { models: unknown }).models = {})],
      ['models[0].horizonBars', (s) => (s.models[0]!.horizonBars = 0)],
      ['models[0].classes', (s) => ((s.models[0] as { classes: unknown }).classes = 'up')],
      ['models[1].model', (s) => (s.models[1] = { ...s.models[0]! })],
      ['series[0].timeframe', (s) => ((s.series[0] as { timeframe: string }).timeframe = '2m')],
      [
        'series[0].closes',
        (s) =>
          (s.series[0]!.closes = [
            [T0 + M5, 1],
            [T0, 1],
          ]),
      ],
      ['series[0].closes', (s) => (s.series[0]!.closes = [[T0, -1]])],
      ['entries[0].seq', (s) => (s.entries[0]!.seq = s.nextSeq)],
      ['entries[1].seq', (s) => (s.entries[1]!.seq = s.entries[0]!.seq)],
      ['entries[0].model', (s) => (s.entries[0]!.model = 7)],
      ['entries[0].series', (s) => (s.entries[0]!.series = 3)],
      ['entries[0].state', (s) => ((s.entries[0] as { state: string }).state = 'lost')],
      ['entries[0].predicted', (s) => (s.entries[0]!.predicted = 'sideways')],
      ['entries[1].predicted', (s) => (s.entries[1]!.predicted = 'NaN')],
      ['entries[0].closeH', (s) => (s.entries[0]!.closeH = 'NaN')],
      ['entries[0].closeT', (s) => (s.entries[0]!.closeT = 0)],
      ['entries[1].revision', (s) => (s.entries[1]!.revision = 1)],
      ['entries[1].ts', (s) => (s.entries[1] = { ...s.entries[1]!, model: 0, predicted: 'up' })],
    ];
    for (const [field, corrupt] of cases) {
      const snapshot = goodSnapshot();
      corrupt(snapshot);
      expect(() => LabelJoiner.restore(snapshot, { lateness: 1 }), field).toThrow(
        expect.objectContaining({ code: 'snapshot_invalid', field }),
      );
    }
    expect(() => LabelJoiner.restore(null)).toThrow(expect.objectContaining({ code: 'snapshot_invalid' }));
  });
});
