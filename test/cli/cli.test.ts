// The `mlfp` CLI end to end (in-process main()): bars and features on real files, checked against the
// TA-Lib golden data and an independent naive bar computation; errors name the line and leave no output.

import { access, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main, type CliIo } from '../../src/cli/main.js';
import { FEATURE_COLUMNS } from '../../src/domain/types.js';
import { Random } from '../../src/streams/random.js';

const GOLDEN = join(import.meta.dirname, '..', 'fixtures', 'golden');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlfp-cli-'));
});

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) };
  const code = await main(args, io);
  return { code, stdout, stderr };
}

function parseCsv(text: string): Record<string, string>[] {
  const [head, ...lines] = text.trimEnd().split('\n');
  const names = (head as string).split(',');
  return lines.map((line) => Object.fromEntries(line.split(',').map((v, i) => [names[i] as string, v])));
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

describe('mlfp features', () => {
  it('reproduces every TA-Lib golden cell of the 5,000-bar series, empty where TA-Lib has no value', async () => {
    const input = parseCsv(await readFile(join(GOLDEN, 'input.csv'), 'utf8'));
    const talib = parseCsv(await readFile(join(GOLDEN, 'talib.csv'), 'utf8'));
    const hv = parseCsv(await readFile(join(GOLDEN, 'hv21_returns_NOT_TALIB.csv'), 'utf8'));
    const bars = ['symbol,ts,open,high,low,close,volume'];
    for (const r of input)
      bars.push(`GOLD,${r.date}T00:00:00.000Z,${r.open},${r.high},${r.low},${r.close},${r.volume}`);
    await writeFile(join(dir, 'golden-bars.csv'), bars.join('\n') + '\n');
    const result = await run([
      'features',
      '--input',
      join(dir, 'golden-bars.csv'),
      '--output',
      join(dir, 'golden-features.csv'),
    ]);
    expect(result.stderr).toMatch(/5000 rows written/);
    expect(result.code).toBe(0);
    const out = parseCsv(await readFile(join(dir, 'golden-features.csv'), 'utf8'));
    expect(out).toHaveLength(5000);
    expect(Object.keys(out[0] as object)).toEqual([
      'symbol',
      'ts',
      'open',
      'high',
      'low',
      'close',
      'volume',
      ...FEATURE_COLUMNS,
    ]);
    const map: Record<string, [Record<string, string>[], string]> = {
      returns: [hv, 'return'],
      log_returns: [hv, 'log_return'],
      rsi_14: [talib, 'rsi14'],
      macd_12_26_9: [talib, 'macd'],
      macd_signal_12_26_9: [talib, 'macd_signal'],
      macd_hist_12_26_9: [talib, 'macd_hist'],
      mom_14: [talib, 'mom14'],
      sma_20: [talib, 'sma20'],
      ema_50: [talib, 'ema50'],
      bbands_upper_20_2: [talib, 'bb_upper'],
      bbands_middle_20_2: [talib, 'bb_middle'],
      bbands_lower_20_2: [talib, 'bb_lower'],
      atr_14: [talib, 'atr14'],
      historical_vol_21: [hv, 'hv21'],
      volume_ma_20: [talib, 'volume_sma20'],
      obv: [talib, 'obv'],
    };
    let checked = 0;
    for (const [column, [golden, goldenColumn]] of Object.entries(map)) {
      out.forEach((row, i) => {
        const expected = (golden[i] as Record<string, string>)[goldenColumn] as string;
        const actual = row[column] as string;
        if (expected === '') expect(actual, `${column} row ${i}`).toBe('');
        else {
          const e = Number(expected);
          expect(Math.abs(Number(actual) - e), `${column} row ${i}`).toBeLessThanOrEqual(
            1e-9 * Math.max(1, Math.abs(e)),
          );
          checked++;
        }
      });
    }
    expect(checked).toBeGreaterThan(75_000);
  });

  it('computes several symbols independently and echoes the input cells verbatim', async () => {
    const rows = ['symbol,ts,open,high,low,close,volume,extra'];
    for (let i = 0; i < 40; i++) {
      const t = new Date(Date.UTC(2024, 0, 1 + i)).toISOString();
      rows.push(`AAA,${t},${10 + i},${11 + i},${9 + i},${10.5 + i},1000,x${i}`);
      rows.push(`BBB,${t},${100 - i},${101 - i},${99 - i},${100.5 - i},2000,"q,${i}"`);
    }
    await writeFile(join(dir, 'two.csv'), rows.join('\n'));
    const result = await run([
      'features',
      '--input',
      join(dir, 'two.csv'),
      '--output',
      join(dir, 'two-out.csv'),
    ]);
    expect(result.code).toBe(0);
    const text = await readFile(join(dir, 'two-out.csv'), 'utf8');
    const lines = text.trimEnd().split('\n');
    expect(lines[2]).toMatch(/^BBB,2024-01-01T00:00:00.000Z,100,101,99,100.5,2000,"q,0",,,/);
    // AAA rises by 1 each bar: its 14-bar momentum is 14 from row 14 on, whatever BBB does between
    const aaa = lines.filter((l) => l.startsWith('AAA'));
    const momIndex = 8 + FEATURE_COLUMNS.indexOf('mom_14');
    expect(aaa[13]!.split(',')[momIndex]).toBe('');
    expect(Number(aaa[14]!.split(',')[momIndex])).toBe(14);
  });

  it('stops at a malformed row naming the line, field and value, exits non-zero and writes no output file', async () => {
    await writeFile(
      join(dir, 'bad.csv'),
      'symbol,ts,open,high,low,close,volume\nA,2024-01-01,1,2,0.5,1.5,10\nA,2024-01-02,1,2,0.5,abc,10\n',
    );
    const result = await run([
      'features',
      '--input',
      join(dir, 'bad.csv'),
      '--output',
      join(dir, 'bad-out.csv'),
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/wrong_type: .*bad\.csv:3: field close = "abc"/);
    expect(await exists(join(dir, 'bad-out.csv'))).toBe(false);
    expect(await exists(join(dir, 'bad-out.csv.partial'))).toBe(false);
  });

  it('with --on-error skip reports each rejected row, writes them to --rejects and keeps the good rows', async () => {
    await writeFile(
      join(dir, 'mixed.csv'),
      'symbol,ts,open,high,low,close,volume\nA,2024-01-01,1,2,0.5,1.5,10\nA,2024-01-01,1,2,0.5,1.5,10\nA,2024-01-03,1,2,3,1.5,10\nA,2024-01-04,1,2,0.5,1.5\nA,2024-01-05,1,2,0.5,1.5,10\n',
    );
    const result = await run([
      'features',
      '--input',
      join(dir, 'mixed.csv'),
      '--output',
      join(dir, 'mixed-out.csv'),
      '--on-error',
      'skip',
      '--rejects',
      join(dir, 'mixed-rejects.csv'),
    ]);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/2 rows written/);
    expect(result.stderr).toMatch(/3 rows rejected: out_of_order 1, inconsistent_bar 1, malformed_row 1/);
    const rejects = parseCsv(await readFile(join(dir, 'mixed-rejects.csv'), 'utf8'));
    expect(rejects.map((r) => [r.line, r.reason])).toEqual([
      ['3', 'out_of_order'],
      ['4', 'inconsistent_bar'],
      ['5', 'malformed_row'],
    ]);
  });

  it('refuses a header without a required column, naming it', async () => {
    await writeFile(join(dir, 'nohead.csv'), 'symbol,ts,open,high,low,close\nA,2024-01-01,1,2,0.5,1.5\n');
    const result = await run([
      'features',
      '--input',
      join(dir, 'nohead.csv'),
      '--output',
      join(dir, 'x.csv'),
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/lacks column\(s\) volume/);
  });
});

/** Independent bar reference: group ticks by floor(ts / step), sort by time, fold. */
function naiveBars(
  ticks: Array<{ symbol: string; ts: number; price: number; size: number }>,
  stepMs: number,
) {
  const groups = new Map<string, typeof ticks>();
  for (const t of ticks) {
    const key = `${t.symbol}|${Math.floor(t.ts / stepMs) * stepMs}`;
    const list = groups.get(key) ?? [];
    list.push(t);
    groups.set(key, list);
  }
  const out = new Map<
    string,
    { open: number; high: number; low: number; close: number; volume: number; vwap: number; trades: number }
  >();
  for (const [key, list] of groups) {
    const sorted = [...list].sort((a, b) => a.ts - b.ts);
    let turnover = 0;
    let volume = 0;
    for (const t of sorted) {
      turnover += t.price * t.size;
      volume += t.size;
    }
    out.set(key, {
      open: sorted[0]!.price,
      high: Math.max(...sorted.map((t) => t.price)),
      low: Math.min(...sorted.map((t) => t.price)),
      close: sorted[sorted.length - 1]!.price,
      volume,
      vwap: turnover / volume,
      trades: sorted.length,
    });
  }
  return out;
}

describe('mlfp bars', () => {
  const ticks: Array<{ symbol: string; ts: number; price: number; size: number }> = [];
  beforeAll(async () => {
    const random = new Random(7);
    let ts = Date.UTC(2024, 2, 4, 9, 0);
    for (let i = 0; i < 5_000; i++) {
      ts += Math.floor(random.exponential(2_000));
      const symbol = ['AAA', 'BBB', 'CCC'][random.int(3)] as string;
      ticks.push({
        symbol,
        ts,
        price: Math.round((50 + random.normal()) * 100) / 100,
        size: 1 + random.int(500),
      });
    }
    const lines = ['symbol,ts,price,size'];
    // mix the two time formats the CLI accepts
    ticks.forEach((t, i) =>
      lines.push(`${t.symbol},${i % 2 ? new Date(t.ts).toISOString() : t.ts},${t.price},${t.size}`),
    );
    await writeFile(join(dir, 'ticks.csv'), lines.join('\n') + '\n');
  });

  for (const [timeframe, stepMs] of [
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
  ] as const) {
    it(`builds ${timeframe} bars equal to a naive group-by of the ticks`, async () => {
      const output = join(dir, `bars-${timeframe}.csv`);
      const result = await run([
        'bars',
        '--input',
        join(dir, 'ticks.csv'),
        '--timeframe',
        timeframe,
        '--output',
        output,
      ]);
      expect(result.code).toBe(0);
      const rows = parseCsv(await readFile(output, 'utf8'));
      const expected = naiveBars(ticks, stepMs);
      expect(rows).toHaveLength(expected.size);
      for (const row of rows) {
        const e = expected.get(`${row.symbol}|${Date.parse(row.ts as string)}`);
        expect(e, `${row.symbol} ${row.ts}`).toBeDefined();
        expect(Number(row.open)).toBe(e!.open);
        expect(Number(row.high)).toBe(e!.high);
        expect(Number(row.low)).toBe(e!.low);
        expect(Number(row.close)).toBe(e!.close);
        expect(Number(row.volume)).toBe(e!.volume);
        expect(Number(row.trades)).toBe(e!.trades);
        expect(Math.abs(Number(row.vwap) - e!.vwap)).toBeLessThanOrEqual(1e-12 * e!.vwap);
        expect(row.ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
      }
    });
  }

  it('follows a session for daily bars: the bar starts at the session open, ticks outside it are left out', async () => {
    const lines = [
      'symbol,ts,price,size',
      'X,2024-07-01T13:00:00Z,9,1', // 09:00 New York: before the open
      'X,2024-07-01T13:30:00Z,10,1', // 09:30: the open
      'X,2024-07-01T19:59:00Z,12,2', // 15:59
      'X,2024-07-01T20:00:00Z,99,1', // 16:00: after the close
    ];
    await writeFile(join(dir, 'session.csv'), lines.join('\n'));
    const output = join(dir, 'session-out.csv');
    const result = await run([
      'bars',
      ...['--input', join(dir, 'session.csv'), '--timeframe', '1d', '--output', output],
      ...['--session-timezone', 'America/New_York', '--session-open', '09:30', '--session-close', '16:00'],
    ]);
    expect(result.code).toBe(0);
    expect(parseCsv(await readFile(output, 'utf8'))).toEqual([
      {
        symbol: 'X',
        ts: '2024-07-01T13:30:00.000Z',
        open: '10',
        high: '12',
        low: '10',
        close: '12',
        volume: '3',
        vwap: String(34 / 3),
        trades: '2',
      },
    ]);
  });

  it('rejects a late tick beyond the allowed lateness with its line number', async () => {
    await writeFile(
      join(dir, 'late.csv'),
      'symbol,ts,price,size\nA,2024-01-01T00:00:00Z,1,1\nA,2024-01-01T00:05:00Z,1,1\nA,2024-01-01T00:05:30Z,1,1\n' +
        'A,2024-01-01T00:06:00Z,1,1\nA,2024-01-01T00:00:01Z,1,1\n',
    );
    const result = await run([
      'bars',
      '--input',
      join(dir, 'late.csv'),
      '--timeframe',
      '5m',
      '--output',
      join(dir, 'late-out.csv'),
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/late: .*late\.csv:6: field ts/);
    expect(await exists(join(dir, 'late-out.csv'))).toBe(false);
  });

  it('rejects a tick a day ahead of the file as future_time with its line number; the other bars are unchanged', async () => {
    const rows = Array.from(
      { length: 40 },
      (_, index) =>
        `${index % 2 === 0 ? 'A' : 'B'},${new Date(Date.UTC(2024, 0, 1) + index * 20_000).toISOString()},${10 + index},1`,
    );
    const clean = ['symbol,ts,price,size', ...rows].join('\n') + '\n';
    const dirty =
      ['symbol,ts,price,size', ...rows.slice(0, 20), 'A,2024-01-02T00:05:00Z,99,1', ...rows.slice(20)].join(
        '\n',
      ) + '\n';
    await writeFile(join(dir, 'clean.csv'), clean);
    await writeFile(join(dir, 'future.csv'), dirty);
    const args = (input: string, output: string, ...extra: string[]) => [
      'bars',
      '--input',
      join(dir, input),
      '--timeframe',
      '5m',
      '--output',
      join(dir, output),
      ...extra,
    ];
    const failed = await run(args('future.csv', 'future-out.csv'));
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/future_time: .*future\.csv:22: field ts = 2024-01-02T00:05:00.000Z/);
    const skipped = await run(args('future.csv', 'future-out.csv', '--on-error', 'skip'));
    expect(skipped.code).toBe(0);
    expect((await run(args('clean.csv', 'clean-out.csv'))).code).toBe(0);
    expect(await readFile(join(dir, 'future-out.csv'), 'utf8')).toBe(
      await readFile(join(dir, 'clean-out.csv'), 'utf8'),
    );
  });

  it('gives usage errors (exit 2) for bad arguments', async () => {
    expect((await run(['bars', '--input', 'x', '--timeframe', '7m', '--output', 'y'])).code).toBe(2);
    expect((await run(['bars', '--input', 'x', '--timeframe', '5m'])).code).toBe(2);
    const lone = await run([
      'bars',
      '--input',
      'x',
      '--timeframe',
      '1d',
      '--output',
      'y',
      '--session-open',
      '09:30',
    ]);
    expect(lone.code).toBe(2);
    expect(lone.stderr).toMatch(/go together/);
    expect((await run(['nope'])).code).toBe(2);
  });

  it('reports a missing input file with exit 1', async () => {
    const result = await run([
      'bars',
      '--input',
      join(dir, 'missing.csv'),
      '--timeframe',
      '5m',
      '--output',
      join(dir, 'o.csv'),
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/io_error: cannot read .*missing\.csv/);
  });
});

describe('mlfp run', () => {
  it('runs the embedded graph on the synthetic market and reports ticks, bars, features and rejects', async () => {
    await writeFile(
      join(dir, 'run.json'),
      JSON.stringify({ http: { port: 0 }, progress: { intervalMs: 0 } }),
    );
    const result = await run(['run', '--config', join(dir, 'run.json'), '--max-ticks', '300000']);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/metrics and health on http:\/\/127\.0\.0\.1:\d+\/metrics/);
    // stderr is not a terminal here: JSON lines, one per event, each naming its component and event
    const logs = result.stderr
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(logs.map((entry) => `${String(entry.component)} ${String(entry.event)}`)).toEqual(
      expect.arrayContaining(['http http.listening', 'cli run.started', 'cli run.stopped']),
    );
    for (const entry of logs)
      expect(Object.keys(entry).slice(0, 4)).toEqual(['level', 'time', 'component', 'event']);
    expect(logs.at(-1)).toMatchObject({ level: 'info', msg: 'stopped (input complete)' });
    const last = result.stdout.trim().split('\n').pop() as string;
    expect(last).toMatch(/ticks 300000 \|/);
    const bars5m = Number(/bars 5m (\d+)/.exec(last)?.[1]);
    const features = Number(/features (\d+)/.exec(last)?.[1]);
    expect(bars5m).toBeGreaterThan(100);
    expect(features).toBeGreaterThanOrEqual(bars5m);
    expect(last).toMatch(/rejects [1-9]\d* \(/);
  });

  it('refuses a bad config naming the key', async () => {
    await writeFile(join(dir, 'bad-config.json'), JSON.stringify({ bars: { allowedLatenessMs: 'soon' } }));
    const result = await run(['run', '--config', join(dir, 'bad-config.json')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/bars\.allowedLatenessMs/);
  });
});

describe('mlfp features | mlfp score', () => {
  it('golden bars → features → the LightGBM demo model reproduces LightGBM’s own predictions bit for bit', async () => {
    // golden-features.csv was written by the first test of this file (same `dir`)
    const features = join(dir, 'golden-features.csv');
    const output = join(dir, 'golden-predictions.csv');
    const result = await run([
      'score',
      '--model',
      'models/lgbm-return',
      '--input',
      features,
      '--output',
      output,
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const predicted = parseCsv(await readFile(output, 'utf8'));
    const reference = parseCsv(
      await readFile(
        join(import.meta.dirname, '..', 'fixtures', 'models', 'lightgbm-regressor', 'predictions.csv'),
        'utf8',
      ),
    ).filter((r) => r.set === 'train');
    expect(reference).toHaveLength(4000);
    expect(predicted).toHaveLength(5000);
    expect(Object.keys(predicted[0] as object)).toEqual(['symbol', 'ts', 'prediction']);
    for (const r of reference) {
      const row = predicted[Number(r.row)] as Record<string, string>;
      expect(row.symbol).toBe('GOLD');
      expect(Number(row.prediction), `row ${r.row}`).toBe(Number(r.prediction));
    }
  });
});
