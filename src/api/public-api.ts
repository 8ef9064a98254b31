// Builds the public API for the composition root: the hub (fed by its sink, HubSink, from the delivery),
// the token verifier of auth mode oidc, REST over the in-memory store, and the listener. The dashboard's
// files are served from the project's dashboard/ folder.

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Registry } from 'prom-client';
import type { ApiConfig } from '../config/api-schemas.js';
import { FEATURE_COLUMNS } from '../domain/types.js';
import type { ModelRegistry } from '../models/registry.js';
import type { Logger } from '../monitoring/log.js';
import { TokenVerifier, type Principal } from '../security/token-verifier.js';
import type { MemoryStore } from '../sinks/memory/memory-store.js';
import { ApiMetrics } from './api-metrics.js';
import { SignalHub } from './hub.js';
import { HubSink } from './hub-sink.js';
import { StoreLatest } from './latest.js';
import { RestApi } from './rest.js';
import { ApiServer } from './server.js';

export interface PublicApiOptions {
  config: ApiConfig;
  /** the latest values REST and the snapshot tier read */
  store: MemoryStore;
  registry: ModelRegistry | undefined;
  /** the model directory (`models.dir`) the REST admin loads versions into */
  modelsDir?: string;
  metricsRegistry: Registry;
  log: Logger;
  now: () => number;
}

export interface PublicApi {
  hub: SignalHub;
  sink: HubSink;
  server: ApiServer;
  /** the dashboard's URL (the API's root) */
  url: string;
}

/** The dashboard folder: dashboard/ at the project root, found from this module (src/ or dist/src/). */
export function dashboardDir(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 5; up++) {
    const candidate = join(dir, 'dashboard');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    dir = dirname(dir);
  }
  return undefined;
}

export async function startPublicApi(options: PublicApiOptions): Promise<PublicApi> {
  const { config, log, now } = options;
  let verify: ((token: string) => Promise<Principal>) | undefined;
  if (config.auth.mode === 'oidc') {
    const verifier = new TokenVerifier(config.auth.oidc);
    verify = (token) => verifier.verify(token, now());
  } else
    log.warn(
      { event: 'api.auth_none', host: config.host },
      `api.auth.mode is none: every client of ${config.host}:${config.port} gets every role, with no token (loopback only)`,
    );
  const metrics = new ApiMetrics(options.metricsRegistry);
  const latest = new StoreLatest(options.store);
  // one labelled child per channel, looked up once
  const children = new Map<string, ReturnType<typeof metrics.messages.labels>>();
  const published = (channel: string) => {
    let child = children.get(channel);
    if (child === undefined) children.set(channel, (child = metrics.messages.labels({ channel })));
    return child;
  };
  const hub = new SignalHub({
    ringSize: config.ringSize,
    kafkaReplayMessages: config.kafkaReplayMessages,
    columns: FEATURE_COLUMNS,
    latest,
    onPublish: (channel) => published(channel).inc(),
  });
  const rest = new RestApi({
    latest,
    registry: options.registry,
    modelsDir: options.modelsDir,
    verify,
    allowedOrigins: config.allowedOrigins,
    staticDir: dashboardDir(),
    metrics,
  });
  const server = new ApiServer({ config, hub, rest, verify, metrics, log, now });
  await server.start();
  const sink = new HubSink(hub, now);
  return { hub, sink, server, url: `${server.url}/` };
}
