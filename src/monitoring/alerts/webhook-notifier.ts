// Delivers alerts to an HTTP endpoint as Alertmanager webhook (version 4) POSTs without ever making the caller
// wait: notify() only enqueues; one background loop batches the queue into POSTs and retries what may pass
// later (network errors, timeouts, 5xx, 408, 429) with the project's capped exponential backoff. The queue is
// bounded: when the receiver cannot keep up the oldest alerts go, counted and logged once per burst.
// Secrets stay out of logs and health: lines name only the receiver's origin (a webhook path may be a
// token, as Slack's are), never its credentials, query or the configured headers.

import http from 'node:http';
import https from 'node:https';
import { setTimeout as delay } from 'node:timers/promises';
import { retry } from '../../domain/backoff.js';
import type { Alert } from '../../domain/types.js';
import { redactUrl } from '../../config/redact.js';
import { MlfpError } from '../../errors.js';
import type { Logger } from '../log.js';
import { webhookPayload } from './alertmanager.js';

export interface WebhookNotifierOptions {
  /** http(s) URL the payloads are POSTed to */
  url: string;
  /** the payload's `receiver` (default 'mlfp') */
  receiver?: string;
  /** the payload's `externalURL` and each alert's generatorURL: the engine's public base URL (default '') */
  externalURL?: string;
  /** extra request headers, e.g. Authorization: Bearer …; sent as given, never logged */
  headers?: Readonly<Record<string, string>>;
  /** alerts waiting for delivery, beyond the batch in flight; the oldest go first (default 1,000) */
  maxQueuedAlerts?: number;
  /** alerts per POST (default 64) */
  maxAlertsPerPost?: number;
  /** first wait after a failed POST (default 200) */
  initialDelayMs?: number;
  /** the wait doubles per failure up to this (default 10,000) */
  maxDelayMs?: number;
  /** POSTs of one batch, the first included, before its alerts count as failed (default 10) */
  maxAttempts?: number;
  /** one POST, from connecting to the end of the answer (default 5,000) */
  timeoutMs?: number;
}

export interface WebhookNotifierDependencies {
  /** uniform in [0, 1), for backoff jitter (default Math.random) */
  random?: () => number;
  now?: () => number;
}

/** Counts of alerts, except `retries` (POSTs sent again). */
export interface WebhookStats {
  /** delivered (the receiver answered 2xx) */
  sent: number;
  /** given up after maxAttempts, or still undelivered at close() */
  failed: number;
  /** refused by the receiver with a final 4xx (not 408 or 429): never retried */
  rejected: number;
  /** dropped from a full queue (the oldest), or notified after close() */
  dropped: number;
  /** POSTs retried */
  retries: number;
  /** waiting or in flight */
  queued: number;
}

export interface WebhookHealth {
  state: 'up' | 'retrying' | 'closed';
  /** the last failure (a status or a socket error; never the URL's credentials or the headers) */
  lastError?: string;
}

const DEFAULTS = {
  receiver: 'mlfp',
  externalURL: '',
  maxQueuedAlerts: 1_000,
  maxAlertsPerPost: 64,
  initialDelayMs: 200,
  maxDelayMs: 10_000,
  maxAttempts: 10,
  timeoutMs: 5_000,
} as const;

/** Statuses worth another try: the receiver is overloaded, restarting or timed out. */
const RETRIABLE_STATUS = (status: number): boolean => status >= 500 || status === 408 || status === 429;

function invalid(key: string, message: string, value: unknown): MlfpError {
  return new MlfpError('config_invalid', `alerts.webhook.${key} ${message}`, {
    field: `alerts.webhook.${key}`,
    value,
  });
}

function parseUrl(url: unknown): URL {
  if (typeof url !== 'string') throw invalid('url', 'must be an http(s) URL', url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new MlfpError('config_invalid', 'alerts.webhook.url is not a URL', {
      field: 'alerts.webhook.url',
      value: redactUrl(url),
      cause,
    });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw invalid('url', `must use http or https, not ${parsed.protocol}`, redactUrl(url));
  return parsed;
}

function checkHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  const checked: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    try {
      http.validateHeaderName(name);
      http.validateHeaderValue(name, value);
    } catch {
      // the value may be a secret: name the header only
      throw invalid(`headers.${name}`, 'is not a valid HTTP header (name or value)', name);
    }
    checked[name] = value;
  }
  return checked;
}

function integerAtLeast(key: string, value: number, minimum: number): number {
  if (!(Number.isInteger(value) && value >= minimum))
    throw invalid(key, `must be an integer >= ${minimum}`, value);
  return value;
}

function positiveMs(key: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) throw invalid(key, 'must be a number > 0', value);
  return value;
}

const sleepUnlessAborted = (ms: number, signal: AbortSignal): Promise<void> =>
  delay(ms, undefined, { signal }).then(
    () => undefined,
    () => undefined,
  );

export class WebhookNotifier {
  private readonly url: URL;
  /** scheme://host:port only: what logs may name */
  private readonly origin: string;
  private readonly headers: Record<string, string>;
  private readonly receiver: string;
  private readonly externalURL: string;
  private readonly maxQueuedAlerts: number;
  private readonly maxAlertsPerPost: number;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxAttempts: number;
  private readonly timeoutMs: number;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly agent: http.Agent;
  /** aborted when close() gives up: sleeps end, requests in flight are destroyed */
  private readonly abort = new AbortController();
  private readonly queue: Alert[] = [];
  private inFlight = 0;
  private pumping: Promise<void> | undefined;
  private state: WebhookHealth['state'] = 'up';
  private closing = false;
  private lastError: string | undefined;
  /** a drop was logged and no delivery has succeeded since (one warning per burst) */
  private dropLogged = false;
  /** alerts of the batch in flight when close() gave up */
  private abandoned = 0;
  private closed: Promise<boolean> | undefined;
  private sent = 0;
  private failed = 0;
  private rejected = 0;
  private dropped = 0;
  private retries = 0;

  constructor(
    options: WebhookNotifierOptions,
    private readonly logger: Logger,
    dependencies: WebhookNotifierDependencies = {},
  ) {
    this.url = parseUrl(options.url);
    this.origin = this.url.origin;
    this.headers = checkHeaders(options.headers ?? {});
    this.receiver = options.receiver ?? DEFAULTS.receiver;
    this.externalURL = options.externalURL ?? DEFAULTS.externalURL;
    this.maxQueuedAlerts = integerAtLeast(
      'maxQueuedAlerts',
      options.maxQueuedAlerts ?? DEFAULTS.maxQueuedAlerts,
      1,
    );
    this.maxAlertsPerPost = integerAtLeast(
      'maxAlertsPerPost',
      options.maxAlertsPerPost ?? DEFAULTS.maxAlertsPerPost,
      1,
    );
    this.initialDelayMs = positiveMs('initialDelayMs', options.initialDelayMs ?? DEFAULTS.initialDelayMs);
    this.maxDelayMs = positiveMs('maxDelayMs', options.maxDelayMs ?? DEFAULTS.maxDelayMs);
    if (this.maxDelayMs < this.initialDelayMs)
      throw invalid('maxDelayMs', `must be >= initialDelayMs (${this.initialDelayMs})`, this.maxDelayMs);
    this.maxAttempts = integerAtLeast('maxAttempts', options.maxAttempts ?? DEFAULTS.maxAttempts, 1);
    this.timeoutMs = positiveMs('timeoutMs', options.timeoutMs ?? DEFAULTS.timeoutMs);
    this.random = dependencies.random ?? Math.random;
    this.now = dependencies.now ?? Date.now;
    const Agent = this.url.protocol === 'https:' ? https.Agent : http.Agent;
    this.agent = new Agent({ keepAlive: true, maxSockets: 1 });
  }

  get stats(): WebhookStats {
    return {
      sent: this.sent,
      failed: this.failed,
      rejected: this.rejected,
      dropped: this.dropped,
      retries: this.retries,
      queued: this.queue.length + this.inFlight,
    };
  }

  health(): WebhookHealth {
    return this.lastError === undefined
      ? { state: this.state }
      : { state: this.state, lastError: this.lastError };
  }

  /** Enqueues `alerts` for delivery and returns at once; never throws for the receiver's sake. */
  notify(alerts: readonly Alert[]): void {
    if (alerts.length === 0) return;
    if (this.closing) {
      this.drop(alerts.length, 'the notifier is closed');
      return;
    }
    for (const alert of alerts) this.queue.push(alert);
    const excess = this.queue.length - this.maxQueuedAlerts;
    if (excess > 0) {
      this.queue.splice(0, excess);
      this.drop(excess, `more than ${this.maxQueuedAlerts} alerts wait for the receiver`);
    }
    this.pumping ??= this.pump();
  }

  /**
   * Stops taking alerts and waits up to `timeoutMs` for the queue to empty (delivered, rejected or given up);
   * then gives up on the rest, which counts as failed. True when the queue emptied in time.
   */
  close(timeoutMs = 5_000): Promise<boolean> {
    this.closed ??= this.shutDown(timeoutMs);
    return this.closed;
  }

  private async shutDown(timeoutMs: number): Promise<boolean> {
    this.closing = true;
    let drained = true;
    const pumping = this.pumping;
    if (pumping !== undefined) {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      });
      drained = await Promise.race([pumping.then(() => true), timedOut]);
      clearTimeout(timer);
      if (!drained) {
        this.abort.abort();
        await pumping;
      }
    }
    const left = this.queue.length;
    this.failed += left;
    this.queue.length = 0;
    if (!drained)
      this.logger.error(
        { event: 'alerts.webhook.closed', endpoint: this.origin, undelivered: left + this.abandoned },
        `alert webhook closed after ${timeoutMs} ms with alerts undelivered`,
      );
    this.agent.destroy();
    this.state = 'closed';
    return drained;
  }

  private drop(count: number, why: string): void {
    this.dropped += count;
    if (this.dropLogged) return;
    this.dropLogged = true;
    this.logger.warn(
      { event: 'alerts.webhook.dropped', endpoint: this.origin, dropped: count, totalDropped: this.dropped },
      `alerts dropped: ${why} (counted in dropped; logged once until a delivery succeeds)`,
    );
  }

  /** A bug, not the receiver (deliver() settles every receiver failure): counted and logged, never thrown. */
  private pumpFailed(error: unknown): void {
    const lost = this.inFlight;
    this.failed += lost;
    this.inFlight = 0;
    this.lastError = error instanceof Error ? error.message : String(error);
    this.logger.error(
      { event: 'alerts.webhook.internal', endpoint: this.origin, alerts: lost, error: this.lastError },
      'alert webhook delivery loop failed; the batch in flight is lost',
    );
  }

  /**
   * The one delivery loop. It marks itself finished in the same synchronous step that sees the queue empty,
   * so an alert notified at any moment either is seen by the loop or starts a new one.
   */
  private async pump(): Promise<void> {
    await Promise.resolve(); // alerts notified in the same synchronous run share a POST
    try {
      while (this.queue.length > 0 && !this.abort.signal.aborted) {
        const batch = this.queue.splice(0, this.maxAlertsPerPost);
        this.inFlight = batch.length;
        await this.deliver(batch);
        this.inFlight = 0;
      }
    } catch (error) {
      this.pumpFailed(error);
    } finally {
      this.pumping = undefined;
    }
  }

  private async deliver(batch: Alert[]): Promise<void> {
    const body = JSON.stringify(
      webhookPayload(batch, { receiver: this.receiver, externalURL: this.externalURL }),
    );
    try {
      await retry<void, MlfpError>(() => this.post(body), {
        schedule: { initialDelayMs: this.initialDelayMs, maxDelayMs: this.maxDelayMs },
        jitter: this.random,
        maxAttempts: this.maxAttempts,
        mapError: (error) =>
          error instanceof MlfpError
            ? error
            : new MlfpError('internal', String(error), { cause: error, retriable: false }),
        isRetriable: (failure) => failure.retriable && !this.abort.signal.aborted,
        onRetry: (failure, attempt) => {
          this.retries++;
          this.lastError = failure.message;
          if (this.state !== 'up') return;
          this.state = 'retrying';
          this.logger.warn(
            { event: 'alerts.webhook.retrying', endpoint: this.origin, error: failure.message },
            `alert webhook failed; retrying in ${attempt.delayMs} ms`,
          );
        },
        sleep: (ms) => sleepUnlessAborted(ms, this.abort.signal),
        now: this.now,
      });
    } catch (error) {
      this.settleFailure(batch.length, error as MlfpError);
      return;
    }
    this.sent += batch.length;
    this.dropLogged = false;
    if (this.state === 'retrying') {
      this.state = 'up';
      this.logger.info(
        { event: 'alerts.webhook.recovered', endpoint: this.origin },
        'alert webhook delivers again',
      );
    }
  }

  private settleFailure(count: number, failure: MlfpError): void {
    this.lastError = failure.message;
    if (this.abort.signal.aborted) {
      this.failed += count; // close() gave up: reported once there
      this.abandoned += count;
      return;
    }
    if (failure.code === 'sink_rejected') {
      this.rejected += count;
      if (this.state === 'retrying') this.state = 'up'; // it answers: up, if not pleased
      this.logger.error(
        { event: 'alerts.webhook.rejected', endpoint: this.origin, alerts: count, error: failure.message },
        'alert webhook refused a payload; not retried',
      );
      return;
    }
    this.failed += count;
    this.logger.error(
      { event: 'alerts.webhook.failed', endpoint: this.origin, alerts: count, error: failure.message },
      `alert webhook failed ${this.maxAttempts} times; alerts given up`,
    );
  }

  /** One POST; resolves on 2xx, rejects with sink_unavailable (retriable) or sink_rejected (final). */
  private post(body: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.abort.signal.aborted) {
        reject(new MlfpError('sink_unavailable', 'alert webhook closed', { retriable: false }));
        return;
      }
      const transport = this.url.protocol === 'https:' ? https : http;
      const request = transport.request(this.url, {
        method: 'POST',
        agent: this.agent,
        signal: this.abort.signal,
        headers: {
          ...this.headers,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      });
      const timer = setTimeout(() => {
        request.destroy(
          new MlfpError('sink_unavailable', `no answer within ${this.timeoutMs} ms`, { retriable: true }),
        );
      }, this.timeoutMs);
      const fail = (error: unknown): void => {
        clearTimeout(timer);
        reject(this.socketError(error));
      };
      request.on('error', fail);
      request.on('response', (response) => {
        response.on('error', fail);
        response.on('close', () => {
          if (!response.complete) fail(new Error('the answer was cut off'));
        });
        response.on('end', () => {
          clearTimeout(timer);
          const status = response.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve();
          else if (RETRIABLE_STATUS(status))
            reject(new MlfpError('sink_unavailable', `HTTP ${status}`, { retriable: true }));
          else reject(new MlfpError('sink_rejected', `HTTP ${status}`, { retriable: false }));
        });
        response.resume(); // the body is not read: its content could echo what was sent
      });
      request.end(body);
    });
  }

  private socketError(error: unknown): MlfpError {
    if (error instanceof MlfpError) return error;
    if (this.abort.signal.aborted)
      return new MlfpError('sink_unavailable', 'alert webhook closed', { cause: error, retriable: false });
    const code = (error as { code?: unknown } | null)?.code;
    const message = error instanceof Error ? error.message : String(error);
    return new MlfpError(
      'sink_unavailable',
      typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message,
      {
        cause: error,
        retriable: true,
      },
    );
  }
}
