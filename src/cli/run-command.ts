// `mlfp run`: the live engine. With no config it runs embedded: the synthetic market through validate →
// bars → features → the demo models, a progress line every few seconds (with the latest prediction of each
// model), metrics and health over HTTP; Ctrl-C (SIGINT) or SIGTERM stops it cleanly.
// With `source: 'kafka'` it runs the Kafka engine (src/streams/engine.ts) with the sinks and snapshot store the
// config names: graceful stop on the first signal (final snapshots and commits), immediate on the second.

import type { Kafka } from 'kafkajs';
import { loadConfig } from '../config/load.js';
import type { EngineConfig } from '../config/schema.js';
import type { Prediction } from '../domain/types.js';
import { isMlfpError } from '../errors.js';
import { ModelRegistry } from '../models/registry.js';
import type { ModelLogger } from '../models/runtimes/runtime.js';
import { OpsHttpServer } from '../monitoring/http-server.js';
import { componentLogger, createLogger, logEvent, messageLogger, type Logger } from '../monitoring/log.js';
import { EngineMetrics, type DependencyState } from '../monitoring/metrics.js';
import { EngineStats, ProgressReporter } from '../monitoring/stats.js';
import { KafkaSink } from '../sinks/kafka/kafka-sink.js';
import { MemoryStore } from '../sinks/memory/memory-store.js';
import { PostgresSink } from '../sinks/postgres/postgres-sink.js';
import { PostgresSnapshotStore } from '../sinks/postgres/postgres-snapshot-store.js';
import { RedisSink } from '../sinks/redis/redis-sink.js';
import { RedisSnapshotStore } from '../sinks/redis/redis-snapshot-store.js';
import type { BarHistory, OutputBatch, Sink, SinkHealth, SnapshotStore } from '../sinks/sink.js';
import { KafkaEngine } from '../streams/engine.js';
import { ENGINE_EVENTS, type EngineEvent } from '../streams/engine-events.js';
import { createKafkaClient } from '../streams/kafka-client.js';
import { LocalEngine } from '../streams/local-engine.js';
import { ScoringStage } from '../streams/scoring-stage.js';
import { syntheticTicks } from '../streams/synthetic-market.js';
import type { CliIo } from './io.js';

export interface RunCommandOptions {
  config?: string;
  maxTicks?: number;
}

/** What tests replace; by default everything is built from the config. */
export interface RunDependencies {
  sinks?: Sink[];
  snapshotStore?: SnapshotStore;
  barHistory?: BarHistory;
  /** aborting it stops the run like SIGTERM does */
  stopSignal?: AbortSignal;
}

export async function runCommand(
  options: RunCommandOptions,
  io: CliIo,
  deps: RunDependencies = {},
): Promise<number> {
  const config = await loadConfig(options.config);
  if (options.maxTicks !== undefined) config.synthetic.maxTicks = options.maxTicks;
  if (config.source === 'kafka') return runKafka(config, io, deps);
  return runEmbedded(config, io);
}

/** The run's loggers (src/monitoring/log.ts): one line per event that matters (never per tick), on stderr. */
interface RunLogs {
  cli: Logger;
  engine: Logger;
  kafka: Logger;
  http: Logger;
  models: ModelLogger;
}

/** JSON lines on the command's stderr, or the readable one-line form when stderr is a terminal. */
function runLogs(config: EngineConfig, io: CliIo): RunLogs {
  const root = createLogger({ level: config.log.level, write: io.stderr, pretty: io.stderrIsTTY === true });
  return {
    cli: componentLogger(root, 'cli'),
    engine: componentLogger(root, 'engine'),
    kafka: componentLogger(root, 'kafka'),
    http: componentLogger(root, 'http'),
    models: messageLogger(componentLogger(root, 'models'), 'models'),
  };
}

/** CLI events of `mlfp run` (the engine's own are in src/streams/engine-events.ts). */
const RUN_EVENTS = Object.freeze({
  started: 'run.started',
  stopped: 'run.stopped',
  failed: 'run.failed',
  startFailed: 'run.start_failed',
  listening: 'http.listening',
  httpFailed: 'http.failed',
} as const);

const errorMessage = (error: unknown): string => (error as Error)?.message ?? String(error);

/**
 * "latest: lgbm-return@1.0.0 AAPL 0.0012 | xgb-direction@1.0.0 AAPL up (p 0.53)": each model's latest
 * prediction for one symbol; `turn` (the progress line's number) rotates through the symbols it has scored,
 * in the order first seen (a whole timeframe's bars close at once, so "the newest" would always be the last).
 */
export function describePredictions(
  latest: ReadonlyMap<string, ReadonlyMap<string, Prediction>>,
  turn: number,
): string {
  const parts: string[] = [];
  for (const [model, bySymbol] of latest) {
    const p = [...bySymbol.values()][turn % Math.max(bySymbol.size, 1)];
    if (p === undefined) continue;
    const label = p.output.label;
    const shown =
      label !== undefined
        ? `${String(label)} (p ${Number(p.output[`p_${String(label)}`]).toPrecision(3)})`
        : Object.values(p.output)
            .map((v) => (typeof v === 'number' ? v.toPrecision(4) : v))
            .join(' ');
    parts.push(`${model}@${p.version} ${p.symbol} ${shown}`);
  }
  return parts.length === 0 ? '' : `latest: ${parts.join(' | ')}`;
}

/** Builds each partition's scoring stage (one per worker), or undefined when models are disabled. */
function scoringStages(
  config: EngineConfig,
  models: { registry: ModelRegistry } | undefined,
): (() => ScoringStage) | undefined {
  if (models === undefined) return undefined;
  const options = { maxBatchSize: config.models.maxBatchSize, maxWaitMs: config.models.maxWaitMs };
  return () => new ScoringStage(models.registry, options);
}

/** The models directory as a registry (watching it for `mlfp models …` changes), or undefined when disabled. */
async function openModels(
  config: EngineConfig,
  logger: ModelLogger,
): Promise<{ registry: ModelRegistry; stopWatching: () => void } | undefined> {
  if (!config.models.enabled) return undefined;
  const { registry } = await ModelRegistry.fromDirectory(config.models.dir, {
    logger,
    strict: config.models.strict,
    runtime: { executionProvider: config.models.executionProvider },
  });
  const stopWatching =
    config.models.watchIntervalMs > 0
      ? registry.watchDirectory(config.models.watchIntervalMs)
      : () => undefined;
  return { registry, stopWatching };
}

async function startHttp(
  config: EngineConfig,
  metrics: EngineMetrics,
  log: Logger,
): Promise<OpsHttpServer | undefined> {
  if (!config.http.enabled) return undefined;
  const http = new OpsHttpServer(metrics, config.http);
  const address = await http.start();
  log.info(
    { event: RUN_EVENTS.listening, address: address.address, port: address.port },
    `metrics and health on http://${address.address}:${address.port}/metrics, /healthz, /readyz`,
  );
  return http;
}

export async function runEmbedded(config: EngineConfig, io: CliIo): Promise<number> {
  const logs = runLogs(config, io);
  const stats = new EngineStats(Date.now());
  const progress = new ProgressReporter(stats, Date.now());
  const store = new MemoryStore();
  const metrics = new EngineMetrics(stats);
  const models = await openModels(config, logs.models);
  const http = await startHttp(config, metrics, logs.http);
  logs.cli.info(
    { event: RUN_EVENTS.started, source: 'synthetic' },
    `embedded run: synthetic market, ${config.synthetic.symbols.length} symbols, seed ${config.synthetic.seed}` +
      `${config.synthetic.maxTicks > 0 ? `, ${config.synthetic.maxTicks} ticks` : ', until Ctrl-C'}`,
  );
  // the same partition worker and delivery as a Kafka partition, into the in-memory store
  const sink = new LocalStoreSink(store);
  const engine = new LocalEngine({
    input: syntheticTicks(config.synthetic),
    sinks: [sink],
    stats,
    delivery: config.delivery,
    bars: config.bars,
    worker: {
      // no bars.maxClockSkewMs: the synthetic market's event time runs ahead of the wall clock by design
      validator: { numbersAsStrings: config.validation.numbersAsStrings },
      dataQuality: config.dataQuality,
      onDataQualityAlert: (alert) =>
        logEvent(logs.engine, {
          type: ENGINE_EVENTS.dataQuality,
          level: alert.state === 'firing' ? 'warn' : 'info',
          message: alert.message ?? `${alert.subject}: ${alert.state}`,
          fields: {
            subject: alert.subject,
            state: alert.state,
            value: alert.value,
            threshold: alert.threshold,
          },
        }),
    },
    createStage: scoringStages(config, models),
    onEvent: (event) => logEvent(logs.engine, event),
  });
  metrics.addHealthCheck({
    name: 'source:synthetic',
    status: () => {
      const degraded = engine.quality.describe();
      return degraded === undefined
        ? { state: 'up' }
        : { state: 'degraded', detail: `input degraded: ${degraded}` };
    },
  });
  metrics.addHealthCheck({
    name: `sink:${sink.name}`,
    status: () => {
      const health = sink.health();
      return {
        state: toDependencyState(health.state),
        values: { pending_records: engine.delivery.pendingRecords, retries: health.retries },
      };
    },
  });

  let turn = 0;
  const line = (): string => progress.line(Date.now(), describePredictions(store.latestByModel, turn++));
  let timer: NodeJS.Timeout | undefined;
  let stoppedBy: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    stoppedBy = signal;
    engine.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  if (config.progress.intervalMs > 0)
    timer = setInterval(() => io.stdout(`${line()}\n`), config.progress.intervalMs);
  let code = 0;
  let why: string;
  try {
    const end = await engine.run();
    why = end === 'complete' ? 'input complete' : (stoppedBy ?? 'stopped');
  } catch (error) {
    if (http !== undefined) http.failure = errorMessage(error);
    logs.cli.error({ event: RUN_EVENTS.failed, err: error }, `engine failed: ${errorMessage(error)}`);
    code = 1;
    why = 'error';
  } finally {
    if (timer !== undefined) clearInterval(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  io.stdout(`${line()}\n`);
  logs.cli.info({ event: RUN_EVENTS.stopped, reason: why }, `stopped (${why})`);
  models?.stopWatching();
  await models?.registry.close();
  await http?.close();
  return code;
}

/** The local store as a Sink: writes are durable at once (in memory), for a Kafka run with no outputs configured. */
class LocalStoreSink implements Sink {
  readonly name = 'local';
  private readonly sinceMs = Date.now();
  constructor(readonly store: MemoryStore) {}
  async start(): Promise<void> {}
  async write(batch: OutputBatch): Promise<void> {
    for (const bar of batch.bars) this.store.bar(bar);
    for (const vector of batch.features) this.store.features(vector);
    for (const prediction of batch.predictions) this.store.prediction(prediction);
    for (const alert of batch.alerts) this.store.alert(alert);
    for (const letter of batch.deadLetters) this.store.deadLetter(letter);
  }
  health(): SinkHealth {
    return { state: 'up', sinceMs: this.sinceMs, pendingRecords: 0, retries: 0 };
  }
  async close(): Promise<void> {}
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
  if (sinks.length === 0) sinks.push(new LocalStoreSink(new MemoryStore()));
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

const toDependencyState = (state: SinkHealth['state']): DependencyState => state;

export async function runKafka(config: EngineConfig, io: CliIo, deps: RunDependencies = {}): Promise<number> {
  const logs = runLogs(config, io);
  const stats = new EngineStats(Date.now());
  const progress = new ProgressReporter(stats, Date.now());
  const onEvent = (event: EngineEvent): void => logEvent(logs.engine, event);
  let kafka: Kafka;
  try {
    // kafkajs's own warnings and errors, as engine.warning events under the kafka component
    kafka = await createKafkaClient(config.kafka, (event) => logEvent(logs.kafka, event));
  } catch (error) {
    const code = isMlfpError(error) ? error.code : 'internal';
    logs.cli.error({ event: RUN_EVENTS.startFailed, code }, `${code}: ${errorMessage(error)}`);
    return 2;
  }
  const built = deps.sinks === undefined ? sinksFromConfig(config, kafka) : { sinks: deps.sinks };
  const sinks = built.sinks;
  const models = await openModels(config, logs.models);
  const engine = new KafkaEngine(config, {
    sinks,
    snapshotStore: deps.snapshotStore ?? snapshotStoreFromConfig(config),
    barHistory: deps.barHistory ?? built.postgres,
    kafka,
    stats,
    onEvent,
    createStage: scoringStages(config, models),
  });
  const metrics = new EngineMetrics(stats);
  metrics.addHealthCheck({
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
  });
  for (const output of engine.health().outputs) {
    const name = `${output.kind}:${output.name}`;
    metrics.addHealthCheck({
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
  let http: OpsHttpServer | undefined;
  try {
    http = await startHttp(config, metrics, logs.http);
  } catch (error) {
    logs.http.error({ event: RUN_EVENTS.httpFailed }, errorMessage(error));
    return 2;
  }
  const topics = config.kafka;
  logs.cli.info(
    { event: RUN_EVENTS.started, source: 'kafka' },
    `kafka run: ${topics.topics.ticks} (${topics.format}) on ${topics.brokers.join(',')}, group ${topics.groupId}, ` +
      `snapshots ${config.snapshots.store}, outputs ${sinks.map((sink) => sink.name).join(', ')}` +
      `${models === undefined ? '' : `, models from ${config.models.dir}`}`,
  );
  const cleanUp = async (): Promise<void> => {
    models?.stopWatching();
    await models?.registry.close();
    await http?.close();
  };
  try {
    await engine.start();
  } catch (error) {
    const code = isMlfpError(error) ? error.code : 'internal';
    logs.cli.error({ event: RUN_EVENTS.startFailed, code }, `${code}: cannot start: ${errorMessage(error)}`);
    await cleanUp();
    return code === 'config_invalid' ? 2 : 1;
  }
  let timer: NodeJS.Timeout | undefined;
  if (config.progress.intervalMs > 0)
    timer = setInterval(
      () => io.stdout(`${progress.line(Date.now(), engine.progressExtra())}\n`),
      config.progress.intervalMs,
    );
  let signals = 0;
  const onSignal = (): void => {
    signals++;
    // first signal: graceful (final snapshots and commits); second: stop now, the last commit stands
    void (signals === 1 ? engine.stop() : engine.abort());
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  deps.stopSignal?.addEventListener('abort', onSignal, { once: true });
  try {
    await engine.done;
    io.stdout(`${progress.line(Date.now(), engine.progressExtra())}\n`);
    logs.cli.info({ event: RUN_EVENTS.stopped }, 'stopped');
    return 0;
  } catch (error) {
    if (http !== undefined) http.failure = errorMessage(error);
    logs.cli.error({ event: RUN_EVENTS.failed }, `engine failed: ${errorMessage(error)}`);
    return 1;
  } finally {
    if (timer !== undefined) clearInterval(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    deps.stopSignal?.removeEventListener('abort', onSignal);
    await cleanUp();
  }
}
