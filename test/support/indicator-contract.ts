// Shared test suite for the incremental indicators (used by each `*.test.ts`): TA-Lib golden rows, warm-up,
// reset = fresh, snapshot→JSON→restore = unbroken run, adjust = back-adjusted history, restore rejects
// garbage, and fast-check properties (price-scale linearity, finiteness after warm-up).

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isMlfpError } from '../../src/errors.js';
import type { IncrementalIndicator } from '../../src/indicators/indicator.js';

export interface OhlcvBar {
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

export interface Golden {
  bars: OhlcvBar[];
  /** column name → values by row; NaN where the golden cell is empty */
  columns: Map<string, Float64Array>;
}

const GOLDEN_DIR = fileURLToPath(new URL('../fixtures/golden/', import.meta.url));

function readCsv(file: string): { header: string[]; rows: string[][] } {
  const lines = readFileSync(GOLDEN_DIR + file, 'utf8')
    .trim()
    .split('\n');
  const [head = '', ...rest] = lines;
  return { header: head.split(','), rows: rest.map((line) => line.split(',')) };
}

let goldenCache: Golden | undefined;

/** The 5,000-bar golden series and every reference column (talib.csv and hv21_returns_NOT_TALIB.csv). */
export function loadGolden(): Golden {
  if (goldenCache !== undefined) return goldenCache;
  const input = readCsv('input.csv');
  const at = (header: string[], name: string): number => {
    const index = header.indexOf(name);
    if (index < 0) throw new Error(`golden column ${name} missing`);
    return index;
  };
  const [o, h, l, c, v] = ['open', 'high', 'low', 'close', 'volume'].map((name) => at(input.header, name));
  const bars = input.rows.map((row) => ({
    open: Number(row[o as number]),
    high: Number(row[h as number]),
    low: Number(row[l as number]),
    close: Number(row[c as number]),
    volume: Number(row[v as number]),
  }));
  const columns = new Map<string, Float64Array>();
  for (const file of ['talib.csv', 'hv21_returns_NOT_TALIB.csv']) {
    const { header, rows } = readCsv(file);
    if (rows.length !== bars.length) throw new Error(`${file}: ${rows.length} rows for ${bars.length} bars`);
    header.forEach((name, index) => {
      if (name === 'i' || name === 'date' || name === 'close') return;
      const values = new Float64Array(rows.length);
      rows.forEach((row, r) => {
        const cell = (row[index] ?? '').trim();
        values[r] = cell === '' ? Number.NaN : Number(cell);
      });
      columns.set(name, values);
    });
  }
  goldenCache = { bars, columns };
  return goldenCache;
}

/** |actual − expected| / max(1, |expected|): the external checker's metric. */
export function relativeError(actual: number, expected: number): number {
  return Math.abs(actual - expected) / Math.max(1, Math.abs(expected));
}

export interface GoldenComparison {
  /** rows where one side is empty and the other is not, or the error exceeds the tolerance */
  mismatches: number;
  firstMismatch: string | undefined;
  maxAbsoluteError: number;
  maxRelativeError: number;
  /** rows with a value where actual === expected */
  bitExactRows: number;
  valueRows: number;
}

export function compareWithGolden(
  actual: Float64Array,
  expected: Float64Array,
  tolerance = 1e-9,
): GoldenComparison {
  const result: GoldenComparison = {
    mismatches: 0,
    firstMismatch: undefined,
    maxAbsoluteError: 0,
    maxRelativeError: 0,
    bitExactRows: 0,
    valueRows: 0,
  };
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i] as number;
    const a = actual[i] as number;
    if (Number.isNaN(e) || Number.isNaN(a)) {
      if (Number.isNaN(e) !== Number.isNaN(a)) {
        result.mismatches++;
        result.firstMismatch ??= `row ${i}: expected ${e}, got ${a}`;
      }
      continue;
    }
    result.valueRows++;
    if (a === e) result.bitExactRows++;
    const absolute = Math.abs(a - e);
    const relative = relativeError(a, e);
    if (absolute > result.maxAbsoluteError) result.maxAbsoluteError = absolute;
    if (relative > result.maxRelativeError) result.maxRelativeError = relative;
    if (!(relative <= tolerance)) {
      result.mismatches++;
      result.firstMismatch ??= `row ${i}: expected ${e}, got ${a}`;
    }
  }
  return result;
}

/** How an output follows a rescaling of the inputs: like prices, like volumes, or not at all. */
export type OutputScale = 'price' | 'volume' | 'none';

export interface IndicatorOutput {
  /** column in talib.csv or hv21_returns_NOT_TALIB.csv */
  golden: string;
  scale: OutputScale;
}

export interface IndicatorContract<T extends IncrementalIndicator> {
  name: string;
  create(): T;
  restore(snapshot: unknown): T;
  /** feeds one bar; writes each output (NaN in warm-up) into out[0..outputs.length) */
  feed(indicator: T, bar: OhlcvBar, out: Float64Array): void;
  outputs: IndicatorOutput[];
  /** assert actual === expected on every golden row (TA-Lib arithmetic copied exactly) */
  bitExact: boolean;
  /** after adjust vs a back-adjusted history: |a − e| ≤ adjustTolerance·(largest |e| of that output) */
  adjustTolerance: number;
  /** a snapshot with one field broken, which restore must reject */
  corrupt: (snapshot: Record<string, unknown>) => Record<string, unknown>;
}

/** Runs the indicator over bars, returning one array per output (NaN where undefined). */
export function runOutputs<T extends IncrementalIndicator>(
  contract: IndicatorContract<T>,
  indicator: T,
  bars: readonly OhlcvBar[],
): Float64Array[] {
  const outputs = contract.outputs.map(() => new Float64Array(bars.length));
  const out = new Float64Array(contract.outputs.length);
  bars.forEach((bar, row) => {
    contract.feed(indicator, bar, out);
    outputs.forEach((values, k) => (values[row] = out[k] as number));
  });
  return outputs;
}

function sameBits(actual: Float64Array[], expected: Float64Array[]): void {
  expected.forEach((values, k) => {
    const got = actual[k] as Float64Array;
    for (let i = 0; i < values.length; i++)
      if (!Object.is(got[i], values[i]))
        expect.fail(`output ${k} row ${i}: expected ${values[i]}, got ${got[i]}`);
  });
}

function scaleBar(bar: OhlcvBar, priceFactor: number, volumeFactor: number): OhlcvBar {
  return {
    open: bar.open * priceFactor,
    high: bar.high * priceFactor,
    low: bar.low * priceFactor,
    close: bar.close * priceFactor,
    volume: bar.volume * volumeFactor,
  };
}

/** A seeded random OHLCV walk around `level` (for properties; fast-check supplies the seed). */
export function randomBars(seed: number, count: number, level = 100, volatility = 0.015): OhlcvBar[] {
  let state = seed >>> 0;
  const uniform = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  const bars: OhlcvBar[] = [];
  let close = level;
  for (let i = 0; i < count; i++) {
    const open = close * Math.exp(volatility * 0.2 * (uniform() - 0.5));
    close = uniform() < 0.05 ? close : close * Math.exp(volatility * 2 * (uniform() - 0.5));
    const high = Math.max(open, close) * (1 + volatility * 0.5 * uniform());
    const low = Math.min(open, close) * (1 - volatility * 0.5 * uniform());
    bars.push({ open, high, low, close, volume: Math.round(1e6 * (0.2 + uniform())) });
  }
  return bars;
}

/** Registers the whole contract suite for one indicator. */
export function describeIndicatorContract<T extends IncrementalIndicator>(
  contract: IndicatorContract<T>,
): void {
  describe(`${contract.name} contract`, () => {
    const golden = loadGolden();
    const bars = golden.bars;
    const expected = contract.outputs.map((output) => {
      const column = golden.columns.get(output.golden);
      if (column === undefined) throw new Error(`no golden column ${output.golden}`);
      return column;
    });
    const firstRow = (expected[0] as Float64Array).findIndex((value) => !Number.isNaN(value));

    it(`matches TA-Lib on all ${bars.length} golden rows${contract.bitExact ? ', bit for bit' : ''}`, () => {
      const actual = runOutputs(contract, contract.create(), bars);
      contract.outputs.forEach((output, k) => {
        const comparison = compareWithGolden(actual[k] as Float64Array, expected[k] as Float64Array);
        expect(comparison.mismatches, `${output.golden}: ${comparison.firstMismatch}`).toBe(0);
        expect(comparison.valueRows).toBe(bars.length - firstRow);
        if (contract.bitExact) expect(comparison.bitExactRows, output.golden).toBe(comparison.valueRows);
      });
    });

    it('has warmUp equal to the first golden row and is stable exactly from there', () => {
      const indicator = contract.create();
      expect(indicator.warmUp).toBe(firstRow);
      const out = new Float64Array(contract.outputs.length);
      for (let row = 0; row <= firstRow + 1; row++) {
        expect(indicator.isStable).toBe(row > firstRow);
        contract.feed(indicator, bars[row] as OhlcvBar, out);
        expect(indicator.isStable).toBe(row >= firstRow);
        expect(indicator.value === undefined).toBe(row < firstRow);
        expect(Number.isNaN(out[0])).toBe(row < firstRow);
      }
    });

    it('after reset() behaves exactly like a fresh instance', () => {
      const fresh = contract.create();
      const used = contract.create();
      runOutputs(contract, used, bars.slice(0, 777));
      used.reset();
      expect(used.snapshot()).toEqual(fresh.snapshot());
      expect(used.value).toBeUndefined();
      expect(used.isStable).toBe(false);
      sameBits(
        runOutputs(contract, used, bars.slice(0, 300)),
        runOutputs(contract, fresh, bars.slice(0, 300)),
      );
    });

    it('snapshot → JSON → restore, then continuing, equals the unbroken run bit for bit', () => {
      const unbroken = runOutputs(contract, contract.create(), bars);
      for (const cut of [0, 1, firstRow - 1, firstRow, firstRow + 1, 2500, bars.length - 1]) {
        if (cut < 0) continue;
        const first = contract.create();
        const head = runOutputs(contract, first, bars.slice(0, cut));
        const json = JSON.stringify(first.snapshot());
        const resumed = contract.restore(JSON.parse(json));
        expect(JSON.stringify(resumed.snapshot())).toBe(json);
        expect(resumed.value).toBe(first.value);
        const tail = runOutputs(contract, resumed, bars.slice(cut));
        sameBits(
          head.map((values, k) => {
            const joined = new Float64Array(bars.length);
            joined.set(values);
            joined.set(tail[k] as Float64Array, cut);
            return joined;
          }),
          unbroken,
        );
      }
    });

    it('snapshots round-trip NaN and infinities (state poisoned by bad input still restores)', () => {
      const indicator = contract.create();
      runOutputs(contract, indicator, bars.slice(0, firstRow + 3));
      runOutputs(contract, indicator, [
        { open: Number.NaN, high: Number.NaN, low: Number.NaN, close: Number.NaN, volume: Number.NaN },
      ]);
      const json = JSON.stringify(indicator.snapshot());
      expect(JSON.stringify(contract.restore(JSON.parse(json)).snapshot())).toBe(json);
    });

    it('restore rejects garbage with MlfpError snapshot_invalid', () => {
      const good = JSON.parse(JSON.stringify(contract.create().snapshot())) as Record<string, unknown>;
      const garbage: unknown[] = [
        null,
        42,
        'state',
        [],
        {},
        { ...good, kind: 'other' },
        { ...good, version: 999 },
        { ...good, count: -1 },
        { ...good, count: 1.5 },
        contract.corrupt({ ...good }),
      ];
      for (const value of garbage) {
        let thrown: unknown;
        try {
          contract.restore(value);
        } catch (error) {
          thrown = error;
        }
        expect(isMlfpError(thrown) && thrown.code === 'snapshot_invalid', JSON.stringify(value)).toBe(true);
      }
    });

    describe('adjust(priceFactor, volumeFactor) equals running on the back-adjusted history', () => {
      // Powers of two rescale every double exactly, so a 4-for-1 split must match bit for bit; other factors
      // round differently in running sums, measured against each output's largest magnitude (MACD, OBV and
      // momentum cross zero, where a plain relative error means nothing).
      const cases = [
        { name: '4-for-1 split (exact)', priceFactor: 1 / 4, volumeFactor: 4, exact: true },
        { name: '3-for-1 split', priceFactor: 1 / 3, volumeFactor: 3, exact: false },
        { name: '1-for-10 reverse split', priceFactor: 10, volumeFactor: 0.1, exact: false },
        { name: 'dividend 1.23 on 98.7', priceFactor: (98.7 - 1.23) / 98.7, volumeFactor: 1, exact: false },
      ];
      for (const { name, priceFactor, volumeFactor, exact } of cases)
        it(name, () => {
          let worst = 0;
          for (const cut of [1, firstRow, firstRow + 1, 1000, 3000]) {
            const live = contract.create();
            runOutputs(contract, live, bars.slice(0, cut));
            live.adjust(priceFactor, volumeFactor);
            const continued = runOutputs(contract, live, bars.slice(cut));
            const replayed = contract.create();
            runOutputs(
              contract,
              replayed,
              bars.slice(0, cut).map((bar) => scaleBar(bar, priceFactor, volumeFactor)),
            );
            const reference = runOutputs(contract, replayed, bars.slice(cut));
            if (exact) {
              sameBits(continued, reference);
              continue;
            }
            reference.forEach((values, k) => {
              const got = continued[k] as Float64Array;
              let level = Number.MIN_VALUE;
              for (const value of values) if (Math.abs(value) > level) level = Math.abs(value);
              for (let i = 0; i < values.length; i++) {
                const e = values[i] as number;
                const a = got[i] as number;
                if (Number.isNaN(e) || Number.isNaN(a)) {
                  expect(Number.isNaN(a), `output ${k} row ${cut + i}`).toBe(Number.isNaN(e));
                  continue;
                }
                worst = Math.max(worst, Math.abs(a - e) / level);
              }
            });
          }
          expect(worst).toBeLessThanOrEqual(contract.adjustTolerance);
        });

      it('rejects non-positive or non-finite factors', () => {
        const indicator = contract.create();
        for (const [p, v] of [
          [0, 1],
          [1, 0],
          [-1, 1],
          [Number.NaN, 1],
          [1, Number.POSITIVE_INFINITY],
        ] as const)
          expect(() => indicator.adjust(p, v)).toThrow(/factor/);
      });
    });

    it('property: outputs scale like their inputs (prices ×1e-4..×1e6, volumes ×1e-3..×1e3)', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 2 ** 31 - 1 }),
          fc.double({ min: -4, max: 6, noNaN: true }),
          fc.double({ min: -3, max: 3, noNaN: true }),
          (seed, priceExponent, volumeExponent) => {
            const priceScale = 10 ** priceExponent;
            const volumeScale = 10 ** volumeExponent;
            const sample = randomBars(seed, firstRow + 60);
            const base = runOutputs(contract, contract.create(), sample);
            const scaled = runOutputs(
              contract,
              contract.create(),
              sample.map((bar) => scaleBar(bar, priceScale, volumeScale)),
            );
            contract.outputs.forEach((output, k) => {
              const factor =
                output.scale === 'price' ? priceScale : output.scale === 'volume' ? volumeScale : 1;
              const b = base[k] as Float64Array;
              const s = scaled[k] as Float64Array;
              // a relative bound on the price level, since MACD/momentum/returns cross zero
              let level = 0;
              for (let i = 0; i < b.length; i++)
                if (Number.isFinite(b[i])) level = Math.max(level, Math.abs(b[i] as number));
              for (let i = 0; i < b.length; i++) {
                if (Number.isNaN(b[i])) {
                  expect(Number.isNaN(s[i])).toBe(true);
                  continue;
                }
                const error = Math.abs((s[i] as number) / factor - (b[i] as number));
                expect(error, `${output.golden} row ${i}`).toBeLessThanOrEqual(
                  1e-9 * Math.max(level, 1e-300),
                );
              }
            });
          },
        ),
        { numRuns: 60 },
      );
    });

    it('property: every output is finite from the warm-up on, for any positive finite walk', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 2 ** 31 - 1 }),
          fc.double({ min: 1e-3, max: 1e5, noNaN: true }),
          fc.double({ min: 0, max: 0.5, noNaN: true }),
          (seed, level, volatility) => {
            const outputs = runOutputs(
              contract,
              contract.create(),
              randomBars(seed, firstRow + 80, level, volatility),
            );
            for (const values of outputs)
              for (let i = 0; i < values.length; i++) expect(Number.isFinite(values[i])).toBe(i >= firstRow);
          },
        ),
        { numRuns: 60 },
      );
    });
  });
}
