// Every error the engine raises or routes to a dead-letter output: one code list, one class.
// Codes are part of the public contract (DLQ `reason`, CLI messages, README "Error codes" table).

export const ERROR_CODES = [
  // input records (ticks, bars, corporate actions, CSV rows, Kafka messages)
  'missing_field',
  'wrong_type',
  'not_finite',
  'non_positive_price',
  'negative_size',
  'bad_time',
  'bad_symbol',
  'duplicate_sequence',
  'late',
  /** an event time too far ahead of its stream (or of the wall clock) that the stream never confirmed */
  'future_time',
  /** a Kafka message key that is not the tick's symbol (null key included) */
  'key_mismatch',
  /** a JSON object with the same member name twice (RFC 7493 I-JSON) */
  'duplicate_member',
  'crossed_quote',
  'bad_json',
  'bad_encoding',
  'too_large',
  'tombstone',
  'bad_schema',
  'unknown_action',
  'malformed_row',
  'inconsistent_bar',
  'out_of_order',
  // configuration and command line
  'config_invalid',
  'bad_argument',
  'io_error',
  // models
  'model_invalid',
  'model_mismatch',
  'model_unsupported',
  'model_error',
  // state snapshots (validator, bar aggregator, indicators, feature sets, normalisers)
  'snapshot_invalid',
  // authentication and authorisation (src/security): field and value name the claim at fault, never the token
  /** no usable credentials: no token, a malformed one, a bad signature, a wrong issuer or audience, … */
  'unauthenticated',
  /** the token's exp has passed (beyond the allowed clock skew) */
  'token_expired',
  /** the session that began at the token's auth_time is over; a refreshed token does not extend it */
  'session_expired',
  /** the token proves no second factor (amr) nor the required acr level */
  'mfa_required',
  /** the principal's roles do not allow the channel, request or action */
  'forbidden',
  /** a token in the URL query string, where proxies and access logs keep it */
  'token_in_query',
  // the public API's requests (src/api): field and value name what was wrong
  /** a request that does not follow the protocol or the REST schema: unknown op, missing or bad field */
  'bad_request',
  /** more control messages per second than api.controlPerSecond */
  'rate_limited',
  /** a per-connection limit reached (api.maxSubscriptions) */
  'limit_exceeded',
  /** no such route, channel value or model */
  'not_found',
  // services
  'sink_unavailable',
  /** a sink's service refused a record for good (a data error, not an outage): the batch is not written */
  'sink_rejected',
  'source_unavailable',
  'internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Codes whose failure may pass on retry (a service that is down); everything else is final. */
const RETRIABLE: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'sink_unavailable',
  'source_unavailable',
  'io_error',
]);

const MAX_VALUE_CHARS = 200;

export interface MlfpErrorOptions {
  field?: string;
  value?: unknown;
  cause?: unknown;
  retriable?: boolean;
}

/** The engine's one error type: a code, the field and (truncated) value at fault, and whether a retry may help. */
export class MlfpError extends Error {
  override readonly name = 'MlfpError';
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly field: string | undefined;
  readonly value: string | undefined;

  constructor(code: ErrorCode, message: string, options: MlfpErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retriable = options.retriable ?? RETRIABLE.has(code);
    this.field = options.field;
    this.value = options.value === undefined ? undefined : describeValue(options.value);
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      field: this.field,
      value: this.value,
      retriable: this.retriable,
    };
  }
}

/** A short printable rendering of any value, for messages and DLQ records (never longer than 200 chars). */
export function describeValue(value: unknown): string {
  let text: string;
  if (typeof value === 'string') text = JSON.stringify(value);
  else if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    text = String(value);
  else if (value === null) text = 'null';
  else if (value === undefined) text = 'undefined';
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = Object.prototype.toString.call(value);
    }
  }
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS - 1)}…` : text;
}

export function isMlfpError(error: unknown): error is MlfpError {
  return error instanceof MlfpError;
}

/** Wraps anything thrown into an MlfpError, keeping the original as `cause`. */
export function toMlfpError(error: unknown, fallback: ErrorCode = 'internal'): MlfpError {
  if (error instanceof MlfpError) return error;
  const message = error instanceof Error ? error.message : describeValue(error);
  return new MlfpError(fallback, message, { cause: error });
}
