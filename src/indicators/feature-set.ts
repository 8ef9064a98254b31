// All 16 FEATURE_COLUMNS for one symbol at one timeframe, fused into one state machine: one Float64Array
// holds the rings (closes, volumes, log returns, 21 slots each, one shared head) that serve SMA, Bollinger,
// momentum, volume MA and HV. Same arithmetic as the single indicators: the tests hold both to bit identity.

import { FEATURE_COUNT } from '../domain/types.js';
import { MlfpError } from '../errors.js';
import { checkAdjustmentFactors } from './adjustment.js';
import { trueRange } from './atr.js';
import { TA_EPSILON } from './parameters.js';
import { pushRollingVariance, ROLLING_VARIANCE_STATS } from './rolling-variance.js';
import { encodeNumber, encodeNumbers, SnapshotReader, type SnapshotNumber } from './snapshot-codec.js';

/** Column positions in `out`, in FEATURE_COLUMNS order. */
const RETURNS = 0;
const LOG_RETURNS = 1;
const RSI = 2;
const MACD = 3;
const MACD_SIGNAL = 4;
const MACD_HISTOGRAM = 5;
const MOMENTUM = 6;
const SMA = 7;
const EMA = 8;
const BB_UPPER = 9;
const BB_MIDDLE = 10;
const BB_LOWER = 11;
const ATR = 12;
const HISTORICAL_VOLATILITY = 13;
const VOLUME_MA = 14;
const OBV = 15;

const RSI_PERIOD = 14;
const MACD_FAST = 12;
const MACD_SLOW = 26;
const MACD_SIGNAL_PERIOD = 9;
const MOMENTUM_PERIOD = 14;
const SMA_PERIOD = 20;
const EMA_PERIOD = 50;
const BB_DEVIATIONS = 2;
const ATR_PERIOD = 14;
const HV_PERIOD = 21;

/** For each column, the index of the first bar with a value (TA-Lib's lookback); NaN before it. */
export const FEATURE_WARM_UP: readonly number[] = [
  1, // returns
  1, // log_returns
  RSI_PERIOD,
  MACD_SLOW + MACD_SIGNAL_PERIOD - 2,
  MACD_SLOW + MACD_SIGNAL_PERIOD - 2,
  MACD_SLOW + MACD_SIGNAL_PERIOD - 2,
  MOMENTUM_PERIOD,
  SMA_PERIOD - 1,
  EMA_PERIOD - 1,
  SMA_PERIOD - 1,
  SMA_PERIOD - 1,
  SMA_PERIOD - 1,
  ATR_PERIOD,
  HV_PERIOD,
  SMA_PERIOD - 1,
  0, // obv
];

/** Bars after which every column has a value. */
export const FEATURE_SET_WARM_UP = Math.max(...FEATURE_WARM_UP);

/** Every ring holds the last 21 values: HV needs 21 log returns, SMA/Bollinger 20 closes, momentum 15. */
const RING = HV_PERIOD;
const CLOSES = 0;
const VOLUMES = RING;
const LOG_RETURN_RING = 2 * RING;
/** rolling mean/M2 of the log returns (see rolling-variance.ts) */
const LOG_RETURN_STATS = 3 * RING;
/** State before the latest bar, for replaceLast: the scalar fields, the log-return statistics, then the 3
 *  ring slots that bar overwrote. */
const UNDO = LOG_RETURN_STATS + ROLLING_VARIANCE_STATS;
const UNDO_SCALARS = 12;
const UNDO_STATS = UNDO + UNDO_SCALARS;
const UNDO_CLOSE = UNDO_STATS + ROLLING_VARIANCE_STATS;
const UNDO_VOLUME = UNDO_CLOSE + 1;
const UNDO_LOG_RETURN = UNDO_CLOSE + 2;
const STATE_LENGTH = UNDO_LOG_RETURN + 1;

const EMA_K = 2 / (EMA_PERIOD + 1);
const MACD_FAST_K = 2 / (MACD_FAST + 1);
const MACD_SLOW_K = 2 / (MACD_SLOW + 1);
const MACD_SIGNAL_K = 2 / (MACD_SIGNAL_PERIOD + 1);
const MACD_FAST_SEED_START = MACD_SLOW - MACD_FAST;
const MACD_SEED_BAR = MACD_SLOW - 1;
const MACD_SIGNAL_SEED_BAR = MACD_SLOW + MACD_SIGNAL_PERIOD - 2;
/** ring offsets, from the current slot, of close[t−19] (SMA's oldest) and close[t−14] (momentum's base) */
const SMA_OLDEST_OFFSET = RING - SMA_PERIOD + 1;
const MOMENTUM_OFFSET = RING - MOMENTUM_PERIOD;
const MAX_PERIODS_PER_YEAR = 1e9;

function isPositivePrice(open: number, high: number, low: number, close: number): boolean {
  return (
    open > 0 &&
    high > 0 &&
    low > 0 &&
    close > 0 &&
    open < Infinity &&
    high < Infinity &&
    low < Infinity &&
    close < Infinity
  );
}

/** Throws the MlfpError naming the first bad field of a bar refused by isPositivePrice or the volume check. */
function rejectBar(open: number, high: number, low: number, close: number, volume: number): never {
  for (const [field, value] of [
    ['open', open],
    ['high', high],
    ['low', low],
    ['close', close],
  ] as const) {
    if (!Number.isFinite(value))
      throw new MlfpError('not_finite', `bar ${field} is not finite`, { field, value });
    if (value <= 0)
      throw new MlfpError('non_positive_price', `bar ${field} must be positive`, { field, value });
  }
  if (!Number.isFinite(volume))
    throw new MlfpError('not_finite', 'bar volume is not finite', { field: 'volume', value: volume });
  throw new MlfpError('negative_size', 'bar volume must not be negative', { field: 'volume', value: volume });
}

export interface FeatureSetOptions {
  /** bars per year, to annualise historical_vol_21 (see PERIODS_PER_YEAR in domain/time.ts) */
  periodsPerYear: number;
}

export interface FeatureSetSnapshot {
  kind: 'feature-set';
  version: 1;
  periodsPerYear: number;
  barsSeen: number;
  previousClose: SnapshotNumber;
  closeSum: SnapshotNumber;
  closeSumOfSquares: SnapshotNumber;
  ema: SnapshotNumber;
  rsiGain: SnapshotNumber;
  rsiLoss: SnapshotNumber;
  macdFast: SnapshotNumber;
  macdSlow: SnapshotNumber;
  macdSignal: SnapshotNumber;
  atr: SnapshotNumber;
  obv: SnapshotNumber;
  volumeSum: SnapshotNumber;
  /** ring slots in storage order; slot barsSeen % 21 is the next to be written */
  closes: SnapshotNumber[];
  volumes: SnapshotNumber[];
  logReturns: SnapshotNumber[];
  /** rolling statistics of the log returns: mean, M2, peak M2, replacements since the exact re-sum */
  logReturnStatistics: SnapshotNumber[];
  /** state before the latest bar (for replaceLast) */
  undo: SnapshotNumber[];
}

export class FeatureSet {
  readonly periodsPerYear: number;
  private readonly annualiser: number;
  /** rings (closes, volumes, log returns) and the undo record; see the layout constants above */
  private readonly state = new Float64Array(STATE_LENGTH);
  private bars = 0;
  private head = 0;
  private previousClose = 0;
  /** SMA20 / Bollinger running sums of closes and their squares (TA-Lib: newest 19 between bars) */
  private closeSum = 0;
  private closeSumOfSquares = 0;
  /** EMA-like fields hold their seed sums during warm-up, as TA-Lib's own variables do */
  private ema = 0;
  private rsiGain = 0;
  private rsiLoss = 0;
  private macdFast = 0;
  private macdSlow = 0;
  private macdSignal = 0;
  private atr = 0;
  private obv = 0;
  private volumeSum = 0;

  constructor(options: FeatureSetOptions) {
    const { periodsPerYear } = options;
    if (!Number.isFinite(periodsPerYear) || periodsPerYear <= 0 || periodsPerYear > MAX_PERIODS_PER_YEAR)
      throw new MlfpError('bad_argument', 'periodsPerYear must be a positive finite number', {
        field: 'periodsPerYear',
        value: periodsPerYear,
      });
    this.periodsPerYear = periodsPerYear;
    this.annualiser = Math.sqrt(periodsPerYear);
  }

  /** Bars consumed so far (a replaceLast does not add one). */
  get barsSeen(): number {
    return this.bars;
  }

  /** True once every column has a value (after FEATURE_SET_WARM_UP bars). */
  get isStable(): boolean {
    return this.bars > FEATURE_SET_WARM_UP;
  }

  /**
   * Consumes one closed bar; writes the 16 values into out[0..16) in FEATURE_COLUMNS order (NaN in warm-up).
   * Throws MlfpError (not_finite, non_positive_price, negative_size, bad_argument) and changes nothing when
   * a price is not finite and positive, the volume not finite and ≥ 0, or out shorter than 16.
   */
  update(open: number, high: number, low: number, close: number, volume: number, out: Float64Array): void {
    if (out.length < FEATURE_COUNT)
      throw new MlfpError('bad_argument', `out must hold ${FEATURE_COUNT} values`, {
        field: 'out',
        value: out.length,
      });
    // one bad bar would poison the running sums for good, so it is refused before any state changes
    if (!isPositivePrice(open, high, low, close) || !(volume >= 0 && volume < Infinity))
      rejectBar(open, high, low, close, volume);
    const state = this.state;
    const bar = this.bars;
    const head = this.head;
    const previousClose = this.previousClose;
    this.saveUndo(head);
    state[CLOSES + head] = close;
    state[VOLUMES + head] = volume;

    let oldestSlot = head + SMA_OLDEST_OFFSET;
    if (oldestSlot >= RING) oldestSlot -= RING;

    // returns, log returns, historical volatility
    if (bar === 0) {
      out[RETURNS] = Number.NaN;
      out[LOG_RETURNS] = Number.NaN;
      out[HISTORICAL_VOLATILITY] = Number.NaN;
    } else {
      const ratio = close / previousClose;
      const logReturn = Math.log(ratio);
      out[RETURNS] = ratio - 1;
      out[LOG_RETURNS] = logReturn;
      const m2 = pushRollingVariance(
        state,
        LOG_RETURN_RING,
        LOG_RETURN_STATS,
        HV_PERIOD,
        head,
        bar - 1 < HV_PERIOD ? bar - 1 : HV_PERIOD,
        logReturn,
      );
      out[HISTORICAL_VOLATILITY] =
        bar >= HV_PERIOD ? this.annualiser * Math.sqrt(m2 / (HV_PERIOD - 1)) : Number.NaN;
    }

    // RSI (Wilder)
    if (bar === 0) out[RSI] = Number.NaN;
    else {
      const change = close - previousClose;
      if (bar > RSI_PERIOD) {
        this.rsiGain *= RSI_PERIOD - 1;
        this.rsiLoss *= RSI_PERIOD - 1;
      }
      if (change < 0) this.rsiLoss -= change;
      else this.rsiGain += change;
      if (bar < RSI_PERIOD) out[RSI] = Number.NaN;
      else {
        this.rsiGain /= RSI_PERIOD;
        this.rsiLoss /= RSI_PERIOD;
        const total = this.rsiGain + this.rsiLoss;
        out[RSI] = total > -TA_EPSILON && total < TA_EPSILON ? 0 : 100 * (this.rsiGain / total);
      }
    }

    // MACD 12/26/9 with TA-Lib's alignment
    if (bar > MACD_SEED_BAR) {
      this.macdFast = (close - this.macdFast) * MACD_FAST_K + this.macdFast;
      this.macdSlow = (close - this.macdSlow) * MACD_SLOW_K + this.macdSlow;
    } else {
      this.macdSlow += close;
      if (bar >= MACD_FAST_SEED_START) this.macdFast += close;
      if (bar === MACD_SEED_BAR) {
        this.macdFast /= MACD_FAST;
        this.macdSlow /= MACD_SLOW;
      }
    }
    if (bar < MACD_SIGNAL_SEED_BAR) {
      if (bar >= MACD_SEED_BAR) this.macdSignal += this.macdFast - this.macdSlow;
      out[MACD] = out[MACD_SIGNAL] = out[MACD_HISTOGRAM] = Number.NaN;
    } else {
      const macd = this.macdFast - this.macdSlow;
      if (bar > MACD_SIGNAL_SEED_BAR)
        this.macdSignal = (macd - this.macdSignal) * MACD_SIGNAL_K + this.macdSignal;
      else this.macdSignal = (this.macdSignal + macd) / MACD_SIGNAL_PERIOD;
      out[MACD] = macd;
      out[MACD_SIGNAL] = this.macdSignal;
      out[MACD_HISTOGRAM] = macd - this.macdSignal;
    }

    // momentum: close[t] − close[t−14]
    if (bar >= MOMENTUM_PERIOD) {
      let baseSlot = head + MOMENTUM_OFFSET;
      if (baseSlot >= RING) baseSlot -= RING;
      out[MOMENTUM] = close - (state[CLOSES + baseSlot] as number);
    } else out[MOMENTUM] = Number.NaN;

    // SMA20, Bollinger(20, 2, 2), volume SMA20: add, divide, then drop the oldest
    this.closeSum += close;
    this.closeSumOfSquares += close * close;
    this.volumeSum += volume;
    if (bar >= SMA_PERIOD - 1) {
      const middle = this.closeSum / SMA_PERIOD;
      const meanOfSquares = this.closeSumOfSquares / SMA_PERIOD;
      const oldestClose = state[CLOSES + oldestSlot] as number;
      this.closeSum -= oldestClose;
      this.closeSumOfSquares -= oldestClose * oldestClose;
      const variance = meanOfSquares - middle * middle;
      const width = (variance < TA_EPSILON ? 0 : Math.sqrt(variance)) * BB_DEVIATIONS;
      out[SMA] = middle;
      out[BB_UPPER] = middle + width;
      out[BB_MIDDLE] = middle;
      out[BB_LOWER] = middle - width;
      out[VOLUME_MA] = this.volumeSum / SMA_PERIOD;
      this.volumeSum -= state[VOLUMES + oldestSlot] as number;
    } else out[SMA] = out[BB_UPPER] = out[BB_MIDDLE] = out[BB_LOWER] = out[VOLUME_MA] = Number.NaN;

    // EMA50
    if (bar >= EMA_PERIOD) {
      this.ema = (close - this.ema) * EMA_K + this.ema;
      out[EMA] = this.ema;
    } else {
      this.ema += close;
      if (bar === EMA_PERIOD - 1) {
        this.ema /= EMA_PERIOD;
        out[EMA] = this.ema;
      } else out[EMA] = Number.NaN;
    }

    // ATR14 (Wilder), from the first true range at bar 1
    if (bar === 0) out[ATR] = Number.NaN;
    else {
      const range = trueRange(high, low, previousClose);
      if (bar > ATR_PERIOD) {
        this.atr = (this.atr * (ATR_PERIOD - 1) + range) / ATR_PERIOD;
        out[ATR] = this.atr;
      } else {
        this.atr += range;
        if (bar === ATR_PERIOD) {
          this.atr /= ATR_PERIOD;
          out[ATR] = this.atr;
        } else out[ATR] = Number.NaN;
      }
    }

    // OBV, starting at the first volume
    if (bar === 0) this.obv = volume;
    else if (close > previousClose) this.obv += volume;
    else if (close < previousClose) this.obv -= volume;
    out[OBV] = this.obv;

    this.previousClose = close;
    this.bars = bar + 1;
    this.head = head + 1 === RING ? 0 : head + 1;
    // `open` is part of the bar contract but no TA-Lib column here reads it
    void open;
  }

  /**
   * Revises the most recent bar (a late tick changed it): state becomes as if that bar had been fed with
   * these values instead, and the new 16 values are written. Throws if no bar was fed yet.
   */
  replaceLast(
    open: number,
    high: number,
    low: number,
    close: number,
    volume: number,
    out: Float64Array,
  ): void {
    if (this.bars === 0) throw new MlfpError('snapshot_invalid', 'replaceLast: no bar has been fed yet');
    if (!isPositivePrice(open, high, low, close) || !(volume >= 0 && volume < Infinity))
      rejectBar(open, high, low, close, volume);
    const state = this.state;
    const head = this.head === 0 ? RING - 1 : this.head - 1;
    this.previousClose = state[UNDO] as number;
    this.closeSum = state[UNDO + 1] as number;
    this.closeSumOfSquares = state[UNDO + 2] as number;
    this.ema = state[UNDO + 3] as number;
    this.rsiGain = state[UNDO + 4] as number;
    this.rsiLoss = state[UNDO + 5] as number;
    this.macdFast = state[UNDO + 6] as number;
    this.macdSlow = state[UNDO + 7] as number;
    this.macdSignal = state[UNDO + 8] as number;
    this.atr = state[UNDO + 9] as number;
    this.obv = state[UNDO + 10] as number;
    this.volumeSum = state[UNDO + 11] as number;
    state[CLOSES + head] = state[UNDO_CLOSE] as number;
    state[VOLUMES + head] = state[UNDO_VOLUME] as number;
    state[LOG_RETURN_RING + head] = state[UNDO_LOG_RETURN] as number;
    for (let i = 0; i < ROLLING_VARIANCE_STATS; i++)
      state[LOG_RETURN_STATS + i] = state[UNDO_STATS + i] as number;
    this.head = head;
    this.bars--;
    this.update(open, high, low, close, volume, out);
  }

  /**
   * Back-adjusts live state for a split or dividend (prices × priceFactor, volumes × volumeFactor), as if
   * all history had been adjusted. The undo record is rescaled too, so a later replaceLast takes new-scale
   * prices.
   */
  adjust(priceFactor: number, volumeFactor: number): void {
    checkAdjustmentFactors(priceFactor, volumeFactor);
    const state = this.state;
    this.previousClose *= priceFactor;
    this.closeSum *= priceFactor;
    this.closeSumOfSquares *= priceFactor * priceFactor;
    this.ema *= priceFactor;
    this.rsiGain *= priceFactor;
    this.rsiLoss *= priceFactor;
    this.macdFast *= priceFactor;
    this.macdSlow *= priceFactor;
    this.macdSignal *= priceFactor;
    this.atr *= priceFactor;
    this.obv *= volumeFactor;
    this.volumeSum *= volumeFactor;
    for (let i = 0; i < RING; i++) {
      state[CLOSES + i] = (state[CLOSES + i] as number) * priceFactor;
      state[VOLUMES + i] = (state[VOLUMES + i] as number) * volumeFactor;
    }
    // undo scalars in saveUndo order: 0..9 price-scaled except 2 (squares), 10..11 volume-scaled
    for (let i = 0; i < 10; i++) state[UNDO + i] = (state[UNDO + i] as number) * priceFactor;
    state[UNDO + 2] = (state[UNDO + 2] as number) * priceFactor;
    state[UNDO + 10] = (state[UNDO + 10] as number) * volumeFactor;
    state[UNDO + 11] = (state[UNDO + 11] as number) * volumeFactor;
    state[UNDO_CLOSE] = (state[UNDO_CLOSE] as number) * priceFactor;
    state[UNDO_VOLUME] = (state[UNDO_VOLUME] as number) * volumeFactor;
  }

  reset(): void {
    this.state.fill(0);
    this.bars = 0;
    this.head = 0;
    this.previousClose = 0;
    this.closeSum = 0;
    this.closeSumOfSquares = 0;
    this.ema = 0;
    this.rsiGain = 0;
    this.rsiLoss = 0;
    this.macdFast = 0;
    this.macdSlow = 0;
    this.macdSignal = 0;
    this.atr = 0;
    this.obv = 0;
    this.volumeSum = 0;
  }

  snapshot(): FeatureSetSnapshot {
    const state = this.state;
    return {
      kind: 'feature-set',
      version: 1,
      periodsPerYear: this.periodsPerYear,
      barsSeen: this.bars,
      previousClose: encodeNumber(this.previousClose),
      closeSum: encodeNumber(this.closeSum),
      closeSumOfSquares: encodeNumber(this.closeSumOfSquares),
      ema: encodeNumber(this.ema),
      rsiGain: encodeNumber(this.rsiGain),
      rsiLoss: encodeNumber(this.rsiLoss),
      macdFast: encodeNumber(this.macdFast),
      macdSlow: encodeNumber(this.macdSlow),
      macdSignal: encodeNumber(this.macdSignal),
      atr: encodeNumber(this.atr),
      obv: encodeNumber(this.obv),
      volumeSum: encodeNumber(this.volumeSum),
      closes: encodeNumbers(state, CLOSES, CLOSES + RING),
      volumes: encodeNumbers(state, VOLUMES, VOLUMES + RING),
      logReturns: encodeNumbers(state, LOG_RETURN_RING, LOG_RETURN_RING + RING),
      logReturnStatistics: encodeNumbers(state, LOG_RETURN_STATS, LOG_RETURN_STATS + ROLLING_VARIANCE_STATS),
      undo: encodeNumbers(state, UNDO, STATE_LENGTH),
    };
  }

  /** Rebuilds a FeatureSet from `snapshot()` output (after a JSON round trip); throws MlfpError('snapshot_invalid'). */
  static restore(snapshot: unknown): FeatureSet {
    const reader = new SnapshotReader(snapshot, 'feature-set', 1);
    const features = new FeatureSet({
      periodsPerYear: reader.finite('periodsPerYear', Number.MIN_VALUE, MAX_PERIODS_PER_YEAR),
    });
    features.bars = reader.integer('barsSeen', 0);
    features.head = features.bars % RING;
    features.previousClose = reader.number('previousClose');
    features.closeSum = reader.number('closeSum');
    features.closeSumOfSquares = reader.number('closeSumOfSquares');
    features.ema = reader.number('ema');
    features.rsiGain = reader.number('rsiGain');
    features.rsiLoss = reader.number('rsiLoss');
    features.macdFast = reader.number('macdFast');
    features.macdSlow = reader.number('macdSlow');
    features.macdSignal = reader.number('macdSignal');
    features.atr = reader.number('atr');
    features.obv = reader.number('obv');
    features.volumeSum = reader.number('volumeSum');
    reader.numbers('closes', RING, features.state, CLOSES);
    reader.numbers('volumes', RING, features.state, VOLUMES);
    reader.numbers('logReturns', RING, features.state, LOG_RETURN_RING);
    reader.numbers('logReturnStatistics', ROLLING_VARIANCE_STATS, features.state, LOG_RETURN_STATS);
    reader.numbers('undo', STATE_LENGTH - UNDO, features.state, UNDO);
    return features;
  }

  private saveUndo(head: number): void {
    const state = this.state;
    state[UNDO] = this.previousClose;
    state[UNDO + 1] = this.closeSum;
    state[UNDO + 2] = this.closeSumOfSquares;
    state[UNDO + 3] = this.ema;
    state[UNDO + 4] = this.rsiGain;
    state[UNDO + 5] = this.rsiLoss;
    state[UNDO + 6] = this.macdFast;
    state[UNDO + 7] = this.macdSlow;
    state[UNDO + 8] = this.macdSignal;
    state[UNDO + 9] = this.atr;
    state[UNDO + 10] = this.obv;
    state[UNDO + 11] = this.volumeSum;
    state[UNDO_CLOSE] = state[CLOSES + head] as number;
    state[UNDO_VOLUME] = state[VOLUMES + head] as number;
    state[UNDO_LOG_RETURN] = state[LOG_RETURN_RING + head] as number;
    for (let i = 0; i < ROLLING_VARIANCE_STATS; i++)
      state[UNDO_STATS + i] = state[LOG_RETURN_STATS + i] as number;
  }
}
