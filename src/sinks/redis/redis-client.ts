// An ioredis client set up for sinks: no offline queue (a command while disconnected fails at once, so the
// sink's own retry loop holds the batch and reports 'retrying' instead of ioredis buffering without bound),
// in-flight commands fail on a dropped connection, reconnects forever with a capped delay; and which Redis
// failures pass on retry.

import { Redis, type RedisOptions } from 'ioredis';
import type { RedisConfig } from '../../config/schema.js';
import { MlfpError, isMlfpError } from '../../errors.js';
import { redactUrl, tlsOptions } from '../postgres/postgres-pool.js';
import { defineMonotoneCommands } from './redis-scripts.js';
import { Retrier, UNREACHABLE_SOCKET_CODES, type RetrierDependencies } from '../retrier.js';
import { SinkLifecycle } from '../sink-lifecycle.js';
import type { SinkHealth } from '../sink.js';

export type RedisSettings = Pick<RedisConfig, 'url' | 'tls' | 'connectTimeoutMs' | 'commandTimeoutMs'>;

/** Reconnect delay after the n-th failed attempt: 100 ms steps up to 2 s. */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(attempt * 100, 2_000);
}

export function redisOptions(settings: RedisSettings): RedisOptions {
  const tls = tlsOptions(settings.tls);
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    // 0: a command in flight when the connection drops is rejected instead of resent later behind our back
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: reconnectDelayMs,
    connectTimeout: settings.connectTimeoutMs,
    commandTimeout: settings.commandTimeoutMs,
    enableReadyCheck: true,
    connectionName: 'mlfp-engine',
    ...(tls === undefined || tls === false ? {} : { tls: tls === true ? {} : tls }),
  };
}

/** Connects a lazy client when it never did (or was ended) and checks it answers; throws while Redis is away. */
export async function connectRedis(client: Redis): Promise<void> {
  if (client.status === 'wait' || client.status === 'end') await client.connect();
  await client.ping();
}

/** A client that reports its connection errors to `onError` (ioredis prints unhandled ones otherwise). */
export function createRedisClient(settings: RedisSettings, onError: (error: Error) => void): Redis {
  const client = new Redis(settings.url, redisOptions(settings));
  client.on('error', onError);
  return client;
}

/** Server replies that mean "not now": loading a dataset, a busy script, a failover in progress, out of memory. */
const RETRIABLE_REPLIES = /^(LOADING|BUSY|TRYAGAIN|MASTERDOWN|READONLY|CLUSTERDOWN|NOREPLICAS|OOM)\b/;
/**
 * Client-side failures that mean the connection is not there (ioredis errors carry no code for most). "Command
 * aborted due to connection close" (an AbortError) is what the commands of a pipeline get when the server goes
 * away after answering part of it: the sink resends the whole chunk.
 */
const RETRIABLE_MESSAGES =
  /Stream isn't writeable|Connection is closed|Command aborted due to connection close|Reached the max retries per request|Command timed out|connect ETIMEDOUT|socket/i;

export function isRetriableRedisError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'ReplyError') return RETRIABLE_REPLIES.test(error.message);
  if (error.name === 'MaxRetriesPerRequestError') return true;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && UNREACHABLE_SOCKET_CODES.has(code)) return true;
  return RETRIABLE_MESSAGES.test(error.message);
}

export function classifyRedisError(error: unknown, url: string, what = 'redis'): MlfpError {
  if (isMlfpError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (isRetriableRedisError(error))
    return new MlfpError('sink_unavailable', `${what} ${redactUrl(url)}: ${message}`, {
      cause: error,
      retriable: true,
    });
  return new MlfpError('sink_rejected', `${what} ${redactUrl(url)} refused a command: ${message}`, {
    cause: error,
    retriable: false,
  });
}

/** Throws the first error of a pipeline's results (ioredis resolves exec() with per-command errors). */
export function firstPipelineError(results: [Error | null, unknown][] | null): Error | undefined {
  if (results === null) return new Error('Connection is closed (pipeline discarded)');
  for (const [error] of results) if (error !== null) return error;
  return undefined;
}

export interface RedisConnectionDependencies extends RetrierDependencies {
  /** a client to use instead of one made from the config (then not disconnected at close) */
  client?: Redis;
}

/**
 * A Redis output's connection: the client (monotone Lua commands defined), its retry policy and its
 * lifecycle; shared by the latest-values sink and the snapshot store, each with its own name.
 */
export class RedisConnection {
  readonly client: Redis;
  readonly retrier: Retrier;
  readonly lifecycle: SinkLifecycle;
  private readonly ownsClient: boolean;

  /** `name`: the output's name (health, metrics); `what`: how its errors and retries are labelled */
  constructor(
    name: string,
    what: string,
    config: RedisConfig,
    dependencies: RedisConnectionDependencies = {},
  ) {
    this.retrier = new Retrier(
      `${what} ${redactUrl(config.url)}`,
      config.retry,
      (error) => classifyRedisError(error, config.url, what),
      dependencies,
    );
    this.lifecycle = new SinkLifecycle(name, this.retrier);
    this.ownsClient = dependencies.client === undefined;
    this.client =
      dependencies.client ??
      createRedisClient(config, (error) => this.retrier.note(`connection: ${error.message}`));
    defineMonotoneCommands(this.client);
  }

  /** Connects (retrying while Redis is away) and checks it answers. */
  start(): Promise<void> {
    return this.lifecycle.start(() => connectRedis(this.client));
  }

  health(): SinkHealth {
    return this.retrier.health();
  }

  /** Waits up to `timeoutMs` for writes in flight, then disconnects a client of its own. */
  async close(timeoutMs: number): Promise<void> {
    if ((await this.lifecycle.close(timeoutMs)) && this.ownsClient) this.client.disconnect();
  }
}
