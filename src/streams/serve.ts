// `mlfp serve`: the public API as its own process, scaled apart from the engine instances.

import type { EngineConfig } from '../config/schema.js';
import { startPublicApi, type PublicApi } from '../api/public-api.js';
import { isMlfpError } from '../errors.js';
import type { OpsHttpServer } from '../monitoring/http-server.js';
import { logEvent } from '../monitoring/log.js';
import { EngineMetrics } from '../monitoring/metrics.js';
import { EngineStats } from '../monitoring/stats.js';
import { LocalStoreSink } from '../sinks/memory/local-store-sink.js';
import { errorMessage, RUN_EVENTS, runLogs, startHttp, type AppIo } from './app.js';
import type { EngineEventListener } from './engine-events.js';
import { createKafkaClient } from './kafka-client.js';
import { apiOutputReader, type OutputTopicsReader } from './output-topics-reader.js';

/**
 * `mlfp serve`: the public API alone, scaled apart from the engine: it reads the output topics of every
 * engine instance (config.kafka brokers, config.outputs.kafka topics) and serves them until a signal.
 * Returns 0 when stopped, 2 when it cannot start.
 */
export async function runServe(
  config: EngineConfig,
  io: AppIo,
  deps: { stopSignal?: AbortSignal } = {},
): Promise<number> {
  const logs = runLogs(config, io);
  if (config.kafka.brokers.length === 0) {
    logs.cli.error(
      { event: RUN_EVENTS.startFailed, code: 'config_invalid' },
      'config_invalid: mlfp serve reads the output topics: set kafka.brokers',
    );
    return 2;
  }
  if (!config.api.enabled) {
    logs.cli.error(
      { event: RUN_EVENTS.startFailed, code: 'config_invalid' },
      'config_invalid: mlfp serve needs api.enabled',
    );
    return 2;
  }
  const stats = new EngineStats(Date.now());
  const metrics = new EngineMetrics(stats);
  const onEvent: EngineEventListener = (event) => logEvent(logs.engine, event);
  let api: PublicApi | undefined;
  let reader: OutputTopicsReader | undefined;
  let http: OpsHttpServer | undefined;
  try {
    const kafka = await createKafkaClient(config.kafka, (event) => logEvent(logs.kafka, event));
    const local = new LocalStoreSink();
    api = await startPublicApi({
      config: config.api,
      store: local.store,
      registry: undefined,
      metricsRegistry: metrics.registry,
      log: logs.api,
      now: Date.now,
    });
    http = await startHttp(config, metrics, logs.http);
    reader = apiOutputReader(config, kafka, api, local, onEvent);
    await reader.start();
  } catch (error) {
    const code = isMlfpError(error) ? error.code : 'internal';
    logs.cli.error({ event: RUN_EVENTS.startFailed, code }, `${code}: cannot start: ${errorMessage(error)}`);
    await reader?.stop();
    await api?.server.close();
    await http?.close();
    return 2;
  }
  logs.cli.info(
    { event: RUN_EVENTS.apiListening, url: api.url },
    `serving ${reader.topics.join(', ')}: dashboard ${api.url} · WebSocket ${api.url.replace(/^http/u, 'ws')}v1/ws`,
  );
  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    deps.stopSignal?.addEventListener('abort', stop, { once: true });
  });
  await reader.stop();
  await api.server.close();
  await http?.close();
  logs.cli.info({ event: RUN_EVENTS.stopped, reason: 'stopped' }, 'stopped');
  return 0;
}
