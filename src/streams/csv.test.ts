import { mkdtemp, readFile, writeFile, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CsvHeader, CsvWriter, csvField, csvNumber, readCsv, type CsvRow } from './csv.js';
import { MlfpError } from '../errors.js';

async function rowsOf(text: string): Promise<CsvRow[]> {
  const dir = await mkdtemp(join(tmpdir(), 'mlfp-csv-'));
  const path = join(dir, 'in.csv');
  await writeFile(path, text);
  const rows: CsvRow[] = [];
  for await (const row of readCsv(path)) rows.push(row);
  return rows;
}

describe('readCsv', () => {
  it('splits fields, keeps 1-based line numbers, skips blank lines, drops a BOM and CRLF', async () => {
    const rows = await rowsOf('\uFEFFa,b\r\n1,2\r\n\r\n3,\n');
    expect(rows).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['1', '2'] },
      { line: 4, fields: ['3', ''] },
    ]);
  });

  it('reads quoted fields with commas, escaped quotes and newlines, counting lines inside them', async () => {
    const rows = await rowsOf('x,y\n"a,b","say ""hi"""\n"multi\nline",z\nlast,1');
    expect(rows.map((r) => r.fields)).toEqual([
      ['x', 'y'],
      ['a,b', 'say "hi"'],
      ['multi\nline', 'z'],
      ['last', '1'],
    ]);
    expect(rows.map((r) => r.line)).toEqual([1, 2, 3, 5]);
  });

  it('names the line of a stray quote, of text after a closing quote and of an unterminated quote', async () => {
    await expect(rowsOf('a\nb"c\n')).rejects.toThrow(/line 2: a quote inside an unquoted field/);
    await expect(rowsOf('a\n"b"c\n')).rejects.toThrow(/line 2: text after a closing quote/);
    await expect(rowsOf('a\n"b\n')).rejects.toThrow(/line 2: the input ends inside a quoted field/);
  });

  it('handles a large file whose quotes straddle chunk boundaries', async () => {
    const lines = ['k,v'];
    for (let i = 0; i < 40_000; i++) lines.push(`${i},"q""${i}"`);
    const rows = await rowsOf(lines.join('\n'));
    expect(rows).toHaveLength(40_001);
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.fields[1]).toBe(`q"${i - 1}`);
  });

  it('reports a missing file as io_error', async () => {
    const error = await rowsOf.call(null, '').then(async () => {
      const gen = readCsv('/nonexistent/file.csv');
      return gen.next().catch((e: unknown) => e);
    });
    expect(error).toBeInstanceOf(MlfpError);
    expect((error as MlfpError).code).toBe('io_error');
  });
});

describe('CsvHeader', () => {
  it('names every missing required column', () => {
    const header = new CsvHeader(['symbol', ' ts ', 'price']);
    expect(header.indexOf('ts')).toBe(1);
    expect(() => header.require('f.csv', ['symbol', 'size', 'volume'])).toThrow(/size, volume/);
  });
});

describe('CSV output helpers', () => {
  it('quotes only when needed and prints doubles in shortest round-trip form', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,"b"')).toBe('"a,""b"""');
    expect(csvNumber(0.1 + 0.2)).toBe('0.30000000000000004');
    expect(Number(csvNumber(1 / 3))).toBe(1 / 3);
    expect(csvNumber(Number.NaN)).toBe('');
    expect(csvNumber(undefined)).toBe('');
  });

  it('CsvWriter only creates the destination on commit and leaves nothing on abort', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mlfp-csvw-'));
    const ok = new CsvWriter(join(dir, 'ok.csv'));
    await ok.writeLine('a,b');
    await expect(access(join(dir, 'ok.csv'))).rejects.toThrow();
    await ok.commit();
    expect(await readFile(join(dir, 'ok.csv'), 'utf8')).toBe('a,b\n');
    const bad = new CsvWriter(join(dir, 'bad.csv'));
    await bad.writeLine('x');
    await bad.abort();
    await expect(access(join(dir, 'bad.csv'))).rejects.toThrow();
    await expect(access(join(dir, 'bad.csv.partial'))).rejects.toThrow();
  });
});
