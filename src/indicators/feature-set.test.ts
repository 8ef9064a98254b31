import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FEATURE_COLUMNS, FEATURE_COUNT } from '../domain/types.js';
import { isMlfpError } from '../errors.js';
import { Atr } from './atr.js';
import { BollingerBands } from './bollinger-bands.js';
import { Ema } from './ema.js';
import { FEATURE_SET_WARM_UP, FEATURE_WARM_UP, FeatureSet } from './feature-set.js';
import { HistoricalVolatility } from './historical-volatility.js';
import {
  compareWithGolden,
  loadGolden,
  randomBars,
  type OhlcvBar,
} from '../../test/support/indicator-contract.js';
import { Macd } from './macd.js';
import { Momentum } from './momentum.js';
import { Obv } from './obv.js';
import { LogReturns, Returns } from './returns.js';
import { Rsi } from './rsi.js';
import { Sma } from './sma.js';

/** feature column → golden column (the external checker's mapping) */
const GOLDEN_COLUMN: Record<(typeof FEATURE_COLUMNS)[number], string> = {
  returns: 'return',
  log_returns: 'log_return',
  rsi_14: 'rsi14',
  macd_12_26_9: 'macd',
  macd_signal_12_26_9: 'macd_signal',
  macd_hist_12_26_9: 'macd_hist',
  mom_14: 'mom14',
  sma_20: 'sma20',
  ema_50: 'ema50',
  bbands_upper_20_2: 'bb_upper',
  bbands_middle_20_2: 'bb_middle',
  bbands_lower_20_2: 'bb_lower',
  atr_14: 'atr14',
  historical_vol_21: 'hv21',
  volume_ma_20: 'volume_sma20',
  obv: 'obv',
};

/** Runs bars through a FeatureSet; returns rows × 16 values. */
function run(features: FeatureSet, bars: readonly OhlcvBar[]): Float64Array[] {
  return bars.map((bar) => {
    const out = new Float64Array(FEATURE_COUNT);
    features.update(bar.open, bar.high, bar.low, bar.close, bar.volume, out);
    return out;
  });
}

/** The 16 columns computed by the standalone indicator classes, one instance each. */
function runStandalone(bars: readonly OhlcvBar[], periodsPerYear: number): Float64Array[] {
  const returns = new Returns();
  const logReturns = new LogReturns();
  const rsi = new Rsi(14);
  const macd = new Macd(12, 26, 9);
  const momentum = new Momentum(14);
  const sma = new Sma(20);
  const ema = new Ema(50);
  const bands = new BollingerBands(20, 2, 2);
  const atr = new Atr(14);
  const volatility = new HistoricalVolatility(21, periodsPerYear);
  const volumeSma = new Sma(20, 'volume');
  const obv = new Obv();
  return bars.map((bar) => {
    const out = new Float64Array(FEATURE_COUNT);
    out[0] = returns.update(bar.close) ?? Number.NaN;
    out[1] = logReturns.update(bar.close) ?? Number.NaN;
    out[2] = rsi.update(bar.close) ?? Number.NaN;
    macd.update(bar.close, out, 3);
    out[6] = momentum.update(bar.close) ?? Number.NaN;
    out[7] = sma.update(bar.close) ?? Number.NaN;
    out[8] = ema.update(bar.close) ?? Number.NaN;
    bands.update(bar.close, out, 9);
    out[12] = atr.update(bar.high, bar.low, bar.close) ?? Number.NaN;
    out[13] = volatility.update(bar.close) ?? Number.NaN;
    out[14] = volumeSma.update(bar.volume) ?? Number.NaN;
    out[15] = obv.update(bar.close, bar.volume);
    return out;
  });
}

function expectSameRows(actual: Float64Array[], expected: Float64Array[], context = ''): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((row, r) => {
    const got = actual[r] as Float64Array;
    for (let k = 0; k < FEATURE_COUNT; k++)
      if (!Object.is(got[k], row[k]))
        expect.fail(`${context} row ${r} ${FEATURE_COLUMNS[k]}: expected ${row[k]}, got ${got[k]}`);
  });
}

const column = (rows: Float64Array[], k: number): Float64Array =>
  Float64Array.from(rows, (row) => row[k] as number);

const golden = loadGolden();

describe('FeatureSet', () => {
  it('matches the golden files on all 16 columns × 5,000 rows (TA-Lib columns bit for bit)', () => {
    const rows = run(new FeatureSet({ periodsPerYear: 252 }), golden.bars);
    FEATURE_COLUMNS.forEach((name, k) => {
      const expected = golden.columns.get(GOLDEN_COLUMN[name]) as Float64Array;
      const comparison = compareWithGolden(column(rows, k), expected);
      expect(comparison.mismatches, `${name}: ${comparison.firstMismatch}`).toBe(0);
      expect(comparison.valueRows, name).toBe(golden.bars.length - (FEATURE_WARM_UP[k] as number));
      // ln() and sqrt(ln…) need not be bit-identical across libms; everything else is TA-Lib's arithmetic
      if (name !== 'log_returns' && name !== 'historical_vol_21')
        expect(comparison.bitExactRows, name).toBe(comparison.valueRows);
    });
  });

  it('warm-up table matches the golden files: first non-empty row per column', () => {
    FEATURE_COLUMNS.forEach((name, k) => {
      const expected = golden.columns.get(GOLDEN_COLUMN[name]) as Float64Array;
      expect(
        expected.findIndex((value) => !Number.isNaN(value)),
        name,
      ).toBe(FEATURE_WARM_UP[k]);
    });
    expect(FEATURE_SET_WARM_UP).toBe(49);
  });

  it('is bit-identical to the standalone indicators on random walks at any price scale', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.double({ min: 1e-4, max: 1e6, noNaN: true }),
        fc.double({ min: 0.001, max: 0.3, noNaN: true }),
        (seed, level, volatility) => {
          const bars = randomBars(seed, 150, level, volatility);
          expectSameRows(run(new FeatureSet({ periodsPerYear: 8760 }), bars), runStandalone(bars, 8760));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('isStable once every column has a value', () => {
    const features = new FeatureSet({ periodsPerYear: 252 });
    const out = new Float64Array(FEATURE_COUNT);
    golden.bars.slice(0, 60).forEach((bar, row) => {
      features.update(bar.open, bar.high, bar.low, bar.close, bar.volume, out);
      expect(features.isStable).toBe(row >= FEATURE_SET_WARM_UP);
      expect(out.some(Number.isNaN)).toBe(row < FEATURE_SET_WARM_UP);
      expect(features.barsSeen).toBe(row + 1);
    });
  });

  describe('replaceLast', () => {
    it('equals feeding the revised bar instead, at every position of the warm-up and beyond', () => {
      const bars = golden.bars.slice(0, 80);
      const revised = randomBars(7, 80);
      for (let n = 1; n <= bars.length; n++) {
        const features = new FeatureSet({ periodsPerYear: 252 });
        run(features, bars.slice(0, n));
        const replacement = revised[n - 1] as OhlcvBar;
        const out = new Float64Array(FEATURE_COUNT);
        features.replaceLast(
          replacement.open,
          replacement.high,
          replacement.low,
          replacement.close,
          replacement.volume,
          out,
        );
        expect(features.barsSeen).toBe(n);
        const reference = new FeatureSet({ periodsPerYear: 252 });
        const expected = run(reference, [...bars.slice(0, n - 1), replacement]);
        expectSameRows([out], [expected[n - 1] as Float64Array], `n=${n}`);
        expect(JSON.stringify(features.snapshot().closes)).toBe(JSON.stringify(reference.snapshot().closes));
        // and the continuation stays identical
        expectSameRows(
          run(features, golden.bars.slice(n, n + 30)),
          run(reference, golden.bars.slice(n, n + 30)),
        );
      }
    });

    it('property: any interleaving of update and replaceLast equals replaying the final bar list', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 2 ** 31 - 1 }),
          fc.array(fc.boolean(), { minLength: 1, maxLength: 120 }),
          (seed, replaces) => {
            const pool = randomBars(seed, replaces.length + 1);
            const features = new FeatureSet({ periodsPerYear: 252 });
            const kept: OhlcvBar[] = [];
            const out = new Float64Array(FEATURE_COUNT);
            let last = new Float64Array(FEATURE_COUNT);
            pool.forEach((bar, i) => {
              if (i > 0 && replaces[i - 1] === true) {
                features.replaceLast(bar.open, bar.high, bar.low, bar.close, bar.volume, out);
                kept[kept.length - 1] = bar;
              } else {
                features.update(bar.open, bar.high, bar.low, bar.close, bar.volume, out);
                kept.push(bar);
              }
              last = out.slice();
            });
            const reference = run(new FeatureSet({ periodsPerYear: 252 }), kept);
            expectSameRows([last], [reference[reference.length - 1] as Float64Array]);
            expect(features.barsSeen).toBe(kept.length);
          },
        ),
        { numRuns: 100 },
      );
    });

    it('throws MlfpError snapshot_invalid before any bar', () => {
      const features = new FeatureSet({ periodsPerYear: 252 });
      expect(() => features.replaceLast(1, 1, 1, 1, 1, new Float64Array(FEATURE_COUNT))).toThrow(/no bar/);
      const out = new Float64Array(FEATURE_COUNT);
      features.update(1, 1, 1, 1, 1, out);
      features.reset();
      expect(() => features.replaceLast(1, 1, 1, 1, 1, out)).toThrow(/no bar/);
    });

    it('works after a snapshot/restore and after adjust (revision in the new price scale)', () => {
      const bars = golden.bars.slice(0, 120);
      const replacement = { open: 40, high: 41, low: 39, close: 40.5, volume: 4_000_000 };
      const out = new Float64Array(FEATURE_COUNT);

      const features = new FeatureSet({ periodsPerYear: 252 });
      run(features, bars);
      const restored = FeatureSet.restore(JSON.parse(JSON.stringify(features.snapshot())));
      restored.adjust(0.25, 4);
      restored.replaceLast(
        replacement.open,
        replacement.high,
        replacement.low,
        replacement.close,
        replacement.volume,
        out,
      );

      const quarter = (bar: OhlcvBar): OhlcvBar => ({
        open: bar.open / 4,
        high: bar.high / 4,
        low: bar.low / 4,
        close: bar.close / 4,
        volume: bar.volume * 4,
      });
      const reference = run(new FeatureSet({ periodsPerYear: 252 }), [
        ...bars.slice(0, -1).map(quarter),
        replacement,
      ]);
      expectSameRows([out], [reference[reference.length - 1] as Float64Array]);
    });
  });

  it('snapshot → JSON → restore, then continuing, equals the unbroken run bit for bit', () => {
    const unbroken = run(new FeatureSet({ periodsPerYear: 252 }), golden.bars);
    for (const cut of [0, 1, 20, 33, 49, 50, 2500, 4999]) {
      const features = new FeatureSet({ periodsPerYear: 252 });
      const head = run(features, golden.bars.slice(0, cut));
      const json = JSON.stringify(features.snapshot());
      const restored = FeatureSet.restore(JSON.parse(json));
      expect(JSON.stringify(restored.snapshot())).toBe(json);
      expect(restored.barsSeen).toBe(cut);
      expectSameRows([...head, ...run(restored, golden.bars.slice(cut))], unbroken, `cut ${cut}`);
    }
  });

  it('reset() gives a fresh instance', () => {
    const features = new FeatureSet({ periodsPerYear: 252 });
    run(features, golden.bars.slice(0, 333));
    features.reset();
    expect(features.snapshot()).toEqual(new FeatureSet({ periodsPerYear: 252 }).snapshot());
    expectSameRows(
      run(features, golden.bars.slice(0, 100)),
      run(new FeatureSet({ periodsPerYear: 252 }), golden.bars.slice(0, 100)),
    );
  });

  describe('adjust equals running on the back-adjusted history', () => {
    const cases = [
      { name: '4-for-1 split (exact)', priceFactor: 0.25, volumeFactor: 4, tolerance: 0 },
      { name: '3-for-1 split', priceFactor: 1 / 3, volumeFactor: 3, tolerance: 1e-13 },
      { name: 'dividend', priceFactor: (98.7 - 1.23) / 98.7, volumeFactor: 1, tolerance: 1e-12 },
      { name: '1-for-10 reverse split', priceFactor: 10, volumeFactor: 0.1, tolerance: 5e-11 },
    ];
    for (const { name, priceFactor, volumeFactor, tolerance } of cases)
      it(name, () => {
        for (const cut of [1, 14, 25, 33, 49, 50, 1000, 3000]) {
          const live = new FeatureSet({ periodsPerYear: 252 });
          run(live, golden.bars.slice(0, cut));
          live.adjust(priceFactor, volumeFactor);
          const continued = run(live, golden.bars.slice(cut));
          const back = golden.bars.slice(0, cut).map((bar) => ({
            open: bar.open * priceFactor,
            high: bar.high * priceFactor,
            low: bar.low * priceFactor,
            close: bar.close * priceFactor,
            volume: bar.volume * volumeFactor,
          }));
          const replayed = new FeatureSet({ periodsPerYear: 252 });
          run(replayed, back);
          const reference = run(replayed, golden.bars.slice(cut));
          if (tolerance === 0) {
            expectSameRows(continued, reference, `cut ${cut}`);
            continue;
          }
          for (let k = 0; k < FEATURE_COUNT; k++) {
            const expected = column(reference, k);
            const actual = column(continued, k);
            let level = Number.MIN_VALUE;
            for (const value of expected) if (Math.abs(value) > level) level = Math.abs(value);
            let worst = 0;
            for (let i = 0; i < expected.length; i++) {
              if (Number.isNaN(actual[i]) !== Number.isNaN(expected[i]))
                expect.fail(
                  `${FEATURE_COLUMNS[k]} cut ${cut} row ${cut + i}: ${actual[i]} vs ${expected[i]}`,
                );
              if (!Number.isNaN(expected[i]))
                worst = Math.max(worst, Math.abs((actual[i] as number) - (expected[i] as number)) / level);
            }
            expect(worst, `${FEATURE_COLUMNS[k]} cut ${cut}`).toBeLessThanOrEqual(tolerance);
          }
        }
      });
  });

  it('restore rejects garbage with MlfpError snapshot_invalid', () => {
    const good = JSON.parse(JSON.stringify(new FeatureSet({ periodsPerYear: 252 }).snapshot())) as Record<
      string,
      unknown
    >;
    for (const value of [
      null,
      [],
      { ...good, kind: 'sma' },
      { ...good, version: 2 },
      { ...good, barsSeen: -3 },
      { ...good, periodsPerYear: 0 },
      { ...good, closes: [1, 2] },
      { ...good, undo: 'x' },
      { ...good, ema: {} },
    ]) {
      let thrown: unknown;
      try {
        FeatureSet.restore(value);
      } catch (error) {
        thrown = error;
      }
      expect(isMlfpError(thrown) && thrown.code === 'snapshot_invalid', JSON.stringify(value)).toBe(true);
    }
  });

  it('refuses a bad bar with the matching MlfpError code and leaves its state untouched', () => {
    const features = new FeatureSet({ periodsPerYear: 252 });
    run(features, golden.bars.slice(0, 60));
    const before = JSON.stringify(features.snapshot());
    const out = new Float64Array(FEATURE_COUNT);
    const cases: [number[], string, string][] = [
      [[Number.NaN, 2, 1, 1.5, 10], 'not_finite', 'open'],
      [[1, Number.POSITIVE_INFINITY, 1, 1.5, 10], 'not_finite', 'high'],
      [[1, 2, 0, 1.5, 10], 'non_positive_price', 'low'],
      [[1, 2, 1, -1.5, 10], 'non_positive_price', 'close'],
      [[1, 2, 1, 1.5, -10], 'negative_size', 'volume'],
      [[1, 2, 1, 1.5, Number.NaN], 'not_finite', 'volume'],
    ];
    for (const [[open, high, low, close, volume], code, field] of cases)
      for (const feed of [features.update, features.replaceLast]) {
        let thrown: unknown;
        try {
          feed.call(
            features,
            open as number,
            high as number,
            low as number,
            close as number,
            volume as number,
            out,
          );
        } catch (error) {
          thrown = error;
        }
        expect(
          isMlfpError(thrown) && thrown.code === code && thrown.field === field,
          `${code} ${field}`,
        ).toBe(true);
        expect(JSON.stringify(features.snapshot())).toBe(before);
      }
    // a zero volume is a valid bar
    features.update(1, 2, 1, 1.5, 0, out);
    expect(features.barsSeen).toBe(61);
  });

  it('rejects a bad periodsPerYear, a short out array and bad adjust factors', () => {
    expect(() => new FeatureSet({ periodsPerYear: 0 })).toThrow(/periodsPerYear/);
    expect(() => new FeatureSet({ periodsPerYear: Number.NaN })).toThrow(/periodsPerYear/);
    const features = new FeatureSet({ periodsPerYear: 252 });
    expect(() => features.update(1, 1, 1, 1, 1, new Float64Array(15))).toThrow(/16/);
    expect(() => features.adjust(0, 1)).toThrow(/factor/);
  });
});
