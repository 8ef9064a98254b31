// Engine counters: plain numbers bumped on the hot path (no events, no allocation), read by the progress
// line and by the Prometheus collector at scrape time. Timings (per prediction, per sink write, per broker
// request: never per tick) go to the histograms EngineMetrics connects, and nowhere when nothing is connected.

import { TIMEFRAME_MS } from '../domain/time.js';
import type { ErrorCode } from '../errors.js';
import type { Alert, Prediction, Timeframe } from '../domain/types.js';

/** Where timings go: EngineMetrics connects its histograms here. */
export interface EngineTimings {
  /** a published prediction's latencyMs, in seconds */
  predictionLatency(seconds: number): void;
  /** wall time of publication − the prediction's bar end (event time), in seconds, 0 when negative */
  barCloseToPrediction?(timeframe: Timeframe, seconds: number): void;
  /** wall time of publication − the newest tick event time seen (tickEventTime), in seconds, 0 when negative */
  tickToPrediction?(seconds: number): void;
  /** one flushed batch made durable by one sink */
  sinkWrite(sink: string, seconds: number): void;
  /** one request to a Kafka broker and its response (kafkajs' instrumentation `duration`), by API name */
  brokerRequest?(api: string, seconds: number): void;
}

/** Reports each assigned partition's lag (high watermark − next offset at its last batch). */
export type ConsumerLagReader = (report: (partition: number, lag: number) => void) => void;

export class EngineStats {
  ticks = 0;
  rejects = 0;
  readonly rejectsByReason = new Map<ErrorCode, number>();
  readonly bars: Record<Timeframe, number> = { '5m': 0, '1h': 0, '1d': 0 };
  barRevisions = 0;
  features = 0;
  predictions = 0;
  readonly predictionsByModel = new Map<string, number>();
  modelErrors = 0;
  /** writes that a sink rejected (a non-retriable failure, or closed while retrying), by sink */
  readonly sinkErrorsBySink = new Map<string, number>();
  /** the newest valid tick event time seen, epoch ms (−∞ before the first) */
  newestTickEventMs = Number.NEGATIVE_INFINITY;
  /** set by the Kafka engine: each partition's lag, read at scrape time */
  consumerLag: ConsumerLagReader | undefined = undefined;
  readonly startedAtMs: number;
  timings: EngineTimings | undefined = undefined;

  /** `wallClock`: when a prediction is published (for the event-time latencies), epoch ms */
  constructor(
    nowMs: number,
    private readonly wallClock: () => number = Date.now,
  ) {
    this.startedAtMs = nowMs;
  }

  /** A valid tick's event time: keeps the newest (a compare and a store; call it per tick, it allocates nothing). */
  tickEventTime(eventMs: number): void {
    if (eventMs > this.newestTickEventMs) this.newestTickEventMs = eventMs;
  }

  reject(reason: ErrorCode): void {
    this.rejects++;
    this.rejectsByReason.set(reason, (this.rejectsByReason.get(reason) ?? 0) + 1);
  }

  /**
   * A live prediction published to the outputs: the one place predictions are counted and timed. Its bar
   * (`ts`, `timeframe`) times bar close → publication; without them only latencyMs is observed.
   */
  prediction(
    prediction: Pick<Prediction, 'model' | 'latencyMs'> & Partial<Pick<Prediction, 'ts' | 'timeframe'>>,
  ): void {
    this.predictions++;
    this.predictionsByModel.set(prediction.model, (this.predictionsByModel.get(prediction.model) ?? 0) + 1);
    const timings = this.timings;
    if (timings === undefined) return;
    timings.predictionLatency(prediction.latencyMs / 1000);
    const { ts, timeframe } = prediction;
    if (ts === undefined || timeframe === undefined) return;
    const now = this.wallClock();
    timings.barCloseToPrediction?.(timeframe, Math.max(0, now - ts - TIMEFRAME_MS[timeframe]) / 1000);
    if (this.newestTickEventMs !== Number.NEGATIVE_INFINITY)
      timings.tickToPrediction?.(Math.max(0, now - this.newestTickEventMs) / 1000);
  }

  /** An alert published to the outputs: model_error alerts are the model errors counted. */
  alert(alert: Pick<Alert, 'type'>): void {
    if (alert.type === 'model_error') this.modelErrors++;
  }

  /** One sink made one flushed batch durable in `seconds`. */
  sinkWrite(sink: string, seconds: number): void {
    this.timings?.sinkWrite(sink, seconds);
  }

  /** One sink rejected a write (after its own retries, if the failure was retriable). */
  sinkError(sink: string): void {
    this.sinkErrorsBySink.set(sink, (this.sinkErrorsBySink.get(sink) ?? 0) + 1);
  }

  /** One Kafka request answered after `seconds` (per request, never per record). */
  brokerRequest(api: string, seconds: number): void {
    this.timings?.brokerRequest?.(api, seconds);
  }

  get barCount(): number {
    return this.bars['5m'] + this.bars['1h'] + this.bars['1d'];
  }
}

/** Builds progress lines: rates since the previous line, totals since the start. */
export class ProgressReporter {
  private lastTicks = 0;
  private lastAtMs: number;

  constructor(
    private readonly stats: EngineStats,
    nowMs: number,
  ) {
    this.lastAtMs = nowMs;
  }

  line(nowMs: number, extra = ''): string {
    const s = this.stats;
    const seconds = Math.max((nowMs - this.lastAtMs) / 1000, 1e-3);
    const rate = (s.ticks - this.lastTicks) / seconds;
    this.lastTicks = s.ticks;
    this.lastAtMs = nowMs;
    const uptime = ((nowMs - s.startedAtMs) / 1000).toFixed(0);
    const rejects =
      s.rejects === 0
        ? '0'
        : `${s.rejects} (${[...s.rejectsByReason].map(([reason, n]) => `${reason} ${n}`).join(', ')})`;
    return (
      `[${uptime}s] ${formatRate(rate)} ticks/s | ticks ${s.ticks} | bars 5m ${s.bars['5m']} 1h ${s.bars['1h']} ` +
      `1d ${s.bars['1d']} (revisions ${s.barRevisions}) | features ${s.features} | predictions ${s.predictions} | ` +
      `rejects ${rejects}${extra === '' ? '' : ` | ${extra}`}`
    );
  }
}

function formatRate(rate: number): string {
  if (rate >= 1e6) return `${(rate / 1e6).toFixed(2)}M`;
  if (rate >= 1e3) return `${(rate / 1e3).toFixed(1)}k`;
  return rate.toFixed(0);
}
