// The live dashboard (dashboard/) in headless Chromium (Debian's `chromium`, driven by playwright-core) against
// the engine embedded in this process (runApp, a paced synthetic market whose 5m bars close several times a
// second): the page connects, draws candles with their overlays, updates, resumes a dropped connection from
// the server's ring with nothing lost or repeated, shows "reconnecting" while the engine is down and goes live
// again on a new engine on the same port. It loads nothing from outside the API's origin. The screenshot is
// taken every run; it replaces docs/dashboard.png only with MLFP_UPDATE_SCREENSHOT=1 (so a test run leaves
// the checkout clean).

import { existsSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { runApp } from '../../../src/streams/app.js';
import { adminToken, CLIENT_ID, loginWithCode, realmUser, totp } from '../security/keycloak-client.js';

const REPO_ROOT = join(import.meta.dirname, '..', '..', '..');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SCREENSHOT = join(REPO_ROOT, 'docs', 'dashboard.png');
const SCREENSHOT_MAX_BYTES = 300_000;
const WAIT_MS = 45_000;
/** the light theme's candle colours (dashboard/style.css --up, --down) */
const CANDLE_COLOURS: ReadonlyArray<readonly [number, number, number]> = [
  [0x1a, 0x7f, 0x37],
  [0xcf, 0x22, 0x2e],
];

interface Engine {
  url: string;
  port: number;
  /** aborts the run (as SIGTERM would) and resolves with its exit code */
  stop(): Promise<number>;
}

/**
 * Runs the embedded engine in this process: 3 symbols, 20,000 ticks/s, a tick every 300 ms of event time per
 * symbol, so each symbol closes about 7 five-minute bars per second; 2 % bad ticks, so data-quality alerts
 * (bound 1 %) fire. The API URL comes from the run's `api.listening` log line.
 */
async function startEngine(options: { port: number; start: string; auth?: unknown }): Promise<Engine> {
  const config = parseConfig({
    synthetic: {
      symbols: ['AAPL', 'MSFT', 'BTC-USD'],
      seed: 7,
      start: options.start,
      ticksPerSecond: 20_000,
      meanTickIntervalMs: 300,
      badTickRate: 0.02,
    },
    dataQuality: { maxShare: 0.01 },
    http: { enabled: false },
    progress: { intervalMs: 0 },
    api: {
      port: options.port,
      retryAfterMs: 200,
      ...(options.auth === undefined ? {} : { auth: options.auth }),
    },
    log: { level: 'info' },
  });
  const controller = new AbortController();
  const logLines: string[] = [];
  let listening: (url: string) => void = () => undefined;
  const url = new Promise<string>((resolve) => {
    listening = resolve;
  });
  const io = {
    stdout: () => undefined,
    stderr: (text: string) => {
      for (const line of text.split('\n')) {
        if (line.trim() === '') continue;
        logLines.push(line);
        const entry = JSON.parse(line) as { event?: string; url?: string };
        if (entry.event === 'api.listening' && entry.url !== undefined) listening(entry.url);
      }
    },
  };
  const run = runApp(config, io, { stopSignal: controller.signal });
  const apiUrl = await Promise.race([
    url,
    run.then((code) => {
      throw new Error(`runApp exited with ${code} before listening:\n${logLines.join('\n')}`);
    }),
  ]);
  return {
    url: apiUrl,
    port: Number(new URL(apiUrl).port),
    stop: () => {
      controller.abort();
      return run;
    },
  };
}

/** What the page exposes as window.__mlfp. */
interface PageState {
  status: string;
  symbol: string;
  timeframe: string;
  symbols: string[];
  bars: number;
  overlays: number;
  predictions: number;
  alerts: number;
  received: number;
  duplicates: number;
  reconnects: number;
  gaps: number;
  replays: Record<string, string>;
  positions: Record<string, { epoch: string; seq: number }>;
}

interface CanvasLike {
  width: number;
  height: number;
  getContext(
    kind: '2d',
  ): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null;
}

/**
 * The page's globals as the test reads them inside page.evaluate (the project's TypeScript has no DOM library;
 * each callback casts globalThis to this, since it runs in the browser, not here).
 */
interface PageGlobals {
  __mlfp?: PageState & { dropConnection(): void };
  document: {
    querySelectorAll(selector: string): Iterable<CanvasLike>;
    querySelector(selector: string): { textContent: string | null } | null;
  };
}

const pageState = (page: Page): Promise<PageState> =>
  page.evaluate(() => {
    const m = (globalThis as unknown as PageGlobals).__mlfp!;
    return {
      status: m.status,
      symbol: m.symbol,
      timeframe: m.timeframe,
      symbols: m.symbols,
      bars: m.bars,
      overlays: m.overlays,
      predictions: m.predictions,
      alerts: m.alerts,
      received: m.received,
      duplicates: m.duplicates,
      reconnects: m.reconnects,
      gaps: m.gaps,
      replays: m.replays,
      positions: m.positions,
    };
  });

/** Waits until `predicate(state)` holds; the failure names the last state seen. */
async function waitForState(
  page: Page,
  what: string,
  predicate: (state: PageState) => boolean,
): Promise<PageState> {
  const deadline = Date.now() + WAIT_MS;
  let last: PageState | undefined;
  while (Date.now() < deadline) {
    last = await page
      .evaluate(() => ((globalThis as unknown as PageGlobals).__mlfp === undefined ? undefined : true))
      .then((ready) => (ready ? pageState(page) : undefined));
    if (last !== undefined && predicate(last)) return last;
    await page.waitForTimeout(100);
  }
  throw new Error(`timed out waiting for ${what}; last state: ${JSON.stringify(last)}`);
}

/** Pixels of the candle colours on the chart's canvases: > 0 once candles are drawn. */
const candlePixels = (page: Page): Promise<number> =>
  page.evaluate((colours) => {
    let count = 0;
    const { document } = globalThis as unknown as PageGlobals;
    for (const canvas of document.querySelectorAll('#chart canvas')) {
      if (canvas.width === 0 || canvas.height === 0) continue;
      const context = canvas.getContext('2d');
      if (context === null) continue;
      const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
      for (let index = 0; index < pixels.length; index += 4) {
        if (pixels[index + 3]! < 200) continue;
        for (const [r, g, b] of colours)
          if (
            Math.abs(pixels[index]! - r) < 8 &&
            Math.abs(pixels[index + 1]! - g) < 8 &&
            Math.abs(pixels[index + 2]! - b) < 8
          ) {
            count++;
            break;
          }
      }
    }
    return count;
  }, CANDLE_COLOURS);

describe('live dashboard in headless Chromium', () => {
  let browser: Browser;
  let engine: Engine | undefined;
  let page: Page;
  const pageErrors: string[] = [];
  const consoleErrors: string[] = [];
  const foreignRequests: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(`${CHROMIUM} is missing: scripts/install-tools.sh installs Debian's chromium`);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    engine = await startEngine({ port: 0, start: '2024-01-02T00:00:00Z' });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
    const origin = new URL(engine.url).origin;
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('request', (request) => {
      const url = request.url();
      if (
        !url.startsWith(origin) &&
        !url.startsWith(origin.replace('http', 'ws')) &&
        !url.startsWith('data:')
      )
        foreignRequests.push(url);
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await engine?.stop();
  });

  it('connects, draws candles with overlays, predictions and alerts, and updates', async () => {
    await page.goto(engine!.url);
    const first = await waitForState(page, 'live with bars', (s) => s.status === 'live' && s.bars > 0);
    expect(first.symbols.length).toBeGreaterThan(0);
    expect(first.symbols).toContain(first.symbol);
    expect(await page.locator('#status-text').textContent()).toBe('Live');
    expect(await candlePixels(page)).toBeGreaterThan(50);

    const later = await waitForState(page, 'more bars', (s) => s.bars > first.bars + 5);
    expect(later.received).toBeGreaterThan(first.received);
    // the first subscriptions: latest values for alerts and predictions, the ring's whole history for bars
    expect(later.replays).toMatchObject({ 'bars.5m': 'ring', predictions: 'snapshot', alerts: 'snapshot' });

    // EMA 50 needs 50 bars: wait for a chart worth a screenshot
    const full = await waitForState(
      page,
      'overlays, predictions and alerts',
      (s) => s.bars >= 110 && s.overlays >= 80 && s.predictions > 0 && s.alerts > 0,
    );
    expect(full.duplicates).toBe(0);
    expect(full.gaps).toBe(0);
    const legend = await page.locator('#legend').textContent();
    for (const label of ['SMA 20', 'EMA 50', 'BB upper (20, 2)', 'BB lower (20, 2)', 'RSI 14'])
      expect(legend).toContain(label);
    expect(await page.locator('#predictions tbody tr').count()).toBe(full.predictions);
    expect(await page.locator('#alerts li').count()).toBeGreaterThan(0);

    const png = await page.screenshot({ type: 'png' });
    expect(png.length).toBeLessThan(SCREENSHOT_MAX_BYTES);
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    if (process.env['MLFP_UPDATE_SCREENSHOT'] === '1') {
      await writeFile(SCREENSHOT, png);
      expect((await stat(SCREENSHOT)).size).toBe(png.length);
    }
  }, 90_000);

  it('resumes a dropped connection from the ring: every missed bar once, none twice', async () => {
    const before = await pageState(page);
    await page.evaluate(() => (globalThis as unknown as PageGlobals).__mlfp!.dropConnection());
    const back = await waitForState(
      page,
      'live again after the drop',
      (s) => s.status === 'live' && s.reconnects > before.reconnects && s.bars > before.bars + 5,
    );
    expect(back.replays['bars.5m']).toBe('ring');
    expect(back.positions['bars.5m']?.epoch).toBe(before.positions['bars.5m']?.epoch);
    expect(back.duplicates).toBe(0);
    expect(back.gaps).toBe(0);
  }, 60_000);

  it('shows reconnecting while the engine is down, then goes live on a new engine on the same port', async () => {
    const port = engine!.port;
    const before = await pageState(page);
    expect(await engine!.stop()).toBe(0);
    engine = undefined;
    const down = await waitForState(page, 'reconnecting', (s) => s.status === 'reconnecting');
    expect(await page.locator('#status-text').textContent()).toBe('Reconnecting…');
    expect(await page.locator('#status').getAttribute('data-state')).toBe('reconnecting');

    engine = await startEngine({ port, start: '2024-01-04T00:00:00Z' });
    const live = await waitForState(page, 'live on the new engine', (s) => s.status === 'live');
    const flowing = await waitForState(
      page,
      'data from the new engine',
      (s) => s.received > down.received + 50 && s.bars > live.bars,
    );
    // a new engine is a new epoch: the old positions are unknown to it, so the resume is a snapshot
    expect(flowing.positions['bars.5m']?.epoch).not.toBe(before.positions['bars.5m']?.epoch);
    expect(flowing.replays['bars.5m']).toBe('snapshot');
    expect(flowing.duplicates).toBe(0);
    expect(await candlePixels(page)).toBeGreaterThan(50);
  }, 90_000);

  it('switches symbol (features history from the ring) and timeframe (1h bars)', async () => {
    const before = await pageState(page);
    const other = before.symbols.find((symbol) => symbol !== before.symbol)!;
    await page.getByLabel('Symbol').selectOption(other);
    const switched = await waitForState(
      page,
      `chart of ${other}`,
      (s) => s.symbol === other && s.bars > 0 && s.overlays > 0,
    );
    expect(switched.replays['features.5m']).toBe('ring');
    expect(await page.locator('#chart-symbol').textContent()).toBe(`${other} · 5m`);

    await page.getByLabel('Timeframe').selectOption('1h');
    const hourly = await waitForState(page, '1h bars', (s) => s.timeframe === '1h' && s.bars > 0);
    expect(hourly.replays['bars.1h']).toBe('ring');
    expect(Object.keys(hourly.positions)).not.toContain('bars.5m');
    expect(hourly.duplicates).toBe(0);
    expect(new URL(page.url()).search).toBe(`?symbol=${encodeURIComponent(other)}&timeframe=1h`);
  }, 60_000);

  it('ran without page errors and loaded nothing from outside the API origin', async () => {
    expect(pageErrors).toEqual([]);
    expect(foreignRequests).toEqual([]);
    // while the engine was down the browser logged refused connections; nothing else is an error
    expect(
      consoleErrors.filter((text) => !/ERR_CONNECTION_REFUSED|connection establishment/u.test(text)),
    ).toEqual([]);
  });

  it('serves the vendored lightweight-charts byte for byte as the npm package builds it', async () => {
    const vendored = await readFile(
      join(REPO_ROOT, 'dashboard', 'vendor', 'lightweight-charts.standalone.production.js'),
    );
    const packaged = await readFile(
      join(
        REPO_ROOT,
        'node_modules',
        'lightweight-charts',
        'dist',
        'lightweight-charts.standalone.production.js',
      ),
    );
    expect(vendored.equals(packaged), 'run npm run vendor:dashboard after updating lightweight-charts').toBe(
      true,
    );
  });
});

/**
 * api.auth.mode oidc against the test realm: the page asks for a login, the analyst logs in through Keycloak's
 * own forms (authorization code + PKCE, password then TOTP) and sees predictions; a reader's token pasted into
 * the page shows bars but not predictions (they need the analyst role). The realm's mlfp-api client registers
 * only http://127.0.0.1/callback and no web origin, so for the test the page's own URL is added to its redirect
 * URIs and web origins through the admin API (the token exchange is a cross-origin fetch), and taken out after.
 */
describe('dashboard login against Keycloak (api.auth.mode oidc)', () => {
  const issuer = inject('services').keycloakIssuer;
  const adminPassword = process.env['MLFP_KEYCLOAK_ADMIN_PASSWORD'] ?? 'admin';
  let browser: Browser;
  let engine: Engine | undefined;
  let restoreClient: (() => Promise<void>) | undefined;

  /** Adds the dashboard's URL to mlfp-api's redirect URIs and web origins; returns the undo. */
  async function allowDashboard(dashboardUrl: string): Promise<() => Promise<void>> {
    const admin = `${issuer!.replace('/realms/', '/admin/realms/')}/clients`;
    const headers = { authorization: `Bearer ${await adminToken(issuer!, adminPassword)}` };
    const found = (await (await fetch(`${admin}?clientId=${CLIENT_ID}`, { headers })).json()) as Array<{
      id: string;
      redirectUris: string[];
      webOrigins: string[];
    }>;
    const client = found[0]!;
    const put = async (body: unknown): Promise<void> => {
      const response = await fetch(`${admin}/${client.id}`, {
        method: 'PUT',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(response.status, 'update client mlfp-api').toBe(204);
    };
    const origin = new URL(dashboardUrl).origin;
    await put({
      ...client,
      redirectUris: [...client.redirectUris, dashboardUrl],
      webOrigins: [...client.webOrigins, origin],
    });
    return async () => {
      const fresh = { authorization: `Bearer ${await adminToken(issuer!, adminPassword)}` };
      const current = (await (await fetch(`${admin}/${client.id}`, { headers: fresh })).json()) as {
        redirectUris: string[];
        webOrigins: string[];
      };
      const response = await fetch(`${admin}/${client.id}`, {
        method: 'PUT',
        headers: { ...fresh, 'content-type': 'application/json' },
        body: JSON.stringify({
          ...current,
          redirectUris: current.redirectUris.filter((uri) => uri !== dashboardUrl),
          webOrigins: current.webOrigins.filter((value) => value !== origin),
        }),
      });
      expect(response.status).toBe(204);
    };
  }

  async function openDashboard(): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
    // the page's OIDC settings point at the test realm (config.json names the default local one)
    await page.route('**/config.json', (route) =>
      route.fulfill({ json: { oidc: { issuer, clientId: CLIENT_ID, scope: 'openid' } } }),
    );
    await page.goto(engine!.url);
    return page;
  }

  beforeAll(async () => {
    expect(issuer, 'MLFP_KEYCLOAK_ISSUER (scripts/services.sh env keycloak)').toMatch(/^http/);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    engine = await startEngine({
      port: 0,
      start: '2024-01-02T00:00:00Z',
      auth: { mode: 'oidc', oidc: { issuer, audience: CLIENT_ID, tokenType: 'Bearer' } },
    });
    restoreClient = await allowDashboard(engine.url);
  }, 60_000);

  afterAll(async () => {
    await restoreClient?.();
    await browser?.close();
    await engine?.stop();
  });

  it('asks for a login, then logs the analyst in with code + PKCE and shows bars and predictions', async () => {
    const page = await openDashboard();
    await waitForState(page, 'login required', (s) => s.status === 'login');
    expect(await page.locator('#login').isVisible()).toBe(true);
    const analyst = realmUser('analyst');
    await page.locator('#login-oidc').click();
    await page.waitForURL((url) => url.href.startsWith(issuer!));
    await page.locator('#username').fill(analyst.username);
    await page.locator('#password').fill(analyst.password);
    await page.locator('#kc-login').click();
    await page.locator('#otp').fill(totp(analyst.totpSecret!, Date.now()));
    await page.locator('#kc-login').click();
    await page.waitForURL((url) => url.href.startsWith(engine!.url));
    const live = await waitForState(
      page,
      'live as analyst with predictions',
      (s) => s.status === 'live' && s.bars > 0 && s.predictions > 0,
    );
    expect(live.duplicates).toBe(0);
    expect(await page.locator('#identity-text').textContent()).toBe('analyst (analyst)');
    // the authorization response (code, state) does not stay in the address bar
    expect(new URL(page.url()).hash).toBe('');
    await page.close();
  }, 60_000);

  it('takes a pasted reader token: bars flow, predictions are refused for the role', async () => {
    const tokens = await loginWithCode(issuer!, realmUser('reader'), { nowMs: Date.now() });
    const page = await openDashboard();
    await waitForState(page, 'login required', (s) => s.status === 'login');
    await page.locator('#token-input').fill(tokens.access_token);
    await page.getByRole('button', { name: 'Use token' }).click();
    await waitForState(page, 'live as reader', (s) => s.status === 'live' && s.bars > 0);
    await page.waitForFunction(() =>
      (globalThis as unknown as PageGlobals).document
        .querySelector('#predictions-note')
        ?.textContent?.includes('analyst role'),
    );
    expect(await page.locator('#identity-text').textContent()).toBe('reader (read_only)');
    await page.close();
  }, 60_000);
});
