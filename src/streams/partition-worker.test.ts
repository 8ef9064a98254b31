import { mergeMap, VirtualTimeScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { TickGenerator, type GeneratedTick } from '../../benchmarks/lib/tick-generator.js';
import { DAY_MS } from '../domain/time.js';
import { FEATURE_COUNT, type Alert, type Bar, type FeatureVector, type Prediction } from '../domain/types.js';
import { EngineStats } from '../monitoring/stats.js';
import { FeatureEngine } from '../operators/compute-features.js';
import { emptyBatch, type OutputBatch } from '../sinks/sink.js';
import { CorporateActionBook } from './corporate-actions.js';
import { DecodeFailure } from './decode.js';
import { PartitionWorker, type AsyncStage } from './partition-worker.js';

const START_MS = Date.UTC(2024, 2, 4);

function worker(book?: CorporateActionBook): PartitionWorker {
  return new PartitionWorker({
    topic: 'ticks',
    partition: 3,
    bars: { allowedLatenessMs: 2_000, idleTimeoutMs: 60_000 },
    corporateActions: book,
    stats: new EngineStats(0),
    scheduler: new VirtualTimeScheduler(), // never advanced: no idle close
  });
}

function ticks(count: number, symbols: number, seed = 3): GeneratedTick[] {
  const generator = new TickGenerator({ symbols, seed, startMs: START_MS, meanGapMs: 120_000 });
  return Array.from({ length: count }, () => generator.next());
}

function feedAll(target: PartitionWorker, list: readonly GeneratedTick[], firstOffset = 0): void {
  list.forEach((tick, index) => {
    const offset = firstOffset + index;
    target.feed(offset, String(offset), { ...tick }, undefined);
  });
}

function drainOutbox(target: PartitionWorker): OutputBatch {
  return target.takeOutbox() ?? emptyBatch();
}

function plainFeatures(vectors: readonly FeatureVector[]): unknown[] {
  return vectors.map((vector) => ({ ...vector, values: Array.from(vector.values) }));
}

describe('PartitionWorker', () => {
  it('continues exactly after snapshot → JSON → restore, as if never interrupted', () => {
    const list = ticks(6_000, 5);
    const whole = worker();
    feedAll(whole, list);
    const expected = drainOutbox(whole);
    expect(expected.features.length).toBeGreaterThan(500);

    for (const cut of [1, 777, 3_001, 5_999]) {
      const first = worker();
      feedAll(first, list.slice(0, cut));
      const before = drainOutbox(first);
      const snapshot = JSON.parse(JSON.stringify(first.snapshot())) as unknown;
      first.close();
      const second = worker();
      second.restore(snapshot);
      expect(second.nextOffset).toBe(cut);
      feedAll(second, list.slice(cut), cut);
      const after = drainOutbox(second);
      expect([...before.bars, ...after.bars]).toEqual(expected.bars);
      expect(plainFeatures([...before.features, ...after.features])).toEqual(
        plainFeatures(expected.features),
      );
    }
  });

  it('refuses a snapshot of another partition or another lateness, naming it', () => {
    const first = worker();
    feedAll(first, ticks(50, 2));
    const snapshot = first.snapshot();
    expect(() => worker().restore({ ...snapshot, partition: 4 })).toThrow(/taken for ticks\[4\]/);
    const other = new PartitionWorker({
      topic: 'ticks',
      partition: 3,
      bars: { allowedLatenessMs: 1_000 },
      stats: new EngineStats(0),
      scheduler: new VirtualTimeScheduler(),
    });
    expect(() => other.restore(snapshot)).toThrow(/allowedLatenessMs/);
    expect(() => worker().restore({ ...snapshot, nextOffset: '-1' })).toThrow(/nextOffset/);
    expect(() => worker().snapshot()).toThrow(/no message processed/);
  });

  it('gives dead letters the coordinates and bytes of the message that caused them', () => {
    const target = worker();
    const original = Buffer.from('late tick bytes');
    // a stream that has moved on in steps of 40 s (in line: the event-time guard holds none of them)
    for (let step = 0; step <= 8; step++)
      target.feed(
        step,
        String(step),
        { symbol: 'A', ts: START_MS + step * 40_000, price: 1, size: 1 },
        undefined,
      );
    target.feed(12, '12', { symbol: 'A', ts: START_MS + 1_000, price: 1, size: 1 }, original);
    target.feed(13, '13', { symbol: 'A', ts: START_MS, price: -1, size: 1 }, Buffer.from('neg'));
    target.reject(14, '14', new DecodeFailure('bad_json', 'not JSON'), Buffer.from('{'));
    const { deadLetters } = drainOutbox(target);
    expect(deadLetters.map((letter) => [letter.reason, letter.source])).toEqual([
      ['late', { topic: 'ticks', partition: 3, offset: '12' }],
      ['non_positive_price', { topic: 'ticks', partition: 3, offset: '13' }],
      ['bad_json', { topic: 'ticks', partition: 3, offset: '14' }],
    ]);
    expect(deadLetters[0]!.original).toBe(original);
    expect(target.nextOffset).toBe(15);
  });

  it('warmed up from stored bars, computes what a worker that saw the whole history computes', () => {
    const list = ticks(8_000, 4, 8);
    const whole = worker();
    feedAll(whole, list);
    const expected = drainOutbox(whole);
    // restart at a UTC midnight: every bar before it is complete and in "storage"
    const restartMs = Math.ceil((list[0]!.ts + DAY_MS) / DAY_MS) * DAY_MS;
    const cut = list.findIndex((tick) => tick.ts >= restartMs);
    const stored = expected.bars.filter((bar) => bar.ts < restartMs);
    const warmed = worker();
    warmed.warmUp(stored, ['SYM0', 'SYM1', 'SYM2', 'SYM3']);
    expect([...warmed.knownSymbols]).toHaveLength(4);
    feedAll(warmed, list.slice(cut), cut);
    const after = drainOutbox(warmed);
    const expectedAfter = expected.features.filter((vector) => vector.ts >= restartMs);
    expect(after.features.length).toBe(expectedAfter.length);
    // the aggregator emits symbols in first-seen order, which differs after a restart: compare by key
    const byKey = (vectors: readonly FeatureVector[]) =>
      new Map(
        plainFeatures(vectors).map((v) => [
          `${(v as FeatureVector).symbol}|${(v as FeatureVector).timeframe}|${(v as FeatureVector).ts}`,
          v,
        ]),
      );
    expect(byKey(after.features)).toEqual(byKey(expectedAfter));
  });
});

describe('PartitionWorker async stage outputs', () => {
  it('counts and times each prediction and model_error alert of the stage once, and puts it in the outbox', () => {
    const stats = new EngineStats(0);
    const latencies: number[] = [];
    stats.timings = { predictionLatency: (seconds) => latencies.push(seconds), sinkWrite: () => undefined };
    const stage: AsyncStage = {
      attach: (vectors) =>
        vectors.pipe(
          mergeMap((vector): Array<Prediction | Alert> => {
            const { symbol, timeframe, ts } = vector;
            return [
              {
                symbol,
                timeframe,
                ts,
                model: 'm',
                version: '1',
                kind: 'regressor',
                output: { value: 1 },
                latencyMs: 4,
              },
              {
                type: 'model_error',
                state: 'firing',
                severity: 'warning',
                subject: 'n@1',
                value: 1,
                threshold: 0,
                ts,
                message: 'NaN',
              },
            ];
          }),
        ),
      whenIdle: () => Promise.resolve(),
    };
    const target = new PartitionWorker({
      topic: 'ticks',
      partition: 0,
      bars: { allowedLatenessMs: 2_000, idleTimeoutMs: 60_000 },
      stats,
      createStage: () => stage,
      scheduler: new VirtualTimeScheduler(),
    });
    feedAll(target, ticks(2_000, 3));
    const outbox = drainOutbox(target);
    expect(outbox.features.length).toBeGreaterThan(0);
    expect(outbox.predictions).toHaveLength(outbox.features.length);
    expect(stats.predictions).toBe(outbox.predictions.length);
    expect(stats.predictionsByModel.get('m')).toBe(outbox.predictions.length);
    expect(stats.modelErrors).toBe(outbox.alerts.length);
    expect(latencies).toEqual(outbox.predictions.map(() => 0.004));
  });
});

describe('PartitionWorker corporate actions', () => {
  /** Ticks of 3 symbols over ~4 days; `symbol` trades at price × scale from `exDate` on. */
  function scaled(symbol: string, exDate: number, priceScale: number, sizeScale: number): GeneratedTick[] {
    return ticks(9_000, 3, 21).map((tick) =>
      tick.symbol === symbol && tick.ts >= exDate
        ? { ...tick, price: tick.price * priceScale, size: tick.size * sizeScale }
        : tick,
    );
  }

  /** Features of `symbol` from a fresh engine fed its bars in order, those before exDate back-adjusted. */
  function backAdjusted(
    bars: readonly Bar[],
    symbol: string,
    exDate: number,
    priceFactor: number,
    volumeFactor: number,
  ): FeatureVector[] {
    const engine = new FeatureEngine();
    const out: FeatureVector[] = [];
    for (const bar of bars) {
      if (bar.symbol !== symbol) continue;
      const input =
        bar.ts < exDate
          ? {
              ...bar,
              open: bar.open * priceFactor,
              high: bar.high * priceFactor,
              low: bar.low * priceFactor,
              close: bar.close * priceFactor,
              volume: bar.volume * volumeFactor,
            }
          : bar;
      const vector = engine.apply(input);
      if (vector !== undefined && bar.ts >= exDate) out.push(vector);
    }
    return out;
  }

  function expectClose(
    actual: readonly FeatureVector[],
    expected: readonly FeatureVector[],
    tolerance: number,
  ): void {
    expect(actual.length).toBe(expected.length);
    let compared = 0;
    for (let row = 0; row < expected.length; row++) {
      const a = actual[row]!;
      const e = expected[row]!;
      expect([a.symbol, a.timeframe, a.ts]).toEqual([e.symbol, e.timeframe, e.ts]);
      for (let k = 0; k < FEATURE_COUNT; k++) {
        const x = a.values[k]!;
        const y = e.values[k]!;
        if (Number.isNaN(y)) {
          expect(x).toBeNaN();
          continue;
        }
        expect(Math.abs(x - y)).toBeLessThanOrEqual(tolerance * Math.max(1, Math.abs(y)));
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(1_000);
  }

  const exDate = START_MS + 2 * DAY_MS;

  it.each([
    ['4-for-1 split', 4, 1e-12],
    ['3-for-1 split', 3, 1e-9],
  ])('a %s mid-stream gives the features of the back-adjusted history', (_name, ratio, tolerance) => {
    const book = new CorporateActionBook();
    book.add({ symbol: 'SYM1', type: 'split', exDate, ratio });
    const list = scaled('SYM1', exDate, 1 / ratio, ratio);
    const target = worker(book);
    feedAll(target, list);
    const { bars, features } = drainOutbox(target);
    expect(target.corporateActionsApplied).toBe(1);
    const live = features.filter((vector) => vector.symbol === 'SYM1' && vector.ts >= exDate);
    expectClose(live, backAdjusted(bars, 'SYM1', exDate, 1 / ratio, ratio), tolerance);
    // and differs from what an unadjusted history would give
    const unadjusted = backAdjusted(bars, 'SYM1', exDate, 1, 1);
    expect(live.some((vector, row) => Math.abs(vector.values[7]! - unadjusted[row]!.values[7]!) > 1e-6)).toBe(
      true,
    );
  });

  it('a cash dividend scales prices by (previous close − amount) / previous close', () => {
    const list = ticks(9_000, 3, 21);
    const lastBefore = [...list].reverse().find((tick) => tick.symbol === 'SYM2' && tick.ts < exDate)!;
    const amount = lastBefore.price * 0.05;
    const book = new CorporateActionBook();
    book.add({ symbol: 'SYM2', type: 'dividend', exDate, amount });
    const target = worker(book);
    feedAll(target, list);
    const { bars, features } = drainOutbox(target);
    const factor = (lastBefore.price - amount) / lastBefore.price;
    const live = features.filter((vector) => vector.symbol === 'SYM2' && vector.ts >= exDate);
    expectClose(live, backAdjusted(bars, 'SYM2', exDate, factor, 1), 1e-9);
  });

  it('applies an action once across a snapshot taken before or after its ex-date', () => {
    const book = new CorporateActionBook();
    book.add({ symbol: 'SYM1', type: 'split', exDate, ratio: 4 });
    const list = scaled('SYM1', exDate, 0.25, 4);
    const whole = worker(book);
    feedAll(whole, list);
    const expected = drainOutbox(whole).features;
    const exIndex = list.findIndex((tick) => tick.ts >= exDate);
    for (const cut of [exIndex - 500, exIndex + 1_500]) {
      const first = worker(book);
      feedAll(first, list.slice(0, cut));
      const before = drainOutbox(first).features;
      const second = worker(book);
      second.restore(JSON.parse(JSON.stringify(first.snapshot())));
      feedAll(second, list.slice(cut), cut);
      const after = drainOutbox(second).features;
      expect(first.corporateActionsApplied + second.corporateActionsApplied).toBe(1);
      expect(plainFeatures([...before, ...after])).toEqual(plainFeatures(expected));
    }
  });

  it('dead-letters a dividend larger than the price instead of poisoning the state', () => {
    const book = new CorporateActionBook();
    book.add({ symbol: 'SYM0', type: 'dividend', exDate, amount: 1e9 });
    const target = worker(book);
    feedAll(target, ticks(9_000, 3, 21));
    const { deadLetters, features } = drainOutbox(target);
    expect(deadLetters.map((letter) => letter.reason)).toEqual(['unknown_action']);
    expect(
      features.every((vector) =>
        vector.values.every((value) => !Number.isFinite(value) || Math.abs(value) < 1e12),
      ),
    ).toBe(true);
  });
});

describe('PartitionWorker input robustness', () => {
  const quality = (): PartitionWorker =>
    new PartitionWorker({
      topic: 'ticks',
      partition: 5,
      bars: { allowedLatenessMs: 2_000, idleTimeoutMs: 60_000 },
      dataQuality: { windowRecords: 100 },
      stats: new EngineStats(0),
      scheduler: new VirtualTimeScheduler(),
    });
  const tick = (index: number, ts: number) => ({ symbol: index % 2 ? 'A' : 'B', ts, price: 10, size: 1 });

  it('a late burst over the bound puts a system alert in the outbox, degrades, and resolves after a clean window', () => {
    const target = quality();
    const seen: string[] = [];
    for (let offset = 0; offset < 150; offset++)
      target.feed(offset, String(offset), tick(offset, START_MS + offset * 20_000), undefined);
    for (let offset = 150; offset < 170; offset++)
      target.feed(offset, String(offset), tick(offset, START_MS), undefined);
    for (let offset = 170; offset < 200; offset++)
      target.feed(offset, String(offset), tick(offset, START_MS + offset * 20_000), undefined);
    const firing = drainOutbox(target).alerts;
    seen.push(...firing.map((alert) => `${alert.subject} ${alert.state}`));
    expect(target.quality.describe()).toBe('late 20% of the last 100 records (bound 5.0%)');
    for (let offset = 200; offset < 300; offset++)
      target.feed(offset, String(offset), tick(offset, START_MS + offset * 20_000), undefined);
    seen.push(...drainOutbox(target).alerts.map((alert) => `${alert.subject} ${alert.state}`));
    expect(seen).toStrictEqual(['source:ticks[5]:late firing', 'source:ticks[5]:late resolved']);
    expect(target.quality.describe()).toBeUndefined();
  });

  it('a held tick survives a snapshot and is rejected after restore with its own offset and bytes', () => {
    const first = quality();
    for (let offset = 0; offset < 10; offset++)
      first.feed(offset, String(offset), tick(offset, START_MS + offset * 1_000), undefined);
    first.feed(10, '10', tick(10, START_MS + DAY_MS), Buffer.from('the future'));
    drainOutbox(first);
    const second = quality();
    second.restore(JSON.parse(JSON.stringify(first.snapshot())));
    for (let offset = 11; offset < 14; offset++)
      second.feed(offset, String(offset), tick(offset, START_MS + offset * 1_000), undefined);
    const letters = drainOutbox(second).deadLetters;
    expect(letters.map((letter) => [letter.reason, letter.source])).toStrictEqual([
      ['future_time', { topic: 'ticks', partition: 5, offset: '10' }],
    ]);
    expect(Buffer.from(letters[0]!.original as Uint8Array).toString()).toBe('the future');
  });

  it('rejects a tick whose Kafka key is not its symbol (null included) and keeps its seq free', () => {
    const target = quality();
    const value = { symbol: 'A', ts: START_MS, price: 10, size: 1, seq: 7 };
    target.feed(0, '0', { ...value }, undefined, Buffer.from('a'));
    target.feed(1, '1', { ...value }, undefined, null);
    target.feed(2, '2', { ...value }, undefined, Buffer.from('A'));
    const letters = drainOutbox(target).deadLetters;
    expect(letters.map((letter) => [letter.reason, letter.value, letter.source?.offset])).toStrictEqual([
      ['key_mismatch', '"a"', '0'],
      ['key_mismatch', 'null', '1'],
    ]);
  });
});

describe('PartitionWorker snapshots from before the event-time guard', () => {
  it('restore without a guard section: the stream time is the aggregator newest tick and nothing is held', () => {
    const list = ticks(3_000, 4);
    const whole = worker();
    feedAll(whole, list);
    const expected = drainOutbox(whole);
    const first = worker();
    feedAll(first, list.slice(0, 1_500));
    const before = drainOutbox(first);
    const snapshot = JSON.parse(JSON.stringify(first.snapshot())) as Record<string, unknown>;
    expect(first.snapshot().guard).toMatchObject({ held: [] });
    delete snapshot.guard;
    delete snapshot.quality;
    const second = worker();
    second.restore(snapshot);
    feedAll(second, list.slice(1_500), 1_500);
    const after = drainOutbox(second);
    expect([...before.bars, ...after.bars]).toStrictEqual(expected.bars);
  });
});
