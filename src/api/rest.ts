// REST on the public API listener: latest bar / features / predictions per symbol and timeframe (analyst),
// the model registry (list: analyst; promote, roll back, shadow: administrator), the OpenAPI 3.1 and AsyncAPI 3
// documents (generated from the zod schemas that validate requests and frames), and the dashboard's static
// files. Bearer tokens come only in the Authorization header; errors are typed JSON {success, error}.

import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { FEATURE_COLUMNS } from '../domain/types.js';
import { isMlfpError, MlfpError, type ErrorCode } from '../errors.js';
import type { ModelRegistry } from '../models/registry.js';
import { roleAllows, type Role } from '../security/roles.js';
import { bearerFromAuthorization, refuseTokenInQuery } from '../security/token-extraction.js';
import type { Principal } from '../security/token-verifier.js';
import type { ApiMetrics } from './api-metrics.js';
import { recordData } from './channels.js';
import { ANONYMOUS } from './connection.js';
import { apiDocuments } from './documents.js';
import { isTimeframe, type StoreLatest } from './latest.js';
import { latestQuerySchema, loadBodySchema, shadowBodySchema, versionBodySchema } from './rest-schemas.js';
import { loadIntoDirectory } from '../models/directory-load.js';

export interface RestOptions {
  latest: StoreLatest;
  registry: ModelRegistry | undefined;
  /** the registry's directory (`models.dir`), where `load` copies a version */
  modelsDir: string | undefined;
  verify: ((token: string) => Promise<Principal>) | undefined;
  allowedOrigins: readonly string[];
  /** the dashboard's folder (index.html and its scripts), served at / */
  staticDir: string | undefined;
  metrics: ApiMetrics;
}

const STATUS: Partial<Record<ErrorCode, number>> = {
  unauthenticated: 401,
  token_expired: 401,
  session_expired: 401,
  mfa_required: 401,
  forbidden: 403,
  token_in_query: 400,
  bad_request: 400,
  bad_json: 400,
  bad_argument: 400,
  not_found: 404,
  too_large: 413,
  rate_limited: 429,
};

export const statusOf = (code: ErrorCode): number => STATUS[code] ?? 500;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

export class RestApi {
  constructor(private readonly options: RestOptions) {}

  async handle(
    request: IncomingMessage,
    response: ServerResponse,
    ownOrigin: string,
    hostKnown = true,
  ): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://api');
    let route = 'unknown';
    try {
      refuseTokenInQuery(request.url ?? '/');
      if (!hostKnown)
        throw new MlfpError(
          'forbidden',
          'Host does not name this server (auth mode none serves only its own names)',
          {
            field: 'host',
          },
        );
      const origin = request.headers.origin;
      if (origin !== undefined && origin !== ownOrigin && !this.options.allowedOrigins.includes(origin))
        throw new MlfpError('forbidden', 'Origin not allowed (api.allowedOrigins)', { field: 'origin' });
      const path = url.pathname;
      const method = request.method ?? 'GET';
      if (method === 'GET' && (path === '/v1/openapi.json' || path === '/v1/asyncapi.json')) {
        route = path;
        const docs = apiDocuments();
        return this.json(response, route, 200, path.endsWith('openapi.json') ? docs.openapi : docs.asyncapi);
      }
      const latest = /^\/v1\/latest\/(bars|features|predictions)$/u.exec(path);
      if (method === 'GET' && latest !== null) {
        route = `/v1/latest/${latest[1]}`;
        await this.authorize(request, 'analyst');
        return this.json(response, route, 200, this.latest(latest[1]!, url));
      }
      if (method === 'GET' && path === '/v1/models') {
        route = path;
        await this.authorize(request, 'analyst');
        return this.json(response, route, 200, { models: this.registry().list() });
      }
      if (method === 'POST' && path === '/v1/models/load') {
        route = path;
        await this.authorize(request, 'administrator');
        return this.json(response, route, 200, await this.load(request));
      }
      const admin = /^\/v1\/models\/([A-Za-z0-9._-]{1,64})\/(promote|rollback|shadow)$/u.exec(path);
      if (method === 'POST' && admin !== null) {
        route = `/v1/models/{name}/${admin[2]}`;
        await this.authorize(request, 'administrator');
        const result = await this.admin(admin[1]!, admin[2]!, request);
        return this.json(response, route, 200, result);
      }
      if (method === 'GET' && this.options.staticDir !== undefined && !path.startsWith('/v1/')) {
        route = 'static';
        return await this.serveStatic(response, path);
      }
      throw new MlfpError('not_found', `no route ${method} ${path}`, { field: 'path' });
    } catch (error) {
      const failure = isMlfpError(error) ? error : new MlfpError('internal', 'request failed');
      this.json(response, route, statusOf(failure.code), {
        success: false,
        error: {
          code: failure.code,
          message: failure.message,
          ...(failure.field ? { field: failure.field } : {}),
        },
      });
    }
  }

  private async authorize(request: IncomingMessage, role: Role): Promise<Principal> {
    const verify = this.options.verify;
    if (verify === undefined) return ANONYMOUS;
    const token = bearerFromAuthorization(request.headers.authorization);
    if (token === undefined)
      throw new MlfpError('unauthenticated', 'send Authorization: Bearer <access token>', {
        field: 'authorization',
      });
    const principal = await verify(token);
    if (!roleAllows(principal.roles, role))
      throw new MlfpError('forbidden', `this needs the ${role} role`, { field: 'role', value: role });
    return principal;
  }

  private latest(kind: string, url: URL): unknown {
    const query = latestQuerySchema.safeParse(Object.fromEntries(url.searchParams));
    if (!query.success) {
      const issue = query.error.issues[0];
      const field = issue?.path.map(String).join('.') ?? '';
      throw new MlfpError('bad_request', `query ${field}: ${issue?.message ?? 'invalid'}`, {
        field: `query.${field}`,
      });
    }
    const { symbol, timeframe, model } = query.data;
    if (!isTimeframe(timeframe))
      throw new MlfpError('bad_request', 'timeframe', { field: 'query.timeframe' });
    const store = this.options.latest;
    const none = (): never => {
      throw new MlfpError('not_found', `no ${kind} for ${symbol} ${timeframe} yet`, {
        field: 'query.symbol',
        value: symbol,
      });
    };
    if (kind === 'bars') return { bar: store.bar(symbol, timeframe) ?? none() };
    if (kind === 'features') {
      const vector = store.features(symbol, timeframe) ?? none();
      return { features: recordData(`features.${timeframe}`, vector, FEATURE_COLUMNS) };
    }
    const predictions = store.predictions(symbol, timeframe, model);
    if (predictions.length === 0) none();
    return { predictions };
  }

  private registry(): ModelRegistry {
    if (this.options.registry === undefined)
      throw new MlfpError('not_found', 'models are disabled (models.enabled false)', {
        field: 'models.enabled',
      });
    return this.options.registry;
  }

  /** Loads a model folder (a path on the server) into the directory, as `mlfp models load`; the registry syncs. */
  private async load(request: IncomingMessage): Promise<unknown> {
    const registry = this.registry();
    const dir = this.options.modelsDir;
    if (dir === undefined) throw new MlfpError('not_found', 'no model directory', { field: 'models.dir' });
    const parsed = loadBodySchema.safeParse(await readJson(request));
    if (!parsed.success)
      throw new MlfpError(
        'bad_request',
        'body: {"source": "<model folder or manifest.json on the server>"}',
        {
          field: 'body.source',
        },
      );
    const loaded = await loadIntoDirectory(dir, parsed.data.source);
    const problems = await registry.syncDirectory();
    return { ...loaded, problems: problems.map((p) => ({ code: p.code, message: p.message })) };
  }

  private async admin(name: string, action: string, request: IncomingMessage): Promise<unknown> {
    const registry = this.registry();
    const body = await readJson(request);
    if (action === 'rollback') {
      const version = registry.rollback(name);
      await registry.saveState();
      return { name, live: version };
    }
    if (action === 'promote') {
      const parsed = versionBodySchema.safeParse(body);
      if (!parsed.success)
        throw new MlfpError('bad_request', 'body: {"version": "<version>"}', { field: 'body.version' });
      registry.promote(name, parsed.data.version);
      await registry.saveState();
      return { name, live: parsed.data.version };
    }
    const parsed = shadowBodySchema.safeParse(body);
    if (!parsed.success)
      throw new MlfpError('bad_request', 'body: {"version": "<version>" | null}', { field: 'body.version' });
    registry.shadow(name, parsed.data.version ?? undefined);
    await registry.saveState();
    return { name, shadow: parsed.data.version };
  }

  private async serveStatic(response: ServerResponse, path: string): Promise<void> {
    const dir = this.options.staticDir!;
    const relative = normalize(path === '/' ? '/index.html' : path).replace(/^([/\\])+/u, '');
    if (relative.startsWith('..')) throw new MlfpError('not_found', 'no such file', { field: 'path' });
    let body: Buffer;
    try {
      body = await readFile(join(dir, relative));
    } catch {
      throw new MlfpError('not_found', `no such file ${path}`, { field: 'path' });
    }
    this.options.metrics.requests.inc({ route: 'static', status: '200' });
    response.writeHead(200, {
      'Content-Type': CONTENT_TYPES[extname(relative)] ?? 'application/octet-stream',
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
    });
    response.end(body);
  }

  private json(response: ServerResponse, route: string, status: number, body: unknown): void {
    this.options.metrics.requests.inc({ route, status: String(status) });
    const text = JSON.stringify(body);
    response.writeHead(status, {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(text),
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    });
    response.end(text);
  }
}

const MAX_BODY_BYTES = 16_384;

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES)
      throw new MlfpError('too_large', `body over ${MAX_BODY_BYTES} bytes`, { field: 'body' });
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new MlfpError('bad_json', 'the body is not JSON', { field: 'body' });
  }
}
