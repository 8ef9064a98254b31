// The live dashboard: one page served by the engine's public API, no build step. It subscribes to the bars and
// features of the chosen timeframe, the predictions and the alerts (client.js), keeps a bounded history per
// symbol, and draws the chosen symbol (chart.js). window.__mlfp exposes its counters to the browser test.

import { Auth } from './auth.js';
import { OVERLAYS, PriceChart } from './chart.js';
import { ApiClient } from './client.js';

const TIMEFRAMES = ['5m', '1h', '1d'];
const TIMEFRAME_MS = { '5m': 300_000, '1h': 3_600_000, '1d': 86_400_000 };
/** bars and feature vectors kept per symbol (older ones are dropped) */
const MAX_POINTS_PER_SYMBOL = 2_000;
const MAX_ALERTS = 100;
const STATUS_TEXT = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  login: 'Login required',
  stopped: 'Offline',
};

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** One timeframe's bars or feature vectors per symbol: bar start (ms) → record, bounded per symbol. */
class SeriesStore {
  constructor() {
    /** @type {Map<string, Map<number, any>>} */
    this.bySymbol = new Map();
  }

  /** Keeps the record: 'new' for a symbol's first, 'trimmed' when its oldest were dropped, else ''. */
  put(record) {
    let points = this.bySymbol.get(record.symbol);
    const isNew = points === undefined;
    if (points === undefined) {
      points = new Map();
      this.bySymbol.set(record.symbol, points);
    }
    points.set(record.ts, record);
    if (points.size > MAX_POINTS_PER_SYMBOL * 1.1) {
      const keep = [...points.keys()].sort((a, b) => a - b).slice(-MAX_POINTS_PER_SYMBOL);
      const kept = new Map(keep.map((ts) => [ts, points.get(ts)]));
      this.bySymbol.set(record.symbol, kept);
      return 'trimmed';
    }
    return isNew ? 'new' : '';
  }

  sorted(symbol) {
    const points = this.bySymbol.get(symbol);
    return points === undefined ? [] : [...points.values()].sort((a, b) => a.ts - b.ts);
  }

  latest(symbol) {
    const points = this.bySymbol.get(symbol);
    if (points === undefined) return undefined;
    let best;
    for (const record of points.values()) if (best === undefined || record.ts > best.ts) best = record;
    return best;
  }

  symbols() {
    return [...this.bySymbol.keys()].sort();
  }

  clear() {
    this.bySymbol.clear();
  }
}

const params = new URLSearchParams(location.search);
const state = {
  symbol: params.get('symbol') ?? '',
  timeframe: TIMEFRAMES.includes(params.get('timeframe') ?? '') ? params.get('timeframe') : '5m',
  bars: new SeriesStore(),
  features: new SeriesStore(),
  /** model|symbol|timeframe → latest prediction */
  predictions: new Map(),
  predictionsRefused: '',
  /** newest first, at most MAX_ALERTS */
  alerts: /** @type {Array<{id: string, alert: any}>} */ ([]),
  alertIds: new Set(),
  renderQueued: false,
};

const css = getComputedStyle(document.documentElement);
const color = (name) => css.getPropertyValue(name).trim();
const chart = new PriceChart($('chart'), {
  text: color('--text'),
  grid: color('--grid'),
  up: color('--up'),
  down: color('--down'),
  volume: color('--volume'),
  sma_20: color('--sma'),
  ema_50: color('--ema'),
  bbands: color('--bbands'),
  rsi: color('--rsi'),
});

const config = await loadConfig();
/** @type {ApiClient | undefined} set once the login state is known */
let client;
const auth = new Auth(config.oidc, onTokens);
await auth.init();

client = new ApiClient({
  url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/ws`,
  token: () => auth.token(),
  onStatus: showStatus,
  onData: onFrame,
  onRefused: (channel, error) => {
    if (channel === 'predictions') {
      state.predictionsRefused =
        error.code === 'forbidden' ? 'Predictions need the analyst role.' : `Predictions: ${error.message}`;
      queueRender();
    } else showStatus(client.status, `${channel}: ${error.message}`);
  },
  onAuthenticated: () => showIdentity(),
});

/** @type {any} read by test/integration/dashboard/dashboard.test.ts */
window.__mlfp = {
  get status() {
    return client.status;
  },
  get symbol() {
    return state.symbol;
  },
  get timeframe() {
    return state.timeframe;
  },
  get symbols() {
    return state.bars.symbols();
  },
  get bars() {
    return chart.candleCount;
  },
  get overlays() {
    return chart.overlayPoints;
  },
  get predictions() {
    return rowsForSymbol().length;
  },
  get alerts() {
    return state.alerts.length;
  },
  get received() {
    return client.stats.received;
  },
  get duplicates() {
    return client.stats.duplicates;
  },
  get reconnects() {
    return client.stats.reconnects;
  },
  get replays() {
    return { ...client.stats.replays };
  },
  get positions() {
    return Object.fromEntries(client.positions);
  },
  /** bar starts missing between the chosen symbol's first and last bar (0: nothing was lost) */
  get gaps() {
    const starts = state.bars.sorted(state.symbol).map((bar) => bar.ts);
    const stepMs = TIMEFRAME_MS[state.timeframe];
    let missing = 0;
    for (let index = 1; index < starts.length; index++)
      missing += (starts[index] - starts[index - 1]) / stepMs - 1;
    return missing;
  },
  /** closes the socket the way a dropped network would: the client must resume where it was */
  dropConnection() {
    client.socket?.close(4000, 'dropped by test');
  },
};

setUpControls();
// latest-value channels first: the first reply tells the epoch that the bar history is then asked from
client.subscribe('alerts', ['*'], { history: 'latest' });
client.subscribe('predictions', ['*'], { history: 'latest' });
client.subscribe(`bars.${state.timeframe}`, ['*'], { history: 'all' });
if (state.symbol !== '') client.subscribe(`features.${state.timeframe}`, [state.symbol], { history: 'all' });
showIdentity();
client.start();

// ------------------------------------------------------------------------------------------------------------

async function loadConfig() {
  try {
    const response = await fetch('config.json', { cache: 'no-cache' });
    return response.ok ? await response.json() : {};
  } catch {
    return {};
  }
}

function onFrame(frame) {
  const channel = frame.channel;
  const data = frame.data;
  if (channel === `bars.${state.timeframe}`) {
    const kept = state.bars.put(data);
    if (kept === 'new') showSymbols();
    // the chart holds what the store holds: a trim redraws it, so it stays bounded too
    if (data.symbol === state.symbol && (kept === 'trimmed' || !chart.addBar(data))) redraw();
    queueRender();
  } else if (channel === `features.${state.timeframe}`) {
    const kept = state.features.put(data);
    if (data.symbol === state.symbol && (kept === 'trimmed' || !chart.addFeatures(data))) redraw();
    queueRender();
  } else if (channel === 'predictions') {
    state.predictions.set(`${data.model}|${data.symbol}|${data.timeframe}`, data);
    if (data.symbol === state.symbol) queueRender();
  } else if (channel === 'alerts') {
    // an alert replayed after a reconnect (snapshot tier) is shown once
    if (state.alertIds.has(frame.id)) return;
    state.alertIds.add(frame.id);
    state.alerts.unshift({ id: frame.id, alert: data });
    while (state.alerts.length > MAX_ALERTS) state.alertIds.delete(state.alerts.pop()?.id);
    renderAlert(data);
  }
}

function setUpControls() {
  $('controls').addEventListener('submit', (event) => event.preventDefault());
  const timeframe = /** @type {HTMLSelectElement} */ ($('timeframe'));
  timeframe.value = state.timeframe;
  timeframe.addEventListener('change', () => chooseTimeframe(timeframe.value));
  const symbol = /** @type {HTMLSelectElement} */ ($('symbol'));
  symbol.addEventListener('change', () => chooseSymbol(symbol.value));
  $('logout').addEventListener('click', () => {
    auth.logout();
    client?.stop();
    showLogin('Logged out (this page only: the identity provider session stays until it ends).');
  });
  $('login-oidc').addEventListener('click', () => void auth.login());
  $('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = /** @type {HTMLTextAreaElement} */ ($('token-input'));
    auth.usePastedToken(input.value);
    input.value = '';
  });
}

function chooseSymbol(symbol) {
  if (symbol === state.symbol) return;
  state.symbol = symbol;
  rememberChoice();
  redraw(true);
  // features: only the chosen symbol's (bars come for every symbol, to list them)
  if (symbol !== '') client.subscribe(`features.${state.timeframe}`, [symbol], { history: 'all' });
}

function chooseTimeframe(timeframe) {
  if (timeframe === state.timeframe) return;
  client.unsubscribe(`bars.${state.timeframe}`);
  client.unsubscribe(`features.${state.timeframe}`);
  state.timeframe = timeframe;
  state.bars.clear();
  state.features.clear();
  rememberChoice();
  redraw(true);
  client.subscribe(`bars.${timeframe}`, ['*'], { history: 'all' });
  if (state.symbol !== '') client.subscribe(`features.${timeframe}`, [state.symbol], { history: 'all' });
}

function rememberChoice() {
  const search = new URLSearchParams({ symbol: state.symbol, timeframe: state.timeframe });
  history.replaceState(null, '', `${location.pathname}?${search}`);
}

/** Draws the chosen symbol's whole history again (a new symbol, or data older than what is drawn). */
function redraw(resetView = false) {
  chart.show(state.bars.sorted(state.symbol), state.features.sorted(state.symbol));
  if (resetView) chart.resetView();
  queueRender();
}

function showSymbols() {
  const symbols = state.bars.symbols();
  if (state.symbol === '' && symbols.length > 0) chooseSymbol(symbols[0]);
  const select = /** @type {HTMLSelectElement} */ ($('symbol'));
  select.replaceChildren(
    ...symbols.map((symbol) => new Option(symbol, symbol, false, symbol === state.symbol)),
  );
  select.disabled = symbols.length === 0;
}

function queueRender() {
  if (state.renderQueued) return;
  state.renderQueued = true;
  requestAnimationFrame(() => {
    state.renderQueued = false;
    renderLegend();
    renderPredictions();
    renderPositions();
  });
}

function renderLegend() {
  const symbol = state.symbol;
  $('chart-symbol').textContent = symbol === '' ? '' : `${symbol} · ${state.timeframe}`;
  const bar = state.bars.latest(symbol);
  const vector = state.features.latest(symbol);
  const entries = [];
  if (bar !== undefined) {
    entries.push(['Bar', formatTime(bar.ts)]);
    entries.push(
      ['O', price(bar.open)],
      ['H', price(bar.high)],
      ['L', price(bar.low)],
      ['C', price(bar.close)],
    );
  }
  if (vector !== undefined) {
    for (const [column, label] of Object.entries(OVERLAYS))
      entries.push([label, price(vector.values[column]), column.startsWith('bbands') ? 'bbands' : column]);
    entries.push(['RSI 14', price(vector.values.rsi_14), 'rsi_14']);
  }
  $('legend').replaceChildren(
    ...entries.map(([term, value, swatch]) => {
      const row = document.createElement('div');
      const dt = document.createElement('dt');
      if (swatch !== undefined) {
        const mark = document.createElement('span');
        mark.className = `swatch ${swatch}`;
        mark.setAttribute('aria-hidden', 'true');
        dt.append(mark);
      }
      dt.append(term);
      const dd = document.createElement('dd');
      dd.textContent = value;
      row.append(dt, dd);
      return row;
    }),
  );
  $('chart').setAttribute(
    'aria-label',
    bar === undefined
      ? 'Candlestick chart: waiting for bars'
      : `Candlestick chart of ${symbol}, ${state.timeframe} bars, ${chart.candleCount} shown; last close ${price(bar.close)} at ${formatTime(bar.ts)}; overlays SMA 20, EMA 50, Bollinger bands; RSI 14 below`,
  );
}

function rowsForSymbol() {
  return [...state.predictions.values()]
    .filter((p) => p.symbol === state.symbol)
    .sort((a, b) => a.model.localeCompare(b.model) || a.timeframe.localeCompare(b.timeframe));
}

function renderPredictions() {
  const rows = rowsForSymbol();
  const table = $('predictions');
  const note = $('predictions-note');
  table.hidden = rows.length === 0;
  note.hidden = rows.length > 0;
  note.textContent = state.predictionsRefused || `No predictions for ${state.symbol || 'this symbol'} yet.`;
  table.querySelector('tbody')?.replaceChildren(
    ...rows.map((p) => {
      const tr = document.createElement('tr');
      const cells = [`${p.model}@${p.version}`, p.timeframe, formatTime(p.ts), formatOutput(p.output)];
      for (const text of cells) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.append(td);
      }
      return tr;
    }),
  );
}

function renderAlert(alert) {
  const item = document.createElement('li');
  const severity = document.createElement('span');
  severity.className = `severity ${alert.severity}`;
  severity.textContent = alert.severity;
  const stateText = document.createElement('span');
  stateText.className = `state ${alert.state}`;
  stateText.textContent = alert.state;
  item.append(
    severity,
    ` ${formatTime(alert.ts)} · ${alert.type} · ${alert.subject} · `,
    stateText,
    alert.message ? `: ${alert.message}` : '',
  );
  const list = $('alerts');
  list.prepend(item);
  while (list.children.length > MAX_ALERTS) list.lastElementChild?.remove();
  $('alerts-note').hidden = true;
}

function showStatus(status, detail) {
  const element = $('status');
  element.dataset.state = status;
  $('status-text').textContent = STATUS_TEXT[status] ?? status;
  $('status-detail').textContent = detail;
  if (status === 'login') showLogin(detail);
  else $('login').hidden = true;
  renderPositions();
}

function showLogin(reason) {
  $('login').hidden = false;
  $('login-reason').textContent = reason;
  $('login-oidc').hidden = !auth.canLogin;
  const error = $('login-error');
  error.hidden = auth.error === undefined;
  error.textContent = auth.error ?? '';
}

function showIdentity() {
  const identity = auth.identity;
  $('identity').hidden = identity === undefined;
  if (identity !== undefined)
    $('identity-text').textContent =
      `${identity.name}${identity.roles.length > 0 ? ` (${identity.roles.join(', ')})` : ''}`;
}

/** A new token (login, refresh, paste): in band on the open connection, else connect with it. */
function onTokens(tokens) {
  showIdentity();
  if (tokens === undefined || client === undefined) return;
  $('login').hidden = true;
  void client.authenticate(tokens.accessToken);
}

function renderPositions() {
  const replays = client.stats.replays;
  const bars = client.positions.get(`bars.${state.timeframe}`);
  $('positions').textContent =
    bars === undefined
      ? ''
      : `epoch ${bars.epoch.slice(0, 8)} · bars.${state.timeframe} seq ${bars.seq} · last resume: ${replays[`bars.${state.timeframe}`] ?? 'none'}`;
}

function formatTime(ms) {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')}`;
}

function price(value) {
  if (value === null || value === undefined) return '–';
  const magnitude = Math.abs(value);
  return value.toFixed(magnitude >= 1000 ? 1 : magnitude >= 1 ? 2 : 4);
}

function formatOutput(output) {
  if (output.label !== undefined) {
    const p = output[`p_${output.label}`];
    return `${output.label}${typeof p === 'number' ? ` (p ${p.toFixed(2)})` : ''}`;
  }
  return Object.entries(output)
    .map(([name, value]) => `${name} ${typeof value === 'number' ? value.toPrecision(3) : value}`)
    .join(', ');
}
