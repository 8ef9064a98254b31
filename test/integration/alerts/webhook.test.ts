// The alert webhook against a real HTTP receiver (node:http on 127.0.0.1): the Alertmanager v4 payload
// arrives; 5xx/429 and timeouts are retried and delivered once; 4xx is not retried; a receiver that is down
// gets the queued alerts once it is up; notify() never waits; no secret reaches a log line.
// No external service is needed: the receiver lives in the test process.

import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Alert } from '../../../src/domain/types.js';
import type { WebhookPayload } from '../../../src/monitoring/alerts/alertmanager.js';
import { AlertRule } from '../../../src/monitoring/alerts/rule.js';
import {
  WebhookNotifier,
  type WebhookNotifierOptions,
} from '../../../src/monitoring/alerts/webhook-notifier.js';
import { createLogger } from '../../../src/monitoring/log.js';

const TOKEN = 'Bearer s3cret-token-9f2c';
const PASSWORD = 'pa55-w0rd-71x';

interface Received {
  headers: IncomingHttpHeaders;
  body: WebhookPayload;
}

/** How the receiver answers its n-th request (0-based): a status, or 'hang' (never answers). */
type Answer = number | 'hang';

class Receiver {
  readonly received: Received[] = [];
  port = 0;
  private readonly hanging: ServerResponse[] = [];
  private waiters: Array<{ count: number; resolve: () => void }> = [];
  private readonly server: http.Server;

  private constructor(private readonly answer: (index: number) => Answer) {
    this.server = http.createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => this.take(request, Buffer.concat(chunks), response));
    });
  }

  static async start(answer: (index: number) => Answer, port = 0): Promise<Receiver> {
    const receiver = new Receiver(answer);
    await new Promise<void>((resolve) => receiver.server.listen(port, '127.0.0.1', resolve));
    receiver.port = (receiver.server.address() as AddressInfo).port;
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  /** Resolves once `count` requests have arrived. */
  requests(count: number): Promise<void> {
    if (this.received.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  async close(): Promise<void> {
    for (const response of this.hanging) response.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private take(request: IncomingMessage, body: Buffer, response: ServerResponse): void {
    const index = this.received.length;
    this.received.push({
      headers: request.headers,
      body: JSON.parse(body.toString('utf8')) as WebhookPayload,
    });
    this.waiters = this.waiters.filter((waiter) => {
      if (this.received.length < waiter.count) return true;
      waiter.resolve();
      return false;
    });
    const status = this.answer(index);
    if (status === 'hang') this.hanging.push(response);
    else response.writeHead(status, { 'content-type': 'text/plain' }).end(`answer ${status}`);
  }
}

/** A free port nobody listens on (for "receiver down"). */
async function freePort(): Promise<number> {
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** `count` firing alerts from a real rule, one label set each. */
function firingAlerts(count: number, prefix = 'model'): Alert[] {
  const rule = new AlertRule({
    name: 'FeatureDrift',
    type: 'drift',
    severity: 'warning',
    forMs: 0,
    keepFiringForMs: 0,
    fireAt: 0.25,
    resolveBelow: 0.2,
    maxLabelSets: Math.max(count, 1),
  });
  for (let index = 0; index < count; index++) rule.observe({ subject: `${prefix}-${index}@1` }, 0.3, 1_000);
  const alerts: Alert[] = [];
  rule.evaluate(1_000, (alert) => alerts.push(alert));
  return alerts;
}

const lines: string[] = [];
const logger = createLogger({ level: 'debug', write: (line) => void lines.push(line) });
const cleanups: Array<() => Promise<unknown>> = [];

function notifierFor(options: WebhookNotifierOptions): WebhookNotifier {
  const notifier = new WebhookNotifier(
    { receiver: 'ops', externalURL: 'http://engine.test', initialDelayMs: 10, maxDelayMs: 50, ...options },
    logger,
    { random: () => 0.5 },
  );
  cleanups.push(() => notifier.close(100));
  return notifier;
}

async function receiverWith(answer: (index: number) => Answer, port?: number): Promise<Receiver> {
  const receiver = await Receiver.start(answer, port);
  cleanups.push(() => receiver.close());
  return receiver;
}

const events = (): string[] => lines.map((line) => (JSON.parse(line) as { event?: string }).event ?? '');

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  const log = lines.join('\n');
  expect(log).not.toContain('s3cret-token');
  expect(log).not.toContain(PASSWORD);
  lines.length = 0;
});

describe('WebhookNotifier against a real receiver', () => {
  it('POSTs the Alertmanager v4 payload with the configured Authorization header', async () => {
    const receiver = await receiverWith(() => 200);
    const notifier = notifierFor({ url: receiver.url, headers: { Authorization: TOKEN } });
    const alerts = firingAlerts(2);
    notifier.notify(alerts);
    await expect(notifier.close(5_000)).resolves.toBe(true);
    expect(receiver.received).toHaveLength(1);
    const [{ headers, body }] = receiver.received as [Received];
    expect(headers['authorization']).toBe(TOKEN);
    expect(headers['content-type']).toBe('application/json');
    expect(body).toMatchObject({
      version: '4',
      receiver: 'ops',
      status: 'firing',
      groupKey: '{}:{alertname="FeatureDrift"}',
      truncatedAlerts: 0,
      externalURL: 'http://engine.test',
      groupLabels: { alertname: 'FeatureDrift' },
    });
    expect(body.alerts.map((alert) => alert.fingerprint)).toStrictEqual(
      alerts.map((alert) => alert.fingerprint),
    );
    expect(body.alerts[0]).toMatchObject({
      status: 'firing',
      labels: { alertname: 'FeatureDrift', subject: 'model-0@1', severity: 'warning', type: 'drift' },
      endsAt: '0001-01-01T00:00:00Z',
    });
    expect(notifier.stats).toStrictEqual({
      sent: 2,
      failed: 0,
      rejected: 0,
      dropped: 0,
      retries: 0,
      queued: 0,
    });
    expect(JSON.stringify(notifier.health())).not.toContain('s3cret');
  });

  it('retries 5xx and 429, then delivers exactly once (credentials in the URL reach the receiver, not the log)', async () => {
    const receiver = await receiverWith((index) => [500, 500, 429, 200][index] ?? 200);
    const url = receiver.url.replace('http://', `http://alerts:${PASSWORD}@`);
    const notifier = notifierFor({ url });
    notifier.notify(firingAlerts(3));
    await expect(notifier.close(5_000)).resolves.toBe(true);
    expect(receiver.received).toHaveLength(4);
    expect(new Set(receiver.received.map((request) => JSON.stringify(request.body))).size).toBe(1);
    expect(receiver.received[0]!.headers['authorization']).toBe(
      `Basic ${Buffer.from(`alerts:${PASSWORD}`).toString('base64')}`,
    );
    expect(notifier.stats).toMatchObject({ sent: 3, retries: 3, failed: 0, rejected: 0 });
    expect(events().filter((event) => event === 'alerts.webhook.retrying')).toHaveLength(1);
    expect(events()).toContain('alerts.webhook.recovered');
    expect(lines.join('\n')).toContain(`http://127.0.0.1:${receiver.port}`); // the origin names the receiver
    expect(notifier.health()).toStrictEqual({ state: 'closed', lastError: 'HTTP 429' });
  });

  it('does not retry a 400: the alerts count as rejected', async () => {
    const receiver = await receiverWith(() => 400);
    const notifier = notifierFor({ url: receiver.url, headers: { Authorization: TOKEN } });
    notifier.notify(firingAlerts(2));
    await expect(notifier.close(5_000)).resolves.toBe(true);
    expect(receiver.received).toHaveLength(1);
    expect(notifier.stats).toMatchObject({ sent: 0, rejected: 2, retries: 0, failed: 0 });
    expect(events()).toContain('alerts.webhook.rejected');
  });

  it('gives a batch up after maxAttempts failures and counts it as failed', async () => {
    const receiver = await receiverWith(() => 503);
    const notifier = notifierFor({ url: receiver.url, maxAttempts: 3 });
    notifier.notify(firingAlerts(2));
    await vi.waitFor(() => expect(notifier.stats.failed).toBe(2), { timeout: 5_000 });
    expect(receiver.received).toHaveLength(3);
    expect(notifier.stats).toMatchObject({ sent: 0, retries: 2, failed: 2, queued: 0 });
    expect(notifier.health()).toStrictEqual({ state: 'retrying', lastError: 'HTTP 503' });
    expect(events()).toContain('alerts.webhook.failed');
    await expect(notifier.close(1_000)).resolves.toBe(true);
  });

  it('gives up on a request after timeoutMs and retries it', async () => {
    const receiver = await receiverWith((index) => (index === 0 ? 'hang' : 200));
    const notifier = notifierFor({ url: receiver.url, timeoutMs: 200 });
    notifier.notify(firingAlerts(1));
    await expect(notifier.close(5_000)).resolves.toBe(true);
    expect(receiver.received).toHaveLength(2);
    expect(notifier.stats).toMatchObject({ sent: 1, retries: 1, failed: 0 });
    expect(notifier.health().lastError).toBe('no answer within 200 ms');
  });

  it('keeps alerts while the receiver is down and delivers them all once it is up', async () => {
    const port = await freePort();
    const notifier = notifierFor({ url: `http://127.0.0.1:${port}/hook`, maxAttempts: 1_000 });
    const first = firingAlerts(1, 'early');
    notifier.notify(first);
    await vi.waitFor(() => expect(notifier.stats.retries).toBeGreaterThanOrEqual(2), { timeout: 5_000 });
    expect(notifier.health()).toMatchObject({
      state: 'retrying',
      lastError: expect.stringContaining('ECONNREFUSED'),
    });
    const later = firingAlerts(2, 'late');
    notifier.notify(later); // queued behind the batch being retried
    const receiver = await receiverWith(() => 200, port);
    await expect(notifier.close(5_000)).resolves.toBe(true);
    const delivered = receiver.received.flatMap((request) =>
      request.body.alerts.map((alert) => alert.fingerprint),
    );
    expect(delivered).toStrictEqual([...first, ...later].map((alert) => alert.fingerprint));
    expect(notifier.stats).toMatchObject({ sent: 3, failed: 0, dropped: 0, queued: 0 });
  });

  it('never makes the caller wait, drops the oldest beyond the bound (one warning), and gives up at close', async () => {
    const receiver = await receiverWith(() => 'hang');
    const notifier = notifierFor({ url: receiver.url, headers: { Authorization: TOKEN }, timeoutMs: 60_000 });
    const [many, more, one] = [firingAlerts(1_100, 'a'), firingAlerts(50, 'b'), firingAlerts(1, 'c')];
    const startedAt = performance.now();
    const returned = notifier.notify(many);
    notifier.notify(more);
    expect(returned).toBeUndefined();
    expect(performance.now() - startedAt).toBeLessThan(100); // enqueued, nothing sent yet
    expect(notifier.stats).toMatchObject({ queued: 1_000, dropped: 150 });
    await receiver.requests(1); // the receiver holds the first POST …
    const whileHanging = performance.now();
    notifier.notify(one); // … and notify still returns at once
    expect(performance.now() - whileHanging).toBeLessThan(100);
    expect(receiver.received[0]!.body.alerts).toHaveLength(64);
    expect(receiver.received[0]!.body.alerts[0]!.labels['subject']).toBe('a-150@1'); // the oldest 150 went
    await expect(notifier.close(200)).resolves.toBe(false);
    expect(notifier.stats).toMatchObject({ sent: 0, failed: 1_001, dropped: 150, queued: 0 });
    notifier.notify(firingAlerts(1, 'd'));
    expect(notifier.stats.dropped).toBe(151);
    expect(events().filter((event) => event === 'alerts.webhook.dropped')).toHaveLength(1);
    expect(events()).toContain('alerts.webhook.closed');
    expect(notifier.health().state).toBe('closed');
  });
});
