// Kafka message bytes → the untrusted value the tick validator reads, or a DecodeFailure naming why not
// (tombstone, too_large, bad_encoding, bad_json, duplicate_member, wrong_type, bad_schema). Never throws for
// any input bytes; the validator (src/domain/validate-tick.ts) then checks fields. JSON is synchronous; Avro
// is too once the writer schema of an id is cached (the first message of an id waits for the registry).
// Duplicate member names are checked at the top level only: that object is what the engine reads; a
// duplicate inside a nested (ignored) member cannot change a tick, so it is accepted.

import type { ErrorCode } from '../errors.js';
import { MlfpError } from '../errors.js';

/** Why a message could not become a value. A class, so it can never be confused with a decoded JSON value. */
export class DecodeFailure {
  constructor(
    readonly reason: ErrorCode,
    readonly message: string,
    readonly field?: string,
    readonly value?: string,
  ) {}
}

export function isDecodeFailure(value: unknown): value is DecodeFailure {
  return value instanceof DecodeFailure;
}

const TOMBSTONE = new DecodeFailure('tombstone', 'message has no value (tombstone)');
const BYTE_ORDER_MARK = new DecodeFailure(
  'bad_encoding',
  'message value starts with a UTF-8 byte-order mark (EF BB BF); RFC 8259 §8.1 forbids it in JSON sent over a network',
);
const MAX_ERROR_CHARS = 160;
/** Each of the two values rendered in a duplicate_member failure is cut to this many characters. */
const MAX_DUPLICATE_VALUE_CHARS = 60;

export interface JsonTickDecoderOptions {
  /** Reject an object whose top level names a member twice (duplicate_member); false = the last value wins, as JSON.parse does. Default true. */
  rejectDuplicateMembers?: boolean;
  /** Reject a value starting with a UTF-8 byte-order mark (bad_encoding); false = strip one. Default true. */
  rejectByteOrderMark?: boolean;
}

/**
 * Decodes JSON tick messages: a size check before anything is read, a leading byte-order mark refused (or
 * stripped), strict UTF-8 (TextDecoder fatal: a replacement character would silently change a symbol),
 * JSON.parse, a plain-object check, then a duplicate-member check. JSON.parse makes `__proto__` an own
 * property and never calls setters, and the validator reads only own fields, so prototype-pollution
 * payloads are inert. The duplicate check is one allocation-free pass over the bytes counting top-level
 * members (countTopLevelMembers), compared with the parsed object's key count; only when they differ is
 * the duplicated name looked for (member names compared decoded: "ts" and "\u0074s" are one name).
 */
export class JsonTickDecoder {
  // ignoreBOM: the decoder must not strip a BOM silently; decode() decides what a leading one means
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  readonly rejectDuplicateMembers: boolean;
  readonly rejectByteOrderMark: boolean;

  constructor(
    readonly maxMessageBytes: number,
    options: JsonTickDecoderOptions = {},
  ) {
    if (!(Number.isInteger(maxMessageBytes) && maxMessageBytes > 0))
      throw new MlfpError('config_invalid', 'maxMessageBytes must be a positive integer', {
        field: 'kafka.maxMessageBytes',
        value: maxMessageBytes,
      });
    this.rejectDuplicateMembers = options.rejectDuplicateMembers ?? true;
    this.rejectByteOrderMark = options.rejectByteOrderMark ?? true;
  }

  decode(bytes: Uint8Array | null): unknown {
    if (bytes === null) return TOMBSTONE;
    if (bytes.length > this.maxMessageBytes) return tooLarge(bytes.length, this.maxMessageBytes);
    let body = bytes;
    if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
      if (this.rejectByteOrderMark) return BYTE_ORDER_MARK;
      body = bytes.subarray(3);
    }
    let text: string;
    try {
      text = this.utf8.decode(body);
    } catch {
      return new DecodeFailure('bad_encoding', 'message value is not valid UTF-8');
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      return new DecodeFailure('bad_json', `message value is not JSON: ${shortMessage(error)}`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      return new DecodeFailure('wrong_type', `message must be a JSON object, got ${kindOf(value)}`);
    if (this.rejectDuplicateMembers && countTopLevelMembers(body) !== keyCount(value)) {
      const duplicate = findDuplicateMember(text);
      if (duplicate !== undefined) return duplicate;
    }
    return value;
  }
}

/**
 * The number of members of the top-level object of `json`, UTF-8 bytes that must be valid JSON (JSON.parse
 * accepted them): the colons at depth 1 outside strings, since every member has exactly one and no scalar
 * value has any. One pass over the bytes (about twice as fast as charCodeAt over the text), no allocation;
 * UTF-8 never puts an ASCII byte inside a multi-byte character. 0 for `{}` or a value that is not an object.
 */
export function countTopLevelMembers(json: Uint8Array): number {
  const length = json.length;
  let depth = 0;
  let members = 0;
  for (let at = 0; at < length; at++) {
    const code = json[at];
    if (code === QUOTE) {
      // skip the string: a backslash escapes the next byte (\", \\, \u…)
      for (at++; at < length; at++) {
        const inString = json[at];
        if (inString === BACKSLASH) at++;
        else if (inString === QUOTE) break;
      }
    } else if (code === OPEN_BRACE || code === OPEN_BRACKET) depth++;
    else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) depth--;
    else if (code === COLON && depth === 1) members++;
  }
  return members;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COLON = 0x3a;
const COMMA = 0x2c;

/** The index of the quote closing the string that opens at `start` (escapes skipped: `\"`, `\\`, `\u…`). */
function endOfString(text: string, start: number): number {
  const length = text.length;
  for (let at = start + 1; at < length; at++) {
    const code = text.charCodeAt(at);
    if (code === BACKSLASH) at++;
    else if (code === QUOTE) return at;
  }
  return length;
}

/**
 * Own keys of a parsed object, counted without allocating (for...in over a JSON.parse result; inherited
 * enumerable keys would count too, which can only send a message to the exact slow path, never past it).
 */
function keyCount(object: object): number {
  let count = 0;
  for (const _key in object) count++;
  return count;
}

/**
 * Slow path, only for a text whose member count differs from its key count: the first top-level member
 * whose (decoded) name was already seen, as a duplicate_member failure naming it and both values; undefined
 * if there is none.
 */
function findDuplicateMember(text: string): DecodeFailure | undefined {
  const firstValues = new Map<string, string>();
  const length = text.length;
  let depth = 0;
  let name = '';
  let valueStart = -1;
  for (let at = 0; at < length; at++) {
    const code = text.charCodeAt(at);
    if (code === QUOTE) {
      const end = endOfString(text, at);
      // a string at depth 1 before the member's colon is its name
      if (depth === 1 && valueStart < 0) name = JSON.parse(text.slice(at, end + 1)) as string;
      at = end;
      continue;
    }
    if (depth === 1 && valueStart >= 0 && (code === COMMA || code === CLOSE_BRACE)) {
      const valueText = text.slice(valueStart, at).trim();
      const first = firstValues.get(name);
      if (first !== undefined) return duplicateMember(name, first, valueText);
      firstValues.set(name, valueText);
      valueStart = -1;
    }
    if (code === OPEN_BRACE || code === OPEN_BRACKET) depth++;
    else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) depth--;
    else if (code === COLON && depth === 1) valueStart = at + 1;
  }
  return undefined;
}

function duplicateMember(name: string, first: string, second: string): DecodeFailure {
  const shownName = bounded(JSON.stringify(name), MAX_ERROR_CHARS);
  return new DecodeFailure(
    'duplicate_member',
    `message value names member ${shownName} twice (RFC 7493 I-JSON forbids duplicate names)`,
    bounded(name, MAX_ERROR_CHARS),
    `${bounded(first, MAX_DUPLICATE_VALUE_CHARS)} then ${bounded(second, MAX_DUPLICATE_VALUE_CHARS)}`,
  );
}

function bounded(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The part of a schema registry the Avro decoder needs (SchemaRegistry of @kafkajs/confluent-schema-registry). */
export interface SchemaLookup {
  getSchema(registryId: number): Promise<unknown>;
}

interface AvroReader {
  fromBuffer(buffer: Buffer): unknown;
}

/** Avro fields copied into a plain object for the validator (avsc records have their own prototype). */
const AVRO_FIELDS = ['symbol', 'ts', 'price', 'size', 'bid', 'ask', 'exchange', 'seq'] as const;
const MAGIC_BYTE = 0;
const HEADER_BYTES = 5;
/** Ids the registry said it does not know, remembered so a flood of them costs one request each at most. */
const MAX_UNKNOWN_IDS = 10_000;

/**
 * Decodes Confluent-framed Avro (magic byte 0, 4-byte schema id, Avro body) with the writer schema from
 * the registry, cached per id. An unknown id (registry 404/422), a schema that is not Avro, a body the
 * schema cannot read, or a frame without the magic byte are `bad_schema`. A registry that cannot be
 * reached is not a bad message: `decode` then rejects with a retriable MlfpError (source_unavailable).
 */
export class AvroTickDecoder {
  private readonly readers = new Map<number, AvroReader>();
  private readonly unknownIds = new Map<number, DecodeFailure>();

  constructor(
    private readonly registry: SchemaLookup,
    readonly maxMessageBytes: number,
  ) {}

  /** Synchronous when the message's schema is cached (the common case); see `needsLookup`. */
  decodeCached(bytes: Buffer | null): unknown {
    if (bytes === null) return TOMBSTONE;
    if (bytes.length > this.maxMessageBytes) return tooLarge(bytes.length, this.maxMessageBytes);
    if (bytes.length < HEADER_BYTES || bytes[0] !== MAGIC_BYTE)
      return new DecodeFailure(
        'bad_schema',
        'message is not in the schema-registry wire format (magic byte 0 + 4-byte schema id)',
      );
    const id = bytes.readInt32BE(1);
    const reader = this.readers.get(id);
    if (reader === undefined) {
      const unknown = this.unknownIds.get(id);
      // a caller that skipped lookup() has a bug; dead-lettering a possibly good message would lose it
      if (unknown === undefined) throw new MlfpError('internal', `Avro schema ${id} was not looked up first`);
      return unknown;
    }
    let record: unknown;
    try {
      record = reader.fromBuffer(bytes.subarray(HEADER_BYTES));
    } catch (error) {
      return new DecodeFailure(
        'bad_schema',
        `Avro body does not match schema ${id}: ${shortMessage(error)}`,
        'schemaId',
        String(id),
      );
    }
    return plainTick(record, id);
  }

  /** The schema id this message needs fetched first, or undefined when decodeCached can answer now. */
  needsLookup(bytes: Buffer | null): number | undefined {
    if (bytes === null || bytes.length > this.maxMessageBytes || bytes.length < HEADER_BYTES)
      return undefined;
    if (bytes[0] !== MAGIC_BYTE) return undefined;
    const id = bytes.readInt32BE(1);
    return this.readers.has(id) || this.unknownIds.has(id) ? undefined : id;
  }

  /**
   * Fetches and caches the writer schema of `id`. Resolves when the id is cached as readable or unknown;
   * rejects with MlfpError source_unavailable (retriable) when the registry cannot answer, or
   * (not retriable) when it refuses our credentials.
   */
  async lookup(id: number): Promise<void> {
    let schema: unknown;
    try {
      schema = await this.registry.getSchema(id);
    } catch (error) {
      const status = (error as { status?: unknown } | null)?.status;
      if (status === 401 || status === 403)
        throw new MlfpError('source_unavailable', `schema registry refused access (HTTP ${status})`, {
          cause: error,
          retriable: false,
        });
      if (typeof status === 'number' && status >= 400 && status < 500) {
        this.rememberUnknown(id, `schema id ${id} is unknown to the registry (HTTP ${status})`);
        return;
      }
      if (
        error instanceof SyntaxError ||
        (error as Error | null)?.name?.startsWith('ConfluentSchemaRegistry')
      ) {
        this.rememberUnknown(id, `schema ${id} cannot be used: ${shortMessage(error)}`);
        return;
      }
      throw new MlfpError('source_unavailable', `schema registry unavailable: ${shortMessage(error)}`, {
        cause: error,
      });
    }
    if (typeof (schema as Partial<AvroReader> | null)?.fromBuffer !== 'function') {
      this.rememberUnknown(id, `schema ${id} is not an Avro schema`);
      return;
    }
    this.readers.set(id, schema as AvroReader);
  }

  private rememberUnknown(id: number, message: string): void {
    if (this.unknownIds.size >= MAX_UNKNOWN_IDS) {
      const oldest = this.unknownIds.keys().next();
      if (oldest.done !== true) this.unknownIds.delete(oldest.value);
    }
    this.unknownIds.set(id, new DecodeFailure('bad_schema', message, 'schemaId', String(id)));
  }
}

/** Copies the tick fields of an Avro record into a plain object; timestamp-millis may arrive as a Date. */
function plainTick(record: unknown, id: number): unknown {
  if (typeof record !== 'object' || record === null || Array.isArray(record))
    return new DecodeFailure('wrong_type', `schema ${id} does not describe a record`, 'schemaId', String(id));
  const source = record as Record<string, unknown>;
  const tick: Record<string, unknown> = {};
  for (const field of AVRO_FIELDS) {
    const value = source[field];
    tick[field] = value instanceof Date ? value.getTime() : value;
  }
  return tick;
}

function tooLarge(length: number, max: number): DecodeFailure {
  return new DecodeFailure(
    'too_large',
    `message value has ${length} bytes, more than maxMessageBytes ${max}`,
    'value',
    `${length} bytes`,
  );
}

function shortMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS - 1)}…` : text;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}
