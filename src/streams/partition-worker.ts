// The state and graph of one input partition: decoded messages go into its input edge and run
// synchronously through the graph (src/streams/graph.ts: validate → bars → adjust → features, then an
// optional async stage such as scoring); the worker subscribes to the graph's one Output stream and puts every
// output into its outbox, which the delivery coordinator takes. The worker's snapshot (validator,
// aggregator, feature engine, corporate-action progress) plus its next offset is all a new owner needs.

import { asyncScheduler, Observable, type SchedulerLike, type Subscriber, type Subscription } from 'rxjs';
import type { BarAggregatorOptions } from '../bars/bar-aggregator.js';
import type { EventTimeGuardOptions } from '../bars/event-time-guard.js';
import type { Output } from '../domain/output.js';
import type {
  Alert,
  Bar,
  DeadLetter,
  FeatureVector,
  Prediction,
  SourceRef,
  Timeframe,
} from '../domain/types.js';
import type { TickValidatorOptions } from '../domain/validate-tick.js';
import { MlfpError } from '../errors.js';
import type { EngineStats } from '../monitoring/stats.js';
import type { ComputeFeaturesOptions } from '../operators/compute-features.js';
import type { CorporateActionSource } from '../operators/corporate-action-adjuster.js';
import type { TickEnvelope } from '../operators/validate-ticks.js';
import { emptyBatch, type OutputBatch } from '../sinks/sink.js';
import type { OutboxOwner } from './delivery-ports.js';
import type { DecodeFailure } from './decode.js';
import { DataQualityMonitor, type DataQualityOptions } from '../monitoring/data-quality.js';
import { historyGraph, StreamState, streamGraph, type LabelStage } from './graph.js';

/**
 * An asynchronous stage appended to the graph (scoring). `whenIdle` resolves once every vector it received
 * so far has produced its outputs: the worker awaits it before a snapshot, so the snapshot's offset covers
 * exactly what is in the outbox. Its own state, if any, travels in the partition snapshot.
 */
export interface AsyncStage {
  attach(vectors: Observable<FeatureVector>): Observable<Prediction | Alert>;
  whenIdle(): Promise<void>;
  snapshot?(): unknown;
  restore?(state: unknown): void;
}

export interface PartitionWorkerOptions {
  topic: string;
  partition: number;
  bars?: BarAggregatorOptions & { futureTime?: EventTimeGuardOptions };
  validator?: TickValidatorOptions;
  features?: ComputeFeaturesOptions;
  corporateActions?: CorporateActionSource;
  stats: EngineStats;
  /** builds this partition's async stage (one instance per worker), if the graph has one */
  createStage?: () => AsyncStage;
  /** per-partition data quality (reject shares per window → degraded health and system alerts) */
  dataQuality?: DataQualityOptions;
  /** told of each data-quality alert (firing, resolved) as it goes into the outbox, e.g. to log it */
  onDataQualityAlert?: (alert: Alert) => void;
  /** wall clock for the idle-close timer (tests pass a virtual one) */
  scheduler?: SchedulerLike;
  /**
   * sees every output before the outbox (the process-wide model monitor: drift, performance, alerts); called
   * synchronously, must not throw; returns true for an output it takes over (a raw model_error alert, which
   * the alert lifecycle turns into one firing and one resolved alert), which then stays out of the outbox
   */
  observe?: (output: Output) => boolean;
  /** builds this stream's label joiner (delayed-label performance); its state travels in the snapshot */
  createLabels?: () => LabelState;
}

/**
 * The process-wide model monitor's hooks into every stream: it sees each output (observe), gives each stream
 * a label joiner, and its own outputs (performance records, lifecycle alerts) ride with every flush from its
 * outbox (an owner without offsets).
 */
export interface MonitorHooks {
  observe: (output: Output) => boolean;
  createLabels?: () => LabelState;
  outbox: OutboxOwner;
}

/** A label joiner whose state travels in the partition snapshot, restored in place (the graph holds it). */
export interface LabelState extends LabelStage {
  snapshot(): unknown;
  /** throws MlfpError snapshot_invalid when the snapshot does not fit */
  restore(snapshot: unknown): void;
}

export interface PartitionWorkerSnapshot {
  kind: 'mlfp.partition-worker';
  version: 1;
  topic: string;
  partition: number;
  /** the next offset to read, decimal string */
  nextOffset: string;
  validator: unknown;
  /** the event-time guard and its held ticks (absent in snapshots of engines before it: nothing held) */
  guard?: unknown;
  aggregator: unknown;
  features: unknown;
  corporateActions: unknown;
  /** symbols whose feature state was warmed up (or found without history) */
  knownSymbols: string[];
  stage: unknown;
  /** the data-quality window and the reasons firing (absent in older snapshots: a fresh window) */
  quality?: unknown;
  /** pending and revisable labels (absent or null: none, e.g. monitoring off or an older engine) */
  labels?: unknown;
}

/**
 * The graph's input: one subscriber (the graph), fed by direct calls. An rxjs Subject would do, but its
 * next() allocates a closure and an iterator per message (rxjs 7's CommonJS build), on the hottest path.
 */
class InputEdge<T> {
  readonly observable: Observable<T>;
  private subscriber: Subscriber<T> | undefined;
  private completed = false;

  constructor() {
    this.observable = new Observable<T>((subscriber) => {
      if (this.completed) subscriber.complete();
      else this.subscriber = subscriber;
      return () => {
        if (this.subscriber === subscriber) this.subscriber = undefined;
      };
    });
  }

  next(value: T): void {
    this.subscriber?.next(value);
  }

  complete(): void {
    this.completed = true;
    this.subscriber?.complete();
  }
}

const TIMEFRAME_RANK: Readonly<Record<Timeframe, number>> = { '5m': 0, '1h': 1, '1d': 2 };

export class PartitionWorker {
  readonly topic: string;
  readonly partition: number;
  /** The offset after the last message fed (Kafka commit semantics); undefined before the first one. */
  nextOffset: number | undefined = undefined;
  /** Symbols warmed up from bar history (or found to have none): never queried again. */
  readonly knownSymbols = new Set<string>();
  private readonly state: StreamState;
  private readonly stage: AsyncStage | undefined;
  private readonly stats: EngineStats;
  private readonly input = new InputEdge<TickEnvelope>();
  private readonly subscription: Subscription;
  private outbox: OutputBatch = emptyBatch();
  private outboxRecords = 0;
  /** One envelope and one source reused for every message (the graph reads them synchronously). */
  private readonly envelope: TickEnvelope;
  private readonly source: SourceRef;
  private feeding = false;
  private failure: unknown = undefined;
  /** reject shares of this partition's input (src/monitoring/data-quality.ts) */
  readonly quality: DataQualityMonitor;
  private readonly scheduler: SchedulerLike;
  private readonly qualityAlerts: Alert[] = [];
  private readonly onDataQualityAlert: ((alert: Alert) => void) | undefined;
  private closed = false;

  constructor(options: PartitionWorkerOptions) {
    this.topic = options.topic;
    this.partition = options.partition;
    this.stats = options.stats;
    this.scheduler = options.scheduler ?? asyncScheduler;
    this.onDataQualityAlert = options.onDataQualityAlert;
    this.quality = new DataQualityMonitor(
      `source:${options.topic}[${options.partition}]`,
      options.dataQuality,
    );
    this.state = new StreamState({
      validator: options.validator,
      bars: options.bars,
      features: options.features,
      corporateActions: options.corporateActions,
      labels: options.createLabels?.(),
    });
    this.source = { topic: options.topic, partition: options.partition, offset: undefined };
    this.envelope = { value: undefined, source: this.source, original: undefined };
    this.stage = options.createStage?.();
    const stage = this.stage;
    const observe = options.observe ?? (() => false);
    // every output of the graph (its own and the stage's, counted in the graph) lands in the outbox
    this.subscription = streamGraph(this.input.observable, this.state, {
      stats: options.stats,
      scheduler: this.scheduler,
      score: stage === undefined ? undefined : (vectors) => stage.attach(vectors),
    }).subscribe({
      next:
        options.observe === undefined
          ? (output) => this.route(output)
          : (output) => {
              if (!observe(output)) this.route(output);
            },
      error: (error: unknown) => {
        this.failure = error;
      },
    });
  }

  /** Records waiting in the outbox. */
  get pendingRecords(): number {
    return this.outboxRecords;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Feeds one decoded message (offset as number and as kafkajs's string; no text for the embedded feed, whose
   * dead letters then carry no offset). Synchronous through validate, bars
   * and features. Throws the graph's error (a bug, never bad data) so the engine can stop.
   */
  feed(
    offset: number,
    offsetText: string | undefined,
    value: unknown,
    original: Uint8Array | undefined,
    key?: Uint8Array | null,
  ): void {
    this.source.offset = offsetText;
    this.envelope.value = value;
    this.envelope.key = key;
    this.envelope.original = original ?? undefined;
    this.feeding = true;
    this.input.next(this.envelope);
    this.feeding = false;
    this.envelope.value = undefined;
    this.envelope.original = undefined;
    this.envelope.key = undefined;
    this.nextOffset = offset + 1;
    if (this.quality.record()) this.closeQualityWindow();
    if (this.failure !== undefined) throw this.failure;
  }

  /** Dead-letters a message that could not be decoded, and moves past it. */
  reject(offset: number, offsetText: string, failure: DecodeFailure, original: Uint8Array | undefined): void {
    this.stats.ticks++;
    this.stats.reject(failure.reason);
    this.push({
      reason: failure.reason,
      field: failure.field,
      value: failure.value,
      message: failure.message,
      source: { topic: this.topic, partition: this.partition, offset: offsetText },
      original: original ?? undefined,
    });
    this.nextOffset = offset + 1;
    this.quality.reject(failure.reason);
    if (this.quality.record()) this.closeQualityWindow();
  }

  /** Data-quality alerts (system, firing/resolved) of the window just completed go out with the other outputs. */
  private closeQualityWindow(): void {
    const alerts = this.qualityAlerts;
    this.quality.closeWindow(this.scheduler.now(), alerts);
    for (const alert of alerts) {
      this.alert(alert);
      this.onDataQualityAlert?.(alert);
    }
    alerts.length = 0;
  }

  /**
   * Warms the feature state up from stored bars (any symbols and timeframes, latest revision each): fed in
   * end-time order, 5m before 1h before 1d, as the live graph would, so corporate actions apply in place.
   */
  warmUp(bars: readonly Bar[], symbols: Iterable<string>): void {
    const ordered = [...bars].sort(
      (a, b) => a.end - b.end || TIMEFRAME_RANK[a.timeframe] - TIMEFRAME_RANK[b.timeframe],
    );
    let failure: unknown;
    historyGraph(ordered, this.state).subscribe({
      next: (output) => this.route(output),
      error: (error: unknown) => {
        failure = error;
      },
    });
    if (failure !== undefined) throw failure;
    for (const symbol of symbols) this.knownSymbols.add(symbol);
  }

  /** Resolves when the async stage (if any) has emitted everything for the messages fed so far. */
  drain(): Promise<void> {
    return this.stage === undefined ? Promise.resolve() : this.stage.whenIdle();
  }

  /** Hands the outbox over (undefined when empty); the worker starts a new one. */
  takeOutbox(): OutputBatch | undefined {
    if (this.outboxRecords === 0) return undefined;
    const batch = this.outbox;
    this.outbox = emptyBatch();
    this.outboxRecords = 0;
    return batch;
  }

  /** The whole state as versioned JSON; call only at a barrier (after drain(), between messages). */
  snapshot(): PartitionWorkerSnapshot {
    if (this.nextOffset === undefined)
      throw new MlfpError(
        'internal',
        `partition ${this.partition}: no message processed, nothing to snapshot`,
      );
    return {
      kind: 'mlfp.partition-worker',
      version: 1,
      topic: this.topic,
      partition: this.partition,
      nextOffset: String(this.nextOffset),
      validator: this.state.validator.snapshot(),
      guard: this.state.guard.snapshot(),
      aggregator: this.state.aggregator.snapshot(),
      features: this.state.features.snapshot(),
      corporateActions: this.state.adjuster.snapshot(),
      knownSymbols: [...this.knownSymbols],
      stage: this.stage?.snapshot?.() ?? null,
      quality: this.quality.snapshot(),
      labels: (this.state.labels as LabelState | undefined)?.snapshot() ?? null,
    };
  }

  /**
   * Restores a snapshot of this topic-partition taken with the same bar and feature options; throws
   * MlfpError snapshot_invalid (leaving a worker that must not be used) when it does not fit.
   */
  restore(snapshot: unknown): void {
    const fail = (message: string): never => {
      throw new MlfpError('snapshot_invalid', `partition worker snapshot: ${message}`);
    };
    const candidate = snapshot as Partial<PartitionWorkerSnapshot> | null;
    if (typeof candidate !== 'object' || candidate === null) return fail('not an object');
    if (candidate.kind !== 'mlfp.partition-worker' || candidate.version !== 1)
      return fail(`unsupported kind/version ${String(candidate.kind)}/${String(candidate.version)}`);
    if (candidate.topic !== this.topic || candidate.partition !== this.partition)
      return fail(
        `taken for ${String(candidate.topic)}[${String(candidate.partition)}], not ${this.topic}[${this.partition}]`,
      );
    const nextOffset = Number(candidate.nextOffset);
    if (typeof candidate.nextOffset !== 'string' || !Number.isSafeInteger(nextOffset) || nextOffset < 0)
      return fail('nextOffset must be a decimal string of a safe integer >= 0');
    if (!Array.isArray(candidate.knownSymbols) || candidate.knownSymbols.some((s) => typeof s !== 'string'))
      return fail('knownSymbols must be an array of strings');
    this.state.validator.restore(candidate.validator);
    this.state.aggregator.restore(candidate.aggregator);
    if (candidate.guard === undefined) {
      // a snapshot from before the guard: its stream time is the aggregator's, nothing is held
      const maxEventTime = this.state.aggregator.maxEventTimeMs;
      this.state.guard.restore({
        version: 1,
        kind: 'mlfp.event-time-guard',
        toleranceMs: this.state.guard.toleranceMs,
        streamTimeMs: maxEventTime === Number.NEGATIVE_INFINITY ? null : maxEventTime,
        firstSymbol: null,
        multiSymbol: this.state.aggregator.symbolCount > 1,
        held: [],
      });
    } else this.state.guard.restore(candidate.guard);
    this.state.features.restore(candidate.features);
    this.state.adjuster.restore(candidate.corporateActions);
    if (this.stage?.restore !== undefined) this.stage.restore(candidate.stage);
    if (candidate.quality !== undefined) this.quality.restore(candidate.quality);
    // labels: restored when both the snapshot and this engine have them; otherwise a fresh joiner (or none)
    const labels = this.state.labels as LabelState | undefined;
    if (labels !== undefined && candidate.labels !== undefined && candidate.labels !== null)
      labels.restore(candidate.labels);
    this.knownSymbols.clear();
    for (const symbol of candidate.knownSymbols) this.knownSymbols.add(symbol);
    this.nextOffset = nextOffset;
  }

  /** Ends the input (an embedded feed that completed): the graph emits what it still holds (open bars). */
  end(): void {
    if (!this.closed) this.input.complete();
  }

  /** Stops the graph (and its idle timer) and drops the outbox. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.subscription.unsubscribe();
    this.input.complete();
    this.outbox = emptyBatch();
    this.outboxRecords = 0;
  }

  /** Corporate-action applications so far. */
  get corporateActionsApplied(): number {
    return this.state.adjuster.applied;
  }

  /** One output of the graph, into the outbox. */
  private route(output: Output): void {
    switch (output.kind) {
      case 'dead_letter':
        this.deadLetter(output.value);
        return;
      case 'bar':
        this.outbox.bars.push(output.value);
        break;
      case 'features':
        this.outbox.features.push(output.value);
        break;
      case 'prediction':
        this.outbox.predictions.push(output.value);
        break;
      case 'alert':
        this.outbox.alerts.push(output.value);
        break;
      case 'label':
        this.outbox.labels.push(output.value);
        break;
      case 'performance':
        this.outbox.performance.push(output.value);
        break;
    }
    this.outboxRecords++;
  }

  private deadLetter(letter: DeadLetter): void {
    this.quality.reject(letter.reason);
    // the reused source must not leak into a record that outlives this message
    if (letter.source === this.source) letter.source = { ...this.source };
    else if (letter.source === undefined && this.feeding) {
      // raised downstream of validation (late ticks, stale bars): the message in the envelope caused it (the
      // one being fed, or a held tick the event-time guard releases with its own source and bytes)
      const source = this.envelope.source;
      if (source !== undefined) letter.source = { ...source };
      if (letter.original === undefined) letter.original = this.envelope.original;
    }
    this.push(letter);
  }

  private alert(alert: Alert): void {
    this.outbox.alerts.push(alert);
    this.outboxRecords++;
  }

  private push(letter: DeadLetter): void {
    this.outbox.deadLetters.push(letter);
    this.outboxRecords++;
  }
}
