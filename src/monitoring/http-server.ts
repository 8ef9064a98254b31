// The engine's operational HTTP endpoint (node:http, loopback by default): GET /metrics (Prometheus text),
// /healthz (liveness: the process serves requests and the engine has not failed), /readyz (every
// dependency's state; 503 while any is not up). Anything else: 404; other methods: 405.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MlfpError } from '../errors.js';
import type { EngineMetrics } from './metrics.js';

export interface HttpServerOptions {
  host: string;
  /** 0 picks a free port */
  port: number;
}

export class OpsHttpServer {
  private server: Server | undefined;
  /** set when the engine has failed: /healthz then answers 503 with this message */
  failure: string | undefined;

  constructor(
    private readonly metrics: EngineMetrics,
    private readonly options: HttpServerOptions,
  ) {}

  async start(): Promise<AddressInfo> {
    const server = createServer((request, response) => {
      this.handle(request, response).catch((error: unknown) => {
        if (!response.headersSent)
          this.send(response, 500, 'text/plain', `internal error: ${(error as Error).message}\n`);
        else response.destroy();
      });
    });
    server.headersTimeout = 10_000;
    server.requestTimeout = 10_000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        reject(
          new MlfpError(
            'config_invalid',
            `cannot listen on http ${this.options.host}:${this.options.port}: ${error.code ?? error.message}`,
            { field: 'http.port', value: this.options.port, cause: error },
          ),
        );
      };
      server.once('error', onError);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    return server.address() as AddressInfo;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('allow', 'GET, HEAD');
      this.send(response, 405, 'text/plain', 'method not allowed\n');
      return;
    }
    switch (path) {
      case '/metrics':
        this.send(response, 200, this.metrics.registry.contentType, await this.metrics.registry.metrics());
        return;
      case '/healthz':
        if (this.failure === undefined) this.send(response, 200, 'application/json', '{"status":"ok"}\n');
        else
          this.send(
            response,
            503,
            'application/json',
            JSON.stringify({ status: 'failed', error: this.failure }) + '\n',
          );
        return;
      case '/readyz': {
        const readiness = this.metrics.readiness();
        this.send(
          response,
          readiness.ready ? 200 : 503,
          'application/json',
          JSON.stringify(readiness) + '\n',
        );
        return;
      }
      default:
        this.send(response, 404, 'text/plain', 'not found: try /metrics, /healthz or /readyz\n');
    }
  }

  private send(response: ServerResponse, status: number, type: string, body: string): void {
    response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    response.end(body);
  }

  async close(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
