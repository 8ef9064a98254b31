// The API's machine-readable contracts, generated from the zod schemas that validate requests and frames:
// OpenAPI 3.1 for REST (GET /v1/openapi.json) and AsyncAPI 3.0 for the WebSocket protocol
// (GET /v1/asyncapi.json). Built once, on first request.

import { z } from 'zod';
import { CHANNELS } from './channels.js';
import {
  authRequestSchema,
  listRequestSchema,
  pingRequestSchema,
  PROTOCOL,
  subscribeRequestSchema,
  unsubscribeRequestSchema,
} from './protocol.js';
import { latestQuerySchema, loadBodySchema, shadowBodySchema, versionBodySchema } from './rest-schemas.js';

const schema = (s: z.ZodType): unknown => z.toJSONSchema(s, { target: 'draft-2020-12', io: 'input' });

const errorBody = {
  type: 'object',
  required: ['success', 'error'],
  properties: {
    success: { const: false },
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, field: { type: 'string' } },
    },
  },
};

let built: { openapi: unknown; asyncapi: unknown } | undefined;

export function apiDocuments(): { openapi: unknown; asyncapi: unknown } {
  if (built !== undefined) return built;
  const query = schema(latestQuerySchema) as { properties: Record<string, unknown>; required?: string[] };
  const parameters = Object.entries(query.properties).map(([name, s]) => ({
    name,
    in: 'query',
    required: query.required?.includes(name) ?? false,
    schema: s,
  }));
  const errors = {
    '400': {
      description: 'bad request (typed error)',
      content: { 'application/json': { schema: errorBody } },
    },
    '401': {
      description: 'no valid token, expired, or no MFA',
      content: { 'application/json': { schema: errorBody } },
    },
    '403': {
      description: 'role or Origin not allowed',
      content: { 'application/json': { schema: errorBody } },
    },
    '404': {
      description: 'no such value, model or route',
      content: { 'application/json': { schema: errorBody } },
    },
  };
  const latest = (kind: string, role: string) => ({
    get: {
      summary: `latest ${kind} of a symbol and timeframe (role ${role})`,
      security: [{ bearer: [] }],
      parameters,
      responses: { '200': { description: `the latest ${kind}` }, ...errors },
    },
  });
  const admin = (action: string, body: z.ZodType | undefined) => ({
    post: {
      summary: `${action} a model (role administrator), as \`mlfp models ${action}\``,
      security: [{ bearer: [] }],
      parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
      ...(body === undefined
        ? {}
        : { requestBody: { required: true, content: { 'application/json': { schema: schema(body) } } } }),
      responses: { '200': { description: 'the new state' }, ...errors },
    },
  });
  const openapi = {
    openapi: '3.1.0',
    info: { title: 'mlfp public API', version: '1.0.0' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    paths: {
      '/v1/latest/bars': latest('bar', 'analyst'),
      '/v1/latest/features': latest('feature vector', 'analyst'),
      '/v1/latest/predictions': latest('predictions', 'analyst'),
      '/v1/models': {
        get: {
          summary: 'the model registry: versions, live, shadow (role analyst)',
          security: [{ bearer: [] }],
          responses: { '200': { description: 'models' }, ...errors },
        },
      },
      '/v1/models/load': {
        post: {
          summary:
            'load a model folder on the server into the model directory (role administrator), as `mlfp models load`',
          security: [{ bearer: [] }],
          requestBody: {
            required: true,
            content: { 'application/json': { schema: schema(loadBodySchema) } },
          },
          responses: { '200': { description: 'name, version, folder, live' }, ...errors },
        },
      },
      '/v1/models/{name}/promote': admin('promote', versionBodySchema),
      '/v1/models/{name}/rollback': admin('rollback', undefined),
      '/v1/models/{name}/shadow': admin('shadow', shadowBodySchema),
    },
  };
  const message = (name: string, s: z.ZodType) => ({ name, payload: schema(s) });
  const asyncapi = {
    asyncapi: '3.0.0',
    info: {
      title: 'mlfp signal stream',
      version: '1.0.0',
      description: `WebSocket at /v1/ws, sub-protocol ${PROTOCOL}. Channels: ${CHANNELS.join(', ')}.`,
    },
    channels: {
      ws: {
        address: '/v1/ws',
        messages: {
          auth: message('auth', authRequestSchema),
          subscribe: message('subscribe', subscribeRequestSchema),
          unsubscribe: message('unsubscribe', unsubscribeRequestSchema),
          list: message('list', listRequestSchema),
          ping: message('ping', pingRequestSchema),
          reply: { name: 'reply', payload: { type: 'object', required: ['id', 'success'] } },
          data: {
            name: 'data',
            payload: {
              type: 'object',
              required: ['type', 'channel', 'epoch', 'seq', 'id', 'data'],
              properties: {
                type: { enum: ['data', 'snapshot'] },
                channel: { enum: [...CHANNELS] },
                epoch: { type: 'string' },
                seq: { type: 'integer' },
                id: { type: 'string' },
                data: { type: 'object' },
              },
            },
          },
          heartbeat: { name: 'heartbeat', payload: { type: 'object', required: ['type', 'ts', 'channels'] } },
          lag: { name: 'lag', payload: { type: 'object', required: ['type', 'bytesInFlight', 'hardBytes'] } },
        },
      },
    },
    operations: {
      send: { action: 'receive', channel: { $ref: '#/channels/ws' } },
      receive: { action: 'send', channel: { $ref: '#/channels/ws' } },
    },
  };
  built = { openapi, asyncapi };
  return built;
}
