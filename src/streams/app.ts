// The composition root: `mlfp run` parses its options and calls runApp, for the embedded default and for
// Kafka alike. It builds what both share (logs, stats and metrics, the model registry and the scoring stage,
// the ops HTTP listener, the progress line, signals) and one source (app-sources.ts), which runs the same graph
// (graph.ts) per partition through the same delivery and Sink contract. Nothing below it knows which it is.

import type { Kafka } from 'kafkajs';
import type { EngineConfig } from '../config/schema.js';
import type { Prediction } from '../domain/types.js';
import { isMlfpError } from '../errors.js';
import { ModelRegistry } from '../models/registry.js';
import type { ModelLogger } from '../models/runtimes/runtime.js';
import { OpsHttpServer } from '../monitoring/http-server.js';
import { componentLogger, createLogger, logEvent, messageLogger, type Logger } from '../monitoring/log.js';
import { EngineMetrics } from '../monitoring/metrics.js';
import { EngineStats, ProgressReporter } from '../monitoring/stats.js';
import { LocalStoreSink } from '../sinks/memory/local-store-sink.js';
import { startPublicApi, type PublicApi } from '../api/public-api.js';
import {
  embeddedSource,
  kafkaSource,
  type EngineSource,
  type KafkaSourceDependencies,
  type SourceParts,
} from './app-sources.js';
import { ENGINE_EVENTS } from './engine-events.js';
import { createKafkaClient } from './kafka-client.js';
import { ScoringStage } from './scoring-stage.js';
import { apiOutputReader, type OutputTopicsReader } from './output-topics-reader.js';
import { createRunMonitor } from './monitor-wiring.js';

/** Where the app writes: the progress line to stdout, log lines to stderr (the CLI's streams, or a test's). */
export interface AppIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** stderr is a terminal: log lines in their readable one-line form instead of JSON */
  stderrIsTTY?: boolean;
}

/**
 * What tests replace; by default everything is built from the config. `sinks` replace a Kafka run's configured
 * outputs, and join the in-memory store of an embedded run.
 */
export interface AppDependencies extends KafkaSourceDependencies {
  /** aborting it stops the run like SIGTERM does */
  stopSignal?: AbortSignal;
}

/** The run's loggers (src/monitoring/log.ts): one line per event that matters (never per tick), on stderr. */
interface RunLogs {
  cli: Logger;
  engine: Logger;
  kafka: Logger;
  http: Logger;
  api: Logger;
  alerts: Logger;
  models: ModelLogger;
}

/** JSON lines on stderr, or the readable one-line form when stderr is a terminal. */
export function runLogs(config: EngineConfig, io: AppIo): RunLogs {
  const root = createLogger({ level: config.log.level, write: io.stderr, pretty: io.stderrIsTTY === true });
  return {
    cli: componentLogger(root, 'cli'),
    engine: componentLogger(root, 'engine'),
    kafka: componentLogger(root, 'kafka'),
    http: componentLogger(root, 'http'),
    api: componentLogger(root, 'api'),
    alerts: componentLogger(root, 'alerts'),
    models: messageLogger(componentLogger(root, 'models'), 'models'),
  };
}

/** Events of the run itself (the engine's own are in engine-events.ts). */
export const RUN_EVENTS = Object.freeze({
  started: 'run.started',
  stopped: 'run.stopped',
  failed: 'run.failed',
  startFailed: 'run.start_failed',
  listening: 'http.listening',
  httpFailed: 'http.failed',
  apiListening: 'api.listening',
  apiFailed: 'api.failed',
} as const);

export const errorMessage = (error: unknown): string => (error as Error)?.message ?? String(error);

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

export async function startHttp(
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

function describeRun(config: EngineConfig, source: EngineSource, modelsOn: boolean): string {
  if (source.kind === 'synthetic') {
    const s = config.synthetic;
    return `embedded run: synthetic market, ${s.symbols.length} symbols, seed ${s.seed}${s.maxTicks > 0 ? `, ${s.maxTicks} ticks` : ', until Ctrl-C'}`;
  }
  const k = config.kafka;
  return (
    `kafka run: ${k.topics.ticks} (${k.format}) on ${k.brokers.join(',')}, group ${k.groupId}, ` +
    `snapshots ${config.snapshots.store}, outputs ${source.sinks.map((sink) => sink.name).join(', ')}` +
    `${modelsOn ? `, models from ${config.models.dir}` : ''}`
  );
}

/**
 * Runs the engine the config describes until its input completes, a signal (SIGINT/SIGTERM; the second one
 * aborts) or `deps.stopSignal` stops it, or it fails. Returns the exit code: 0 done, 1 failed, 2 could not
 * start (bad config, unreachable brokers at start, the ops port taken).
 */
export async function runApp(config: EngineConfig, io: AppIo, deps: AppDependencies = {}): Promise<number> {
  const logs = runLogs(config, io);
  const stats = new EngineStats(Date.now());
  const progress = new ProgressReporter(stats, Date.now());
  let kafka: Kafka | undefined;
  if (config.source === 'kafka') {
    try {
      // kafkajs's own warnings and errors, as engine.warning events under the kafka component
      kafka = await createKafkaClient(config.kafka, (event) => logEvent(logs.kafka, event));
    } catch (error) {
      const code = isMlfpError(error) ? error.code : 'internal';
      logs.cli.error({ event: RUN_EVENTS.startFailed, code }, `${code}: ${errorMessage(error)}`);
      return 2;
    }
  }
  const models = await openModels(config, logs.models);
  const parts: SourceParts = {
    stats,
    onEvent: (event) => logEvent(logs.engine, event),
    createStage:
      models === undefined
        ? undefined
        : () =>
            new ScoringStage(models.registry, {
              maxBatchSize: config.models.maxBatchSize,
              maxWaitMs: config.models.maxWaitMs,
            }),
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
  };
  const metrics = new EngineMetrics(stats);
  // the model monitor: labels, drift, performance and the alert lifecycle over every stream's outputs
  const monitor = createRunMonitor(config, models?.registry, metrics, logs.alerts, (alert) =>
    logEvent(logs.alerts, {
      type: ENGINE_EVENTS.alert,
      level: alert.state === 'firing' ? 'warn' : 'info',
      message: `${alert.rule ?? alert.type} ${alert.state}: ${alert.subject}${alert.message === undefined ? '' : ` (${alert.message})`}`,
      fields: {
        alertname: alert.rule,
        subject: alert.subject,
        state: alert.state,
        value: alert.value,
        threshold: alert.threshold,
        fingerprint: alert.fingerprint,
      },
    }),
  );
  parts.monitor = monitor?.hooks;
  // outputs kept in memory: the embedded run's store (the progress line reads its latest predictions) and the
  // public API's latest values (REST, the snapshot tier)
  const local = kafka === undefined || config.api.enabled ? new LocalStoreSink() : undefined;
  let api: PublicApi | undefined;
  // assigned once the API is up; cleanUp (defined first, for the failures before) stops it
  // eslint-disable-next-line prefer-const
  let reader: OutputTopicsReader | undefined;
  const cleanUp = async (): Promise<void> => {
    await monitor?.close();
    await reader?.stop();
    await api?.server.close();
    models?.stopWatching();
    await models?.registry.close();
    await http?.close();
    metrics.close();
  };
  if (config.api.enabled) {
    try {
      api = await startPublicApi({
        config: config.api,
        store: local!.store,
        registry: models?.registry,
        modelsDir: models === undefined ? undefined : config.models.dir,
        metricsRegistry: metrics.registry,
        log: logs.api,
        now: Date.now,
      });
    } catch (error) {
      logs.api.error({ event: RUN_EVENTS.apiFailed }, errorMessage(error));
      await cleanUp();
      return 2;
    }
    logs.cli.info(
      { event: RUN_EVENTS.apiListening, url: api.url },
      `dashboard ${api.url} · WebSocket ${api.url.replace(/^http/u, 'ws')}v1/ws · REST ${api.url}v1/ (OpenAPI ${api.url}v1/openapi.json)`,
    );
  }
  // with Kafka outputs, the API serves every instance's outputs, read back from the output topics; else (no
  // Kafka outputs, or sinks replaced by the caller) what this process computes, handed over like any sink
  reader =
    kafka !== undefined && api !== undefined && config.outputs.kafka.enabled && deps.sinks === undefined
      ? apiOutputReader(config, kafka, api, local!, parts.onEvent)
      : undefined;
  const extraSinks =
    reader !== undefined
      ? []
      : [...(local === undefined ? [] : [local]), ...(api === undefined ? [] : [api.sink])];
  const source =
    kafka === undefined
      ? embeddedSource(config, parts, [local!, ...extraSinks.slice(1), ...(deps.sinks ?? [])])
      : kafkaSource(config, parts, kafka, deps, extraSinks);
  for (const check of source.checks) metrics.addHealthCheck(check);
  let http: OpsHttpServer | undefined;
  try {
    http = await startHttp(config, metrics, logs.http);
  } catch (error) {
    logs.http.error({ event: RUN_EVENTS.httpFailed }, errorMessage(error));
    await cleanUp();
    return 2;
  }
  logs.cli.info(
    { event: RUN_EVENTS.started, source: source.kind },
    describeRun(config, source, models !== undefined),
  );
  try {
    await source.start();
    await reader?.start();
  } catch (error) {
    const code = isMlfpError(error) ? error.code : 'internal';
    logs.cli.error({ event: RUN_EVENTS.startFailed, code }, `${code}: cannot start: ${errorMessage(error)}`);
    await cleanUp();
    return code === 'config_invalid' ? 2 : 1;
  }

  let turn = 0;
  const line = (): string =>
    progress.line(
      Date.now(),
      kafka !== undefined ? source.progressExtra() : describePredictions(local!.store.latestByModel, turn++),
    );
  let timer: NodeJS.Timeout | undefined;
  if (config.progress.intervalMs > 0)
    timer = setInterval(() => io.stdout(`${line()}\n`), config.progress.intervalMs);
  let signals = 0;
  let stoppedBy: string | undefined;
  const onSignal = (signal?: unknown): void => {
    signals++;
    // a process signal names itself (SIGINT); the stop signal of a test or an embedding program does not
    if (stoppedBy === undefined && typeof signal === 'string') stoppedBy = signal;
    // first signal: graceful (what was read becomes durable, final snapshots and commits); second: now
    if (signals === 1) source.stop();
    else source.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  deps.stopSignal?.addEventListener('abort', onSignal, { once: true });
  let code = 0;
  let why: string;
  try {
    const end = await source.run();
    why = end === 'stopped' ? (stoppedBy ?? 'stopped') : end;
  } catch (error) {
    if (http !== undefined) http.failure = errorMessage(error);
    logs.cli.error({ event: RUN_EVENTS.failed, err: error }, `engine failed: ${errorMessage(error)}`);
    code = 1;
    why = 'error';
  } finally {
    if (timer !== undefined) clearInterval(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    deps.stopSignal?.removeEventListener('abort', onSignal);
  }
  io.stdout(`${line()}\n`);
  logs.cli.info(
    { event: RUN_EVENTS.stopped, reason: why },
    why === 'stopped' ? 'stopped' : `stopped (${why})`,
  );
  await cleanUp();
  return code;
}
