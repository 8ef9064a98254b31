// The WebSocket protocol's client messages (zod: the same schemas validate frames and generate the AsyncAPI
// document) and the server's replies. Every request carries a client `id` (string or number) that the reply
// echoes with `success`; a failure carries a typed error {code, message} (src/errors.ts codes).

import { z } from 'zod';
import type { ErrorCode } from '../errors.js';
import { CHANNELS } from './channels.js';

export const PROTOCOL = 'mlfp.v1';

const requestId = z.union([z.string().min(1).max(64), z.number().int().safe()]);
const symbolName = z
  .string()
  .regex(/^[A-Za-z0-9._:/-]{1,32}$/u, 'a symbol (1-32 of A-Z a-z 0-9 . _ : / -) or *');

export const sinceSchema = z.strictObject({
  epoch: z.string().min(1).max(64),
  seq: z.number().int().min(0).safe(),
});

export const authRequestSchema = z.strictObject({
  id: requestId,
  op: z.literal('auth'),
  token: z.string().min(1).max(16_384),
});

export const subscribeRequestSchema = z.strictObject({
  id: requestId,
  op: z.literal('subscribe'),
  channel: z.enum(CHANNELS),
  /** symbols to receive, or ['*'] for all */
  symbols: z
    .array(symbolName.or(z.literal('*')))
    .min(1)
    .max(1_000),
  /** predictions only: one model's */
  model: z.string().min(1).max(64).optional(),
  /** resume: every message after this position, exactly once */
  since: sinceSchema.optional(),
});

export const unsubscribeRequestSchema = z.strictObject({
  id: requestId,
  op: z.literal('unsubscribe'),
  channel: z.enum(CHANNELS),
});

export const listRequestSchema = z.strictObject({ id: requestId, op: z.literal('list') });
export const pingRequestSchema = z.strictObject({ id: requestId, op: z.literal('ping') });

export const clientMessageSchema = z.discriminatedUnion('op', [
  authRequestSchema,
  subscribeRequestSchema,
  unsubscribeRequestSchema,
  listRequestSchema,
  pingRequestSchema,
]);

export type ClientMessage = z.infer<typeof clientMessageSchema>;
export type SubscribeRequest = z.infer<typeof subscribeRequestSchema>;
export type Since = z.infer<typeof sinceSchema>;

export interface ErrorReply {
  id: string | number | null;
  op?: string;
  success: false;
  error: { code: ErrorCode; message: string; field?: string };
}

export interface SuccessReply {
  id: string | number;
  op: string;
  success: true;
  result?: unknown;
}

/** Where a resubscription's missed messages came from. */
export type ReplayTier = 'none' | 'ring' | 'kafka' | 'snapshot';

/** Close codes of the API (4000-4999 are the application's; 1008/1009/1012/1013 are RFC 6455's). */
export const CLOSE = Object.freeze({
  /** a policy was broken (control-message rate, auth required) */
  policy: 1008,
  /** a frame over maxPayload (sent by ws itself) */
  tooBig: 1009,
  /** the server is shutting down; reconnect after the hint */
  restart: 1012,
  /** too many connections: try again later */
  tryAgain: 1013,
  /** no auth message within the deadline */
  authTimeout: 4001,
  /** the token expired (send a refreshed one with op auth before exp) */
  tokenExpired: 4002,
  /** the session reached auth_time + its maximum: log in again */
  sessionExpired: 4003,
  /** a slow consumer past its hard byte budget */
  slowConsumer: 4008,
} as const);

/** The first zod issue as a typed error naming the field and what was wrong. */
export function describeIssue(error: z.ZodError): { field: string; message: string } {
  const issue = error.issues[0];
  const field = issue === undefined ? '' : issue.path.map(String).join('.');
  return { field, message: `${field === '' ? 'message' : field}: ${issue?.message ?? 'invalid'}` };
}
