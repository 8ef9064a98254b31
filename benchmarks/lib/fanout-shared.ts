// Shared by the fan-out benchmark's processes (benchmarks/fanout.bench.ts, lib/fanout-server.ts,
// lib/fanout-clients.ts): one clock comparable across processes, the subscription plan (who gets which
// symbol), the IPC messages, and a fixed-bucket latency histogram that merges by adding counts.

/** Wall-clock milliseconds with sub-millisecond resolution, comparable between processes on one machine. */
export function clockMs(): number {
  return performance.timeOrigin + performance.now();
}

/** The field every published bar carries: its publish time (clockMs), written last so clients find it fast. */
export const STAMP_FIELD = 'publishedAtMs';

export type Subject = 'mlfp' | 'naive' | 'ws-floor';

/**
 * Who subscribes to what: the first clients - wideClients clients each take `symbolsPerClient` consecutive
 * symbols (wrapping), so every symbol has about that many × symbolsPerClient / symbols readers; the last
 * `wideClients` each take `symbolsPerWideClient` symbols (spread evenly over all), or '*' when that is 0.
 * The stalled case stalls the wide clients.
 */
export interface FanoutPlan {
  symbols: number;
  clients: number;
  symbolsPerClient: number;
  wideClients: number;
  symbolsPerWideClient: number;
}

export function isWide(plan: FanoutPlan, client: number): boolean {
  return client >= plan.clients - plan.wideClients;
}

export function symbolName(index: number): string {
  return `SYM${index.toString().padStart(4, '0')}`;
}

/** A client's symbols, or undefined for '*'. */
export function clientSymbols(plan: FanoutPlan, client: number): number[] | undefined {
  const symbols: number[] = [];
  if (isWide(plan, client)) {
    if (plan.symbolsPerWideClient === 0) return undefined;
    const wide = client - (plan.clients - plan.wideClients);
    const step = plan.symbols / plan.symbolsPerWideClient;
    for (let k = 0; k < plan.symbolsPerWideClient; k++)
      symbols.push((Math.floor(k * step) + wide) % plan.symbols);
    return symbols;
  }
  for (let k = 0; k < plan.symbolsPerClient; k++)
    symbols.push((client * plan.symbolsPerClient + k) % plan.symbols);
  return symbols;
}

/** Readers per symbol: [narrow clients, wide clients] per symbol. */
export function readersPerSymbol(plan: FanoutPlan): { narrow: Int32Array; wide: Int32Array } {
  const narrow = new Int32Array(plan.symbols);
  const wide = new Int32Array(plan.symbols);
  for (let client = 0; client < plan.clients; client++) {
    const readers = isWide(plan, client) ? wide : narrow;
    const symbols = clientSymbols(plan, client);
    if (symbols === undefined) for (let symbol = 0; symbol < plan.symbols; symbol++) readers[symbol]!++;
    else for (const symbol of symbols) readers[symbol]!++;
  }
  return { narrow, wide };
}

/** One measured stretch of a run: publish at `rate` messages/s; clients count what arrives in [start, end). */
export interface Phase {
  rate: number;
  /** clockMs at which publishing at this rate starts (warm-up before windowStartMs) */
  startMs: number;
  windowStartMs: number;
  windowEndMs: number;
}

export interface ServerRunCommand {
  type: 'run';
  phases: Phase[];
  /** the wide clients stop reading at this clockMs (stalled case) */
  stallAtMs: number | undefined;
}

export interface ServerPhaseReport {
  rate: number;
  /** messages published in the window (by publish time) */
  published: number;
  /** deliveries those messages mean: to the narrow clients, and to the wide ones */
  expectedNarrow: number;
  expectedWide: number;
  cpuUserS: number;
  cpuSystemS: number;
  /** event-loop utilisation over the window, 0-1 */
  eventLoopUtilization: number;
}

export interface MemorySample {
  /** ms since the run's first phase started */
  atMs: number;
  rssMiB: number;
  heapUsedMiB: number;
  externalMiB: number;
  /** mlfp: bytes sent to clients whose send callback has not fired yet, summed over sessions */
  pendingMiB: number | undefined;
  /** mlfp: open connections */
  connections: number;
}

export interface ServerRunReport {
  type: 'report';
  phases: ServerPhaseReport[];
  memory: MemorySample[];
  /** mlfp only: the API's own counters at the end of the run */
  api: { lagNotices: number; slowConsumerCloses: number; conflated: number } | undefined;
  /** mlfp only: ms after stallAtMs at which the first lag notice went out and the 10th close happened */
  firstLagNoticeAfterStallMs: number | undefined;
  allStalledClosedAfterStallMs: number | undefined;
}

export interface ClientPhaseReport {
  /** deliveries received in the window (by receive time), per client group */
  narrow: { count: number; histogram: number[] };
  wide: { count: number; histogram: number[] };
}

export interface ClientsRunReport {
  type: 'measured';
  phases: ClientPhaseReport[];
  /** stalled clients: what they saw once they read again after the run */
  stalled: Array<{
    closeCode: number | undefined;
    lagNotices: number;
    framesAfterResume: number;
    closedAfterStallMs: number | undefined;
  }>;
  /** healthy clients closed during the run (must be 0) */
  unexpectedCloses: number;
}

// Latency histogram: 10 µs buckets up to 100 ms, then 1 ms buckets up to 100 s (the last bucket holds more).
const FINE_US = 10;
const FINE_BUCKETS = 10_000;
const COARSE_MS = 1;
const COARSE_BUCKETS = 99_900;
export const HISTOGRAM_BUCKETS = FINE_BUCKETS + COARSE_BUCKETS + 1;

export function histogramBucket(latencyMs: number): number {
  if (latencyMs < 0) return 0;
  const us = latencyMs * 1_000;
  if (us < FINE_US * FINE_BUCKETS) return Math.floor(us / FINE_US);
  const coarse = Math.floor((latencyMs - (FINE_US * FINE_BUCKETS) / 1_000) / COARSE_MS);
  return FINE_BUCKETS + Math.min(coarse, COARSE_BUCKETS);
}

/** The upper edge of a bucket, ms. */
function bucketUpperMs(bucket: number): number {
  if (bucket < FINE_BUCKETS) return ((bucket + 1) * FINE_US) / 1_000;
  return (FINE_US * FINE_BUCKETS) / 1_000 + (bucket - FINE_BUCKETS + 1) * COARSE_MS;
}

export function mergeHistograms(into: number[], from: readonly number[]): void {
  for (let i = 0; i < from.length; i++) into[i] = (into[i] ?? 0) + from[i]!;
}

/** The q-quantile (0-1) of a histogram as its bucket's upper edge, ms; undefined when empty. */
export function histogramQuantile(histogram: readonly number[], q: number): number | undefined {
  let total = 0;
  for (const count of histogram) total += count;
  if (total === 0) return undefined;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (let bucket = 0; bucket < histogram.length; bucket++) {
    seen += histogram[bucket]!;
    if (seen >= rank) return bucketUpperMs(bucket);
  }
  return bucketUpperMs(histogram.length - 1);
}

/** A sparse form for IPC and JSON: [bucket, count] pairs. */
export function sparseHistogram(histogram: Uint32Array): number[] {
  const pairs: number[] = [];
  for (let bucket = 0; bucket < histogram.length; bucket++)
    if (histogram[bucket] !== 0) pairs.push(bucket, histogram[bucket]!);
  return pairs;
}

export function denseHistogram(pairs: readonly number[]): number[] {
  const histogram = new Array<number>(HISTOGRAM_BUCKETS).fill(0);
  for (let i = 0; i < pairs.length; i += 2) histogram[pairs[i]!] = pairs[i + 1]!;
  return histogram;
}
