// The batch reference of the end-to-end suite: the real CLI as child processes (`mlfp bars` per timeframe on
// the ticks CSV, `mlfp features` on each bars CSV, `mlfp score` on the 5m features), parsed back into rows
// keyed like the engine's outputs. Doubles round-trip exactly: the CLI prints the shortest round-trip form.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BAR_CSV_COLUMNS } from '../../../src/cli/bars-command.js';
import { FEATURE_COLUMNS, TIMEFRAMES, type Timeframe } from '../../../src/domain/types.js';
import { parseCsvText } from '../../../src/streams/csv.js';
import { ensureBuilt } from '../../support/build-once.js';
import { runMlfp } from '../../support/engine-process.js';
import { writeTicksCsv, type DatasetTick } from './dataset.js';

export interface BarRow {
  symbol: string;
  timeframe: Timeframe;
  ts: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  vwap: number;
  trades: number;
}

export interface FeatureRow {
  symbol: string;
  timeframe: Timeframe;
  ts: number;
  close: number;
  /** the 16 contract columns in FEATURE_COLUMNS order; null = no value yet (warm-up) */
  values: Array<number | null>;
}

export interface Reference {
  bars: Map<string, BarRow>;
  features: Map<string, FeatureRow>;
  featuresCsv: Record<Timeframe, string>;
  /** rows per timeframe */
  counts: Record<Timeframe, number>;
}

export const rowKey = (row: { symbol: string; timeframe: string; ts: number }): string =>
  `${row.symbol}|${row.timeframe}|${row.ts}`;

function number(cell: string | undefined, what: string): number {
  const value = Number(cell);
  if (cell === undefined || cell === '' || !Number.isFinite(value))
    throw new Error(`${what}: not a number: ${cell}`);
  return value;
}

/** Runs the CLI's bars and features commands for the three timeframes and reads their outputs. */
export async function cliReference(dir: string, ticksCsv: string): Promise<Reference> {
  const barsCsv = (tf: Timeframe): string => join(dir, `bars-${tf}.csv`);
  const featuresCsv = Object.fromEntries(
    TIMEFRAMES.map((tf) => [tf, join(dir, `features-${tf}.csv`)]),
  ) as Record<Timeframe, string>;
  await Promise.all(
    TIMEFRAMES.map((tf) =>
      runMlfp(['bars', '--input', ticksCsv, '--timeframe', tf, '--output', barsCsv(tf)]),
    ),
  );
  await Promise.all(
    TIMEFRAMES.map((tf) =>
      runMlfp(['features', '--input', barsCsv(tf), '--timeframe', tf, '--output', featuresCsv[tf]]),
    ),
  );
  const bars = new Map<string, BarRow>();
  const features = new Map<string, FeatureRow>();
  const counts = { '5m': 0, '1h': 0, '1d': 0 } as Record<Timeframe, number>;
  for (const timeframe of TIMEFRAMES) {
    const { header, rows } = parseCsvText(await readFile(featuresCsv[timeframe], 'utf8'));
    const column = (name: string): number => {
      const index = header.indexOf(name);
      if (index < 0) throw new Error(`${featuresCsv[timeframe]}: no column ${name}`);
      return index;
    };
    const [symbolAt, tsAt, openAt, highAt, lowAt, closeAt, volumeAt, vwapAt, tradesAt] = BAR_CSV_COLUMNS.map(
      column,
    ) as [number, number, number, number, number, number, number, number, number];
    const featureAt = FEATURE_COLUMNS.map(column);
    for (const cells of rows) {
      const what = `${timeframe} ${cells.join(',').slice(0, 60)}`;
      const bar: BarRow = {
        symbol: cells[symbolAt]!,
        timeframe,
        ts: Date.parse(cells[tsAt]!),
        open: number(cells[openAt], what),
        high: number(cells[highAt], what),
        low: number(cells[lowAt], what),
        close: number(cells[closeAt], what),
        volume: number(cells[volumeAt], what),
        vwap: number(cells[vwapAt], what),
        trades: number(cells[tradesAt], what),
      };
      const key = rowKey(bar);
      if (bars.has(key)) throw new Error(`the CLI printed ${key} twice`);
      bars.set(key, bar);
      features.set(key, {
        symbol: bar.symbol,
        timeframe,
        ts: bar.ts,
        close: bar.close,
        values: featureAt.map((at) => (cells[at] === '' ? null : number(cells[at], what))),
      });
      counts[timeframe]++;
    }
  }
  return { bars, features, featuresCsv, counts };
}

/**
 * `mlfp score` of one model folder over a features CSV: output values keyed `symbol|ts`, under the keys the
 * engine's Prediction.output uses (`outputKeys` in the CSV's value-column order; rows the model could not
 * score yet — a sequence model's first steps — are left out).
 */
export async function cliPredictions(
  dir: string,
  modelDir: string,
  featuresCsv: string,
  outputKeys: readonly string[],
): Promise<Map<string, Record<string, number | string>>> {
  const output = join(dir, `predictions-${modelDir.replace(/\W+/g, '_')}.csv`);
  await runMlfp(['score', '--model', modelDir, '--input', featuresCsv, '--output', output]);
  const { header, rows } = parseCsvText(await readFile(output, 'utf8'));
  const symbolAt = header.indexOf('symbol');
  const tsAt = header.indexOf('ts');
  const valueColumns = header.slice(2);
  if (symbolAt !== 0 || tsAt !== 1 || valueColumns.length !== outputKeys.length)
    throw new Error(`${output}: unexpected header ${header.join(',')}`);
  const predictions = new Map<string, Record<string, number | string>>();
  for (const cells of rows) {
    if (cells.slice(2).every((cell) => cell === '')) continue;
    const values: Record<string, number | string> = {};
    outputKeys.forEach((key, index) => {
      const cell = cells[2 + index]!;
      values[key] = key === 'label' ? cell : number(cell, `${output} ${key}`);
    });
    predictions.set(`${cells[0]}|${Date.parse(cells[1]!)}`, values);
  }
  return predictions;
}

/**
 * The start of every end-to-end file: a temporary folder, the built CLI, the ticks written as CSV there and
 * the CLI's reference started on them. The caller awaits `reference` once it has produced its input, so the
 * two run at once.
 */
export async function startReference(
  name: string,
  ticks: readonly DatasetTick[],
): Promise<{ dir: string; reference: Promise<Reference> }> {
  const dir = await mkdtemp(join(tmpdir(), `mlfp-e2e-${name}-`));
  await ensureBuilt();
  const csv = join(dir, 'ticks.csv');
  await writeTicksCsv(csv, ticks);
  const reference = cliReference(dir, csv);
  reference.catch(() => undefined); // awaited by the caller
  return { dir, reference };
}
