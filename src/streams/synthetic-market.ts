// The embedded default source: a seeded synthetic market. Several symbols at different price scales follow
// geometric random walks whose volatility and drift switch between regimes (calm, volatile, trending up,
// trending down) as a Markov chain. Emits raw tick records shaped like the JSON messages on `market.ticks`
// (plus a small share of malformed ones), so the embedded graph validates exactly what Kafka would deliver.

import { Observable } from 'rxjs';
import type { SyntheticConfig } from '../config/schema.js';
import { parseTime } from '../domain/time.js';
import { MlfpError } from '../errors.js';
import { Random } from './random.js';

interface Regime {
  name: string;
  /** per-tick standard deviation of the log price, per sqrt(second of simulated time) */
  volatility: number;
  /** per-second drift of the log price */
  drift: number;
}

const REGIMES: readonly Regime[] = [
  { name: 'calm', volatility: 0.00012, drift: 0 },
  { name: 'volatile', volatility: 0.0005, drift: 0 },
  { name: 'trend-up', volatility: 0.0002, drift: 0.000004 },
  { name: 'trend-down', volatility: 0.0002, drift: -0.000004 },
];
/** chance per simulated second that a symbol leaves its regime */
const REGIME_SWITCH_PER_SECOND = 1 / 3_600;
const EXCHANGES = ['XNAS', 'XNYS', 'ARCX', 'BATS'];

/** One raw record as it would arrive in a JSON message (not yet validated). */
export interface RawTick {
  symbol: unknown;
  ts: unknown;
  price: unknown;
  size: unknown;
  bid?: unknown;
  ask?: unknown;
  exchange?: unknown;
  seq?: unknown;
}

interface SymbolState {
  symbol: string;
  logPrice: number;
  tickSize: number;
  lotSize: number;
  fractional: boolean;
  regime: number;
  seq: number;
  lastTs: number;
}

export class SyntheticMarket {
  private readonly random: Random;
  private readonly symbols: SymbolState[];
  private clockMs: number;
  private readonly meanGapMs: number;
  private readonly badTickRate: number;
  ticksGenerated = 0;

  constructor(config: SyntheticConfig) {
    this.random = new Random(config.seed);
    const start = parseTime(config.start);
    if (Number.isNaN(start)) {
      throw new MlfpError('config_invalid', `synthetic.start: not an ISO-8601 time`, {
        field: 'synthetic.start',
        value: config.start,
      });
    }
    this.clockMs = start;
    this.meanGapMs = config.meanTickIntervalMs / config.symbols.length;
    this.badTickRate = config.badTickRate;
    this.symbols = config.symbols.map((symbol) => {
      // price scales from cents to tens of thousands: 10^(0..4.5)
      const scale = Math.pow(10, this.random.uniform() * 4.5);
      const crypto = symbol.includes('-');
      return {
        symbol,
        logPrice: Math.log(symbol === 'BTC-USD' ? 42_000 : 5 + scale),
        tickSize: crypto ? 0.01 : scale < 1 ? 0.0001 : 0.01,
        lotSize: crypto ? 0.0001 : 1,
        fractional: crypto,
        regime: this.random.int(REGIMES.length),
        seq: 0,
        lastTs: start,
      };
    });
  }

  /** Current regime name of each symbol (for the progress line and tests). */
  regimes(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const s of this.symbols) out[s.symbol] = (REGIMES[s.regime] as Regime).name;
    return out;
  }

  /** The next raw tick. Event time never goes backwards. */
  next(): RawTick {
    const random = this.random;
    this.clockMs += random.exponential(this.meanGapMs);
    const state = this.symbols[random.int(this.symbols.length)] as SymbolState;
    const ts = Math.floor(this.clockMs);
    const elapsedSeconds = Math.max(ts - state.lastTs, 1) / 1000;
    state.lastTs = ts;
    if (random.uniform() < REGIME_SWITCH_PER_SECOND * elapsedSeconds)
      state.regime = random.int(REGIMES.length);
    const regime = REGIMES[state.regime] as Regime;
    state.logPrice +=
      regime.drift * elapsedSeconds + regime.volatility * Math.sqrt(elapsedSeconds) * random.normal();
    // keep prices sane over very long runs: weak pull towards the start level is not needed at these drifts,
    // but clamp the exponent so a runaway walk can't reach 0 or Infinity
    if (state.logPrice < -6) state.logPrice = -6;
    else if (state.logPrice > 14) state.logPrice = 14;
    const mid = Math.exp(state.logPrice);
    const ticks = Math.max(1, Math.round(mid / state.tickSize));
    const price = roundTo(ticks * state.tickSize, state.tickSize);
    const halfSpread = state.tickSize * (1 + random.int(3));
    const lots = Math.max(1, Math.round(Math.exp(3 + 1.2 * random.normal())));
    const size = state.fractional ? roundTo(lots * state.lotSize * 37, state.lotSize) : lots * state.lotSize;
    this.ticksGenerated++;
    state.seq++;
    const tick: RawTick = {
      symbol: state.symbol,
      ts,
      price,
      size,
      bid: roundTo(price - halfSpread, state.tickSize),
      ask: roundTo(price + halfSpread, state.tickSize),
      exchange: EXCHANGES[state.seq & 3],
      seq: state.seq,
    };
    if (this.badTickRate > 0 && random.uniform() < this.badTickRate) return this.corrupt(tick);
    return tick;
  }

  /** Turns a tick into one of the malformed records real feeds deliver. */
  private corrupt(tick: RawTick): RawTick {
    switch (this.random.int(6)) {
      case 0:
        return { ...tick, price: -Math.abs(Number(tick.price)) };
      case 1:
        return { ...tick, price: Number.NaN };
      case 2:
        return { ...tick, symbol: undefined };
      case 3:
        return { ...tick, ts: 'not-a-time' };
      case 4:
        return { ...tick, size: -1 };
      default:
        return { ...tick, price: 'abc' };
    }
  }
}

/** Rounds to a multiple of a decimal step (0.01, 0.0001…): integer steps divided by 1/step, which is exact
 *  to the nearest double of the decimal (17132 / 100 === 171.32). */
function roundTo(value: number, step: number): number {
  const inverse = Math.round(1 / step);
  return Math.round(value * inverse) / inverse;
}

/** Chunk size of the as-fast-as-possible mode: big enough to amortise scheduling, small enough for timers. */
const FAST_CHUNK = 4_096;
const PACED_INTERVAL_MS = 10;

/**
 * The synthetic market as an Observable of raw ticks. Unpaced (ticksPerSecond 0) it emits chunks back to back,
 * yielding to the event loop between chunks (setImmediate) so timers and I/O keep running; paced, it emits
 * ticksPerSecond/100 ticks every 10 ms. Completes after maxTicks (when > 0).
 */
export function syntheticTicks(
  config: SyntheticConfig,
  market = new SyntheticMarket(config),
): Observable<RawTick> {
  return new Observable<RawTick>((subscriber) => {
    let emitted = 0;
    let immediate: NodeJS.Immediate | undefined;
    let interval: NodeJS.Timeout | undefined;
    let owed = 0;
    const limit = config.maxTicks > 0 ? config.maxTicks : Number.POSITIVE_INFINITY;
    const emit = (count: number): void => {
      const end = Math.min(limit, emitted + count);
      while (emitted < end && !subscriber.closed) {
        subscriber.next(market.next());
        emitted++;
      }
      if (emitted >= limit) subscriber.complete();
    };
    if (config.ticksPerSecond === 0) {
      const loop = (): void => {
        emit(FAST_CHUNK);
        if (!subscriber.closed) immediate = setImmediate(loop);
      };
      immediate = setImmediate(loop);
    } else {
      const perInterval = (config.ticksPerSecond * PACED_INTERVAL_MS) / 1000;
      interval = setInterval(() => {
        owed += perInterval;
        const count = Math.floor(owed);
        owed -= count;
        emit(count);
      }, PACED_INTERVAL_MS);
    }
    return () => {
      if (immediate !== undefined) clearImmediate(immediate);
      if (interval !== undefined) clearInterval(interval);
    };
  });
}
