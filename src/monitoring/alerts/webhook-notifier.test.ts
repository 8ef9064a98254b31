// Config checks only; delivery runs against a real HTTP receiver in test/integration/alerts/webhook.test.ts.
import { describe, expect, it } from 'vitest';
import { MlfpError } from '../../errors.js';
import { createLogger } from '../log.js';
import { WebhookNotifier, type WebhookNotifierOptions } from './webhook-notifier.js';

const logger = createLogger({ level: 'silent', write: () => undefined });

function failure(options: WebhookNotifierOptions): MlfpError {
  try {
    new WebhookNotifier(options, logger);
  } catch (error) {
    expect(error).toBeInstanceOf(MlfpError);
    return error as MlfpError;
  }
  throw new Error('expected config_invalid');
}

describe('WebhookNotifier config', () => {
  it('takes http and https URLs only, naming alerts.webhook.url', () => {
    for (const url of ['ftp://example.com/hook', 'not a url', 'file:///etc/passwd']) {
      const error = failure({ url });
      expect(error).toMatchObject({ code: 'config_invalid', field: 'alerts.webhook.url' });
    }
    expect(new WebhookNotifier({ url: 'https://example.com/hook' }, logger).health()).toStrictEqual({
      state: 'up',
    });
  });

  it("never repeats a URL's password or a header's value in its errors", () => {
    const url = failure({ url: 'ftp://user:hunter2@example.com/' });
    expect(`${url.message} ${url.value}`).not.toContain('hunter2');
    const header = failure({
      url: 'http://example.com/',
      headers: { Authorization: 'Bearer s3cret\r\nX-Injected: 1' },
    });
    expect(header).toMatchObject({ code: 'config_invalid', field: 'alerts.webhook.headers.Authorization' });
    expect(JSON.stringify(header.toJSON())).not.toContain('s3cret');
  });

  it('checks its limits', () => {
    const url = 'http://127.0.0.1:9/';
    expect(failure({ url, maxQueuedAlerts: 0 }).field).toBe('alerts.webhook.maxQueuedAlerts');
    expect(failure({ url, maxAlertsPerPost: 2.5 }).field).toBe('alerts.webhook.maxAlertsPerPost');
    expect(failure({ url, initialDelayMs: -1 }).field).toBe('alerts.webhook.initialDelayMs');
    expect(failure({ url, initialDelayMs: 500, maxDelayMs: 100 }).field).toBe('alerts.webhook.maxDelayMs');
    expect(failure({ url, maxAttempts: 0 }).field).toBe('alerts.webhook.maxAttempts');
    expect(failure({ url, timeoutMs: Number.NaN }).field).toBe('alerts.webhook.timeoutMs');
  });

  it('starts with nothing queued and closes at once when idle', async () => {
    const notifier = new WebhookNotifier({ url: 'http://127.0.0.1:9/' }, logger);
    expect(notifier.stats).toStrictEqual({
      sent: 0,
      failed: 0,
      rejected: 0,
      dropped: 0,
      retries: 0,
      queued: 0,
    });
    await expect(notifier.close()).resolves.toBe(true);
    expect(notifier.health().state).toBe('closed');
  });
});
