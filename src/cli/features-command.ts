// `mlfp features`: bars CSV in, the same rows plus the 16 feature columns out, through the live
// computeFeatures operator. Several symbols in one file are computed independently.

import { Subject } from 'rxjs';
import {
  FEATURE_COLUMNS,
  isDeadLetter,
  type Bar,
  type FeatureVector,
  type Timeframe,
} from '../domain/types.js';
import { validateBar } from '../domain/validate-bar.js';
import { MlfpError } from '../errors.js';
import { computeFeatures } from '../operators/compute-features.js';
import { CsvHeader, CsvWriter, csvField, csvNumber, readCsv } from '../streams/csv.js';
import { CliRejects, type OnError } from './rejects.js';

export interface FeaturesCommandOptions {
  input: string;
  output: string;
  timeframe: Timeframe;
  periodsPerYear?: number;
  onError: OnError;
  rejects?: string;
}

const REQUIRED = ['symbol', 'ts', 'open', 'high', 'low', 'close', 'volume'] as const;

export async function featuresCommand(
  options: FeaturesCommandOptions,
  stderr: (text: string) => void,
): Promise<string> {
  const rejects = new CliRejects(options.onError, options.rejects, stderr);
  const writer = new CsvWriter(options.output);
  const bars = new Subject<Bar>();
  let produced: FeatureVector | undefined;
  const periods = options.periodsPerYear === undefined ? {} : { [options.timeframe]: options.periodsPerYear };
  const subscription = bars
    .pipe(computeFeatures({ periodsPerYear: periods }, rejects))
    .subscribe((vector) => {
      produced = vector;
    });
  const lastTs = new Map<string, number>();
  let header: CsvHeader | undefined;
  let columns: number[] = [];
  let rows = 0;
  let ok = false;
  try {
    for await (const row of readCsv(options.input)) {
      if (header === undefined) {
        header = new CsvHeader(row.fields);
        columns = header.require(options.input, REQUIRED);
        await writer.writeLine([...header.names, ...FEATURE_COLUMNS].map(csvField).join(','));
        continue;
      }
      const source = { file: options.input, line: row.line };
      if (row.fields.length !== header.names.length) {
        rejects.deadLetter({
          reason: 'malformed_row',
          field: 'row',
          value: `${row.fields.length} fields`,
          message: `expected ${header.names.length} fields as in the header`,
          source,
        });
        rejects.throwIfFatal();
        continue;
      }
      const f = row.fields;
      const raw = {
        symbol: f[columns[0] as number],
        ts: f[columns[1] as number],
        open: f[columns[2] as number],
        high: f[columns[3] as number],
        low: f[columns[4] as number],
        close: f[columns[5] as number],
        volume: f[columns[6] as number],
      };
      const bar = validateBar(raw, options.timeframe, source);
      if (isDeadLetter(bar)) {
        rejects.deadLetter(bar);
        rejects.throwIfFatal();
        continue;
      }
      const previous = lastTs.get(bar.symbol);
      if (previous !== undefined && bar.ts <= previous) {
        rejects.deadLetter({
          reason: 'out_of_order',
          field: 'ts',
          value: String(raw.ts),
          message: `bars of ${bar.symbol} must be in increasing time order (previous ${new Date(previous).toISOString()})`,
          source,
        });
        rejects.throwIfFatal();
        continue;
      }
      lastTs.set(bar.symbol, bar.ts);
      produced = undefined;
      rejects.current.source = source;
      bars.next(bar);
      rejects.throwIfFatal();
      if (produced === undefined)
        throw new MlfpError('internal', `no features produced for line ${row.line}`);
      const values = (produced as FeatureVector).values;
      let line = f.map(csvField).join(',');
      for (let i = 0; i < values.length; i++) line += ',' + csvNumber(values[i]);
      await writer.writeLine(line);
      rows++;
    }
    if (header === undefined)
      throw new MlfpError('malformed_row', `${options.input}: empty file (no header)`);
    bars.complete();
    await writer.commit();
    ok = true;
  } finally {
    subscription.unsubscribe();
    if (!ok) await writer.abort();
    await rejects.close(ok);
  }
  return `features: ${rows} rows written to ${options.output}; ${rejects.summary()}`;
}
