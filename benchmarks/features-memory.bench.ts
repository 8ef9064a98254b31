// Memory per symbol of the feature state: 3 FeatureSets (5m, 1h, 1d) per symbol for 10,000 symbols, each
// warmed past its 49-bar warm-up so every field is materialised. Needs `node --expose-gc` (npm run
// bench:features-memory). Reports V8 heap and off-heap typed-array backing stores separately.

import { FEATURE_COUNT, TIMEFRAMES } from '../src/domain/types.js';
import { PERIODS_PER_YEAR } from '../src/domain/time.js';
import { FeatureSet } from '../src/indicators/feature-set.js';
import { machineInfo } from './lib/machine.js';
import { formatTable, writeResults } from './lib/results.js';
import { generateBars } from './lib/synthetic-bars.js';

const SYMBOLS = 10_000;
const BARS_PER_SET = 60;
/** the budget for all per-symbol state (3 feature sets plus bar aggregation) */
const BUDGET_BYTES_PER_SYMBOL = 8 * 1024;

interface Usage {
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

function settle(gc: () => void): Usage {
  for (let i = 0; i < 4; i++) gc();
  const { heapUsed, external, arrayBuffers } = process.memoryUsage();
  return { heapUsed, external, arrayBuffers };
}

function main(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) {
    console.error('features-memory: run with node --expose-gc (npm run bench:features-memory)');
    process.exitCode = 2;
    return;
  }
  const bars = generateBars(BARS_PER_SET);
  const out = new Float64Array(FEATURE_COUNT);
  const symbols: FeatureSet[][] = [];
  const before = settle(gc);
  for (let s = 0; s < SYMBOLS; s++) {
    const sets = TIMEFRAMES.map(
      (timeframe) => new FeatureSet({ periodsPerYear: PERIODS_PER_YEAR[timeframe] }),
    );
    for (const set of sets)
      for (let i = 0; i < BARS_PER_SET; i++)
        set.update(
          bars.open[i] as number,
          bars.high[i] as number,
          bars.low[i] as number,
          bars.close[i] as number,
          bars.volume[i] as number,
          out,
        );
    symbols.push(sets);
  }
  const after = settle(gc);
  const perSymbol = (key: keyof Usage): number => (after[key] - before[key]) / SYMBOLS;
  const heap = perSymbol('heapUsed');
  const offHeap = perSymbol('arrayBuffers');
  const total = heap + offHeap;
  console.log(
    `\nfeature state memory: ${SYMBOLS.toLocaleString('en-US')} symbols × ${TIMEFRAMES.length} FeatureSets, ` +
      `each fed ${BARS_PER_SET} bars\n`,
  );
  console.log(
    formatTable(
      ['measure', 'bytes / symbol', 'bytes / FeatureSet'],
      [
        ['V8 heap used', heap.toFixed(0), (heap / TIMEFRAMES.length).toFixed(0)],
        [
          'typed-array backing stores (off heap)',
          offHeap.toFixed(0),
          (offHeap / TIMEFRAMES.length).toFixed(0),
        ],
        ['total', total.toFixed(0), (total / TIMEFRAMES.length).toFixed(0)],
        ['budget (all per-symbol state)', String(BUDGET_BYTES_PER_SYMBOL), '—'],
      ],
    ),
  );
  const path = writeResults('features-memory', {
    symbols: SYMBOLS,
    featureSetsPerSymbol: TIMEFRAMES.length,
    barsPerSet: BARS_PER_SET,
    machine: machineInfo(),
    date: new Date().toISOString(),
    bytesPerSymbol: { heapUsed: Math.round(heap), offHeap: Math.round(offHeap), total: Math.round(total) },
    bytesPerFeatureSet: Math.round(total / TIMEFRAMES.length),
    budgetBytesPerSymbol: BUDGET_BYTES_PER_SYMBOL,
  });
  console.log(`\nresults: ${path} (kept ${symbols.length} symbols alive until here)`);
}

main();
