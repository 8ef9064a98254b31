// The dashboard's WebSocket client for /v1/ws (sub-protocol mlfp.v1): authenticates with a first `auth` message,
// keeps the wanted subscriptions and each channel's last position (epoch, seq), and reconnects with capped,
// jittered exponential backoff, resubscribing with `since` so every missed message arrives exactly once.

export const PROTOCOL = 'mlfp.v1';

const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 10_000;
/** nothing at all (data or app heartbeat, which comes every 15 s when idle) for this long: the link is dead */
const SILENCE_LIMIT_MS = 45_000;
/** close codes after which a retry without a new token would fail the same way */
const LOGIN_CLOSES = new Set([4001, 4002, 4003]);
/** error codes of `auth` and `list` that mean "log in" */
const LOGIN_ERRORS = new Set(['unauthenticated', 'token_expired', 'session_expired', 'mfa_required']);
/**
 * A position from no epoch: a first subscription asks for the snapshot tier (the latest value per key) until
 * a reply has told the server's epoch; after that it asks for {epoch, 0}, everything the server's ring holds.
 */
const NO_EPOCH = 'none';

/**
 * @typedef {{epoch: string, seq: number}} Position
 * @typedef {'all' | 'latest' | 'none'} History what a first subscription asks for: 'all' the server keeps (its
 *   ring, once the epoch is known), 'latest' the latest value per key (snapshot tier), 'none' live messages only
 * @typedef {{symbols: string[], model?: string, history: History}} Wanted
 * @typedef {'connecting'|'live'|'reconnecting'|'login'|'stopped'} Status
 */

export class ApiClient {
  /**
   * @param {object} options
   * @param {string} options.url ws:// or wss:// URL of /v1/ws
   * @param {() => Promise<string | undefined>} options.token a current access token, or undefined
   * @param {(status: Status, detail: string) => void} options.onStatus
   * @param {(frame: {type: string, channel: string, epoch: string, seq: number, id: string, data: any}) => void} options.onData
   * @param {(channel: string, result: any) => void} [options.onSubscribed] a subscribe reply (replay tier, head)
   * @param {(channel: string, error: {code: string, message: string}) => void} [options.onRefused]
   * @param {(result: any) => void} [options.onAuthenticated]
   */
  constructor(options) {
    this.options = options;
    /** @type {Map<string, Wanted>} */
    this.wanted = new Map();
    /** @type {Map<string, Position>} last message seen per channel */
    this.positions = new Map();
    /** @type {Map<string, Position>} subscribe sent, reply not yet in: the `since` it asked from */
    this.pending = new Map();
    /** @type {Map<number, {resolve: (reply: any) => void}>} */
    this.requests = new Map();
    /** @type {Status} */
    this.status = 'stopped';
    /** @type {string | undefined} the server's epoch, from the latest subscribe reply */
    this.epoch = undefined;
    this.stats = {
      received: 0,
      duplicates: 0,
      reconnects: 0,
      replays: /** @type {Record<string,string>} */ ({}),
    };
    this.socket = /** @type {WebSocket | undefined} */ (undefined);
    this.nextId = 1;
    this.attempt = 0;
    this.retryTimer = undefined;
    this.silenceTimer = undefined;
    this.connected = false;
  }

  start() {
    if (this.status !== 'stopped' && this.status !== 'login') return;
    this.attempt = 0;
    this.open();
  }

  stop() {
    this.setStatus('stopped', '');
    clearTimeout(this.retryTimer);
    this.socket?.close(1000, 'dashboard closed');
  }

  /**
   * Wants `channel` for `symbols` (['*'] for all), replacing any earlier subscription to it; sent now when
   * connected, else on every (re)connection, resuming from the channel's last position.
   * @param {string} channel
   * @param {string[]} symbols
   * @param {{model?: string, history?: History}} [options]
   */
  subscribe(channel, symbols, { model, history = 'none' } = {}) {
    this.wanted.set(channel, { symbols, model, history });
    this.positions.delete(channel);
    if (this.connected) void this.sendSubscribe(channel, this.firstSince(history));
  }

  unsubscribe(channel) {
    this.wanted.delete(channel);
    this.positions.delete(channel);
    this.pending.delete(channel);
    if (this.connected) void this.request({ op: 'unsubscribe', channel });
  }

  /** A refreshed token for the open connection (in-band, before exp); a stopped client connects with it. */
  async authenticate(token) {
    if (!this.connected) {
      this.start();
      return;
    }
    const reply = await this.request({ op: 'auth', token });
    if (reply.success) this.options.onAuthenticated?.(reply.result);
    else this.needLogin(`token refused: ${reply.error.message}`);
  }

  // ----------------------------------------------------------------------------------------------------------

  open() {
    clearTimeout(this.retryTimer);
    if (this.status !== 'reconnecting') this.setStatus('connecting', '');
    const url = this.options.url;
    let socket;
    try {
      socket = new WebSocket(url, PROTOCOL);
    } catch (error) {
      this.retry(`cannot open ${url}: ${error.message}`);
      return;
    }
    this.socket = socket;
    socket.addEventListener('open', () => void this.onOpen(socket));
    socket.addEventListener('message', (event) => this.onMessage(event.data));
    socket.addEventListener('close', (event) => this.onClose(socket, event.code, event.reason));
  }

  async onOpen(socket) {
    if (socket !== this.socket) return;
    this.connected = true;
    this.heard();
    const token = await this.options.token();
    if (socket !== this.socket) return;
    if (token !== undefined) {
      const reply = await this.request({ op: 'auth', token });
      if (socket !== this.socket) return;
      if (!reply.success) {
        this.needLogin(`token refused: ${reply.error.message}`);
        return;
      }
      this.options.onAuthenticated?.(reply.result);
    }
    const list = await this.request({ op: 'list' });
    if (socket !== this.socket) return;
    if (!list.success) {
      if (LOGIN_ERRORS.has(list.error.code)) this.needLogin('this server needs a login');
      else this.retry(list.error.message);
      return;
    }
    const allowed = new Set(list.result.channels.filter((c) => c.allowed).map((c) => c.channel));
    for (const channel of this.wanted.keys()) {
      if (!allowed.has(channel)) {
        this.options.onRefused?.(channel, {
          code: 'forbidden',
          message: `your roles do not include ${channel}`,
        });
        continue;
      }
      const since = this.positions.get(channel) ?? this.firstSince(this.wanted.get(channel)?.history);
      // one at a time: the first reply tells the epoch the next ones ask their history from
      await this.sendSubscribe(channel, since);
      if (socket !== this.socket) return;
    }
    this.attempt = 0;
    this.setStatus('live', '');
  }

  /** @param {History | undefined} history */
  firstSince(history) {
    if (history === 'all') return { epoch: this.epoch ?? NO_EPOCH, seq: 0 };
    if (history === 'latest') return { epoch: NO_EPOCH, seq: 0 };
    return undefined;
  }

  async sendSubscribe(channel, since) {
    const wanted = this.wanted.get(channel);
    if (wanted === undefined) return;
    const message = { op: 'subscribe', channel, symbols: wanted.symbols };
    if (wanted.model !== undefined) message.model = wanted.model;
    if (since !== undefined) message.since = since;
    const asked = since ?? { epoch: NO_EPOCH, seq: Number.MAX_SAFE_INTEGER };
    this.pending.set(channel, asked);
    const reply = await this.request(message);
    if (this.pending.get(channel) !== asked) return; // a newer subscribe to the channel replaced this one
    this.pending.delete(channel);
    if (!reply.success) {
      if (reply.error.code !== 'unavailable') this.options.onRefused?.(channel, reply.error);
      return;
    }
    const result = reply.result;
    this.epoch = result.epoch;
    this.stats.replays[channel] = result.replay;
    // ring replay: frames after `since` follow; otherwise (none, snapshot) live ones after the head
    this.positions.set(
      channel,
      result.replay === 'ring' ? { ...since } : { epoch: result.epoch, seq: result.seq },
    );
    this.options.onSubscribed?.(channel, result);
  }

  request(message) {
    const id = this.nextId++;
    const socket = this.socket;
    return new Promise((resolve) => {
      if (socket === undefined || socket.readyState !== WebSocket.OPEN) {
        resolve({ success: false, error: { code: 'unavailable', message: 'not connected' } });
        return;
      }
      this.requests.set(id, { resolve });
      socket.send(JSON.stringify({ ...message, id }));
    });
  }

  onMessage(text) {
    this.heard();
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (message.type === 'data' || message.type === 'snapshot') {
      this.onFrame(message);
      return;
    }
    if (message.type === 'heartbeat') return;
    if (message.type === 'lag') {
      this.options.onStatus(this.status, `lagging: ${message.message ?? 'the server has unsent messages'}`);
      return;
    }
    if (typeof message.success === 'boolean' && message.id !== null && this.requests.has(message.id)) {
      const request = this.requests.get(message.id);
      this.requests.delete(message.id);
      request?.resolve(message);
    }
  }

  /** Keeps the channel's position; drops frames of a replaced subscription and any already seen. */
  onFrame(frame) {
    const channel = frame.channel;
    if (this.pending.has(channel) || !this.wanted.has(channel)) return;
    const last = this.positions.get(channel);
    if (frame.type === 'data' && last !== undefined && last.epoch === frame.epoch && frame.seq <= last.seq) {
      this.stats.duplicates++;
      return;
    }
    this.positions.set(channel, { epoch: frame.epoch, seq: frame.seq });
    this.stats.received++;
    this.options.onData(frame);
  }

  onClose(socket, code, reason) {
    if (socket !== this.socket) return;
    this.connected = false;
    this.socket = undefined;
    this.pending.clear();
    clearTimeout(this.silenceTimer);
    for (const request of this.requests.values())
      request.resolve({ success: false, error: { code: 'unavailable', message: 'connection closed' } });
    this.requests.clear();
    if (this.status === 'stopped' || this.status === 'login') return;
    if (LOGIN_CLOSES.has(code)) {
      this.needLogin(reason || `closed (${code}): log in again`);
      return;
    }
    // 1012 (restart) and 1013 (try again) carry a hint: "reconnect in N ms"
    const hinted = /reconnect in (\d+) ms/u.exec(reason ?? '');
    this.retry(
      reason ? `${reason} (${code})` : `connection closed (${code})`,
      hinted ? Number(hinted[1]) : 0,
    );
  }

  retry(why, atLeastMs = 0) {
    clearTimeout(this.retryTimer);
    if (this.socket !== undefined) {
      const socket = this.socket;
      this.socket = undefined;
      this.connected = false;
      socket.close();
    }
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt);
    const delayMs = Math.min(
      BACKOFF_MAX_MS,
      Math.max(atLeastMs, ceiling / 2 + (Math.random() * ceiling) / 2),
    );
    this.attempt++;
    this.stats.reconnects++;
    this.setStatus(
      'reconnecting',
      `reconnecting in ${(delayMs / 1000).toFixed(1)} s (try ${this.attempt}): ${why}`,
    );
    this.retryTimer = setTimeout(() => this.open(), delayMs);
  }

  needLogin(why) {
    clearTimeout(this.retryTimer);
    this.setStatus('login', why);
    const socket = this.socket;
    this.socket = undefined;
    this.connected = false;
    socket?.close(1000, 'login required');
  }

  heard() {
    clearTimeout(this.silenceTimer);
    const socket = this.socket;
    this.silenceTimer = setTimeout(() => {
      if (socket !== undefined && socket === this.socket)
        this.retry(`nothing heard for ${SILENCE_LIMIT_MS / 1000} s`);
    }, SILENCE_LIMIT_MS);
  }

  setStatus(status, detail) {
    this.status = status;
    this.options.onStatus(status, detail);
  }
}
