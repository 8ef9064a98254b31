// PostgreSQL's binary COPY format, written into reused 64 KiB pieces: doubles go over the wire as their 8 bytes
// (no decimal text to format in JavaScript and parse again in the server, the cost that dominates text COPY of
// feature rows) and times as int64 microseconds since 2000-01-01. Format: PostgreSQL docs, "COPY", Binary Format.

/** "PGCOPY\n\377\r\n\0", then int32 flags and int32 header-extension length, both 0. */
const SIGNATURE = Buffer.from([0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00]);
/** 2000-01-01T00:00:00Z, PostgreSQL's timestamp epoch, in Unix ms. */
const POSTGRES_EPOCH_MS = 946_684_800_000;
const TWO_32 = 4_294_967_296;
const DEFAULT_PIECE_BYTES = 64 * 1024;

export class BinaryCopyWriter {
  private buffer: Buffer;
  private position = 0;
  private pieces: Buffer[] = [];
  private piecesBytes = 0;

  constructor(private readonly pieceBytes = DEFAULT_PIECE_BYTES) {
    this.buffer = Buffer.allocUnsafe(pieceBytes);
    this.ensure(SIGNATURE.length + 8);
    SIGNATURE.copy(this.buffer, 0);
    this.buffer.writeInt32BE(0, 11);
    this.buffer.writeInt32BE(0, 15);
    this.position = 19;
  }

  /** bytes in completed pieces, waiting for take() */
  get pendingBytes(): number {
    return this.piecesBytes;
  }

  row(fieldCount: number): void {
    this.ensure(2);
    this.position = this.buffer.writeInt16BE(fieldCount, this.position);
  }

  null(): void {
    this.ensure(4);
    this.position = this.buffer.writeInt32BE(-1, this.position);
  }

  /** UTF-8 text; NUL (which no PostgreSQL text can hold) becomes U+FFFD. */
  text(value: string): void {
    const text = value.includes('\0') ? value.replaceAll('\0', '\uFFFD') : value;
    const bytes = Buffer.byteLength(text, 'utf8');
    this.ensure(4 + bytes);
    this.position = this.buffer.writeInt32BE(bytes, this.position);
    this.position += this.buffer.write(text, this.position, 'utf8');
  }

  float8(value: number): void {
    this.ensure(12);
    this.position = this.buffer.writeInt32BE(8, this.position);
    this.position = this.buffer.writeDoubleBE(value, this.position);
  }

  /** NULL unless finite (NaN and ±Infinity never reach the database through here). */
  finiteOrNull(value: number | undefined): void {
    if (value === undefined || !Number.isFinite(value)) this.null();
    else this.float8(value);
  }

  int4(value: number): void {
    this.ensure(8);
    this.position = this.buffer.writeInt32BE(4, this.position);
    this.position = this.buffer.writeInt32BE(value, this.position);
  }

  /** A safe integer as int8 (two 32-bit halves: no BigInt per value). */
  int8(value: number): void {
    this.ensure(12);
    this.position = this.buffer.writeInt32BE(8, this.position);
    this.writeInt64(value);
  }

  /** A decimal integer string in int8 range (Kafka offsets reach 2^63 - 1, past safe integers). */
  int8Decimal(value: string): void {
    this.ensure(12);
    this.position = this.buffer.writeInt32BE(8, this.position);
    this.position = this.buffer.writeBigInt64BE(BigInt(value), this.position);
  }

  /** Epoch ms (in PostgreSQL's range, checked by the caller) as int64 µs since 2000-01-01. */
  timestamptz(ms: number): void {
    this.ensure(12);
    this.position = this.buffer.writeInt32BE(8, this.position);
    const micros = Math.round((ms - POSTGRES_EPOCH_MS) * 1000);
    if (Number.isSafeInteger(micros)) this.writeInt64(micros);
    else
      this.position = this.buffer.writeBigInt64BE(
        BigInt(Math.round(ms - POSTGRES_EPOCH_MS)) * 1000n,
        this.position,
      );
  }

  /** jsonb's binary form: version 1, then the JSON text. */
  jsonb(json: string): void {
    const bytes = Buffer.byteLength(json, 'utf8');
    this.ensure(5 + bytes);
    this.position = this.buffer.writeInt32BE(bytes + 1, this.position);
    this.position = this.buffer.writeUInt8(1, this.position);
    this.position += this.buffer.write(json, this.position, 'utf8');
  }

  bytea(bytes: Uint8Array): void {
    this.ensure(4 + bytes.byteLength);
    this.position = this.buffer.writeInt32BE(bytes.byteLength, this.position);
    this.buffer.set(bytes, this.position);
    this.position += bytes.byteLength;
  }

  bool(value: boolean): void {
    this.ensure(5);
    this.position = this.buffer.writeInt32BE(1, this.position);
    this.position = this.buffer.writeUInt8(value ? 1 : 0, this.position);
  }

  /** Appends the trailer; take() then returns the rest. */
  finish(): void {
    this.ensure(2);
    this.position = this.buffer.writeInt16BE(-1, this.position);
    this.cut();
  }

  /** The completed pieces (each handed out once; the writer never touches them again). */
  take(): Buffer[] {
    const pieces = this.pieces;
    this.pieces = [];
    this.piecesBytes = 0;
    return pieces;
  }

  private writeInt64(value: number): void {
    const high = Math.floor(value / TWO_32);
    this.position = this.buffer.writeInt32BE(high, this.position);
    this.position = this.buffer.writeUInt32BE(value - high * TWO_32, this.position);
  }

  private ensure(bytes: number): void {
    if (this.position + bytes <= this.buffer.length) return;
    this.cut();
    if (bytes > this.buffer.length) this.buffer = Buffer.allocUnsafe(Math.max(bytes, this.pieceBytes));
  }

  /** Moves the filled part of the buffer to the pieces and starts a fresh buffer. */
  private cut(): void {
    if (this.position === 0) return;
    this.pieces.push(this.buffer.subarray(0, this.position));
    this.piecesBytes += this.position;
    this.buffer = Buffer.allocUnsafe(this.pieceBytes);
    this.position = 0;
  }
}
