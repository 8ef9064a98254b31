// The two sources the composition root (app.ts) runs, behind one interface: the embedded synthetic market
// (LocalEngine: one partition worker, delivery into the in-memory store) and the Kafka engine (partition
// workers per assigned partition, delivery into the configured sinks). Each brings its health checks.

import type { Kafka } from 'kafkajs';
import type { EngineConfig } from '../config/schema.js';
import type { Alert } from '../domain/types.js';
import type { DependencyState, HealthCheck } from '../monitoring/metrics.js';
import type { EngineStats } from '../monitoring/stats.js';
import { KafkaSink } from '../sinks/kafka/kafka-sink.js';
import { LocalStoreSink } from '../sinks/memory/local-store-sink.js';
import { PostgresSink } from '../sinks/postgres/postgres-sink.js';
import { PostgresSnapshotStore } from '../sinks/postgres/postgres-snapshot-store.js';
import { RedisSink } from '../sinks/redis/redis-sink.js';
import { RedisSnapshotStore } from '../sinks/redis/redis-snapshot-store.js';
import type { BarHistory, Sink, SinkHealth, SnapshotStore } from '../sinks/sink.js';
import { KafkaEngine } from './engine.js';
import type { EngineEventListener } from './engine-events.js';
import { LocalEngine } from './local-engine.js';
import type { AsyncStage, MonitorHooks } from './partition-worker.js';
import { syntheticTicks } from './synthetic-market.js';

/** A running source of the app: started, awaited, stopped; what /readyz and the progress line read. */
export interface EngineSource {
  readonly kind: 'synthetic' | 'kafka';
  readonly sinks: readonly Sink[];
  readonly checks: readonly HealthCheck[];
  /** connects (Kafka: joins the group); rejects when it cannot start */
  start(): Promise<void>;
  /** resolves when the run ends ('input complete' or 'stopped'), rejects with the engine's failure */
  run(): Promise<'input complete' | 'stopped'>;
  /** graceful: what was read becomes durable (Kafka: final snapshots and commits) */
  stop(): void;
  /** now: the last commit stands (embedded: as stop) */
  abort(): void;
  /** the source's part of the progress line */
  progressExtra(): string;
}

/** What both sources share, built by the composition root. */
export interface SourceParts {
  stats: EngineStats;
  onEvent: EngineEventListener;
  createStage: (() => AsyncStage) | undefined;
  onDataQualityAlert: (alert: Alert) => void;
  /** the model monitor's hooks (absent: monitoring off) */
  monitor?: MonitorHooks;
}

const toDependencyState = (state: SinkHealth['state']): DependencyState => state;

/**
 * The embedded default: the synthetic market through the same worker and delivery as a Kafka partition, into
 * `sinks` (the in-memory store first).
 */
export function embeddedSource(
  config: EngineConfig,
  parts: SourceParts,
  sinks: readonly [LocalStoreSink, ...Sink[]],
): EngineSource {
  const engine = new LocalEngine({
    input: syntheticTicks(config.synthetic),
    sinks,
    stats: parts.stats,
    delivery: config.delivery,
    bars: config.bars,
    worker: {
      // no bars.maxClockSkewMs: the synthetic market's event time runs ahead of the wall clock by design
      validator: { numbersAsStrings: config.validation.numbersAsStrings },
      dataQuality: config.dataQuality,
      onDataQualityAlert: parts.onDataQualityAlert,
    },
    createStage: parts.createStage,
    monitor: parts.monitor,
    onEvent: parts.onEvent,
  });
  const checks: HealthCheck[] = [
    {
      name: 'source:synthetic',
      status: () => {
        const degraded = engine.quality.describe();
        return degraded === undefined
          ? { state: 'up' }
          : { state: 'degraded', detail: `input degraded: ${degraded}` };
      },
    },
    ...sinks.map((sink): HealthCheck => ({
      name: `sink:${sink.name}`,
      status: () => {
        const health = sink.health();
        return {
          state: toDependencyState(health.state),
          values: { pending_records: engine.delivery.pendingRecords, retries: health.retries },
        };
      },
    })),
  ];
  return {
    kind: 'synthetic',
    sinks,
    checks,
    start: () => Promise.resolve(),
    run: async () => ((await engine.run()) === 'complete' ? 'input complete' : 'stopped'),
    stop: () => engine.stop(),
    abort: () => engine.stop(),
    progressExtra: () => '',
  };
}

/** What tests replace in a Kafka run; by default everything is built from the config. */
export interface KafkaSourceDependencies {
  sinks?: Sink[];
  snapshotStore?: SnapshotStore;
  barHistory?: BarHistory;
}

/** The Kafka engine with the sinks and snapshot store the config names. */
export function kafkaSource(
  config: EngineConfig,
  parts: SourceParts,
  kafka: Kafka,
  deps: KafkaSourceDependencies = {},
  /** in-memory outputs beside the configured ones (the public API's store and hub) */
  extraSinks: readonly Sink[] = [],
): EngineSource {
  const configured = deps.sinks === undefined ? sinksFromConfig(config, kafka) : { sinks: deps.sinks };
  const built = { ...configured, sinks: [...configured.sinks, ...extraSinks] };
  const engine = new KafkaEngine(config, {
    sinks: built.sinks,
    snapshotStore: deps.snapshotStore ?? snapshotStoreFromConfig(config),
    barHistory: deps.barHistory ?? built.postgres,
    kafka,
    stats: parts.stats,
    onEvent: parts.onEvent,
    createStage: parts.createStage,
    monitor: parts.monitor,
  });
  const checks: HealthCheck[] = [
    {
      name: 'source:kafka',
      status: () => {
        const health = engine.health();
        const lag = health.partitions.reduce((sum, p) => sum + p.lag, 0);
        return {
          state:
            health.state === 'running'
              ? health.paused || health.waitingFor !== undefined
                ? 'retrying'
                : health.degraded.length > 0
                  ? 'degraded'
                  : 'up'
              : health.state === 'failed'
                ? 'down'
                : 'starting',
          detail: health.paused
            ? 'paused: outputs are behind (backpressure)'
            : health.waitingFor !== undefined
              ? `paused: waiting for ${health.waitingFor}`
              : health.degraded.length > 0
                ? `input degraded: ${health.degraded.map((d) => `partition ${d.partition}: ${d.detail}`).join('; ')}`
                : health.error,
          values: { lag, pending_records: health.pendingRecords, partitions: health.partitions.length },
        };
      },
    },
  ];
  for (const output of engine.health().outputs) {
    const name = `${output.kind}:${output.name}`;
    checks.push({
      name,
      status: () => {
        const current = engine.health().outputs.find((o) => `${o.kind}:${o.name}` === name);
        return current === undefined
          ? { state: 'down', detail: 'not reported' }
          : {
              state: toDependencyState(current.state),
              detail: current.lastError,
              values: { pending_records: current.pendingRecords, retries: current.retries },
            };
      },
    });
  }
  return {
    kind: 'kafka',
    sinks: built.sinks,
    checks,
    start: () => engine.start(),
    run: async () => {
      await engine.done;
      return 'stopped';
    },
    stop: () => void engine.stop(),
    abort: () => void engine.abort(),
    progressExtra: () => engine.progressExtra(),
  };
}

/** The outputs the config names: Kafka topics, PostgreSQL, Redis; the local store when none. */
export function sinksFromConfig(
  config: EngineConfig,
  kafka: Kafka,
): { sinks: Sink[]; postgres?: PostgresSink } {
  const sinks: Sink[] = [];
  if (config.outputs.kafka.enabled) sinks.push(new KafkaSink(kafka, config.outputs.kafka));
  let postgres: PostgresSink | undefined;
  if (config.postgres !== undefined) {
    postgres = new PostgresSink(config.postgres);
    sinks.push(postgres);
  }
  if (config.redis !== undefined) sinks.push(new RedisSink(config.redis));
  if (sinks.length === 0) sinks.push(new LocalStoreSink());
  return { sinks, postgres };
}

export function snapshotStoreFromConfig(config: EngineConfig): SnapshotStore | undefined {
  switch (config.snapshots.store) {
    case 'redis':
      return config.redis === undefined ? undefined : new RedisSnapshotStore(config.redis);
    case 'postgres':
      return config.postgres === undefined ? undefined : new PostgresSnapshotStore(config.postgres);
    default:
      return undefined; // 'memory': the engine builds one; 'none': no snapshots
  }
}
