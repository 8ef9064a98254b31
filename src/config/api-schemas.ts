// The public API listener (api.*): WebSocket + REST on its own port, apart from the ops listener (http.*).
// Auth is explicit: `none` only on loopback (refused otherwise), or `oidc` with the token rules of
// auth-schemas.ts. Limits bound what one client can cost: connections, payload, subscriptions, control
// rate, bytes in flight (soft: conflation; hard: lag notice, then close).

import { z } from 'zod';
import { tokenVerifierSchema } from './auth-schemas.js';

export const apiAuthSchema = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('none') }),
  z.strictObject({ mode: z.literal('oidc'), oidc: tokenVerifierSchema }),
]);

export const apiSchema = z.strictObject({
  /** serve the WebSocket API, REST and the dashboard */
  enabled: z.boolean().default(true),
  /** loopback by default; any other address needs auth.mode 'oidc' */
  host: z.string().min(1).default('127.0.0.1'),
  /** 0 = any free port (printed at start) */
  port: z.number().int().min(0).max(65_535).default(8090),
  auth: apiAuthSchema.default({ mode: 'none' }),
  /** browser Origins allowed to open a WebSocket or call REST (besides the API's own); [] = only its own */
  allowedOrigins: z
    .array(z.string().regex(/^https?:\/\/[^\s/]+$/u, 'an origin: scheme://host[:port]'))
    .default([]),
  /** TLS 1.3 (and only 1.3) when both are set: PEM files */
  tls: z.strictObject({ certFile: z.string().min(1), keyFile: z.string().min(1) }).optional(),
  /** open connections; one more is refused with close code 1013 (old ones are not evicted) */
  maxConnections: z.number().int().min(1).max(1_000_000).default(10_000),
  /** the largest client frame (1009 past it) */
  maxPayloadBytes: z.number().int().min(1_024).max(65_536).default(65_536),
  /** channels one connection may subscribe to at once */
  maxSubscriptions: z.number().int().min(1).max(64).default(8),
  /** requests per second per connection (a burst of as many) */
  controlPerSecond: z.number().int().min(1).max(1_000).default(20),
  /** bytes in flight to one client past which features and predictions are conflated */
  softBytes: z.number().int().min(1_024).default(1_048_576),
  /** bytes in flight past which the client gets a lag notice, then a close (4008) after lagGraceMs */
  hardBytes: z.number().int().min(2_048).default(8_388_608),
  lagGraceMs: z.number().int().min(0).max(600_000).default(5_000),
  /** messages per channel kept for resubscriptions with `since` */
  ringSize: z.number().int().min(0).max(10_000_000).default(10_000),
  /** Kafka positions per channel remembered for the Kafka replay tier (12 bytes each; API reading the output topics) */
  kafkaReplayMessages: z.number().int().min(0).max(10_000_000).default(100_000),
  /** a connection without a token must authenticate within this long (close 4001) */
  authTimeoutMs: z.number().int().min(100).max(60_000).default(10_000),
  /** WebSocket ping interval; a peer that missed the previous pong is terminated */
  pingIntervalMs: z.number().int().min(1_000).max(60_000).default(25_000),
  /** an idle connection gets an app heartbeat with the head of each subscribed channel this often */
  heartbeatIntervalMs: z.number().int().min(1_000).max(60_000).default(15_000),
  /** the retry hint of the close at shutdown (1012) */
  retryAfterMs: z.number().int().min(0).max(600_000).default(5_000),
});

export type ApiConfig = z.infer<typeof apiSchema>;
