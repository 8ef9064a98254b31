// Test helper: reads the committed model fixtures (rows and the real libraries' expected outputs).

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseCsvText, parseNumberCell } from '../../src/streams/csv.js';

export const FIXTURES = fileURLToPath(new URL('../fixtures/models/', import.meta.url));
export const DEMO_MODELS = fileURLToPath(new URL('../../models/', import.meta.url));

export function fixturePath(relative: string): string {
  return FIXTURES + relative;
}

/** A numeric table: column names and a row-major Float64Array (empty cells = NaN). */
export interface NumericTable {
  header: string[];
  rows: number;
  width: number;
  values: Float64Array;
  column(name: string): Float64Array;
}

export function readNumericTable(relative: string, dropColumns: readonly string[] = []): NumericTable {
  const { header: all, rows } = parseCsvText(readFileSync(fixturePath(relative), 'utf8'));
  const keep = all.map((name, i) => [name, i] as const).filter(([n]) => !dropColumns.includes(n));
  const width = keep.length;
  const values = new Float64Array(rows.length * width);
  rows.forEach((fields, r) =>
    keep.forEach(([name, c], j) => {
      const v = parseNumberCell(fields[c] ?? '');
      if (v === undefined) throw new Error(`${relative}: bad number in ${name} row ${r}`);
      values[r * width + j] = v;
    }),
  );
  const header = keep.map(([n]) => n);
  return {
    header,
    rows: rows.length,
    width,
    values,
    column(name: string): Float64Array {
      const j = header.indexOf(name);
      if (j < 0) throw new Error(`${relative}: no column ${name}`);
      const out = new Float64Array(rows.length);
      for (let r = 0; r < rows.length; r++) out[r] = values[r * width + j]!;
      return out;
    },
  };
}

/** Raw text cells of a CSV fixture (for the string-keyed columns). */
export function readTextTable(relative: string): { header: string[]; rows: string[][] } {
  return parseCsvText(readFileSync(fixturePath(relative), 'utf8'));
}
