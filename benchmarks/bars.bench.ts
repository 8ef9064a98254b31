// Single-core throughput of tick validation and bar aggregation (plain loop and through the RxJS
// operators), beside a bare-loop floor, plus bytes per symbol of the bar state for 10,000 symbols.
// Run: npm run build && node --expose-gc dist/benchmarks/bars.bench.js [--ticks N] [--runs R] [--out file]

import { writeFileSync } from 'node:fs';
import { arch, cpus, platform } from 'node:os';
import { from } from 'rxjs';
import { BarAggregator } from '../src/bars/bar-aggregator.js';
import { isDeadLetter, TickValidator } from '../src/domain/validate-tick.js';
import type { Bar, DeadLetter, Tick } from '../src/domain/types.js';
import { aggregateBars } from '../src/operators/aggregate-bars.js';
import { validateTicks, type TickEnvelope } from '../src/operators/validate-ticks.js';

interface Case {
  name: string;
  /** runs once over all inputs; returns a checksum so the work cannot be optimised away */
  run: () => number;
}

function argument(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
}

const TICKS = argument('ticks', 1_000_000);
const RUNS = argument('runs', 5);
const SYMBOLS = 1_000;
const START_MS = Date.parse('2024-03-04T14:30:00Z');

/** Parsed-JSON-like tick records in event-time order (jitter up to 1 s), ts as epoch ms or ISO strings. */
function makeRecords(count: number, isoTime: boolean): Array<Record<string, unknown>> {
  let seed = 42;
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const records: Array<Record<string, unknown>> = [];
  let ts = START_MS;
  for (let index = 0; index < count; index++) {
    ts += random() < 0.5 ? 1 : 0;
    const jittered = ts - Math.floor(random() * 1000);
    records.push(
      JSON.parse(
        JSON.stringify({
          symbol: `SYM${Math.floor(random() * SYMBOLS)}`,
          ts: isoTime ? new Date(jittered).toISOString() : jittered,
          price: Math.round((100 + random() * 10) * 100) / 100,
          size: Math.floor(random() * 500),
        }),
      ) as Record<string, unknown>,
    );
  }
  return records;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function measure(testCase: Case): {
  name: string;
  ticksPerSecond: number;
  nsPerTick: number;
  spreadPercent: number;
} {
  testCase.run(); // warm-up
  const rates: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const started = process.hrtime.bigint();
    testCase.run();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    rates.push(TICKS / seconds);
  }
  const middle = median(rates);
  return {
    name: testCase.name,
    ticksPerSecond: Math.round(middle),
    nsPerTick: Math.round((1e9 / middle) * 10) / 10,
    spreadPercent: Math.round(((Math.max(...rates) - Math.min(...rates)) / middle) * 1000) / 10,
  };
}

function bytesPerSymbol():
  { symbols: number; heapBytesPerSymbol: number; bufferBytesPerSymbol: number } | undefined {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return undefined;
  const symbols = 10_000;
  const settle = () => {
    for (let index = 0; index < 4; index++) gc();
    const usage = process.memoryUsage();
    return usage.heapUsed + usage.arrayBuffers;
  };
  const names = Array.from({ length: symbols }, (_, index) => `SYM${index}`);
  const before = settle();
  const aggregator = new BarAggregator();
  const out: Bar[] = [];
  // fill every accumulator: open 5m, 1h, 1d and the closed 5m/1h/1d kept for revisions
  for (const offset of [0, 3_600_000 + 5_000, 3_600_000 + 10 * 60_000]) {
    for (const symbol of names) aggregator.add({ symbol, ts: START_MS + offset, price: 100, size: 1 }, out);
  }
  out.length = 0; // emitted bars are not state
  const after = settle();
  const result = {
    symbols,
    heapBytesPerSymbol: Math.round((after - before) / symbols),
    bufferBytesPerSymbol: Math.round(aggregator.stateBytes / symbols),
  };
  if (aggregator.symbolCount !== symbols) throw new Error('memory case lost symbols');
  return result;
}

function main(): void {
  const numeric = makeRecords(TICKS, false);
  const iso = makeRecords(TICKS, true);
  const envelopes: TickEnvelope[] = numeric.map((value) => ({ value }));
  const ignore = { deadLetter: (_letter: DeadLetter) => undefined };
  const cases: Case[] = [
    {
      name: 'floor: read 4 fields',
      run: () => {
        let sum = 0;
        for (const record of numeric)
          sum += (record.price as number) + (record.size as number) + (record.ts as number);
        return sum;
      },
    },
    {
      name: 'validate (ts epoch ms)',
      run: () => {
        const validator = new TickValidator();
        let count = 0;
        for (const record of numeric) if (!isDeadLetter(validator.validate(record))) count++;
        return count;
      },
    },
    {
      // the same work on 4,096 cache-resident records: the CPU cost without 1M records' cache misses
      name: 'validate (ts epoch ms, hot 4k pool)',
      run: () => {
        const validator = new TickValidator();
        let count = 0;
        for (let index = 0; index < TICKS; index++)
          if (!isDeadLetter(validator.validate(numeric[index & 4095]))) count++;
        return count;
      },
    },
    {
      name: 'validate (ts ISO-8601)',
      run: () => {
        const validator = new TickValidator();
        let count = 0;
        for (const record of iso) if (!isDeadLetter(validator.validate(record))) count++;
        return count;
      },
    },
    {
      name: 'validate + aggregate, plain loop',
      run: () => {
        const validator = new TickValidator();
        const aggregator = new BarAggregator();
        const out: Bar[] = [];
        let bars = 0;
        for (const record of numeric) {
          const result = validator.validate(record);
          if (isDeadLetter(result)) continue;
          aggregator.add(result as Tick, out);
          bars += out.length;
          out.length = 0;
        }
        aggregator.flush(out);
        return bars + out.length;
      },
    },
    {
      name: 'validateTicks + aggregateBars operators',
      run: () => {
        let bars = 0;
        from(envelopes)
          .pipe(validateTicks({}, ignore), aggregateBars({}, ignore))
          .subscribe(() => bars++);
        return bars;
      },
    },
  ];
  const results = cases.map(measure);
  const memory = bytesPerSymbol();
  const report = {
    benchmark: 'bars',
    date: new Date().toISOString(),
    node: process.version,
    machine: { cpu: cpus()[0]?.model, cores: cpus().length, platform: platform(), arch: arch() },
    ticks: TICKS,
    symbols: SYMBOLS,
    runs: RUNS,
    results,
    memory: memory ?? 'run with node --expose-gc',
  };
  for (const result of results)
    console.log(
      `${result.name.padEnd(42)} ${String(result.ticksPerSecond).padStart(10)} ticks/s ${String(result.nsPerTick).padStart(7)} ns/tick ±${result.spreadPercent}%`,
    );
  if (memory !== undefined)
    console.log(
      `bar state, ${memory.symbols} symbols: ${memory.heapBytesPerSymbol} B/symbol (heap + buffers), ${memory.bufferBytesPerSymbol} B/symbol buffer`,
    );
  const outAt = process.argv.indexOf('--out');
  if (outAt !== -1) writeFileSync(process.argv[outAt + 1]!, `${JSON.stringify(report, null, 2)}\n`);
}

main();
