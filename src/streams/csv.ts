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
 * Reads a CSV file row by row. Quoted fields may contain commas, quotes ("") and newlines. A quote in an
 * unquoted field, text after a closing quote, or a file that ends inside quotes is an error naming the line.
 * Blank lines are skipped. A UTF-8 BOM is ignored.
 */
export async function* readCsv(path: string): AsyncGenerator<CsvRow> {
  const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 });
  let fields: string[] = [];
  let field = '';
  let inQuotes = false;
  let afterQuote = false;
  let line = 1;
  let rowLine = 1;
  let first = true;
  let rowHasContent = false;
  const ready: CsvRow[] = [];

  const endField = (): void => {
    fields.push(field);
    field = '';
    afterQuote = false;
  };
  const endRow = (): void => {
    endField();
    if (rowHasContent || fields.length > 1 || fields[0] !== '') ready.push({ line: rowLine, fields });
    fields = [];
    rowHasContent = false;
  };

  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      let text = chunk;
      if (first) {
        first = false;
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      }
      let start = 0;
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (inQuotes) {
          if (c === 34 /* " */) {
            field += text.slice(start, i);
            if (i + 1 < text.length && text.charCodeAt(i + 1) === 34) {
              field += '"';
              i++;
            } else if (i + 1 === text.length) {
              // a quote at the chunk's end: decide on the next chunk
              start = i + 1;
              inQuotes = false;
              afterQuote = true;
              continue;
            } else {
              inQuotes = false;
              afterQuote = true;
            }
            start = i + 1;
          } else if (c === 10) line++;
          continue;
        }
        if (c === 44 /* , */) {
          field += text.slice(start, i);
          endField();
          start = i + 1;
        } else if (c === 10 /* \n */) {
          let end = i;
          if (end > start && text.charCodeAt(end - 1) === 13) end--;
          field += text.slice(start, end);
          endRow();
          line++;
          rowLine = line;
          start = i + 1;
        } else if (c === 34) {
          if (afterQuote) {
            // only reachable when `""` was split across two chunks: it is an escaped quote
            field += '"';
            inQuotes = true;
            afterQuote = false;
            start = i + 1;
          } else if (field === '' && start === i && !afterQuote) {
            inQuotes = true;
            rowHasContent = true;
            start = i + 1;
          } else {
            throw new MlfpError('malformed_row', `line ${line}: a quote inside an unquoted field`, {
              field: `line ${line}`,
            });
          }
        } else if (afterQuote && c !== 13) {
          throw new MlfpError('malformed_row', `line ${line}: text after a closing quote`, {
            field: `line ${line}`,
          });
        }
        if (field.length > MAX_FIELD_CHARS) {
          throw new MlfpError('too_large', `line ${line}: a field longer than ${MAX_FIELD_CHARS} characters`);
        }
      }
      if (start < text.length) field += inQuotes ? text.slice(start) : text.slice(start).replace(/\r$/, '');
      while (ready.length > 0) yield ready.shift() as CsvRow;
    }
    if (inQuotes)
      throw new MlfpError('malformed_row', `line ${rowLine}: the file ends inside a quoted field`);
    if (field !== '' || fields.length > 0 || rowHasContent) endRow();
    while (ready.length > 0) yield ready.shift() as CsvRow;
  } catch (error) {
    if (error instanceof MlfpError) throw error;
    throw new MlfpError('io_error', `cannot read ${path}: ${(error as Error).message}`, { cause: error });
  } finally {
    stream.destroy();
  }
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
