// Helpers for the public API's security tests: a public API started for a test (in-memory store, a small model
// registry, captured logs), HTTP(S) and WebSocket clients that report refusals as data (status, typed error,
// close code and when it came), hand-made tokens signed by keys generated at test time, and a self-signed
// certificate made with openssl.
import { execFileSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT, type JWTPayload } from 'jose';
import { Registry } from 'prom-client';
import WebSocket from 'ws';
import { PROTOCOL } from '../../../src/api/protocol.js';
import { startPublicApi, type PublicApi } from '../../../src/api/public-api.js';
import { apiSchema } from '../../../src/config/api-schemas.js';
import type { TokenVerifierInput } from '../../../src/security/token-verifier.js';
import { FEATURE_COLUMNS } from '../../../src/domain/types.js';
import type { ErrorCode } from '../../../src/errors.js';
import { ModelRegistry } from '../../../src/models/registry.js';
import { componentLogger, createLogger } from '../../../src/monitoring/log.js';
import { MemoryStore } from '../../../src/sinks/memory/memory-store.js';
import { fakeManifest, fakeModel } from '../../models/fake-model.js';

export const AUDIENCE = 'mlfp-api';
export const SYMBOL = 'AAPL';
/** the one model of the test registry; versions 1 (live), 2 and 3 are loaded */
export const MODEL = 'fake';

/** Every log line any test API wrote (JSON lines), for the "no token in a log line" check. */
export const capturedLogLines: string[] = [];

/** Every token a test presented (real and hand-made), for the same check. */
export const usedTokens = new Set<string>();

export function remember(token: string): string {
  usedTokens.add(token);
  return token;
}

export interface TestApi {
  api: PublicApi;
  /** http(s)://127.0.0.1:<port> */
  baseUrl: string;
  /** ws(s)://127.0.0.1:<port>/v1/ws */
  wsUrl: string;
  close(): Promise<void>;
}

export interface TestApiOptions {
  oidc: TokenVerifierInput;
  allowedOrigins?: string[];
  authTimeoutMs?: number;
  tls?: { certFile: string; keyFile: string };
}

/** A store holding one bar, one feature vector and one prediction for AAPL 5m, so the REST reads answer 200. */
function filledStore(): MemoryStore {
  const store = new MemoryStore();
  const ts = Date.UTC(2026, 0, 5, 14, 30);
  store.bar({
    symbol: SYMBOL,
    timeframe: '5m',
    ts,
    end: ts + 300_000,
    open: 100,
    high: 101,
    low: 99,
    close: 100.5,
    volume: 1_000,
    vwap: 100.2,
    trades: 10,
    revision: 0,
  });
  store.features({
    symbol: SYMBOL,
    timeframe: '5m',
    ts,
    revision: 0,
    close: 100.5,
    values: new Float64Array(FEATURE_COLUMNS.length).fill(0.5),
  });
  store.prediction({
    symbol: SYMBOL,
    timeframe: '5m',
    ts,
    model: MODEL,
    version: '1',
    kind: 'regressor',
    output: { value: 0.25 },
    latencyMs: 1,
  });
  return store;
}

/** The public API in auth mode oidc, on a free loopback port, logging into `capturedLogLines`. */
export async function startTestApi(options: TestApiOptions): Promise<TestApi> {
  const config = apiSchema.parse({
    host: '127.0.0.1',
    port: 0,
    auth: { mode: 'oidc', oidc: options.oidc },
    allowedOrigins: options.allowedOrigins ?? [],
    authTimeoutMs: options.authTimeoutMs ?? 10_000,
    ...(options.tls === undefined ? {} : { tls: options.tls }),
  });
  const directory = mkdtempSync(join(tmpdir(), 'mlfp-api-models-'));
  const registry = new ModelRegistry();
  registry.directory = directory;
  for (const version of ['1', '2', '3']) registry.add(fakeModel(fakeManifest({ version }), {}));
  const root = createLogger({ level: 'debug', write: (line) => capturedLogLines.push(line) });
  const api = await startPublicApi({
    config,
    store: filledStore(),
    registry,
    metricsRegistry: new Registry(),
    log: componentLogger(root, 'api'),
    now: () => Date.now(),
  });
  const baseUrl = api.server.url;
  return {
    api,
    baseUrl,
    wsUrl: `${baseUrl.replace(/^http/u, 'ws')}/v1/ws`,
    close: async () => {
      await api.server.close();
      await registry.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

export interface TypedError {
  code: ErrorCode;
  message: string;
  field?: string;
}

export interface HttpAnswer {
  status: number;
  /** the JSON body (REST answers and refused upgrades are JSON) */
  body: { success?: boolean; error?: TypedError; [key: string]: unknown };
  text: string;
}

export interface HttpOptions {
  method?: string;
  token?: string;
  origin?: string;
  body?: unknown;
  /** a CA certificate (PEM) for https */
  ca?: string;
  headers?: Record<string, string>;
}

function readBody(response: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    response.on('data', (chunk: Buffer) => chunks.push(chunk));
    response.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    response.on('error', reject);
  });
}

function parseJson(text: string): HttpAnswer['body'] {
  try {
    return JSON.parse(text) as HttpAnswer['body'];
  } catch {
    return {};
  }
}

/** One REST request; the answer whatever its status. */
export function httpCall(url: string, options: HttpOptions = {}): Promise<HttpAnswer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
  if (options.origin !== undefined) headers['origin'] = options.origin;
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  if (payload !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  const send = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const request = send(
      url,
      { method: options.method ?? 'GET', headers, ...(options.ca === undefined ? {} : { ca: options.ca }) },
      (response) => {
        readBody(response).then(
          (text) => resolve({ status: response.statusCode ?? 0, body: parseJson(text), text }),
          reject,
        );
      },
    );
    request.on('error', reject);
    request.end(payload);
  });
}

export interface Reply {
  id?: string | number | null;
  op?: string;
  type?: string;
  success?: boolean;
  result?: Record<string, unknown>;
  error?: TypedError;
}

export interface Closed {
  code: number;
  reason: string;
  /** Date.now() when the client saw the close */
  atMs: number;
}

/** A connected WebSocket client: requests with ids, replies matched by id, the close as a promise. */
export class ApiSocket {
  readonly messages: Reply[] = [];
  readonly closed: Promise<Closed>;
  private readonly waiters: Array<{ match: (reply: Reply) => boolean; resolve: (reply: Reply) => void }> = [];
  private nextId = 1;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const reply = JSON.parse(data.toString('utf8')) as Reply;
      this.messages.push(reply);
      for (const waiter of [...this.waiters])
        if (waiter.match(reply)) {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          waiter.resolve(reply);
        }
    });
    this.closed = new Promise((resolve) =>
      ws.once('close', (code: number, reason: Buffer) =>
        resolve({ code, reason: reason.toString('utf8'), atMs: Date.now() }),
      ),
    );
  }

  get protocol(): string {
    return this.ws.protocol;
  }

  /** The first message (already received or coming) that matches; rejects if the socket closes first. */
  next(match: (reply: Reply) => boolean): Promise<Reply> {
    const seen = this.messages.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    const coming = new Promise<Reply>((resolve) => this.waiters.push({ match, resolve }));
    return Promise.race([
      coming,
      this.closed.then((closed) => {
        throw new Error(`socket closed (${closed.code} ${closed.reason}) before the awaited message`);
      }),
    ]);
  }

  /** Sends `{id, ...request}` and resolves with the reply carrying the same id. */
  request(request: Record<string, unknown>): Promise<Reply> {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ id, ...request }));
    return this.next((reply) => reply.id === id);
  }

  subscribe(channel: string): Promise<Reply> {
    return this.request({ op: 'subscribe', channel, symbols: ['*'] });
  }

  auth(token: string): Promise<Reply> {
    return this.request({ op: 'auth', token: remember(token) });
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close(1000);
    await this.closed;
  }
}

export type Upgrade =
  | { opened: true; socket: ApiSocket }
  | { opened: false; status: number; body: HttpAnswer['body']; text: string };

export interface OpenOptions {
  /** sent as Authorization: Bearer */
  token?: string;
  /** sent as the `bearer.<token>` sub-protocol */
  protocolToken?: string;
  /** the real sub-protocols offered (default mlfp.v1) */
  protocols?: string[];
  origin?: string;
  ca?: string;
}

/** Opens a WebSocket; a refused upgrade resolves with its HTTP status and typed error. */
export function openSocket(url: string, options: OpenOptions = {}): Promise<Upgrade> {
  const protocols = [...(options.protocols ?? [PROTOCOL])];
  if (options.protocolToken !== undefined) protocols.push(`bearer.${remember(options.protocolToken)}`);
  const headers: Record<string, string> = {};
  if (options.token !== undefined) headers['authorization'] = `Bearer ${remember(options.token)}`;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, {
      headers,
      handshakeTimeout: 5_000,
      perMessageDeflate: false,
      ...(options.origin === undefined ? {} : { origin: options.origin }),
      ...(options.ca === undefined ? {} : { ca: options.ca }),
    });
    ws.on('error', reject);
    ws.once('open', () => resolve({ opened: true, socket: new ApiSocket(ws) }));
    ws.once('unexpected-response', (request, response) => {
      readBody(response).then((text) => {
        resolve({ opened: false, status: response.statusCode ?? 0, body: parseJson(text), text });
        request.destroy();
      }, reject);
    });
  });
}

/** Opens a WebSocket that must be accepted. */
export async function connected(url: string, options: OpenOptions = {}): Promise<ApiSocket> {
  const upgrade = await openSocket(url, options);
  if (!upgrade.opened) throw new Error(`upgrade refused with ${upgrade.status}: ${upgrade.text}`);
  return upgrade.socket;
}

/** What a test token carries unless the case overrides it (undefined removes a claim). */
export type ClaimOverrides = Record<string, unknown>;

/** A signing key generated at test time and the tokens it signs (RS256, kid `test-key`). */
export class TokenMint {
  private constructor(
    readonly issuer: string,
    private readonly privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'],
    readonly publicKeyPem: string,
  ) {}

  static async create(issuer: string): Promise<TokenMint> {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    return new TokenMint(issuer, privateKey, await exportSPKI(publicKey));
  }

  /** A valid claims set now (MFA, analyst, 5 min left, logged in a minute ago), with `overrides` applied. */
  claims(overrides: ClaimOverrides = {}, nowMs = Date.now()): JWTPayload {
    const now = Math.floor(nowMs / 1000);
    const claims: Record<string, unknown> = {
      iss: this.issuer,
      aud: AUDIENCE,
      sub: 'local-user',
      typ: 'Bearer',
      iat: now,
      exp: now + 300,
      auth_time: now - 60,
      amr: ['pwd', 'otp'],
      realm_access: { roles: ['analyst'] },
      ...overrides,
    };
    for (const [name, value] of Object.entries(claims)) if (value === undefined) delete claims[name];
    return claims as JWTPayload;
  }

  /** Signed with this mint's key (the one the server trusts). */
  sign(overrides: ClaimOverrides = {}, nowMs = Date.now()): Promise<string> {
    return new SignJWT(this.claims(overrides, nowMs))
      .setProtectedHeader({ alg: 'RS256', kid: 'test-key', typ: 'JWT' })
      .sign(this.privateKey)
      .then(remember);
  }

  /** The same claims signed with another mint's key. */
  signWith(other: TokenMint, overrides: ClaimOverrides = {}): Promise<string> {
    return new SignJWT(this.claims(overrides))
      .setProtectedHeader({ alg: 'RS256', kid: 'test-key', typ: 'JWT' })
      .sign(other.privateKey)
      .then(remember);
  }
}

/** An unsecured JWT (`alg: none`, empty signature) over `claims`. */
export function unsignedToken(claims: JWTPayload): string {
  return remember(new UnsecuredJWT(claims).encode());
}

/** HS256 over `claims` with the issuer's RSA public key (PEM text) as the HMAC secret: the key-confusion attack. */
export async function hs256WithPublicKey(
  claims: JWTPayload,
  publicKeyPem: string,
  kid?: string,
): Promise<string> {
  return remember(
    await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT', ...(kid === undefined ? {} : { kid }) })
      .sign(new TextEncoder().encode(publicKeyPem)),
  );
}

/** The issuer's RS256 signing key from its JWKS, as SPKI PEM, with its kid. */
export async function issuerRsaKey(issuer: string): Promise<{ pem: string; kid: string }> {
  const response = await fetch(`${issuer}/protocol/openid-connect/certs`);
  const { keys } = (await response.json()) as { keys: Array<Record<string, string>> };
  const jwk = keys.find((key) => key['kty'] === 'RSA' && key['use'] === 'sig' && key['alg'] === 'RS256');
  if (jwk === undefined) throw new Error(`no RS256 signing key in ${issuer}'s JWKS`);
  const pem = createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
  return { pem, kid: jwk['kid'] ?? '' };
}

/** A JWT's claims, unverified. */
export function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}

/** A token whose payload was changed after signing (the signature no longer matches). */
export function tampered(token: string, change: (claims: Record<string, unknown>) => void): string {
  const [header, , signature] = token.split('.') as [string, string, string];
  const claims = claimsOf(token);
  change(claims);
  return remember(`${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`);
}

export interface SelfSignedCertificate {
  directory: string;
  certFile: string;
  keyFile: string;
  /** the certificate, PEM: the client's CA */
  certPem: string;
  remove(): void;
}

/** A P-256 self-signed certificate for localhost and 127.0.0.1, valid one day, in a temporary folder. */
export function selfSignedCertificate(): SelfSignedCertificate {
  const directory = mkdtempSync(join(tmpdir(), 'mlfp-api-tls-'));
  const certFile = join(directory, 'cert.pem');
  const keyFile = join(directory, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: 'pipe' },
  );
  return {
    directory,
    certFile,
    keyFile,
    certPem: readFileSync(certFile, 'utf8'),
    remove: () => rmSync(directory, { recursive: true, force: true }),
  };
}
