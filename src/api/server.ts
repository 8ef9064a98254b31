// The public API listener: one HTTP(S) server (its own port, apart from the ops listener) carrying the
// WebSocket endpoint /v1/ws (ws, noServer) and REST (rest.ts). Every entry point checks, in order: the token
// is not in the query string, the Origin is allowed, the connection limit, then the bearer token (header or
// `bearer.<token>` sub-protocol beside `mlfp.v1`; a WebSocket may instead authenticate with a first `auth`
// message within api.authTimeoutMs). TLS is 1.3 only when a certificate is configured. Shutdown closes every
// socket with 1012 and a retry hint.

import { readFileSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ApiConfig } from '../config/api-schemas.js';
import { isMlfpError, MlfpError, type ErrorCode } from '../errors.js';
import type { Logger } from '../monitoring/log.js';
import {
  bearerFromAuthorization,
  refuseTokenInQuery,
  tokenFromWebSocketProtocols,
} from '../security/token-extraction.js';
import type { Principal } from '../security/token-verifier.js';
import type { ApiMetrics } from './api-metrics.js';
import { Connection } from './connection.js';
import type { SignalHub } from './hub.js';
import { CLOSE, PROTOCOL } from './protocol.js';
import { RestApi, statusOf } from './rest.js';
import { Session, type Transport } from './session.js';
import { textFrame } from './ws-frame.js';

export interface ApiServerOptions {
  config: ApiConfig;
  hub: SignalHub;
  rest: RestApi;
  /** verifies a bearer token (auth mode oidc); undefined = mode none */
  verify: ((token: string) => Promise<Principal>) | undefined;
  metrics: ApiMetrics;
  log: Logger;
  now: () => number;
}

interface Peer {
  socket: WebSocket;
  connection: Connection;
  alive: boolean;
}

const TICK_MS = 250;

export class ApiServer {
  private server: Server | undefined;
  private readonly wss: WebSocketServer;
  private readonly peers = new Set<Peer>();
  private pingTimer: NodeJS.Timeout | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private scheme = 'http';
  /** bytes sent on connections already closed (mlfp_api_sent_bytes_total adds the open ones') */
  private closedBytes = 0;

  constructor(private readonly options: ApiServerOptions) {
    const config = options.config;
    options.metrics.sentBytes = () => {
      let total = this.closedBytes;
      for (const peer of this.peers) total += peer.connection.session.sentBytes;
      return total;
    };
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: config.maxPayloadBytes,
      perMessageDeflate: false,
      // select the real sub-protocol, never the bearer entry (that would echo the token)
      handleProtocols: (offered) => (offered.has(PROTOCOL) ? PROTOCOL : false),
    });
  }

  /** Listens; resolves with the address (port 0 = a free one). */
  async start(): Promise<AddressInfo> {
    const config = this.options.config;
    const handler = (request: IncomingMessage, response: ServerResponse): void =>
      void this.options.rest.handle(
        request,
        response,
        this.ownOrigin(request) ?? '',
        this.hostKnown(request),
      );
    let server: Server;
    if (config.tls !== undefined) {
      server = createHttpsServer(
        {
          cert: readFileSync(config.tls.certFile),
          key: readFileSync(config.tls.keyFile),
          minVersion: 'TLSv1.3',
          maxVersion: 'TLSv1.3',
        },
        handler,
      );
      this.scheme = 'https';
    } else server = createHttpServer(handler);
    server.on(
      'upgrade',
      (request: IncomingMessage, socket: Duplex, head: Buffer) => void this.upgrade(request, socket, head),
    );
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          new MlfpError(
            'config_invalid',
            `cannot listen on api ${config.host}:${config.port}: ${error.code ?? error.message}`,
            {
              field: 'api.port',
              value: config.port,
            },
          ),
        ),
      );
      server.listen(config.port, config.host, () => resolve());
    });
    this.pingTimer = setInterval(() => this.ping(), config.pingIntervalMs);
    this.tickTimer = setInterval(() => this.tick(), TICK_MS);
    this.pingTimer.unref();
    this.tickTimer.unref();
    return server.address() as AddressInfo;
  }

  get url(): string {
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (address === undefined || address === null) return '';
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `${this.scheme}://${host}:${address.port}`;
  }

  get connections(): number {
    return this.peers.size;
  }

  /** Closes every connection with 1012 (restart) and a retry hint, then stops listening. */
  async close(): Promise<void> {
    clearInterval(this.pingTimer);
    clearInterval(this.tickTimer);
    const hint = `server restarting; reconnect in ${this.options.config.retryAfterMs} ms`;
    for (const peer of this.peers) peer.connection.session.close(CLOSE.restart, hint);
    const deadline = Date.now() + 1_000;
    while (this.peers.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const peer of this.peers) peer.socket.terminate();
    this.wss.close();
    const server = this.server;
    if (server === undefined) return;
    server.closeAllConnections?.();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * The API's own origin for this request, when the request's Host names this server: the configured host, or
   * a loopback name when bound to loopback. A Host naming anything else (DNS rebinding: a page whose name now
   * resolves to 127.0.0.1) gets no own origin, so its Origin must be in api.allowedOrigins.
   */
  private ownOrigin(request: IncomingMessage): string | undefined {
    const host = request.headers.host;
    if (host === undefined) return undefined;
    const port = (this.server?.address() as AddressInfo | null | undefined)?.port;
    const name = host
      .replace(/:\d+$/u, '')
      .replace(/^\[(.*)\]$/u, '$1')
      .toLowerCase();
    const hostPort = /:(\d+)$/u.exec(host)?.[1];
    if (port !== undefined && hostPort !== undefined && Number(hostPort) !== port) return undefined;
    const configured = this.options.config.host.toLowerCase();
    const loopbackNames = ['localhost', '127.0.0.1', '::1'];
    const known =
      name === configured ||
      (isLoopbackHost(configured) && (loopbackNames.includes(name) || isLoopbackHost(name)));
    return known ? `${this.scheme}://${host}` : undefined;
  }

  /**
   * In auth mode none only requests naming this server in Host are served: a DNS-rebinding page (its own name
   * resolving to 127.0.0.1) cannot reach a loopback API that has no token to protect it.
   */
  private hostKnown(request: IncomingMessage): boolean {
    return this.options.verify !== undefined || this.ownOrigin(request) !== undefined;
  }

  private originAllowed(request: IncomingMessage): boolean {
    const origin = request.headers.origin;
    if (origin === undefined) return true; // not a browser: Origin is a browser's promise, not authentication
    return origin === this.ownOrigin(request) || this.options.config.allowedOrigins.includes(origin);
  }

  private async upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const { metrics, config } = this.options;
    const refuse = (code: ErrorCode, message: string, field?: string): void => {
      metrics.refused.inc({ reason: code });
      const body = JSON.stringify({ success: false, error: { code, message, ...(field ? { field } : {}) } });
      const status = statusOf(code);
      // one line per refusal, naming the check; never the URL or headers, which may carry the token
      this.options.log.info({ event: 'api.upgrade_refused', code, field, status }, message);
      socket.end(
        `HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : status === 404 ? 'Not Found' : 'Bad Request'}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    };
    socket.on('error', () => socket.destroy());
    try {
      const path = (request.url ?? '/').split('?')[0];
      if (path !== '/v1/ws') return refuse('not_found', 'the WebSocket endpoint is /v1/ws', 'path');
      refuseTokenInQuery(request.url ?? '/');
      if (!this.hostKnown(request))
        return refuse(
          'forbidden',
          'Host does not name this server (auth mode none serves only its own names)',
          'host',
        );
      if (!this.originAllowed(request))
        return refuse('forbidden', 'Origin not allowed (api.allowedOrigins)', 'origin');
      let principal: Principal | undefined;
      const offered = tokenFromWebSocketProtocols(request.headers['sec-websocket-protocol']);
      if (offered.token !== undefined && !offered.protocols.includes(PROTOCOL))
        return refuse(
          'bad_request',
          `offer the ${PROTOCOL} sub-protocol beside the bearer token`,
          'sec-websocket-protocol',
        );
      const token = bearerFromAuthorization(request.headers.authorization) ?? offered.token;
      if (token !== undefined && this.options.verify !== undefined)
        principal = await this.options.verify(token);
      if (socket.destroyed) return;
      this.wss.handleUpgrade(request, socket, head, (ws) => this.accept(ws, principal));
    } catch (error) {
      const failure = isMlfpError(error) ? error : new MlfpError('internal', 'upgrade failed');
      refuse(failure.code, failure.message, failure.field);
    }
    void config;
  }

  private accept(ws: WebSocket, principal: Principal | undefined): void {
    const { config, metrics, hub, now } = this.options;
    if (this.peers.size >= config.maxConnections) {
      metrics.refused.inc({ reason: 'connection_limit' });
      ws.close(CLOSE.tryAgain, `connection limit (${config.maxConnections}) reached; retry later`);
      return;
    }
    // frames go to the socket pre-framed (ws-frame.ts: one frame per message for all clients); ws itself still
    // handles the handshake, pings, close and reading. A socket that is not open takes nothing more.
    const socket = (
      ws as unknown as { _socket: { write(data: Buffer, done: (error?: Error) => void): boolean } }
    )._socket;
    const transport: Transport = {
      send: (data, done) => {
        if (ws.readyState !== ws.OPEN) {
          queueMicrotask(() => done(new Error('not open')));
          return;
        }
        socket.write(textFrame(typeof data === 'string' ? Buffer.from(data) : data), done);
      },
      close: (code, reason) => {
        ws.close(code, reason);
        // a peer that cannot take the close frame is cut off
        setTimeout(() => ws.terminate(), 2_000).unref();
      },
      terminate: () => ws.terminate(),
    };
    const session = new Session(
      transport,
      {
        softBytes: config.softBytes,
        hardBytes: config.hardBytes,
        lagGraceMs: config.lagGraceMs,
        maxSubscriptions: config.maxSubscriptions,
        controlPerSecond: config.controlPerSecond,
      },
      {
        conflated: (channel) => metrics.conflated.inc({ channel }),
        lagged: () => metrics.lagNotices.inc(),
        slowConsumerClosed: () => metrics.slowConsumerCloses.inc(),
      },
      now,
    );
    const connection = new Connection(
      session,
      {
        hub,
        verify: this.options.verify,
        now,
        authTimeoutMs: config.authTimeoutMs,
        onError: (code) => metrics.errors.inc({ code }),
        onReplay: (tier) => metrics.replays.inc({ tier }),
      },
      principal,
    );
    const peer: Peer = { socket: ws, connection, alive: true };
    this.peers.add(peer);
    metrics.connections.set(this.peers.size);
    ws.on('pong', () => {
      peer.alive = true;
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        session.sendControl({
          id: null,
          success: false,
          error: { code: 'bad_request', message: 'binary frames are not part of the protocol' },
        });
        return;
      }
      void connection.receive(data.toString());
    });
    ws.on('error', () => undefined); // 1009 and protocol errors: ws closes the socket itself
    ws.on('close', () => {
      session.closed = true;
      this.closedBytes += session.sentBytes;
      connection.closed();
      this.peers.delete(peer);
      metrics.connections.set(this.peers.size);
    });
  }

  /** Protocol ping; a peer that did not answer the previous one is terminated. */
  private ping(): void {
    for (const peer of this.peers) {
      if (!peer.alive) {
        this.options.metrics.refused.inc({ reason: 'dead_peer' });
        peer.socket.terminate();
        continue;
      }
      peer.alive = false;
      peer.socket.ping();
    }
  }

  /** App heartbeats for idle subscribers, and the slow-consumer clock. */
  private tick(): void {
    const now = this.options.now();
    const every = this.options.config.heartbeatIntervalMs;
    for (const peer of this.peers) {
      const session = peer.connection.session;
      session.checkLag();
      if (session.idleFor(now) >= every && session.subscriptions.size > 0)
        session.sendControl({ type: 'heartbeat', ts: now, channels: this.options.hub.heads(session) });
    }
  }
}

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/u.test(host);
}
