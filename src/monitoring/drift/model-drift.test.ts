import { describe, expect, it } from 'vitest';
import { FEATURE_COUNT, type FeatureVector, type Prediction, type Timeframe } from '../../domain/types.js';
import { MlfpError } from '../../errors.js';
import { Random } from '../../streams/random.js';
import {
  ModelDrift,
  pooledEffectiveSampleSize,
  scaledHistogramDistance,
  varianceInflation,
  type DriftChange,
  type ModelDriftOptions,
  type ModelDriftSnapshot,
  type ModelDriftSpec,
} from './model-drift.js';
import { symbolHash } from './sampling.js';
import { KsReference } from './ks.js';
import { BinnedReference, type ReferenceHistogram } from './reference.js';

/** A skewed training distribution (log-normal-like deciles), as a manifest would carry it. */
const SKEWED: ReferenceHistogram = {
  edges: [0.05, 0.28, 0.43, 0.59, 0.77, 1, 1.3, 1.69, 2.32, 3.6, 14],
  proportions: [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1],
};
/** A centred one with a missing share, for the second input. */
const CENTRED: ReferenceHistogram = {
  edges: [-4, -1.28, -0.84, -0.52, -0.25, 0, 0.25, 0.52, 0.84, 1.28, 4],
  proportions: [0.095, 0.095, 0.095, 0.095, 0.095, 0.095, 0.095, 0.095, 0.095, 0.095],
  missing: 0.05,
};
const PROBABILITY: ReferenceHistogram = {
  edges: [0, 0.3, 0.4, 0.45, 0.48, 0.5, 0.52, 0.55, 0.6, 0.7, 1],
  proportions: [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1],
};

function spec(overrides: Partial<ModelDriftSpec> = {}): ModelDriftSpec {
  return {
    model: 'demo',
    version: '1.0.0',
    timeframe: '5m',
    inputs: ['returns', 'rsi_14', 'obv'],
    featureIndex: [0, 2, 15],
    outputs: ['p_up'],
    reference: {
      inputs: { returns: CENTRED, rsi_14: SKEWED, obv: SKEWED },
      outputs: { p_up: PROBABILITY },
    },
    ...overrides,
  };
}

const SMALL: ModelDriftOptions = {
  psi: { window: 400, minCount: 200, every: 20, minEss: 200 },
  ks: { window: 400, minCount: 200, every: 20 },
  calibration: { values: 2_000, replicates: 400 },
};

function build(
  options: ModelDriftOptions = SMALL,
  changes: DriftChange[] = [],
  specOverrides: Partial<ModelDriftSpec> = {},
): ModelDrift {
  return new ModelDrift(spec(specOverrides), options, {
    random: (seed) => new Random(seed),
    onChange: (change) => changes.push(change),
  });
}

/** Standard normal CDF (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7). */
function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const poly =
    t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/** Quantile of a histogram (uniform inside a bin), missing share excluded: the Gaussian copula's margin. */
function quantile(histogram: ReferenceHistogram, u: number): number {
  const scale = 1 - (histogram.missing ?? 0);
  let cumulative = 0;
  for (let b = 0; b < histogram.proportions.length; b++) {
    const share = histogram.proportions[b]! / scale;
    if (u < cumulative + share || b === histogram.proportions.length - 1) {
      const within = Math.min(1, Math.max(0, (u - cumulative) / share));
      return histogram.edges[b]! + within * (histogram.edges[b + 1]! - histogram.edges[b]!);
    }
    cumulative += share;
  }
  return histogram.edges[histogram.edges.length - 1]!;
}

/** Per symbol and series, a stationary AR(1) Gaussian latent mapped through the reference's quantiles. */
class QuietMarket {
  private readonly latent: Float64Array;
  private readonly random: Random;
  constructor(
    seed: number,
    readonly symbols: number,
    private readonly phi: number,
  ) {
    this.random = new Random(seed);
    this.latent = Float64Array.from({ length: symbols * 4 }, () => this.random.normal());
  }
  /** Next latent of (symbol, series), standard normal marginally. */
  step(symbol: number, series: number): number {
    const at = symbol * 4 + series;
    const next = this.phi * this.latent[at]! + Math.sqrt(1 - this.phi * this.phi) * this.random.normal();
    this.latent[at] = next;
    return next;
  }
}

interface Feed {
  vector: FeatureVector;
  prediction: Prediction;
}

/** Bar t of symbol s: a feature vector (returns, rsi_14, obv columns) and a prediction, shifts applied. */
function makeFeed(
  market: QuietMarket,
  symbol: number,
  t: number,
  shift: { series: number; apply: (x: number) => number } | undefined = undefined,
  timeframe: Timeframe = '5m',
): Feed {
  const values = new Float64Array(FEATURE_COUNT).fill(Number.NaN);
  const margins = [CENTRED, SKEWED, SKEWED, PROBABILITY];
  const columns = [0, 2, 15];
  const drawn = margins.map((histogram, series) => {
    let z = market.step(symbol, series);
    if (shift?.series === series) z = shift.apply(z);
    return quantile(histogram, normalCdf(z));
  });
  columns.forEach((column, series) => (values[column] = drawn[series]!));
  const ts = Date.UTC(2024, 0, 1) + t * 300_000;
  return {
    vector: { symbol: `S${symbol}`, timeframe, ts, revision: 0, close: 100, values },
    prediction: {
      symbol: `S${symbol}`,
      timeframe,
      ts,
      model: 'demo',
      version: '1.0.0',
      kind: 'classifier',
      output: { label: 'up', p_up: drawn[3]!, p_down: 1 - drawn[3]! },
      latencyMs: 1,
    },
  };
}

/** Feeds `bars` rounds of every symbol (round-robin, as bars close together). */
function run(
  drift: ModelDrift,
  market: QuietMarket,
  from: number,
  bars: number,
  shift?: { series: number; apply: (x: number) => number },
): void {
  for (let t = from; t < from + bars; t++)
    for (let s = 0; s < market.symbols; s++) {
      const feed = makeFeed(market, s, t, shift);
      drift.onFeatures(feed.vector, feed.vector.ts);
      drift.onPrediction(feed.prediction, feed.vector.ts);
    }
}

describe('ModelDrift', () => {
  it('raises no alert on quiet streams (i.i.d. and AR(1) φ = 0.9 through a Gaussian copula, 3 symbols pooled)', () => {
    for (const phi of [0, 0.9]) {
      const changes: DriftChange[] = [];
      const drift = build({ ...SMALL, alarmsPerWeek: 0.01, expectedSymbols: 3 }, changes);
      const market = new QuietMarket(phi === 0 ? 11 : 12, 3, phi);
      run(drift, market, 0, 8_000); // 24,000 values per series: 1,100 evaluations after calibration
      const rows = drift.status();
      expect(rows).toHaveLength(8);
      expect(changes.filter((c) => c.to === 'alert' || c.to === 'warn')).toEqual([]);
      for (const row of rows.filter((r) => r.detector === 'ks')) {
        expect(row.state).toBe('ok');
        expect(row.cut).toBeGreaterThan(0);
      }
      // i.i.d. windows are read; φ = 0.9 windows (≈133 values of each symbol) hold too few independent values
      for (const row of rows.filter((r) => r.detector === 'psi'))
        expect(row.state).toBe(phi === 0 ? 'ok' : 'gated');
      expect(drift.calibrations().map((c) => c.symbols)).toEqual([3, 3, 3, 3]);
      expect(drift.budget.detectors).toBe(8);
    }
  });

  it('alerts on the input whose mean moved by +1σ, and on no other', () => {
    const changes: DriftChange[] = [];
    const drift = build({ ...SMALL, alarmsPerWeek: 0.01 }, changes);
    const market = new QuietMarket(21, 1, 0.5);
    run(drift, market, 0, 3_000);
    expect(drift.calibrations()).toHaveLength(4);
    expect(changes.filter((c) => c.to === 'alert')).toEqual([]);
    run(drift, market, 3_000, 1_500, { series: 1, apply: (z) => z + 1 });
    const alerts = changes.filter((c) => c.to === 'alert');
    expect(alerts.length).toBeGreaterThan(0);
    expect(new Set(alerts.map((c) => c.key))).toEqual(new Set(['input:rsi_14']));
    expect(drift.status().find((r) => r.key === 'input:rsi_14' && r.detector === 'ks')?.state).toBe('alert');
  });

  it('skips and reports series without a usable reference', () => {
    const drift = build(SMALL, [], {
      outputs: ['p_up', 'p_down'],
      reference: {
        inputs: { returns: CENTRED, obv: { edges: [0, 1], proportions: [1] } },
        outputs: { p_up: PROBABILITY },
      },
    });
    expect(drift.skipped).toEqual([
      {
        key: 'input:rsi_14',
        detectors: ['psi', 'ks'],
        reason: 'no reference histogram for input "rsi_14" in the manifest',
      },
      { key: 'input:obv', detectors: ['psi', 'ks'], reason: 'the reference has one bin: nothing to compare' },
      {
        key: 'output:p_down',
        detectors: ['psi', 'ks'],
        reason: 'no reference histogram for output "p_down" in the manifest',
      },
    ]);
    expect(new Set(drift.status().map((r) => r.key))).toEqual(new Set(['input:returns', 'output:p_up']));
    expect(drift.budget.detectors).toBe(4);
    const none = build(SMALL, [], { reference: undefined });
    expect(none.status()).toEqual([]);
    expect(none.skipped.map((s) => s.reason)).toEqual(Array(4).fill('the manifest has no reference'));
    // nothing to watch: feeding is a no-op
    const market = new QuietMarket(1, 1, 0);
    run(none, market, 0, 10);
    expect(none.snapshot().series).toEqual([]);
  });

  it('skips NaN values (warm-up) per series, and ignores other timeframes, repeated bars, other models', () => {
    const drift = build();
    const market = new QuietMarket(3, 1, 0);
    const feed = makeFeed(market, 0, 0);
    feed.vector.values[2] = Number.NaN;
    drift.onFeatures(feed.vector, 0);
    const seen = (): number[] => drift.snapshot().series.map((s) => s.seq);
    const skipped = (): number[] => drift.snapshot().series.map((s) => s.skipped);
    expect(seen()).toEqual([1, 0, 1, 0]);
    expect(skipped()).toEqual([0, 1, 0, 0]);
    drift.onFeatures(feed.vector, 1); // same bar again (a revision or a replay)
    drift.onFeatures(makeFeed(market, 0, 1, undefined, '1h').vector, 2);
    drift.onPrediction({ ...feed.prediction, version: '2.0.0' }, 3);
    drift.onPrediction({ ...feed.prediction, output: { label: 'up', p_up: 'n/a' } }, 4);
    expect(seen()).toEqual([1, 0, 1, 0]);
    expect(skipped()).toEqual([0, 1, 0, 1]);
    expect([drift.repeated, drift.otherTimeframe, drift.otherModel]).toEqual([1, 1, 1]);
  });

  it('measures the ESS gate per symbol: interleaving symbols does not hide autocorrelation', () => {
    const window = 1_000;
    const gateOf = (phi: number, symbols: number): number => {
      const drift = build({
        psi: { window, minCount: 500, every: 50 },
        calibration: { values: 100_000 },
        maxSymbols: 1_000, // every symbol in the sample
      });
      const market = new QuietMarket(5, symbols, phi);
      run(drift, market, 0, Math.ceil(4_000 / symbols));
      return drift.effectiveSampleSize('input:returns');
    };
    // i.i.d.: the whole window; AR(0.9) of one or of 4 interleaved symbols: about n(1−ρ)/(1+ρ) ≈ 53 to 60
    expect(gateOf(0, 1)).toBeGreaterThan(900);
    expect(gateOf(0.9, 1)).toBeLessThan(80);
    expect(gateOf(0.9, 4)).toBeLessThan(90);
    // 1,000 symbols: each gave one value to the window, nothing to discount
    expect(gateOf(0.9, 1_000)).toBeGreaterThan(900);
    expect(varianceInflation(1, 0.9)).toBe(1);
    expect(varianceInflation(1e9, 0.9)).toBeCloseTo(19, 6);
    expect(pooledEffectiveSampleSize(1_000, [0, 0, 0, 0, 0, 0, 0])).toBe(1_000);
  });

  it('calibrates one series per call once histories fill, and from history passed in', () => {
    const drift = build();
    const market = new QuietMarket(8, 2, 0.3);
    run(drift, market, 0, 999); // 1,998 values per series, history 2,000
    expect(drift.pendingCalibrations).toBe(0);
    const feed = makeFeed(market, 0, 999);
    drift.onFeatures(feed.vector, 0);
    const feed2 = makeFeed(market, 1, 999);
    drift.onFeatures(feed2.vector, 0); // 3 input histories full; this call calibrated the first
    expect(drift.pendingCalibrations).toBe(2);
    expect(drift.calibrations().map((c) => c.key)).toEqual(['input:returns']);
    drift.onPrediction(feed.prediction, 0);
    drift.onPrediction(feed2.prediction, 0);
    expect(drift.calibrations().map((c) => c.key)).toEqual(['input:returns', 'input:rsi_14', 'input:obv']);
    expect(drift.pendingCalibrations).toBe(1);
    expect(drift.calibrateNext()).toBe(true);
    expect(drift.calibrateNext()).toBe(false);
    // seeded from the latest live values: warm at once
    expect(
      drift
        .status()
        .filter((r) => r.detector === 'ks')
        .map((r) => r.state),
    ).toEqual(['ok', 'ok', 'ok', 'ok']);

    const early = build();
    const random = new Random(4);
    const perSymbol = [0, 1, 2].map(() =>
      Float64Array.from({ length: 800 }, () => quantile(SKEWED, random.uniform())),
    );
    const done = early.calibrate({ 'input:rsi_14': perSymbol });
    expect(done).toMatchObject([{ key: 'input:rsi_14', symbols: 3, values: 2_400, source: 'history' }]);
    expect(early.status().find((r) => r.key === 'input:rsi_14' && r.detector === 'ks')?.state).toBe(
      'warming',
    );
    expect(() => early.calibrate({ 'input:rsi_14': perSymbol })).toThrow(/already calibrated/);
    expect(() => early.calibrate({ 'input:nope': perSymbol })).toThrow(/history.input:nope/);
    expect(() => early.calibrate({ 'input:obv': new Float64Array(100) })).toThrow(/fewer than one KS window/);
  });

  it('sizes bootstrap blocks by volatility clustering and by oscillation, not by ρ₁ alone', () => {
    const random = new Random(23);
    // returns-like: no autocorrelation, volatility switching between calm and wild every ~60 values
    let wild = false;
    const clustered = Float64Array.from({ length: 5_000 }, () => {
      if (random.uniform() < 1 / 60) wild = !wild;
      return (wild ? 1.6 : 0.4) * random.normal();
    });
    // MACD-histogram-like: a noisy oscillation, autocorrelations swing negative
    const oscillating = Float64Array.from(
      { length: 5_000 },
      (_, t) => Math.sin((2 * Math.PI * t) / 40) + 0.3 * random.normal(),
    );
    const independent = Float64Array.from({ length: 5_000 }, () => random.normal());
    const drift = build({ ...SMALL, ks: { window: 400, minCount: 200, every: 20 } });
    const done = drift.calibrate({
      'input:returns': clustered,
      'input:rsi_14': oscillating,
      'input:obv': independent,
    });
    const byKey = Object.fromEntries(done.map((c) => [c.key, c]));
    expect(Math.abs(byKey['input:returns']!.rho1)).toBeLessThan(0.05);
    expect(byKey['input:returns']!.blockLength).toBeGreaterThan(10);
    expect(byKey['input:rsi_14']).toMatchObject({ blockLength: 400, blockRule: 'window share' });
    expect(byKey['input:obv']).toMatchObject({ blockLength: 1, blockRule: 'automatic' });
  });

  it('continues from snapshot → JSON → restore exactly as an uninterrupted run', () => {
    const symbols = 3;
    const total = 7_200;
    /** calls k in [from, to): bar ⌊k/3⌋ of symbol k mod 3; input 0 drifts from call 4,500 on */
    const feedAll = (drift: ModelDrift, from: number, to: number, market: QuietMarket): void => {
      for (let k = from; k < to; k++) {
        const t = Math.floor(k / symbols);
        const shift = k >= 4_500 ? { series: 0, apply: (z: number) => z * 1.8 + 0.5 } : undefined;
        const feed = makeFeed(market, k % symbols, t, shift);
        if (t % 97 === 5) feed.vector.values[2] = Number.NaN;
        drift.onFeatures(feed.vector, feed.vector.ts);
        drift.onPrediction(feed.prediction, feed.vector.ts);
      }
    };
    const changes: DriftChange[] = [];
    const whole = build(SMALL, changes);
    feedAll(whole, 0, total, new QuietMarket(31, symbols, 0.6));
    // cut points: collecting; the call that filled the histories (calibrations waiting); calibrated; drifting
    const pendingAt: number[] = [];
    for (const cut of [900, 2_000, 2_001, 2_020, 3_600, 5_700]) {
      const resumedChanges: DriftChange[] = [];
      const first = build(SMALL, resumedChanges);
      const market = new QuietMarket(31, symbols, 0.6);
      feedAll(first, 0, cut, market);
      pendingAt.push(first.pendingCalibrations);
      const saved = JSON.parse(JSON.stringify(first.snapshot())) as unknown;
      const second = build(SMALL, resumedChanges);
      second.restore(saved);
      feedAll(second, cut, total, market);
      expect(second.snapshot()).toEqual(whole.snapshot());
      expect(second.status()).toEqual(whole.status());
      expect(resumedChanges).toEqual(changes);
    }
    expect(pendingAt.some((n) => n > 0)).toBe(true);
    expect(changes.some((c) => c.key === 'input:returns' && c.to === 'alert')).toBe(true);
  });

  it('refuses a bad spec or option with config_invalid naming the field', () => {
    const field = (make: () => unknown): string | undefined => {
      try {
        make();
      } catch (error) {
        expect(error).toBeInstanceOf(MlfpError);
        expect((error as MlfpError).code).toBe('config_invalid');
        return (error as MlfpError).field;
      }
      return undefined;
    };
    expect(field(() => build(SMALL, [], { model: '' }))).toBe('spec.model');
    expect(field(() => build(SMALL, [], { timeframe: '4h' as Timeframe }))).toBe('spec.timeframe');
    expect(field(() => build(SMALL, [], { inputs: ['returns', 'returns', 'obv'] }))).toBe('spec.inputs');
    expect(field(() => build(SMALL, [], { featureIndex: [0, 2] }))).toBe('spec.featureIndex');
    expect(field(() => build(SMALL, [], { featureIndex: [0, 2, 16] }))).toBe('spec.featureIndex[2]');
    expect(field(() => build(SMALL, [], { outputs: ['p_up', ''] }))).toBe('spec.outputs[1]');
    expect(
      field(() =>
        build(SMALL, [], {
          reference: {
            inputs: { returns: CENTRED, rsi_14: { edges: [0, 1, 2], proportions: [0.5, 0.6] }, obv: SKEWED },
            outputs: {},
          },
        }),
      ),
    ).toBe('spec.reference.inputs.rsi_14.proportions');
    expect(field(() => build({ psi: { window: 1 } }))).toBe('psi.window');
    expect(field(() => build({ psi: { warn: 0.3, alert: 0.2 } }))).toBe('psi.alert');
    expect(field(() => build({ ks: { minCount: 2_000 } }))).toBe('ks.minCount');
    expect(field(() => build({ calibration: { values: 500 } }))).toBe('calibration.values');
    expect(field(() => build({ alarmsPerWeek: 0 }))).toBe('alarmsPerWeek');
    expect(field(() => build({ expectedSymbols: 1.5 }))).toBe('expectedSymbols');
    expect(
      field(() => new ModelDrift(spec(), {}, {} as unknown as ConstructorParameters<typeof ModelDrift>[2])),
    ).toBe('dependencies.random');
  });

  it('refuses a snapshot of another configuration or a damaged one, and stays unchanged', () => {
    const drift = build();
    run(drift, new QuietMarket(9, 2, 0), 0, 300);
    const before = drift.snapshot();
    const other = build({ ...SMALL, alarmsPerWeek: 2 });
    expect(() => other.restore(before)).toThrow(/configuration/);
    const damaged = JSON.parse(JSON.stringify(before)) as { series: Array<{ history: number[] }> };
    damaged.series[1]!.history[3] = Number.NaN;
    const fresh = build();
    expect(() => fresh.restore(JSON.parse(JSON.stringify(damaged)))).toThrow(/history/);
    expect(fresh.snapshot().series.map((s) => s.seq)).toEqual([0, 0, 0, 0]);
  });

  it('bootstraps bins with the same √n·D as KsReference.statistic of the values', () => {
    const binned = new BinnedReference(CENTRED);
    const reference = KsReference.fromHistogram(binned);
    const random = new Random(17);
    const counts = new Int32Array(binned.bins);
    for (const [n, shift] of [
      [10, 0],
      [400, 0.3],
      [1_000, -1],
    ] as const) {
      const values = Float64Array.from({ length: n }, () => Math.round((random.normal() + shift) * 4) / 4);
      const bins = Float64Array.from(values, (x) => binned.binOf(x));
      expect(scaledHistogramDistance(bins, counts, reference.weights)).toBe(
        reference.statistic(values) * reference.scale(n),
      );
    }
  });

  it('budgets per model: 24/7 bars × symbols / every evaluations a week, at least MIN_RUN_LENGTH between alarms', () => {
    const five = build({ ...SMALL, expectedSymbols: 10 });
    expect(five.budget.evaluationsPerWeek).toBeCloseTo((2_016 * 10) / 20, 9);
    expect(five.budget.ert).toBeCloseTo(five.budget.evaluationsPerWeek, 9);
    const daily = build(SMALL, [], { timeframe: '1d' });
    expect(daily.budget.evaluationsPerWeek).toBeCloseTo(7 / 20, 9);
    expect(daily.budget.ert).toBeCloseTo(20, 9);
    expect(daily.budget.alarmsPerWeek).toBeLessThan(daily.budget.requestedAlarmsPerWeek);
  });
});

describe('ModelDrift symbol sampling', () => {
  /** Bar t of symbol `name`: i.i.d. draws from the references (its own stream, so any subset sees the same values). */
  function feedOf(name: string, t: number): Feed {
    const random = new Random(symbolHash(name) ^ (t * 0x9e3779b1));
    const values = new Float64Array(FEATURE_COUNT).fill(Number.NaN);
    values[0] = quantile(CENTRED, random.uniform());
    values[2] = quantile(SKEWED, random.uniform());
    values[15] = quantile(SKEWED, random.uniform());
    const ts = Date.UTC(2024, 0, 1) + t * 300_000;
    return {
      vector: { symbol: name, timeframe: '5m', ts, revision: 0, close: 100, values },
      prediction: {
        symbol: name,
        timeframe: '5m',
        ts,
        model: 'demo',
        version: '1.0.0',
        kind: 'classifier',
        output: { label: 'up', p_up: quantile(PROBABILITY, random.uniform()) },
        latencyMs: 1,
      },
    };
  }

  function feed(drift: ModelDrift, names: readonly string[], t: number): void {
    for (const name of names) {
      const { vector, prediction } = feedOf(name, t);
      drift.onFeatures(vector, vector.ts);
      drift.onPrediction(prediction, vector.ts);
    }
  }

  const admittedOf = (drift: ModelDrift): string[] =>
    drift
      .snapshot()
      .symbols.filter((s) => s.admitted)
      .map((s) => s.symbol)
      .sort();

  const byRank = (a: string, b: string): number => symbolHash(a) - symbolHash(b) || (a < b ? -1 : 1);
  /** The k names of lowest (hash, name), sorted by name: what a sample of k must hold once it saw `seen`. */
  const lowest = (seen: readonly string[], k: number): string[] => [...seen].sort(byRank).slice(0, k).sort();

  const NAMES = Array.from({ length: 300 }, (_, i) => `SYM${i}`);
  const SAMPLED: ModelDriftOptions = { ...SMALL, maxSymbols: 40 };

  it('hashes a symbol with FNV-1a and a MurmurHash3 finaliser (pinned: another hash moves every sample)', () => {
    expect([symbolHash(''), symbolHash('BTCUSDT'), symbolHash('SYM1')]).toEqual([
      0xab3e7c0b, 0x7158ddb, 0x8dfab239,
    ]);
    // similar names spread over the whole range
    const lowHalf = NAMES.filter((name) => symbolHash(name) < 2 ** 31).length;
    expect(lowHalf).toBeGreaterThan(120);
    expect(lowHalf).toBeLessThan(180);
  });

  it('admits the maxSymbols symbols of lowest hash whatever the arrival order; a symbol out stays out', () => {
    const interleaved = [...NAMES.filter((_, i) => i % 2 === 1), ...NAMES.filter((_, i) => i % 2 === 0)];
    const samples = [NAMES, [...NAMES].reverse(), interleaved].map((order) => {
      const drift = build(SAMPLED);
      let out = new Set<string>();
      for (let seen = 25; seen <= order.length; seen += 25) {
        feed(drift, order.slice(seen - 25, seen), 0);
        const admitted = admittedOf(drift);
        expect(admitted).toEqual(lowest(order.slice(0, seen), 40));
        const nowOut = new Set(order.slice(0, seen).filter((name) => !admitted.includes(name)));
        for (const name of out) expect(nowOut.has(name)).toBe(true);
        out = nowOut;
      }
      // the next bar: values of the 40 only, one Map lookup for each of the 260 others' vector and prediction
      const before = drift.sampled.outOfSample;
      const seq = drift.snapshot().series.map((s) => s.seq);
      feed(drift, order, 1);
      expect(drift.snapshot().series.map((s) => s.seq)).toEqual(seq.map((n) => n + 40));
      expect(drift.sampled.outOfSample - before).toBe(2 * 260);
      const { admitted, displaced, excluded } = drift.sampled;
      expect([admitted, displaced + excluded, excluded]).toEqual([40, 260, drift.snapshot().excluded.length]);
      return admittedOf(drift);
    });
    expect(samples[1]).toEqual(samples[0]);
    expect(samples[2]).toEqual(samples[0]);
  });

  it('feeds the detectors exactly as a model without sampling fed the sampled symbols only', () => {
    const order = [...NAMES].sort(byRank); // nothing displaced: the first 40 are the sample
    const sampled = build(SAMPLED);
    const alone = build({ ...SMALL, maxSymbols: 10_000 });
    for (let t = 0; t < 70; t++) {
      feed(sampled, order, t);
      feed(alone, order.slice(0, 40), t);
    }
    expect(sampled.calibrations().length).toBe(4);
    expect(sampled.status()).toEqual(alone.status());
    expect(sampled.calibrations()).toEqual(alone.calibrations());
    expect(sampled.snapshot().series).toEqual(alone.snapshot().series);
    expect(sampled.snapshot().symbols).toEqual(alone.snapshot().symbols);
    expect(sampled.sampled).toEqual({
      maxSymbols: 40,
      admitted: 40,
      displaced: 0,
      excluded: 260,
      outOfSample: 70 * 2 * 260,
    });
  });

  it('budgets the evaluations of the sampled symbols: bars × min(expectedSymbols, maxSymbols) / every', () => {
    const wide = build({ ...SMALL, expectedSymbols: 10_000, maxSymbols: 500 });
    expect(wide.budget.symbols).toBe(500);
    expect(wide.budget.evaluationsPerWeek).toBeCloseTo((2_016 * 500) / 20, 9);
    expect(wide.budget).toEqual({ ...build({ ...SMALL, expectedSymbols: 500 }).budget });
    const narrow = build({ ...SMALL, expectedSymbols: 100, maxSymbols: 500 });
    expect(narrow.budget.symbols).toBe(100);
    expect(narrow.budget.evaluationsPerWeek).toBeCloseTo((2_016 * 100) / 20, 9);
    expect(build({ ...SMALL, expectedSymbols: 10_000 }).budget.symbols).toBe(500); // the default maxSymbols
    expect(() => build({ ...SMALL, maxSymbols: 0 })).toThrow(
      expect.objectContaining({ field: 'maxSymbols' }),
    );
  });

  it('continues from snapshot → JSON → restore with the same sample, later displacements included', () => {
    // symbols keep arriving: 20 at bar 0, 10 more each bar, so the sample displaces members after every cut
    const arrived = (t: number): string[] => NAMES.slice(0, Math.min(NAMES.length, 20 + 10 * t));
    const bars = 60;
    const whole = build(SAMPLED);
    for (let t = 0; t < bars; t++) feed(whole, arrived(t), t);
    expect(whole.sampled.displaced).toBeGreaterThan(0);
    for (const cut of [1, 4, 12, 40]) {
      const first = build(SAMPLED);
      for (let t = 0; t < cut; t++) feed(first, arrived(t), t);
      const second = build(SAMPLED);
      second.restore(JSON.parse(JSON.stringify(first.snapshot())));
      expect(second.sampled).toEqual(first.sampled);
      for (let t = cut; t < bars; t++) feed(second, arrived(t), t);
      expect(second.snapshot()).toEqual(whole.snapshot());
      expect(second.sampled).toEqual(whole.sampled);
      expect(second.status()).toEqual(whole.status());
    }
  });

  it('refuses a snapshot whose sample is not the lowest hashes of the symbols it saw', () => {
    const drift = build(SAMPLED);
    for (let t = 0; t < 3; t++) feed(drift, NAMES.slice(0, 100), t);
    const good = drift.snapshot();
    const member = good.symbols.findIndex((s) => s.admitted);
    const displaced = good.symbols.findIndex((s) => !s.admitted);
    expect(displaced).toBeGreaterThanOrEqual(0);
    const top = lowest(NAMES.slice(0, 100), 40).sort(byRank).at(-1)!;
    let newcomer = 'NEW0';
    for (let i = 1; byRank(newcomer, top) > 0; i++) newcomer = `NEW${i}`;
    const cases: Array<[string, (s: ModelDriftSnapshot) => void]> = [
      ['symbols', (s) => (s.symbols[displaced]!.admitted = true)], // 41 members
      ['symbols', (s) => (s.symbols[member]!.admitted = false)], // 39: a symbol out would be in
      ['excluded', (s) => s.excluded.push(good.symbols[member]!.symbol)],
      ['excluded', (s) => s.excluded.push(newcomer)], // a symbol the sample would admit
    ];
    for (const [field, corrupt] of cases) {
      const bad = JSON.parse(JSON.stringify(good)) as ModelDriftSnapshot;
      corrupt(bad);
      const fresh = build(SAMPLED);
      expect(() => fresh.restore(bad), field).toThrow(
        expect.objectContaining({ code: 'snapshot_invalid', field }),
      );
      expect(fresh.sampled.admitted).toBe(0);
    }
  });
});
