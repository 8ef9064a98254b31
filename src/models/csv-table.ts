// A minimal, strict CSV reader/writer for feature and prediction tables (`mlfp score`, fixtures).
// Temporary home: the lead folds it into src/streams/csv.ts. One record per line, RFC 4180 quotes.

import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { MlfpError } from '../errors.js';

/** Splits one CSV line; quoted fields may hold commas and doubled quotes, not line breaks. */
export function parseCsvLine(line: string, lineNumber = 0): string[] {
  const fields: string[] = [];
  let i = 0;
  const n = line.length;
  while (true) {
    if (line.charCodeAt(i) === 34 /* " */) {
      let text = '';
      i++;
      while (true) {
        const q = line.indexOf('"', i);
        if (q < 0)
          throw new MlfpError('malformed_row', `line ${lineNumber}: unterminated quoted field`, {
            value: line,
          });
        text += line.slice(i, q);
        if (line.charCodeAt(q + 1) === 34) {
          text += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      fields.push(text);
      if (i === n) return fields;
      if (line.charCodeAt(i) !== 44 /* , */)
        throw new MlfpError('malformed_row', `line ${lineNumber}: text after a quoted field`, {
          value: line,
        });
      i++;
    } else {
      const comma = line.indexOf(',', i);
      if (comma < 0) {
        fields.push(line.slice(i));
        return fields;
      }
      fields.push(line.slice(i, comma));
      i = comma + 1;
    }
  }
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
 * A numeric cell: empty = missing (NaN); `nan`, `inf`, `-inf`, `Infinity` in any case; otherwise a
 * decimal number parsed with correct rounding. Returns undefined for anything else ("1,5", "abc", "0x10").
 */
export function parseNumberCell(text: string): number | undefined {
  if (text === '') return Number.NaN;
  const value = Number(text);
  if (Number.isFinite(value) && /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(text)) return value;
  return SPECIAL_NUMBERS[text.trim().toLowerCase()];
}

/** Shortest text that parses back to the same double (JavaScript's own number printing); NaN = empty. */
export function formatNumberCell(value: number): string {
  return value !== value ? '' : String(value);
}

/** Quotes a text cell when it needs it. */
export function formatTextCell(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export interface CsvLine {
  /** 1-based line number in the file */
  line: number;
  fields: string[];
}

/** Streams a CSV file's records (header included as the first), skipping blank lines. */
export async function* readCsvFile(path: string): AsyncGenerator<CsvLine> {
  const lines = createInterface({
    input: createReadStream(path, { encoding: 'utf8' }),
    crlfDelay: Infinity,
  });
  let line = 0;
  for await (const text of lines) {
    line++;
    const clean = line === 1 && text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
    if (clean.trim() === '') continue;
    yield { line, fields: parseCsvLine(clean, line) };
  }
}

/** Whole-text variant for small tables (fixtures, tests): header and rows. */
export function parseCsvText(text: string): { header: string[]; rows: string[][] } {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const [first = '', ...rest] = lines;
  return {
    header: parseCsvLine(first, 1),
    rows: rest.map((l, i) => parseCsvLine(l, i + 2)),
  };
}
