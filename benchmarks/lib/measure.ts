// Median-of-N throughput timing shared by the benchmarks: untimed warm-up runs (JIT), then timed runs;
// reports the median and the spread, never a mean.

export interface Throughput {
  /** median over the timed runs, million updates per second */
  mUpdatesPerSec: number;
  /** every timed run, million updates per second, in run order */
  runs: number[];
  min: number;
  max: number;
  /** sum of what the runs returned, printed so the work cannot be optimised away */
  checksum: number;
}

export interface MeasureOptions {
  warmUpRuns?: number;
  runs?: number;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Times `run` (which performs `updatesPerRun` updates and returns a checksum of its outputs). */
export function measureThroughput(
  run: () => number,
  updatesPerRun: number,
  { warmUpRuns = 1, runs = 5 }: MeasureOptions = {},
): Throughput {
  let checksum = 0;
  for (let i = 0; i < warmUpRuns; i++) checksum += run();
  const rates: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    checksum += run();
    const elapsedNs = Number(process.hrtime.bigint() - start);
    rates.push((updatesPerRun / elapsedNs) * 1e3);
  }
  return {
    mUpdatesPerSec: median(rates),
    runs: rates,
    min: Math.min(...rates),
    max: Math.max(...rates),
    checksum,
  };
}

/** A positive integer from the environment variable `name`, or `fallback` when unset; throws naming it otherwise. */
export function positiveIntegerEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return value;
}
