// Streaming CSV for the CLI: a strict RFC 4180 reader that keeps line numbers, and a buffered writer
// that respects backpressure and only replaces the destination file once everything was written.

import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { MlfpError } from '../errors.js';

export interface CsvRow {
  /** 1-based line number in the file where the row starts (the header is line 1) */
  line: number;
  fields: string[];
}

const MAX_FIELD_CHARS = 1 << 20;

/**
 * Incremental strict RFC 4180 parser: feed text chunks with push(), collect completed rows, call end() at the
 * end. Quoted fields may contain commas, quotes ("") and newlines. A quote in an unquoted field, text after a
 * closing quote, or an end inside quotes is an error naming the line. Blank lines are skipped, a UTF-8 BOM
 * is ignored, CRLF is accepted.
 */
export class CsvParser {
  private fields: string[] = [];
  private field = '';
  private inQuotes = false;
  private afterQuote = false;
  private line = 1;
  private rowLine = 1;
  private first = true;
  private rowHasContent = false;

  /** Parses a chunk; completed rows are appended to `out`. */
  push(chunk: string, out: CsvRow[]): void {
    let text = chunk;
    if (this.first) {
      this.first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (this.inQuotes) {
        if (c === 34 /* " */) {
          this.field += text.slice(start, i);
          if (i + 1 < text.length && text.charCodeAt(i + 1) === 34) {
            this.field += '"';
            i++;
          } else {
            // a closing quote; at a chunk's end it may still turn out to be the first half of ""
            this.inQuotes = false;
            this.afterQuote = true;
          }
          start = i + 1;
        } else if (c === 10) this.line++;
        continue;
      }
      if (c === 44 /* , */) {
        this.field += text.slice(start, i);
        this.endField();
        start = i + 1;
      } else if (c === 10 /* \n */) {
        let end = i;
        if (end > start && text.charCodeAt(end - 1) === 13) end--;
        this.field += text.slice(start, end);
        this.endRow(out);
        this.line++;
        this.rowLine = this.line;
        start = i + 1;
      } else if (c === 34) {
        if (this.afterQuote) {
          // only reachable when `""` was split across two chunks: it is an escaped quote
          this.field += '"';
          this.inQuotes = true;
          this.afterQuote = false;
          start = i + 1;
        } else if (this.field === '' && start === i) {
          this.inQuotes = true;
          this.rowHasContent = true;
          start = i + 1;
        } else {
          throw new MlfpError('malformed_row', `line ${this.line}: a quote inside an unquoted field`, {
            field: `line ${this.line}`,
          });
        }
      } else if (this.afterQuote && c !== 13) {
        throw new MlfpError('malformed_row', `line ${this.line}: text after a closing quote`, {
          field: `line ${this.line}`,
        });
      }
      if (this.field.length > MAX_FIELD_CHARS) {
        throw new MlfpError(
          'too_large',
          `line ${this.line}: a field longer than ${MAX_FIELD_CHARS} characters`,
        );
      }
    }
    if (start < text.length)
      this.field += this.inQuotes ? text.slice(start) : text.slice(start).replace(/\r$/, '');
  }

  /** Ends the input; a last row without a newline is appended to `out`. */
  end(out: CsvRow[]): void {
    if (this.inQuotes)
      throw new MlfpError('malformed_row', `line ${this.rowLine}: the input ends inside a quoted field`);
    if (this.field !== '' || this.fields.length > 0 || this.rowHasContent) this.endRow(out);
  }

  private endField(): void {
    this.fields.push(this.field);
    this.field = '';
    this.afterQuote = false;
  }

  private endRow(out: CsvRow[]): void {
    this.endField();
    const fields = this.fields;
    if (this.rowHasContent || fields.length > 1 || fields[0] !== '') out.push({ line: this.rowLine, fields });
    this.fields = [];
    this.rowHasContent = false;
  }
}

/** Reads a CSV file row by row (see CsvParser); a missing or unreadable file is an io_error. */
export async function* readCsv(path: string): AsyncGenerator<CsvRow> {
  const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 });
  const parser = new CsvParser();
  const ready: CsvRow[] = [];
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      parser.push(chunk, ready);
      for (const row of ready) yield row;
      ready.length = 0;
    }
    parser.end(ready);
    for (const row of ready) yield row;
  } catch (error) {
    if (error instanceof MlfpError) throw error;
    throw new MlfpError('io_error', `cannot read ${path}: ${(error as Error).message}`, { cause: error });
  } finally {
    stream.destroy();
  }
}

/** Parses a whole CSV text (small tables: fixtures, tests). */
export function parseCsvText(text: string): { header: string[]; rows: string[][] } {
  const parser = new CsvParser();
  const out: CsvRow[] = [];
  parser.push(text, out);
  parser.end(out);
  const [first, ...rest] = out;
  return { header: first?.fields ?? [], rows: rest.map((row) => row.fields) };
}

const SPECIAL_NUMBERS: Readonly<Record<string, number>> = {
  nan: Number.NaN,
  inf: Number.POSITIVE_INFINITY,
  '+inf': Number.POSITIVE_INFINITY,
  '-inf': Number.NEGATIVE_INFINITY,
  infinity: Number.POSITIVE_INFINITY,
  '+infinity': Number.POSITIVE_INFINITY,
  '-infinity': Number.NEGATIVE_INFINITY,
};

/**
 * A numeric cell of a model input table: empty = missing (NaN); `nan`, `inf`, `-inf`, `Infinity` in any case
 * (as Python writes them); otherwise a decimal number, correctly rounded. undefined for anything else
 * ("1,5", "abc", "0x10").
 */
export function parseNumberCell(text: string): number | undefined {
  if (text === '') return Number.NaN;
  const value = Number(text);
  if (Number.isFinite(value) && /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(text)) return value;
  return SPECIAL_NUMBERS[text.trim().toLowerCase()];
}

/** Maps header names to column indexes and reports missing required columns by name. */
export class CsvHeader {
  readonly names: readonly string[];
  private readonly index = new Map<string, number>();

  constructor(fields: readonly string[]) {
    this.names = fields.map((name) => name.trim());
    this.names.forEach((name, i) => {
      if (!this.index.has(name)) this.index.set(name, i);
    });
  }

  has(name: string): boolean {
    return this.index.has(name);
  }

  indexOf(name: string): number {
    return this.index.get(name) ?? -1;
  }

  /** Indexes of the required columns; throws naming every missing one. */
  require(path: string, names: readonly string[]): number[] {
    const missing = names.filter((name) => !this.index.has(name));
    if (missing.length > 0) {
      throw new MlfpError(
        'missing_field',
        `${path}: header lacks column(s) ${missing.join(', ')} (found: ${this.names.join(',')})`,
        { field: missing[0] },
      );
    }
    return names.map((name) => this.index.get(name) as number);
  }
}

/** Quotes a field when it needs it. */
export function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Shortest round-trip text of a double; empty for NaN/undefined (a missing value). */
export function csvNumber(value: number | undefined): string {
  return value === undefined || Number.isNaN(value) ? '' : String(value);
}

/**
 * Writes rows to `<path>.partial` and renames it to `path` on `commit()`, so a failed run never leaves a
 * half-written file under the final name. `abort()` removes the partial file.
 */
export class CsvWriter {
  private readonly stream: WriteStream;
  private readonly partialPath: string;
  private buffer = '';
  private failed: Error | undefined;
  rows = 0;

  constructor(private readonly path: string) {
    this.partialPath = `${path}.partial`;
    this.stream = createWriteStream(this.partialPath);
    this.stream.on('error', (error) => {
      this.failed = error;
    });
  }

  /** Appends one already-joined line (without newline). Resolves immediately unless the OS buffer is full. */
  async writeLine(line: string): Promise<void> {
    this.buffer += line;
    this.buffer += '\n';
    this.rows++;
    if (this.buffer.length >= 1 << 16) await this.drain();
  }

  private async drain(): Promise<void> {
    if (this.failed) throw new MlfpError('io_error', `cannot write ${this.path}: ${this.failed.message}`);
    const chunk = this.buffer;
    this.buffer = '';
    if (!this.stream.write(chunk)) await once(this.stream, 'drain');
  }

  async commit(): Promise<void> {
    await this.drain();
    this.stream.end();
    await once(this.stream, 'finish');
    if (this.failed) throw new MlfpError('io_error', `cannot write ${this.path}: ${this.failed.message}`);
    await rename(this.partialPath, this.path);
  }

  async abort(): Promise<void> {
    this.stream.destroy();
    await rm(this.partialPath, { force: true });
  }
}
