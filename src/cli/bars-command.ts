// `mlfp bars`: ticks CSV (symbol,ts,price,size[,bid,ask,exchange,seq]) in, bars of one timeframe out, through
// the live validateTicks and aggregateBars operators (no idle timer: a file has no wall clock).

import { Subject } from 'rxjs';
import type { SessionOptions } from '../bars/session-calendar.js';
import { formatTime } from '../domain/time.js';
import type { Bar, Timeframe } from '../domain/types.js';
import { MlfpError } from '../errors.js';
import { EventTimeGuard } from '../bars/event-time-guard.js';
import { aggregateBars } from '../operators/aggregate-bars.js';
import { validateTicks, type TickEnvelope } from '../operators/validate-ticks.js';
import { CsvHeader, CsvWriter, csvField, csvNumber, readCsv } from '../streams/csv.js';
import { CliRejects, type OnError } from './rejects.js';

export interface BarsCommandOptions {
  input: string;
  output: string;
  timeframe: Timeframe;
  allowedLatenessMs: number;
  /** bars.futureTime.toleranceMs of the engine (default 60,000) */
  futureToleranceMs?: number;
  /** bars.futureTime.confirmTicks of the engine (default 3) */
  confirmTicks?: number;
  sessionTimezone?: string;
  sessionOpen?: string;
  sessionClose?: string;
  onError: OnError;
  rejects?: string;
}

export const BAR_CSV_COLUMNS = [
  'symbol',
  'ts',
  'open',
  'high',
  'low',
  'close',
  'volume',
  'vwap',
  'trades',
] as const;
const REQUIRED = ['symbol', 'ts', 'price', 'size'] as const;
const OPTIONAL = ['bid', 'ask', 'exchange', 'seq'] as const;

export function barCsvLine(bar: Bar): string {
  return [
    csvField(bar.symbol),
    formatTime(bar.ts),
    csvNumber(bar.open),
    csvNumber(bar.high),
    csvNumber(bar.low),
    csvNumber(bar.close),
    csvNumber(bar.volume),
    csvNumber(bar.vwap),
    String(bar.trades),
  ].join(',');
}

function sessionOf(options: BarsCommandOptions): SessionOptions | undefined {
  const parts = [options.sessionTimezone, options.sessionOpen, options.sessionClose];
  const given = parts.filter((p) => p !== undefined).length;
  if (given === 0) return undefined;
  if (given !== 3) {
    throw new MlfpError(
      'bad_argument',
      '--session-timezone, --session-open and --session-close go together',
      {
        field: '--session-timezone',
      },
    );
  }
  return {
    timezone: options.sessionTimezone as string,
    open: options.sessionOpen as string,
    close: options.sessionClose as string,
  };
}

export async function barsCommand(
  options: BarsCommandOptions,
  stderr: (text: string) => void,
): Promise<string> {
  let session: SessionOptions | undefined;
  let guard: EventTimeGuard;
  try {
    session = sessionOf(options);
    guard = new EventTimeGuard({
      toleranceMs: options.futureToleranceMs,
      confirmTicks: options.confirmTicks,
    });
    // builds the aggregator once to validate the options (lateness range, session) before reading anything
    aggregateBars(
      { allowedLatenessMs: options.allowedLatenessMs, idleTimeoutMs: Infinity, session },
      { deadLetter() {} },
    );
  } catch (error) {
    if (error instanceof MlfpError && error.code !== 'bad_argument') {
      throw new MlfpError('bad_argument', error.message, { field: error.field, cause: error });
    }
    throw error;
  }
  const rejects = new CliRejects(options.onError, options.rejects, stderr);
  const writer = new CsvWriter(options.output);
  const envelopes = new Subject<TickEnvelope>();
  const ready: Bar[] = [];
  let failure: unknown;
  const subscription = envelopes
    .pipe(
      validateTicks({ numbersAsStrings: true }, rejects, undefined, guard),
      aggregateBars(
        { allowedLatenessMs: options.allowedLatenessMs, idleTimeoutMs: Infinity, session },
        rejects,
      ),
    )
    .subscribe({
      next: (bar) => {
        if (bar.timeframe === options.timeframe) ready.push(bar);
      },
      error: (error: unknown) => {
        failure = error;
      },
    });
  let header: CsvHeader | undefined;
  let required: number[] = [];
  let optional: number[] = [];
  let ticks = 0;
  let bars = 0;
  let ok = false;
  const drain = async (): Promise<void> => {
    if (failure !== undefined) throw failure;
    for (const bar of ready) {
      if (bar.revision !== 0)
        throw new MlfpError('internal', `unexpected revision of ${bar.symbol} ${formatTime(bar.ts)}`);
      await writer.writeLine(barCsvLine(bar));
      bars++;
    }
    ready.length = 0;
  };
  try {
    for await (const row of readCsv(options.input)) {
      if (header === undefined) {
        header = new CsvHeader(row.fields);
        required = header.require(options.input, REQUIRED);
        optional = OPTIONAL.map((name) => (header as CsvHeader).indexOf(name));
        await writer.writeLine(BAR_CSV_COLUMNS.join(','));
        continue;
      }
      const source = { file: options.input, line: row.line };
      const f = row.fields;
      if (f.length !== header.names.length) {
        rejects.deadLetter({
          reason: 'malformed_row',
          field: 'row',
          value: `${f.length} fields`,
          message: `expected ${header.names.length} fields as in the header`,
          source,
          original: f.join(','),
        });
        rejects.throwIfFatal();
        continue;
      }
      const value: Record<string, string | undefined> = {
        symbol: f[required[0] as number],
        ts: f[required[1] as number],
        price: f[required[2] as number],
        size: f[required[3] as number],
      };
      OPTIONAL.forEach((name, i) => {
        const index = optional[i] as number;
        if (index >= 0) value[name] = f[index];
      });
      ticks++;
      const original = f.join(',');
      rejects.current.source = source;
      rejects.current.original = original;
      envelopes.next({ value, source, original });
      rejects.throwIfFatal();
      await drain();
    }
    if (header === undefined)
      throw new MlfpError('malformed_row', `${options.input}: empty file (no header)`);
    envelopes.complete();
    rejects.throwIfFatal();
    await drain();
    await writer.commit();
    ok = true;
  } finally {
    subscription.unsubscribe();
    if (!ok) await writer.abort();
    await rejects.close(ok);
  }
  return `bars: ${ticks} ticks -> ${bars} ${options.timeframe} bars written to ${options.output}; ${rejects.summary()}`;
}
