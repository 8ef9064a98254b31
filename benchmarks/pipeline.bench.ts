// The whole tick → bar → feature path on one core: the RxJS graph the engine runs (streamGraph) beside the
// same state machines driven by a plain loop (the RxJS overhead), in ticks/s; plus the memory of all
// per-symbol state (validator, bars, 3 feature sets) for 10,000 symbols. Merges its "tick_graph" rows into
// benchmarks/results/features.json and writes benchmarks/results/pipeline.json.
// Run: npm run build && node --expose-gc dist/benchmarks/pipeline.bench.js  (BENCH_TICKS, BENCH_RUNS)

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { from, map } from 'rxjs';
import { isDeadLetter, type Bar, type DeadLetter, type FeatureVector } from '../src/domain/types.js';
import { EngineStats } from '../src/monitoring/stats.js';
import { envelopeOf, StreamState, streamGraph } from '../src/streams/graph.js';
import { dispatchTo, type OutputHandlers } from '../test/support/dispatch-outputs.js';
import { SyntheticMarket, type RawTick } from '../src/streams/synthetic-market.js';
import { syntheticSchema } from '../src/config/schema.js';
import { machineInfo } from './lib/machine.js';
import { measureThroughput, positiveIntegerEnv, type Throughput } from './lib/measure.js';
import { formatTable, projectRoot, writeResults } from './lib/results.js';

const SYMBOLS = 1_000;
const MEMORY_SYMBOLS = 10_000;
const BUDGET_BYTES_PER_SYMBOL = 8 * 1024;

/** Raw tick records as a JSON decoder would deliver them: 1,000 symbols, ~40 ms between a symbol's ticks. */
function makeTicks(count: number): RawTick[] {
  const symbols = Array.from({ length: SYMBOLS }, (_, i) => `S${i}`);
  const market = new SyntheticMarket(
    syntheticSchema.parse({ symbols, seed: 7, meanTickIntervalMs: 40_000, badTickRate: 0 }),
  );
  const ticks: RawTick[] = [];
  for (let i = 0; i < count; i++) ticks.push(market.next());
  return ticks;
}

class CountingSink implements OutputHandlers {
  bars = 0;
  vectors = 0;
  letters = 0;
  deadLetter(_letter: DeadLetter): void {
    this.letters++;
  }
  bar(_bar: Bar): void {
    this.bars++;
  }
  features(_vector: FeatureVector): void {
    this.vectors++;
  }
  prediction(): void {}
  alert(): void {}
}

/** The engine's graph, as `mlfp run` builds it. */
function rxjsRun(ticks: readonly RawTick[]): number {
  const sink = new CountingSink();
  const state = new StreamState({});
  let checksum = 0;
  const count = dispatchTo(sink);
  streamGraph(from(ticks).pipe(map(envelopeOf())), state, { stats: new EngineStats(0) }).subscribe(
    (output) => {
      count(output);
      if (output.kind === 'features') checksum += output.value.values[7] as number;
    },
  );
  return checksum + sink.bars + sink.letters;
}

/** The same state machines, called from a loop. */
function plainRun(ticks: readonly RawTick[]): number {
  const state = new StreamState({});
  const bars: Bar[] = [];
  let checksum = 0;
  let letters = 0;
  let barCount = 0;
  const feed = (): void => {
    for (const bar of bars) {
      barCount++;
      const vector = state.features.apply(bar);
      if (vector !== undefined) checksum += vector.values[7] as number;
    }
    bars.length = 0;
  };
  for (const raw of ticks) {
    const tick = state.validator.validate(raw);
    if (isDeadLetter(tick)) {
      letters++;
      continue;
    }
    if (state.aggregator.add(tick, bars) !== undefined) letters++;
    feed();
  }
  state.aggregator.flush(bars);
  feed();
  return checksum + barCount + letters;
}

/** Bytes of all per-symbol state, with every bar slot filled and every feature set past warm-up. */
function stateBytesPerSymbol(): { heap: number; offHeap: number; total: number } | undefined {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return undefined;
  const settle = () => {
    for (let i = 0; i < 4; i++) gc();
    const usage = process.memoryUsage();
    return { heap: usage.heapUsed, offHeap: usage.arrayBuffers };
  };
  const names = Array.from({ length: MEMORY_SYMBOLS }, (_, i) => `SYM${i}`);
  const before = settle();
  const state = new StreamState({});
  const out: Bar[] = [];
  const start = Date.parse('2024-03-04T00:00:00Z');
  // 60 days of one 5m bar per symbol per hour: every feature set warms up; bar slots (open/closed 5m, 1h,
  // 1d) stay filled at the end
  for (let hour = 0; hour < 60 * 24; hour++) {
    for (const symbol of names) {
      state.aggregator.add(
        { symbol, ts: start + hour * 3_600_000 + 60_000, price: 100 + (hour % 7), size: 10, seq: hour + 1 },
        out,
      );
    }
    for (const bar of out) state.features.apply(bar);
    out.length = 0;
  }
  const after = settle();
  const heap = (after.heap - before.heap) / MEMORY_SYMBOLS;
  const offHeap = (after.offHeap - before.offHeap) / MEMORY_SYMBOLS;
  if (state.features.symbolCount !== MEMORY_SYMBOLS) throw new Error('memory case lost symbols');
  return { heap: Math.round(heap), offHeap: Math.round(offHeap), total: Math.round(heap + offHeap) };
}

function main(): void {
  const tickCount = positiveIntegerEnv('BENCH_TICKS', 1_000_000);
  const runs = Math.max(5, positiveIntegerEnv('BENCH_RUNS', 5));
  const ticks = makeTicks(tickCount);
  const machine = machineInfo(['rxjs']);
  const results: Array<Throughput & { subject: string }> = [];
  for (const [subject, run] of [
    ['plain-loop', plainRun],
    ['mlfp', rxjsRun],
  ] as const) {
    const throughput = measureThroughput(() => run(ticks), tickCount, { runs });
    results.push({ subject, ...throughput });
    process.stderr.write(`${subject.padEnd(10)} ${throughput.mUpdatesPerSec.toFixed(2)} M ticks/s\n`);
  }
  const [plain, rxjs] = results as unknown as [Throughput, Throughput];
  const overhead = plain.mUpdatesPerSec / rxjs.mUpdatesPerSec;
  const memory = stateBytesPerSymbol();
  console.log(
    `\ntick → bar → feature graph: ${tickCount.toLocaleString('en-US')} ticks, ${SYMBOLS} symbols, median of ${runs} runs\n` +
      `${machine.cpu} ×${machine.cores}, Node ${machine.node}, load ${machine.loadAverage1m}\n`,
  );
  console.log(
    formatTable(
      ['subject', 'M ticks/s (median)', 'min–max'],
      results.map((r) => [
        r.subject === 'mlfp' ? 'mlfp (RxJS graph)' : 'plain loop',
        r.mUpdatesPerSec.toFixed(2),
        `${r.min.toFixed(2)}–${r.max.toFixed(2)}`,
      ]),
    ),
  );
  console.log(`\nRxJS overhead: plain loop / RxJS graph = ${overhead.toFixed(2)}× (target ≤ 1.5×)`);
  if (memory !== undefined) {
    console.log(
      `per-symbol state (validator + bars + 3 feature sets), ${MEMORY_SYMBOLS} symbols: ${memory.total} B ` +
        `(heap ${memory.heap}, typed arrays ${memory.offHeap}); budget ${BUDGET_BYTES_PER_SYMBOL} B`,
    );
  } else console.log('memory: run with node --expose-gc');
  const round = (x: number): number => Math.round(x * 1000) / 1000;
  const rows = results.map((r) => ({
    subject: r.subject,
    indicator: 'tick_graph',
    unit: 'million ticks/s through validate → bars → features',
    mUpdatesPerSec: round(r.mUpdatesPerSec),
    min: round(r.min),
    max: round(r.max),
    runs: r.runs.map(round),
  }));
  writeResults('pipeline', {
    ticks: tickCount,
    symbols: SYMBOLS,
    machine,
    date: new Date().toISOString(),
    results: rows,
    rxjsOverhead: round(overhead),
    stateBytesPerSymbol: memory ?? null,
    memorySymbols: MEMORY_SYMBOLS,
    budgetBytesPerSymbol: BUDGET_BYTES_PER_SYMBOL,
    checksum: results.reduce((s, r) => s + r.checksum, 0),
  });
  // features.json carries the graph rows too (the one results file for this benchmark)
  const featuresPath = join(projectRoot(), 'benchmarks', 'results', 'features.json');
  if (existsSync(featuresPath)) {
    const features = JSON.parse(readFileSync(featuresPath, 'utf8')) as {
      results: Array<{ indicator: string }>;
    };
    features.results = [...features.results.filter((r) => r.indicator !== 'tick_graph'), ...rows];
    writeResults('features', features);
  }
}

main();
