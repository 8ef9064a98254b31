// Warm-up from stored bars: symbols a partition has no feature state for get their recent bars (one query per
// timeframe for all new symbols of a batch) before their first tick is fed. A failed warm-up starts them cold.

import type { KafkaMessage } from 'kafkajs';
import { SessionCalendar } from '../../bars/session-calendar.js';
import { retry } from '../../domain/backoff.js';
import { parseTime } from '../../domain/time.js';
import { TIMEFRAMES, type Bar, type Timeframe } from '../../domain/types.js';
import { DEFAULT_SYMBOL_PATTERN, readNumber } from '../../domain/validate-tick.js';
import type { BarHistory } from '../../sinks/sink.js';
import { isDecodeFailure } from '../decode.js';
import { ENGINE_EVENTS } from '../engine-events.js';
import type { PartitionWorker } from '../partition-worker.js';
import type { FlowControl } from './backpressure.js';
import { BACKOFF, delay, isKafkaJsError, type EngineContext } from './engine-context.js';

const WARM_UP_ATTEMPTS = 3;

export class BarWarmUp {
  private readonly calendar: SessionCalendar;

  constructor(
    private readonly context: EngineContext,
    private readonly flow: FlowControl,
    private readonly history: BarHistory | undefined,
  ) {
    this.calendar = new SessionCalendar(context.config.bars.session);
  }

  /** a bar history is there and warm-up asks for bars */
  get enabled(): boolean {
    return this.history !== undefined && this.context.config.delivery.warmUpBars > 0;
  }

  /**
   * Symbols this partition has no feature state for are warmed up from stored bars before their first tick
   * is fed: one query per timeframe for all new symbols of the batch, bars before the earliest of their
   * first ticks. Only ticks that look valid count, so junk cannot make the engine query at will.
   */
  async warmUp(
    worker: PartitionWorker,
    messages: readonly KafkaMessage[],
    values: readonly unknown[],
    heartbeat: () => Promise<void>,
  ): Promise<void> {
    let firstTs: Map<string, number> | undefined;
    const next = worker.nextOffset;
    for (let index = 0; index < messages.length; index++) {
      const value = values[index];
      if (isDecodeFailure(value) || (next !== undefined && Number(messages[index]!.offset) < next)) continue;
      const record = value as Record<string, unknown>;
      const symbol = record.symbol;
      if (typeof symbol !== 'string' || worker.knownSymbols.has(symbol) || firstTs?.has(symbol)) continue;
      if (!DEFAULT_SYMBOL_PATTERN.test(symbol)) continue;
      const ts = parseTime(record.ts);
      const price = readNumber(record.price);
      if (Number.isNaN(ts) || !(typeof price === 'number' && price > 0)) continue;
      (firstTs ??= new Map()).set(symbol, ts);
    }
    if (firstTs === undefined) return;
    let earliest = Number.POSITIVE_INFINITY;
    for (const ts of firstTs.values()) if (ts < earliest) earliest = ts;
    const symbols = [...firstTs.keys()];
    const history = this.history!;
    const count = this.context.config.delivery.warmUpBars;
    let bars: Bar[] = [];
    try {
      const perTimeframe = await retry(
        () =>
          this.flow.withHeartbeat(
            Promise.all(
              TIMEFRAMES.map((tf) => history.recentBars(symbols, tf, this.barStartOf(earliest, tf), count)),
            ),
            heartbeat,
            'the bar history (warm-up)',
          ),
        {
          schedule: BACKOFF,
          maxAttempts: WARM_UP_ATTEMPTS,
          isRetriable: (error) => !isKafkaJsError(error),
          shouldStop: () => !this.context.isActive(),
          sleep: delay,
          now: Date.now,
        },
      );
      bars = perTimeframe.flat();
    } catch (error) {
      if (isKafkaJsError(error)) throw error;
      this.context.emit(
        'warn',
        ENGINE_EVENTS.warning,
        `warm-up of ${symbols.length} symbols failed; they start cold`,
        {
          partition: worker.partition,
          error: (error as Error)?.message,
        },
      );
    }
    worker.warmUp(bars, symbols);
    this.context.emit(
      'debug',
      ENGINE_EVENTS.warmedUp,
      `partition ${worker.partition}: warmed ${symbols.length} symbols`,
      {
        partition: worker.partition,
        symbols: symbols.length,
        bars: bars.length,
      },
    );
  }

  /** Start of the bar of `tf` holding `ts`: warm-up bars end before it. */
  private barStartOf(ts: number, tf: Timeframe): number {
    const fiveMinutes = Math.floor(ts / 300_000) * 300_000;
    if (tf === '5m') return fiveMinutes;
    if (tf === '1h') return Math.floor(ts / 3_600_000) * 3_600_000;
    return this.calendar.locate(fiveMinutes) ? this.calendar.dayStartMs : fiveMinutes;
  }
}
