// The two input files of `mlfp monitor`, read and checked row by row: predictions (the engine's own columns:
// symbol,timeframe,ts,model,version,kind,output JSON as the predictions table or topic holds them, or one column
// per output) and bars (the bars table's columns, or `mlfp bars` output). A bad row names file, line and column.

import { parseTime, TIMEFRAME_MS } from '../domain/time.js';
import {
  TIMEFRAMES,
  isDeadLetter,
  type Bar,
  type DeadLetter,
  type Prediction,
  type Timeframe,
} from '../domain/types.js';
import { validateBar } from '../domain/validate-bar.js';
import { describeValue, MlfpError, type ErrorCode } from '../errors.js';
import type { ModelManifest } from '../models/manifest.js';
import { CsvHeader, parseNumberCell, readCsv, type CsvRow } from '../streams/csv.js';
import { formatDeadLetter } from './rejects.js';

/** Rows read (or events replayed) between two progress lines on stderr. */
export const PROGRESS_ROWS = 100_000;

export interface ReadProgress {
  /** told every `every` rows (absent: quiet) */
  progress?: ((text: string) => void) | undefined;
  /** default PROGRESS_ROWS */
  every?: number | undefined;
}

/** A prediction and the line it came from. */
export interface PredictionRow {
  prediction: Prediction;
  line: number;
}

/** A bar and where it goes in event time: its end on first sight, its series' newest end for a revision. */
export interface BarRow {
  bar: Bar;
  line: number;
  /** event time the bar is replayed at */
  time: number;
}

const PREDICTION_REQUIRED = ['symbol', 'ts', 'model', 'version'] as const;
const BAR_REQUIRED = ['symbol', 'ts', 'open', 'high', 'low', 'close', 'volume'] as const;

/** An error naming the file, line, column and value, in the words of the CLI's dead letters. */
export function rowError(
  reason: ErrorCode,
  file: string,
  line: number,
  field: string,
  value: unknown,
  message: string,
): MlfpError {
  const letter: DeadLetter = {
    reason,
    field,
    value: value === undefined ? undefined : describeValue(value),
    message,
    source: { file, line },
  };
  return new MlfpError(reason, formatDeadLetter(letter, false), { field, value });
}

/** readCsv with the file named in its parse errors and a header required. */
async function* rowsOf(
  file: string,
  { progress, every = PROGRESS_ROWS }: ReadProgress,
): AsyncGenerator<CsvRow> {
  let rows = 0;
  try {
    for await (const row of readCsv(file)) {
      yield row;
      if (++rows % every === 0) progress?.(`monitor: ${file}: ${rows} rows read\n`);
    }
  } catch (error) {
    if (error instanceof MlfpError && error.code === 'malformed_row' && !error.message.startsWith(file))
      throw new MlfpError(error.code, `${file}: ${error.message}`, { field: error.field, cause: error });
    throw error;
  }
  if (rows === 0) throw new MlfpError('malformed_row', `${file}: empty file (no header)`);
}

function checkWidth(file: string, row: CsvRow, header: CsvHeader): void {
  if (row.fields.length !== header.names.length)
    throw rowError(
      'malformed_row',
      file,
      row.line,
      'row',
      `${row.fields.length} fields`,
      `expected ${header.names.length} fields as in the header`,
    );
}

function timeframeCell(file: string, line: number, text: string): Timeframe {
  if (!(TIMEFRAMES as readonly string[]).includes(text))
    throw rowError(
      'wrong_type',
      file,
      line,
      'timeframe',
      text,
      `timeframe must be one of ${TIMEFRAMES.join(', ')}`,
    );
  return text as Timeframe;
}

function finiteCell(file: string, line: number, field: string, text: string): number {
  const value = parseNumberCell(text);
  if (value === undefined) throw rowError('wrong_type', file, line, field, text, `${field} must be a number`);
  if (!Number.isFinite(value))
    throw rowError(
      text === '' ? 'missing_field' : 'not_finite',
      file,
      line,
      field,
      text,
      `${field} must be a finite number`,
    );
  return value;
}

function timeCell(file: string, line: number, field: string, text: string): number {
  const ms = parseTime(text);
  if (Number.isNaN(ms))
    throw rowError(
      'bad_time',
      file,
      line,
      field,
      text,
      `${field} must be ISO-8601 or epoch milliseconds between 1970 and 2200`,
    );
  return ms;
}

/**
 * Reads the predictions file. Every (model, version) must have a manifest in `manifests` (keyed
 * `name@version`); its outputs are read from an `output` JSON column when the header has one, else from one
 * column per output (`label` and `p_<class>` for a classifier; each value name for the others, or
 * `prediction` for a single value as `mlfp score` writes it). `timeframe` and `kind`, when given, must be the
 * manifest's; `latency_ms` is optional.
 */
export async function readPredictions(
  file: string,
  manifests: ReadonlyMap<string, ModelManifest>,
  options: ReadProgress = {},
): Promise<PredictionRow[]> {
  const rows: PredictionRow[] = [];
  let header: CsvHeader | undefined;
  let required: number[] = [];
  let columns: { timeframe: number; kind: number; output: number; latency: number } | undefined;
  for await (const row of rowsOf(file, options)) {
    if (header === undefined) {
      header = new CsvHeader(row.fields);
      required = header.require(file, PREDICTION_REQUIRED);
      columns = {
        timeframe: header.indexOf('timeframe'),
        kind: header.indexOf('kind'),
        output: header.indexOf('output'),
        latency: header.indexOf('latency_ms'),
      };
      continue;
    }
    checkWidth(file, row, header);
    const f = row.fields;
    const line = row.line;
    const cell = (index: number): string => f[index] as string;
    const [symbolAt, tsAt, modelAt, versionAt] = required as [number, number, number, number];
    const symbol = cell(symbolAt);
    if (symbol === '') throw rowError('missing_field', file, line, 'symbol', symbol, 'symbol is missing');
    const ts = timeCell(file, line, 'ts', cell(tsAt));
    const id = `${cell(modelAt)}@${cell(versionAt)}`;
    const manifest = manifests.get(id);
    if (manifest === undefined)
      throw rowError(
        'bad_argument',
        file,
        line,
        'model',
        id,
        `no manifest of ${id} in the models directory (there: ${[...manifests.keys()].join(', ') || 'none'})`,
      );
    const cols = columns as NonNullable<typeof columns>;
    let timeframe = manifest.timeframe;
    if (cols.timeframe >= 0 && cell(cols.timeframe) !== '') {
      timeframe = timeframeCell(file, line, cell(cols.timeframe));
      if (timeframe !== manifest.timeframe)
        throw rowError(
          'bad_argument',
          file,
          line,
          'timeframe',
          timeframe,
          `${id} scores ${manifest.timeframe} bars, not ${timeframe}`,
        );
    }
    if (cols.kind >= 0 && cell(cols.kind) !== '' && cell(cols.kind) !== manifest.kind)
      throw rowError('bad_argument', file, line, 'kind', cell(cols.kind), `${id} is a ${manifest.kind}`);
    const output =
      cols.output >= 0
        ? jsonOutput(file, line, cell(cols.output), manifest)
        : columnOutput(file, line, header, f, manifest);
    const latencyMs =
      cols.latency >= 0 && cell(cols.latency) !== ''
        ? finiteCell(file, line, 'latency_ms', cell(cols.latency))
        : Number.NaN;
    rows.push({
      prediction: {
        symbol,
        timeframe,
        ts,
        model: manifest.name,
        version: manifest.version,
        kind: manifest.kind,
        output,
        latencyMs,
      },
      line,
    });
  }
  return rows;
}

/** The manifest's output keys a prediction must carry: `label` and `p_<class>`, or the value names. */
function outputKeysOf(manifest: ModelManifest): string[] {
  return manifest.output.type === 'classes'
    ? ['label', ...manifest.output.labels.map((l) => `p_${l}`)]
    : [...manifest.output.names];
}

function checkLabel(
  file: string,
  line: number,
  field: string,
  label: unknown,
  manifest: ModelManifest,
): void {
  const classes = manifest.output.type === 'classes' ? manifest.output.labels : [];
  if (typeof label !== 'string' || !classes.includes(label))
    throw rowError(
      'wrong_type',
      file,
      line,
      field,
      label,
      `label must be one of ${manifest.name}@${manifest.version}'s classes (${classes.join(', ')})`,
    );
}

function jsonOutput(
  file: string,
  line: number,
  text: string,
  manifest: ModelManifest,
): Record<string, number | string> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw rowError(
      'bad_json',
      file,
      line,
      'output',
      text,
      `output is not JSON (${(error as Error).message})`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw rowError('wrong_type', file, line, 'output', text, 'output must be a JSON object');
  const output = value as Record<string, unknown>;
  for (const key of outputKeysOf(manifest)) {
    const v = output[key];
    const field = `output.${key}`;
    if (v === undefined) throw rowError('missing_field', file, line, field, text, `output lacks "${key}"`);
    if (key === 'label') checkLabel(file, line, field, v, manifest);
    else if (typeof v !== 'number' || !Number.isFinite(v))
      throw rowError('wrong_type', file, line, field, v, `${key} must be a finite number`);
  }
  return output as Record<string, number | string>;
}

function columnOutput(
  file: string,
  line: number,
  header: CsvHeader,
  fields: readonly string[],
  manifest: ModelManifest,
): Record<string, number | string> {
  const output: Record<string, number | string> = {};
  const keys = outputKeysOf(manifest);
  for (const key of keys) {
    let column = key;
    if (!header.has(key) && keys.length === 1 && header.has('prediction')) column = 'prediction';
    const at = header.indexOf(column);
    if (at < 0)
      throw rowError(
        'missing_field',
        file,
        line,
        key,
        undefined,
        `no "${key}" column (nor an "output" JSON column) for ${manifest.name}@${manifest.version}`,
      );
    const text = fields[at] as string;
    if (key === 'label') {
      checkLabel(file, line, column, text, manifest);
      output[key] = text;
    } else output[key] = finiteCell(file, line, column, text);
  }
  return output;
}

/**
 * Reads the bars file in file order. `timeframe`, `end`, `vwap`, `trades` and `revision` are optional
 * (`mlfp bars` writes none of them): the timeframe then is `timeframe`, the end ts + its length. A bar seen
 * again (same symbol, timeframe, ts) is a revision: it must carry a higher revision when the column is there.
 * Each row's event time: a new bar's end; a revision, its series' newest end when the row was read.
 */
export async function readBars(
  file: string,
  timeframe: Timeframe | undefined,
  options: ReadProgress = {},
): Promise<BarRow[]> {
  const rows: BarRow[] = [];
  let header: CsvHeader | undefined;
  let required: number[] = [];
  let optional:
    { timeframe: number; end: number; vwap: number; trades: number; revision: number } | undefined;
  /** per bar key, its revision; per series, its newest end */
  const revisions = new Map<string, number>();
  const newestEnd = new Map<string, number>();
  for await (const row of rowsOf(file, options)) {
    if (header === undefined) {
      header = new CsvHeader(row.fields);
      required = header.require(file, BAR_REQUIRED);
      optional = {
        timeframe: header.indexOf('timeframe'),
        end: header.indexOf('end'),
        vwap: header.indexOf('vwap'),
        trades: header.indexOf('trades'),
        revision: header.indexOf('revision'),
      };
      if (optional.timeframe < 0 && timeframe === undefined)
        throw new MlfpError(
          'bad_argument',
          `${file} has no timeframe column: give --timeframe (the models score more than one timeframe)`,
          { field: '--timeframe' },
        );
      continue;
    }
    checkWidth(file, row, header);
    const f = row.fields;
    const line = row.line;
    const cols = optional as NonNullable<typeof optional>;
    const source = { file, line };
    const tf =
      cols.timeframe >= 0 ? timeframeCell(file, line, f[cols.timeframe] as string) : (timeframe as Timeframe);
    const [symbol, ts, open, high, low, close, volume] = required.map((i) => f[i]);
    const checked = validateBar({ symbol, ts, open, high, low, close, volume }, tf, source);
    if (isDeadLetter(checked))
      throw new MlfpError(checked.reason, formatDeadLetter(checked, false), {
        field: checked.field,
        value: checked.value,
      });
    const bar: Bar = checked;
    if (cols.end >= 0) {
      bar.end = timeCell(file, line, 'end', f[cols.end] as string);
      if (!(bar.end > bar.ts))
        throw rowError('inconsistent_bar', file, line, 'end', f[cols.end] as string, 'end must be after ts');
    }
    if (cols.vwap >= 0 && f[cols.vwap] !== '')
      bar.vwap = finiteCell(file, line, 'vwap', f[cols.vwap] as string);
    for (const [field, at] of [
      ['trades', cols.trades],
      ['revision', cols.revision],
    ] as const) {
      if (at < 0) continue;
      const text = f[at] as string;
      if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)))
        throw rowError('wrong_type', file, line, field, text, `${field} must be a non-negative integer`);
      bar[field] = Number(text);
    }
    const series = `${bar.symbol}\u0000${bar.timeframe}`;
    const key = `${series}\u0000${bar.ts}`;
    const before = revisions.get(key);
    let time = bar.end;
    if (before !== undefined) {
      if (cols.revision >= 0 && !(bar.revision > before))
        throw rowError(
          'out_of_order',
          file,
          line,
          'revision',
          String(bar.revision),
          `a bar seen before (${bar.symbol} ${bar.timeframe} ${new Date(bar.ts).toISOString()}) needs a higher revision than ${before}`,
        );
      if (cols.revision < 0) bar.revision = before + 1;
      time = newestEnd.get(series) as number;
    } else if (!((newestEnd.get(series) ?? Number.NEGATIVE_INFINITY) >= bar.end))
      newestEnd.set(series, bar.end);
    revisions.set(key, bar.revision);
    rows.push({ bar, line, time });
  }
  return rows;
}

/** The bar length a prediction's bar ends after when the bars file lacks that bar. */
export function nominalEnd(prediction: Prediction): number {
  return prediction.ts + TIMEFRAME_MS[prediction.timeframe];
}
