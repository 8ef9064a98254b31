// Per-bar update throughput of the 16-column FeatureSet and of each indicator alone, side by side in the
// same run with the streaming APIs of trading-signals and technicalindicators and with bare loops.
// BENCH_BARS (default 1,000,000) synthetic bars are generated once; 1 warm-up run, BENCH_RUNS (≥5) timed runs.

import * as tradingSignals from 'trading-signals';
import * as technicalIndicators from 'technicalindicators';
import { FEATURE_COUNT } from '../src/domain/types.js';
import { Atr } from '../src/indicators/atr.js';
import { BollingerBands } from '../src/indicators/bollinger-bands.js';
import { Ema } from '../src/indicators/ema.js';
import { FeatureSet } from '../src/indicators/feature-set.js';
import { HistoricalVolatility } from '../src/indicators/historical-volatility.js';
import { Macd } from '../src/indicators/macd.js';
import { Momentum } from '../src/indicators/momentum.js';
import { Obv } from '../src/indicators/obv.js';
import { Returns } from '../src/indicators/returns.js';
import { Rsi } from '../src/indicators/rsi.js';
import { Sma } from '../src/indicators/sma.js';
import { machineInfo } from './lib/machine.js';
import { measureThroughput, type Throughput } from './lib/measure.js';
import { formatTable, writeResults } from './lib/results.js';
import { generateBars, type BarColumns } from './lib/synthetic-bars.js';

type Subject = 'mlfp' | 'trading-signals' | 'technicalindicators' | 'plain-loop';

interface Case {
  subject: Subject;
  indicator: string;
  /** one full pass over the bars with a fresh instance; returns a checksum of the outputs */
  run: (bars: BarColumns) => number;
}

const { RSI, EMA, SMA, MACD, MOM, OBV, BollingerBands: TsBollinger, ATR, ROC } = tradingSignals;
const ti = technicalIndicators;

/** A candle object per bar, as the object-based peer APIs take it (built once, outside the timing). */
interface Candle {
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

function candlesOf(bars: BarColumns): Candle[] {
  const candles: Candle[] = [];
  for (let i = 0; i < bars.length; i++)
    candles.push({
      open: bars.open[i] as number,
      high: bars.high[i] as number,
      low: bars.low[i] as number,
      close: bars.close[i] as number,
      volume: bars.volume[i] as number,
    });
  return candles;
}

/** Adds a peer's nullable number output to a checksum. */
const add = (sum: number, value: number | null | undefined): number =>
  value === null || value === undefined ? sum : sum + value;

function cases(candles: Candle[]): Case[] {
  return [
    // ---- mlfp ----
    {
      subject: 'mlfp',
      indicator: 'all',
      run: (b) => {
        const features = new FeatureSet({ periodsPerYear: 252 });
        const out = new Float64Array(FEATURE_COUNT);
        let sum = 0;
        for (let i = 0; i < b.length; i++) {
          features.update(
            b.open[i] as number,
            b.high[i] as number,
            b.low[i] as number,
            b.close[i] as number,
            b.volume[i] as number,
            out,
          );
          if (features.isStable) for (let k = 0; k < FEATURE_COUNT; k++) sum += out[k] as number;
        }
        return sum;
      },
    },
    {
      subject: 'mlfp',
      indicator: 'rsi_14',
      run: (b) => {
        const rsi = new Rsi(14);
        let sum = 0;
        for (let i = 0; i < b.length; i++) sum += rsi.update(b.close[i] as number) ?? 0;
        return sum;
      },
    },
    {
      subject: 'mlfp',
      indicator: 'ema_50',
      run: (b) => {
        const ema = new Ema(50);
        let sum = 0;
        for (let i = 0; i < b.length; i++) sum += ema.update(b.close[i] as number) ?? 0;
        return sum;
      },
    },
    {
      subject: 'mlfp',
      indicator: 'sma_20',
      run: (b) => {
        const sma = new Sma(20);
        let sum = 0;
        for (let i = 0; i < b.length; i++) sum += sma.update(b.close[i] as number) ?? 0;
        return sum;
      },
    },
    {
      subject: 'mlfp',
      indicator: 'macd_12_26_9',
      run: (b) => {
        const macd = new Macd(12, 26, 9);
        const out = new Float64Array(3);
        let sum = 0;
        for (let i = 0; i < b.length; i++) {
          if (macd.update(b.close[i] as number, out) !== undefined) sum += out[2] as number;
        }
        return sum;
      },
    },
    {
      subject: 'mlfp',
      indicator: 'bbands_20_2',
      run: (b) => {
        const bands = new BollingerBands(20, 2, 2);
        const out = new Float64Array(3);
        let sum = 0;
        for (let i = 0; i < b.length; i++) {
          if (bands.update(b.close[i] as number, out) !== undefined) sum += out[0] as number;
        }
        return sum;
      },
    },
    {
      subject: 'mlfp',
      indicator: 'atr_14',
      run: (b) => {
        const atr = new Atr(14);
        let sum = 0;
        for (let i = 0; i < b.length; i++)
          sum += atr.update(b.high[i] as number, b.low[i] as number, b.close[i] as number) ?? 0;
        return sum;
      },
    },
    {
      subject: 'mlfp',
      indicator: 'mom_14',
      run: (b) => {
        const momentum = new Momentum(14);
        let sum = 0;
        for (let i = 0; i < b.length; i++) sum += momentum.update(b.close[i] as number) ?? 0;
        return sum;
      },
    },
    {
      subject: 'mlfp',
      indicator: 'obv',
      run: (b) => {
        const obv = new Obv();
        let sum = 0;
        for (let i = 0; i < b.length; i++) sum += obv.update(b.close[i] as number, b.volume[i] as number);
        return sum;
      },
    },
    {
      subject: 'mlfp',
      indicator: 'volume_ma_20',
      run: (b) => {
        const sma = new Sma(20, 'volume');
        let sum = 0;
        for (let i = 0; i < b.length; i++) sum += sma.update(b.volume[i] as number) ?? 0;
        return sum;
      },
    },
    {
      subject: 'mlfp',
      indicator: 'historical_vol_21',
      run: (b) => {
        const volatility = new HistoricalVolatility(21, 252);
        let sum = 0;
        for (let i = 0; i < b.length; i++) sum += volatility.update(b.close[i] as number) ?? 0;
        return sum;
      },
    },
    {
      subject: 'mlfp',
      indicator: 'returns',
      run: (b) => {
        const returns = new Returns();
        let sum = 0;
        for (let i = 0; i < b.length; i++) sum += returns.update(b.close[i] as number) ?? 0;
        return sum;
      },
    },
    // ---- bare loops: the floor under a class-based EMA / SMA ----
    {
      subject: 'plain-loop',
      indicator: 'ema_50',
      run: (b) => {
        const period = 50;
        const k = 2 / (period + 1);
        let ema = 0;
        let sum = 0;
        for (let i = 0; i < b.length; i++) {
          const x = b.close[i] as number;
          if (i >= period) ema = (x - ema) * k + ema;
          else {
            ema += x;
            if (i === period - 1) ema /= period;
            else continue;
          }
          sum += ema;
        }
        return sum;
      },
    },
    {
      subject: 'plain-loop',
      indicator: 'sma_20',
      run: (b) => {
        const period = 20;
        const close = b.close;
        let running = 0;
        let sum = 0;
        for (let i = 0; i < b.length; i++) {
          running += close[i] as number;
          if (i >= period - 1) {
            sum += running / period;
            running -= close[i - period + 1] as number;
          }
        }
        return sum;
      },
    },
    // ---- trading-signals 8 (add() = update(x, false)) ----
    {
      subject: 'trading-signals',
      indicator: 'all',
      run: () => {
        const rsi = new RSI(14);
        const macd = new MACD(new EMA(12), new EMA(26), new EMA(9));
        const momentum = new MOM(14);
        const sma = new SMA(20);
        const ema = new EMA(50);
        const bands = new TsBollinger(20, 2);
        const atr = new ATR(14);
        const volumeSma = new SMA(20);
        const obv = new OBV(2);
        const returns = new ROC(1);
        let sum = 0;
        for (const candle of candles) {
          const close = candle.close;
          sum = add(sum, rsi.add(close));
          sum = add(sum, macd.add(close)?.histogram);
          sum = add(sum, momentum.add(close));
          sum = add(sum, sma.add(close));
          sum = add(sum, ema.add(close));
          sum = add(sum, bands.add(close)?.upper);
          sum = add(sum, atr.add(candle));
          sum = add(sum, volumeSma.add(candle.volume));
          sum = add(sum, obv.add(candle));
          sum = add(sum, returns.add(close));
        }
        return sum;
      },
    },
    ...(
      [
        ['rsi_14', () => new RSI(14)],
        ['ema_50', () => new EMA(50)],
        ['sma_20', () => new SMA(20)],
        ['mom_14', () => new MOM(14)],
        ['returns', () => new ROC(1)],
      ] as const
    ).map(([indicator, create]): Case => ({
      subject: 'trading-signals',
      indicator,
      run: () => {
        const peer = create();
        let sum = 0;
        for (const candle of candles) sum = add(sum, peer.add(candle.close));
        return sum;
      },
    })),
    {
      subject: 'trading-signals',
      indicator: 'macd_12_26_9',
      run: () => {
        const macd = new MACD(new EMA(12), new EMA(26), new EMA(9));
        let sum = 0;
        for (const candle of candles) sum = add(sum, macd.add(candle.close)?.histogram);
        return sum;
      },
    },
    {
      subject: 'trading-signals',
      indicator: 'bbands_20_2',
      run: () => {
        const bands = new TsBollinger(20, 2);
        let sum = 0;
        for (const candle of candles) sum = add(sum, bands.add(candle.close)?.upper);
        return sum;
      },
    },
    {
      subject: 'trading-signals',
      indicator: 'atr_14',
      run: () => {
        const atr = new ATR(14);
        let sum = 0;
        for (const candle of candles) sum = add(sum, atr.add(candle));
        return sum;
      },
    },
    {
      subject: 'trading-signals',
      indicator: 'obv',
      run: () => {
        const obv = new OBV(2);
        let sum = 0;
        for (const candle of candles) sum = add(sum, obv.add(candle));
        return sum;
      },
    },
    {
      subject: 'trading-signals',
      indicator: 'volume_ma_20',
      run: () => {
        const sma = new SMA(20);
        let sum = 0;
        for (const candle of candles) sum = add(sum, sma.add(candle.volume));
        return sum;
      },
    },
    // ---- technicalindicators 3 (nextValue) ----
    {
      subject: 'technicalindicators',
      indicator: 'all',
      run: () => {
        const rsi = new ti.RSI({ period: 14, values: [] });
        const macd = new ti.MACD({
          values: [],
          fastPeriod: 12,
          slowPeriod: 26,
          signalPeriod: 9,
          SimpleMAOscillator: false,
          SimpleMASignal: false,
        });
        const sma = new ti.SMA({ period: 20, values: [] });
        const ema = new ti.EMA({ period: 50, values: [] });
        const bands = new ti.BollingerBands({ period: 20, stdDev: 2, values: [] });
        const atr = new ti.ATR({ period: 14, high: [], low: [], close: [] });
        const volumeSma = new ti.SMA({ period: 20, values: [] });
        const obv = new ti.OBV({ close: [], volume: [] });
        const returns = new ti.ROC({ period: 1, values: [] });
        let sum = 0;
        for (const candle of candles) {
          const close = candle.close;
          sum = add(sum, rsi.nextValue(close));
          sum = add(sum, macd.nextValue(close)?.histogram);
          sum = add(sum, sma.nextValue(close));
          sum = add(sum, ema.nextValue(close));
          sum = add(sum, bands.nextValue(close)?.upper);
          sum = add(sum, atr.nextValue(candle));
          sum = add(sum, volumeSma.nextValue(candle.volume));
          sum = add(sum, obv.nextValue(candle));
          sum = add(sum, returns.nextValue(close));
        }
        return sum;
      },
    },
    ...(
      [
        ['rsi_14', () => new ti.RSI({ period: 14, values: [] })],
        ['ema_50', () => new ti.EMA({ period: 50, values: [] })],
        ['sma_20', () => new ti.SMA({ period: 20, values: [] })],
        ['returns', () => new ti.ROC({ period: 1, values: [] })],
      ] as const
    ).map(([indicator, create]): Case => ({
      subject: 'technicalindicators',
      indicator,
      run: () => {
        const peer = create();
        let sum = 0;
        for (const candle of candles) sum = add(sum, peer.nextValue(candle.close));
        return sum;
      },
    })),
    {
      subject: 'technicalindicators',
      indicator: 'macd_12_26_9',
      run: () => {
        const macd = new ti.MACD({
          values: [],
          fastPeriod: 12,
          slowPeriod: 26,
          signalPeriod: 9,
          SimpleMAOscillator: false,
          SimpleMASignal: false,
        });
        let sum = 0;
        for (const candle of candles) sum = add(sum, macd.nextValue(candle.close)?.histogram);
        return sum;
      },
    },
    {
      subject: 'technicalindicators',
      indicator: 'bbands_20_2',
      run: () => {
        const bands = new ti.BollingerBands({ period: 20, stdDev: 2, values: [] });
        let sum = 0;
        for (const candle of candles) sum = add(sum, bands.nextValue(candle.close)?.upper);
        return sum;
      },
    },
    {
      subject: 'technicalindicators',
      indicator: 'atr_14',
      run: () => {
        const atr = new ti.ATR({ period: 14, high: [], low: [], close: [] });
        let sum = 0;
        for (const candle of candles) sum = add(sum, atr.nextValue(candle));
        return sum;
      },
    },
    {
      subject: 'technicalindicators',
      indicator: 'obv',
      run: () => {
        const obv = new ti.OBV({ close: [], volume: [] });
        let sum = 0;
        for (const candle of candles) sum = add(sum, obv.nextValue(candle));
        return sum;
      },
    },
    {
      subject: 'technicalindicators',
      indicator: 'volume_ma_20',
      run: () => {
        const sma = new ti.SMA({ period: 20, values: [] });
        let sum = 0;
        for (const candle of candles) sum = add(sum, sma.nextValue(candle.volume));
        return sum;
      },
    },
  ];
}

function positiveInteger(name: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min)
    throw new Error(`${name} must be an integer ≥ ${min}, got "${raw}"`);
  return value;
}

function main(): void {
  const barCount = positiveInteger('BENCH_BARS', process.env['BENCH_BARS'], 1_000_000, 100);
  const runs = positiveInteger('BENCH_RUNS', process.env['BENCH_RUNS'], 5, 5);
  const only = process.env['BENCH_ONLY']; // optional subject or indicator filter, for quick looks
  const machine = machineInfo(['trading-signals', 'technicalindicators']);
  const bars = generateBars(barCount);
  const candles = candlesOf(bars);
  const selected = cases(candles).filter(
    (c) => only === undefined || only === '' || c.subject === only || c.indicator === only,
  );

  const results: (Throughput & { subject: Subject; indicator: string })[] = [];
  for (const benchmark of selected) {
    const throughput = measureThroughput(() => benchmark.run(bars), barCount, { runs });
    results.push({ subject: benchmark.subject, indicator: benchmark.indicator, ...throughput });
    process.stderr.write(
      `${benchmark.subject.padEnd(19)} ${benchmark.indicator.padEnd(17)} ${throughput.mUpdatesPerSec.toFixed(2)} M/s\n`,
    );
  }

  const byKey = new Map(results.map((r) => [`${r.subject}/${r.indicator}`, r]));
  const indicators = [...new Set(results.map((r) => r.indicator))];
  const subjects: Subject[] = ['mlfp', 'trading-signals', 'technicalindicators', 'plain-loop'];
  const cell = (subject: Subject, indicator: string): string => {
    const r = byKey.get(`${subject}/${indicator}`);
    return r === undefined ? '—' : `${r.mUpdatesPerSec.toFixed(2)} (${r.min.toFixed(1)}–${r.max.toFixed(1)})`;
  };
  const speedup = (indicator: string): string => {
    const ours = byKey.get(`mlfp/${indicator}`);
    const peer = byKey.get(`trading-signals/${indicator}`);
    return ours === undefined || peer === undefined
      ? '—'
      : `${(ours.mUpdatesPerSec / peer.mUpdatesPerSec).toFixed(1)}×`;
  };
  console.log(
    `\nfeatures benchmark: ${barCount.toLocaleString('en-US')} bars, median of ${runs} runs after 1 warm-up, ` +
      `million updates/s (min–max)\n${machine.cpu} ×${machine.cores}, Node ${machine.node}, load ${machine.loadAverage1m}\n`,
  );
  console.log(
    formatTable(
      ['indicator', ...subjects, 'mlfp / trading-signals'],
      indicators.map((indicator) => [
        indicator,
        ...subjects.map((subject) => cell(subject, indicator)),
        speedup(indicator),
      ]),
    ),
  );
  const checksum = results.reduce((sum, r) => sum + (Number.isFinite(r.checksum) ? r.checksum : 0), 0);
  console.log(`\nchecksum ${checksum}`);

  const path = writeResults('features', {
    bars: barCount,
    machine,
    date: new Date().toISOString(),
    method: `1 warm-up run, then ${runs} timed runs per subject; each run feeds every bar to a fresh instance`,
    results: results.map(({ subject, indicator, mUpdatesPerSec, runs: rates, min, max }) => ({
      subject,
      indicator,
      mUpdatesPerSec: round(mUpdatesPerSec),
      min: round(min),
      max: round(max),
      runs: rates.map(round),
    })),
  });
  console.log(`results: ${path}`);
}

const round = (x: number): number => Math.round(x * 1000) / 1000;

main();
