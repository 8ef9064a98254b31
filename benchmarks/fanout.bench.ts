// Fan-out benchmark (issue 18): the public API as startPublicApi builds it (SignalHub serialises and frames
// each message once, one Buffer for every matching session) beside a naive ws server (JSON.stringify +
// ws.send per matching client) and a bare ws floor (serialise once, per-symbol index, no session
// bookkeeping), each in its own process (lib/fanout-server.ts: its CPU and memory are its own), with 1,000
// real ws clients in another (lib/fanout-clients.ts: latency = receive time − the publish time each bar
// carries). Per repeat, alternating subjects: 10,000 messages/s paced, then an unpaced publisher (max
// sustained); then mlfp with the 10 wide clients stalled. First, in this process, the userland cost of one
// message with no sockets (lib/fanout-hub.ts). Writes benchmarks/results/fanout.json, prints tables.
// Usage: npm run build && node dist/benchmarks/fanout.bench.js [--repeats 3] [--rate 10000] [--window-ms 4000]
//   [--stalled-window-ms 9000] [--no-stalled] [--subjects mlfp,naive,ws-floor] [--per-client 1 --wide 10
//   --per-wide-client 200] [--api '{"hardBytes":…}'] [--profile-dir DIR (CPU profiles of the servers)]
//   [--out fanout (results file name)]

import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  clockMs,
  denseHistogram,
  histogramQuantile,
  mergeHistograms,
  HISTOGRAM_BUCKETS,
  type ClientsRunReport,
  type FanoutPlan,
  type MemorySample,
  type Phase,
  type ServerRunReport,
  type Subject,
} from './lib/fanout-shared.js';
import { measureHub, type HubCase } from './lib/fanout-hub.js';
import { machineInfo } from './lib/machine.js';
import { median } from './lib/measure.js';
import { formatTable, projectRoot, writeResults } from './lib/results.js';

const SERVER_SCRIPT = join(projectRoot(), 'dist/benchmarks/lib/fanout-server.js');
const CLIENTS_SCRIPT = join(projectRoot(), 'dist/benchmarks/lib/fanout-clients.js');

interface PhaseSpec {
  rate: number;
  warmUpMs: number;
  windowMs: number;
  /** the window is measured in slices of this length (p99 per slice: where a transient lands) */
  sliceMs?: number;
}

/** The wide clients: reading like the others, stalled (they stop reading), or not connected at all. */
type WideClients = 'reading' | 'stalled' | 'absent';

interface RunSpec {
  subject: Subject;
  phases: PhaseSpec[];
  wide: WideClients;
}

interface PhaseResult {
  rate: number;
  windowS: number;
  publishedPerSec: number;
  /** deliveries the published messages meant to the clients that read (stalled ones excluded) */
  offeredDeliveriesPerSec: number;
  deliveredPerSec: number;
  /** every reading client; and the narrow ones alone (the healthy group of the stalled case) */
  latencyMs: Quantiles;
  narrowLatencyMs: Quantiles;
  cpuS: number;
  cpuUserS: number;
  cpuSystemS: number;
  /** server CPU µs per delivery */
  cpuUsPerDelivery: number;
  eventLoopUtilization: number;
  /** deliveries per server CPU second: what one core would sustain at this cost */
  deliveriesPerCpuSecond: number;
  /** the window's slices (when cut): where a transient lands */
  slices: SliceResult[] | undefined;
  worstSliceNarrowP99Ms: number | undefined;
}

interface SliceResult {
  /** seconds from the run's start (its first warm-up) to the slice's start */
  fromS: number;
  deliveredPerSec: number;
  narrowP99Ms: number | undefined;
}

interface Quantiles {
  p50: number | undefined;
  p90: number | undefined;
  p99: number | undefined;
  p999: number | undefined;
  max: number | undefined;
}

interface RunResult {
  subject: Subject;
  wide: WideClients;
  phases: PhaseResult[];
  memory: {
    /** before publishing */
    startRssMiB: number;
    peakRssMiB: number;
    peakHeapUsedMiB: number;
    peakExternalMiB: number;
    peakPendingMiB: number | undefined;
    endRssMiB: number;
    endPendingMiB: number | undefined;
    endConnections: number;
  };
  api: ServerRunReport['api'];
  firstLagNoticeAfterStallMs: number | undefined;
  allStalledClosedAfterStallMs: number | undefined;
  stalledClients: ClientsRunReport['stalled'];
  unexpectedCloses: number;
  samples: MemorySample[];
}

function quantiles(histogram: readonly number[]): Quantiles {
  const round = (x: number | undefined): number | undefined =>
    x === undefined ? undefined : Math.round(x * 1_000) / 1_000;
  return {
    p50: round(histogramQuantile(histogram, 0.5)),
    p90: round(histogramQuantile(histogram, 0.9)),
    p99: round(histogramQuantile(histogram, 0.99)),
    p999: round(histogramQuantile(histogram, 0.999)),
    max: round(histogramQuantile(histogram, 1)),
  };
}

/** Waits for the next IPC message of `type` from `child` (rejects on 'error' or exit). */
function nextMessage<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { type: string; message?: string }): void => {
      if (message.type === 'error') {
        cleanUp();
        reject(new Error(message.message));
      } else if (message.type === type) {
        cleanUp();
        resolve(message as T);
      }
    };
    const onExit = (code: number | null): void => {
      cleanUp();
      reject(new Error(`child exited (${code}) while waiting for ${type}`));
    };
    const cleanUp = (): void => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

class Bench {
  private readonly clientProcesses: ChildProcess[] = [];

  constructor(
    private readonly plan: FanoutPlan,
    private readonly api: Record<string, unknown>,
    clientProcesses: number,
    /** node flags for the server processes (e.g. --cpu-prof) */
    private readonly serverExecArgv: string[],
  ) {
    for (let i = 0; i < clientProcesses; i++)
      this.clientProcesses.push(fork(CLIENTS_SCRIPT, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  }

  async ready(): Promise<void> {
    await Promise.all(this.clientProcesses.map((child) => nextMessage(child, 'ready')));
  }

  async close(): Promise<void> {
    for (const child of this.clientProcesses) child.send({ type: 'exit' });
  }

  async run(spec: RunSpec): Promise<RunResult> {
    const server = fork(
      SERVER_SCRIPT,
      [JSON.stringify({ subject: spec.subject, plan: this.plan, api: this.api })],
      {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        execArgv: this.serverExecArgv,
      },
    );
    const { url } = await nextMessage<{ url: string }>(server, 'ready');
    const k = this.clientProcesses.length;
    await Promise.all(
      this.clientProcesses.map((child, slice) => {
        const clients: number[] = [];
        const connected =
          spec.wide === 'absent' ? this.plan.clients - this.plan.wideClients : this.plan.clients;
        for (let index = slice; index < connected; index += k) clients.push(index);
        const done = nextMessage(child, 'connected');
        child.send({ type: 'connect', url, subject: spec.subject, plan: this.plan, clients });
        return done;
      }),
    );
    // the schedule, in clockMs: contiguous phases, each a warm-up then a measured window cut into slices
    // (each slice is a phase for the server and the clients; result() merges them back)
    let at = clockMs() + 300;
    const phases: Phase[] = [];
    const slicesOf: number[][] = [];
    for (const p of spec.phases) {
      const slices: number[] = [];
      const sliceMs = p.sliceMs ?? p.windowMs;
      for (let from = 0; from < p.windowMs; from += sliceMs) {
        const warmUpMs = from === 0 ? p.warmUpMs : 0;
        const phase = {
          rate: p.rate,
          startMs: at,
          windowStartMs: at + warmUpMs,
          windowEndMs: at + warmUpMs + Math.min(sliceMs, p.windowMs - from),
        };
        at = phase.windowEndMs;
        slices.push(phases.length);
        phases.push(phase);
      }
      slicesOf.push(slices);
    }
    const stallAtMs = spec.wide === 'stalled' ? phases[0]!.startMs - 100 : undefined;
    const serverReport = nextMessage<ServerRunReport>(server, 'report');
    const clientReports = Promise.all(
      this.clientProcesses.map((child) => nextMessage<ClientsRunReport>(child, 'measured')),
    );
    server.send({ type: 'run', phases, stallAtMs });
    for (const child of this.clientProcesses) child.send({ type: 'measure', phases, stallAtMs });
    const [fromServer, fromClients] = await Promise.all([serverReport, clientReports]);
    await Promise.all(
      this.clientProcesses.map((child) => {
        const done = nextMessage(child, 'disconnected');
        child.send({ type: 'disconnect' });
        return done;
      }),
    );
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.send({ type: 'exit' });
    await exited;
    return this.result(spec, phases, slicesOf, fromServer, fromClients);
  }

  private result(
    spec: RunSpec,
    phases: Phase[],
    slicesOf: number[][],
    server: ServerRunReport,
    clients: ClientsRunReport[],
  ): RunResult {
    const firstStartMs = phases[0]!.startMs;
    const phaseResults = slicesOf.map((slices): PhaseResult => {
      let windowS = 0;
      let published = 0;
      let offered = 0;
      let delivered = 0;
      let cpuUserS = 0;
      let cpuSystemS = 0;
      let elu = 0;
      const all = new Array<number>(HISTOGRAM_BUCKETS).fill(0);
      const narrow = new Array<number>(HISTOGRAM_BUCKETS).fill(0);
      const sliceResults: SliceResult[] = [];
      for (const index of slices) {
        const phase = phases[index]!;
        const s = server.phases[index]!;
        const sliceS = (phase.windowEndMs - phase.windowStartMs) / 1_000;
        const sliceNarrow = new Array<number>(HISTOGRAM_BUCKETS).fill(0);
        let sliceDelivered = 0;
        for (const report of clients) {
          const c = report.phases[index]!;
          sliceDelivered += c.narrow.count + c.wide.count;
          const n = denseHistogram(c.narrow.histogram);
          mergeHistograms(sliceNarrow, n);
          mergeHistograms(all, n);
          mergeHistograms(all, denseHistogram(c.wide.histogram));
        }
        mergeHistograms(narrow, sliceNarrow);
        windowS += sliceS;
        published += s.published;
        offered += s.expectedNarrow + (spec.wide === 'reading' ? s.expectedWide : 0);
        delivered += sliceDelivered;
        cpuUserS += s.cpuUserS;
        cpuSystemS += s.cpuSystemS;
        elu += s.eventLoopUtilization * sliceS;
        sliceResults.push({
          fromS: round3((phase.windowStartMs - firstStartMs) / 1_000),
          deliveredPerSec: Math.round(sliceDelivered / sliceS),
          narrowP99Ms: quantiles(sliceNarrow).p99,
        });
      }
      const cpuS = cpuUserS + cpuSystemS;
      return {
        rate: phases[slices[0]!]!.rate,
        windowS,
        publishedPerSec: Math.round(published / windowS),
        offeredDeliveriesPerSec: Math.round(offered / windowS),
        deliveredPerSec: Math.round(delivered / windowS),
        latencyMs: quantiles(all),
        narrowLatencyMs: quantiles(narrow),
        cpuS: round3(cpuS),
        cpuUserS: round3(cpuUserS),
        cpuSystemS: round3(cpuSystemS),
        cpuUsPerDelivery: delivered === 0 ? 0 : round3((cpuS * 1e6) / delivered),
        eventLoopUtilization: round3(elu / windowS),
        deliveriesPerCpuSecond: cpuS === 0 ? 0 : Math.round(delivered / cpuS),
        slices: sliceResults.length > 1 ? sliceResults : undefined,
        worstSliceNarrowP99Ms:
          sliceResults.length > 1
            ? Math.max(...sliceResults.map((slice) => slice.narrowP99Ms ?? 0))
            : undefined,
      };
    });
    const samples = server.memory;
    const inRun = samples.filter((sample) => sample.atMs >= 0);
    const maxOf = (pick: (sample: MemorySample) => number | undefined): number | undefined => {
      const values = inRun.map(pick).filter((v): v is number => v !== undefined);
      return values.length === 0 ? undefined : round3(Math.max(...values));
    };
    const first = samples[0]!;
    const last = samples[samples.length - 1]!;
    return {
      subject: spec.subject,
      wide: spec.wide,
      phases: phaseResults,
      memory: {
        startRssMiB: round3(first.rssMiB),
        peakRssMiB: maxOf((s) => s.rssMiB)!,
        peakHeapUsedMiB: maxOf((s) => s.heapUsedMiB)!,
        peakExternalMiB: maxOf((s) => s.externalMiB)!,
        peakPendingMiB: maxOf((s) => s.pendingMiB),
        endRssMiB: round3(last.rssMiB),
        endPendingMiB: last.pendingMiB === undefined ? undefined : round3(last.pendingMiB),
        endConnections: last.connections,
      },
      api: server.api,
      firstLagNoticeAfterStallMs: server.firstLagNoticeAfterStallMs,
      allStalledClosedAfterStallMs: server.allStalledClosedAfterStallMs,
      stalledClients: clients.flatMap((c) => c.stalled),
      unexpectedCloses: clients.reduce((sum, c) => sum + c.unexpectedCloses, 0),
      samples,
    };
  }
}

function round3(x: number): number {
  return Math.round(x * 1_000) / 1_000;
}

const SUBJECTS: readonly Subject[] = ['mlfp', 'naive', 'ws-floor'];
/** Paced windows are also measured per second (p99 per slice), to see where a transient lands. */
const SLICE_MS = 1_000;
/** The unpaced phase's offered rate: far past any subject; the publisher drops what it cannot publish. */
const UNPACED_RATE = 1_000_000;

interface Spread {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

function spread(values: readonly (number | undefined)[]): Spread | undefined {
  const defined = values.filter((v): v is number => v !== undefined);
  if (defined.length === 0) return undefined;
  return {
    median: round3(median(defined)),
    min: round3(Math.min(...defined)),
    max: round3(Math.max(...defined)),
    runs: defined.map(round3),
  };
}

interface Options {
  repeats: number;
  rate: number;
  warmUpMs: number;
  windowMs: number;
  unpacedWarmUpMs: number;
  unpacedWindowMs: number;
  stalledWindowMs: number;
  subjects: Subject[];
  stalled: boolean;
}

/** Median (min–max) of a phase statistic over a subject's runs. */
function statOf(
  runs: readonly RunResult[],
  phase: number,
  pick: (p: PhaseResult) => number | undefined,
): Spread | undefined {
  return spread(runs.map((run) => pick(run.phases[phase]!)));
}

function fmt(value: number | undefined, digits = 2): string {
  if (value === undefined) return '—';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function fmtSpread(s: Spread | undefined, digits = 2): string {
  if (s === undefined) return '—';
  return `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      subjects: { type: 'string', default: SUBJECTS.join(',') },
      repeats: { type: 'string', default: '3' },
      rate: { type: 'string', default: '10000' },
      'warm-up-ms': { type: 'string', default: '2000' },
      'window-ms': { type: 'string', default: '4000' },
      'unpaced-warm-up-ms': { type: 'string', default: '1000' },
      'unpaced-window-ms': { type: 'string', default: '2000' },
      'stalled-window-ms': { type: 'string', default: '9000' },
      'no-stalled': { type: 'boolean', default: false },
      clients: { type: 'string', default: '1000' },
      symbols: { type: 'string', default: '1000' },
      'per-client': { type: 'string', default: '1' },
      wide: { type: 'string', default: '10' },
      'per-wide-client': { type: 'string', default: '200' },
      'client-procs': { type: 'string', default: '1' },
      api: { type: 'string', default: JSON.stringify(BENCH_API) },
      'profile-dir': { type: 'string' },
      out: { type: 'string', default: 'fanout' },
    },
  });
  const plan: FanoutPlan = {
    symbols: Number(values.symbols),
    clients: Number(values.clients),
    symbolsPerClient: Number(values['per-client']),
    wideClients: Number(values.wide),
    symbolsPerWideClient: Number(values['per-wide-client']),
  };
  const options: Options = {
    repeats: Number(values.repeats),
    rate: Number(values.rate),
    warmUpMs: Number(values['warm-up-ms']),
    windowMs: Number(values['window-ms']),
    unpacedWarmUpMs: Number(values['unpaced-warm-up-ms']),
    unpacedWindowMs: Number(values['unpaced-window-ms']),
    stalledWindowMs: Number(values['stalled-window-ms']),
    subjects: values.subjects.split(',') as Subject[],
    stalled: !values['no-stalled'],
  };
  const api = JSON.parse(values.api) as Record<string, unknown>;
  const machine = machineInfo(['ws']);
  const startedMs = Date.now();
  console.log(
    `fan-out: ${plan.clients} clients (${plan.clients - plan.wideClients} × ${plan.symbolsPerClient} symbol, ${plan.wideClients} × ${plan.symbolsPerWideClient || '*'}) of ${plan.symbols} symbols, bars.5m; ${options.rate} messages/s paced, then unpaced; ${options.repeats} repeats; load ${machine.loadAverage1m}`,
  );
  const hub = measureHub(plan);
  const bench = new Bench(
    plan,
    api,
    Number(values['client-procs']),
    values['profile-dir'] === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${values['profile-dir']}`],
  );
  await bench.ready();
  const runs: RunResult[] = [];
  for (let repeat = 0; repeat < options.repeats; repeat++) {
    for (const subject of options.subjects) {
      const run = await bench.run({
        subject,
        wide: 'reading',
        phases: [
          { rate: options.rate, warmUpMs: options.warmUpMs, windowMs: options.windowMs, sliceMs: SLICE_MS },
          { rate: UNPACED_RATE, warmUpMs: options.unpacedWarmUpMs, windowMs: options.unpacedWindowMs },
        ],
      });
      runs.push(run);
      const [paced, unpaced] = run.phases;
      console.log(
        `  ${repeat + 1}/${options.repeats} ${subject}: paced ${paced!.deliveredPerSec} deliveries/s p99 ${paced!.latencyMs.p99} ms CPU ${paced!.cpuS} s; unpaced ${unpaced!.publishedPerSec} msgs/s ${unpaced!.deliveredPerSec} deliveries/s`,
      );
    }
    if (options.stalled && options.subjects.includes('mlfp'))
      for (const wide of ['stalled', 'absent'] as const) {
        const run = await bench.run({
          subject: 'mlfp',
          wide,
          phases: [
            {
              rate: options.rate,
              warmUpMs: options.warmUpMs,
              windowMs: options.stalledWindowMs,
              sliceMs: SLICE_MS,
            },
          ],
        });
        runs.push(run);
        console.log(
          wide === 'stalled'
            ? `  ${repeat + 1}/${options.repeats} mlfp, ${plan.wideClients} stalled: healthy p99 ${run.phases[0]!.narrowLatencyMs.p99} ms, peak RSS ${fmt(run.memory.peakRssMiB, 1)} MiB, closes ${run.api?.slowConsumerCloses} after ${run.allStalledClosedAfterStallMs} ms`
            : `  ${repeat + 1}/${options.repeats} mlfp, without the ${plan.wideClients}: healthy p99 ${run.phases[0]!.narrowLatencyMs.p99} ms, peak RSS ${fmt(run.memory.peakRssMiB, 1)} MiB`,
        );
      }
  }
  await bench.close();

  const summary = summarise(runs, options, plan);
  printHub(hub);
  printTables(summary, options, plan);
  const path = writeResults(values.out, {
    benchmark: 'fanout',
    date: new Date(startedMs).toISOString(),
    durationS: Math.round((Date.now() - startedMs) / 1_000),
    definition:
      'delivery latency: publish call (the bar carries clockMs = performance.timeOrigin + performance.now()) → the client process receives the frame; deliveries counted by receive time inside each measured window; server CPU = process.cpuUsage of the server process over the window',
    plan,
    method: {
      repeats: options.repeats,
      paced: {
        rate: options.rate,
        warmUpMs: options.warmUpMs,
        windowMs: options.windowMs,
        sliceMs: SLICE_MS,
        tickMs: 1,
      },
      unpaced: {
        offeredRate: UNPACED_RATE,
        warmUpMs: options.unpacedWarmUpMs,
        windowMs: options.unpacedWindowMs,
        maxMessagesPerTurn: 200,
      },
      stalled: {
        windowMs: options.stalledWindowMs,
        stalledClients: plan.wideClients,
        stallAt: 'before the first message',
      },
      api,
      clientProcesses: Number(values['client-procs']),
    },
    summary,
    hub,
    runs: runs.map(({ samples, ...rest }) => ({
      ...rest,
      // every 500 ms of the server's memory samples (the stalled runs' curve)
      samples: rest.wide === 'reading' ? undefined : samples.filter((_, index) => index % 5 === 0),
    })),
    machine,
  });
  console.log(`\nresults: ${path}`);
}

/** The API limits of every mlfp run (the same with and without stalled clients): smaller than the defaults
 * (soft 1 MiB, hard 8 MiB, grace 5 s) so that a stalled client at 2,000 messages/s is closed within a short
 * run; the kernel's socket buffers (up to tcp_wmem's 4 MiB per socket on loopback) fill first. */
const BENCH_API = { softBytes: 262_144, hardBytes: 1_048_576, lagGraceMs: 1_000 };

interface SubjectSummary {
  paced: {
    deliveredPerSec: Spread | undefined;
    offeredDeliveriesPerSec: Spread | undefined;
    p50Ms: Spread | undefined;
    p99Ms: Spread | undefined;
    p999Ms: Spread | undefined;
    narrowP99Ms: Spread | undefined;
    worstSliceNarrowP99Ms: Spread | undefined;
    cpuS: Spread | undefined;
    cpuUsPerDelivery: Spread | undefined;
    eventLoopUtilization: Spread | undefined;
    peakRssMiB: Spread | undefined;
  };
  unpaced: {
    publishedPerSec: Spread | undefined;
    deliveredPerSec: Spread | undefined;
    deliveredOfOffered: Spread | undefined;
    cpuS: Spread | undefined;
    cpuUsPerDelivery: Spread | undefined;
    deliveriesPerCpuSecond: Spread | undefined;
    p99Ms: Spread | undefined;
  };
}

/** The healthy (narrow) clients' view of a set of runs' first phase, and the server's memory. */
function healthyStats(of: readonly RunResult[]) {
  return {
    p50Ms: spread(of.map((run) => run.phases[0]!.narrowLatencyMs.p50)),
    p99Ms: spread(of.map((run) => run.phases[0]!.narrowLatencyMs.p99)),
    /** the worst 1-s slice's p99 */
    worstSecondP99Ms: spread(of.map((run) => run.phases[0]!.worstSliceNarrowP99Ms)),
    /** per second of the window (from the run's start), median of runs */
    p99BySecondMs: of[0]?.phases[0]!.slices?.map((slice, index) => ({
      fromS: slice.fromS,
      p99Ms: spread(of.map((run) => run.phases[0]!.slices?.[index]?.narrowP99Ms))?.median,
    })),
    deliveredOfOffered: spread(
      of.map((run) => run.phases[0]!.deliveredPerSec / run.phases[0]!.offeredDeliveriesPerSec),
    ),
    cpuS: spread(of.map((run) => run.phases[0]!.cpuS)),
    peakRssMiB: spread(of.map((run) => run.memory.peakRssMiB)),
    endRssMiB: spread(of.map((run) => run.memory.endRssMiB)),
    peakHeapUsedMiB: spread(of.map((run) => run.memory.peakHeapUsedMiB)),
    peakExternalMiB: spread(of.map((run) => run.memory.peakExternalMiB)),
    peakPendingMiB: spread(of.map((run) => run.memory.peakPendingMiB)),
  };
}

type HealthyStats = ReturnType<typeof healthyStats>;

function summarise(runs: readonly RunResult[], options: Options, plan: FanoutPlan) {
  const subjects: Partial<Record<Subject, SubjectSummary>> = {};
  for (const subject of options.subjects) {
    const mine = runs.filter((run) => run.subject === subject && run.wide === 'reading');
    if (mine.length === 0) continue;
    subjects[subject] = {
      paced: {
        deliveredPerSec: statOf(mine, 0, (p) => p.deliveredPerSec),
        offeredDeliveriesPerSec: statOf(mine, 0, (p) => p.offeredDeliveriesPerSec),
        p50Ms: statOf(mine, 0, (p) => p.latencyMs.p50),
        p99Ms: statOf(mine, 0, (p) => p.latencyMs.p99),
        p999Ms: statOf(mine, 0, (p) => p.latencyMs.p999),
        narrowP99Ms: statOf(mine, 0, (p) => p.narrowLatencyMs.p99),
        worstSliceNarrowP99Ms: statOf(mine, 0, (p) => p.worstSliceNarrowP99Ms),
        cpuS: statOf(mine, 0, (p) => p.cpuS),
        cpuUsPerDelivery: statOf(mine, 0, (p) => p.cpuUsPerDelivery),
        eventLoopUtilization: statOf(mine, 0, (p) => p.eventLoopUtilization),
        peakRssMiB: spread(mine.map((run) => run.memory.peakRssMiB)),
      },
      unpaced: {
        publishedPerSec: statOf(mine, 1, (p) => p.publishedPerSec),
        deliveredPerSec: statOf(mine, 1, (p) => p.deliveredPerSec),
        deliveredOfOffered: statOf(mine, 1, (p) =>
          p.offeredDeliveriesPerSec === 0 ? undefined : p.deliveredPerSec / p.offeredDeliveriesPerSec,
        ),
        cpuS: statOf(mine, 1, (p) => p.cpuS),
        cpuUsPerDelivery: statOf(mine, 1, (p) => p.cpuUsPerDelivery),
        deliveriesPerCpuSecond: statOf(mine, 1, (p) => p.deliveriesPerCpuSecond),
        p99Ms: statOf(mine, 1, (p) => p.latencyMs.p99),
      },
    };
  }
  const ratio = (a: number | undefined, b: number | undefined): number | undefined =>
    a === undefined || b === undefined || b === 0 ? undefined : round3(a / b);
  const naive = subjects.naive;
  const mlfp = subjects.mlfp;
  const floor = subjects['ws-floor'];
  const ratios = {
    /** the target (≥ 2): max sustained deliveries/s, mlfp / naive, unpaced */
    mlfpOverNaiveThroughput: ratio(
      mlfp?.unpaced.deliveredPerSec?.median,
      naive?.unpaced.deliveredPerSec?.median,
    ),
    mlfpOverNaivePerCpuSecond: ratio(
      mlfp?.unpaced.deliveriesPerCpuSecond?.median,
      naive?.unpaced.deliveriesPerCpuSecond?.median,
    ),
    floorOverNaivePerCpuSecond: ratio(
      floor?.unpaced.deliveriesPerCpuSecond?.median,
      naive?.unpaced.deliveriesPerCpuSecond?.median,
    ),
    floorOverNaiveThroughput: ratio(
      floor?.unpaced.deliveredPerSec?.median,
      naive?.unpaced.deliveredPerSec?.median,
    ),
    /** the same from CPU cost at 10,000 messages/s: naive CPU µs per delivery / mlfp's */
    mlfpOverNaiveCpuEfficiencyPaced: ratio(
      naive?.paced.cpuUsPerDelivery?.median,
      mlfp?.paced.cpuUsPerDelivery?.median,
    ),
    floorOverNaiveCpuEfficiencyPaced: ratio(
      naive?.paced.cpuUsPerDelivery?.median,
      floor?.paced.cpuUsPerDelivery?.median,
    ),
  };
  const stalledRuns = runs.filter((run) => run.wide === 'stalled');
  const absentRuns = runs.filter((run) => run.wide === 'absent');
  const stalled =
    stalledRuns.length === 0
      ? undefined
      : {
          /** the 990 healthy clients with the 10 stalled ones connected */
          withStalled: healthyStats(stalledRuns),
          /** the same 990 clients, the 10 not connected: the "run without them" */
          without: healthyStats(absentRuns),
          /** the 10 reading like the others (the paced phase of the mlfp runs: a shorter window) */
          wideReading: healthyStats(runs.filter((run) => run.subject === 'mlfp' && run.wide === 'reading')),
          /** the target (≤ 1.2): healthy p99 with the stalled clients / without them */
          p99Ratio: ratio(
            spread(stalledRuns.map((run) => run.phases[0]!.narrowLatencyMs.p99))?.median,
            spread(absentRuns.map((run) => run.phases[0]!.narrowLatencyMs.p99))?.median,
          ),
          endPendingMiB: spread(stalledRuns.map((run) => run.memory.endPendingMiB)),
          endConnections: spread(stalledRuns.map((run) => run.memory.endConnections)),
          lagNotices: spread(stalledRuns.map((run) => run.api?.lagNotices)),
          slowConsumerCloses: spread(stalledRuns.map((run) => run.api?.slowConsumerCloses)),
          firstLagNoticeAfterStallMs: spread(stalledRuns.map((run) => run.firstLagNoticeAfterStallMs)),
          allClosedAfterStallMs: spread(stalledRuns.map((run) => run.allStalledClosedAfterStallMs)),
          stalledClientsSaw: stalledRuns.map((run) => ({
            closeCodes: [...new Set(run.stalledClients.map((c) => c.closeCode ?? null))],
            lagNoticesRead: run.stalledClients.reduce((sum, c) => sum + c.lagNotices, 0),
            framesReadAfterResume: spread(run.stalledClients.map((c) => c.framesAfterResume)),
          })),
          unexpectedCloses: stalledRuns.reduce((sum, run) => sum + run.unexpectedCloses, 0),
        };
  return {
    deliveriesPerMessage: round3(
      (plan.clients - plan.wideClients) * (plan.symbolsPerClient / plan.symbols) +
        plan.wideClients * (plan.symbolsPerWideClient === 0 ? 1 : plan.symbolsPerWideClient / plan.symbols),
    ),
    subjects,
    ratios,
    stalled,
  };
}

function printHub(hub: readonly HubCase[]): void {
  console.log('\nIn process, no sockets: userland cost of one published message (fake transports)\n');
  console.log(
    formatTable(
      ['case', 'µs per message', 'deliveries per message'],
      hub.map((c) => [
        c.name,
        `${fmt(c.usPerMessage)} (${fmt(c.min)}–${fmt(c.max)})`,
        fmt(c.deliveriesPerMessage),
      ]),
    ),
  );
}

function printTables(summary: ReturnType<typeof summarise>, options: Options, plan: FanoutPlan): void {
  const rows = (pick: (s: SubjectSummary) => string[]): string[][] =>
    options.subjects.flatMap((subject) => {
      const s = summary.subjects[subject];
      return s === undefined ? [] : [[subject, ...pick(s)]];
    });
  console.log(
    `\nPaced: ${options.rate.toLocaleString('en-US')} messages/s, ${summary.deliveriesPerMessage} deliveries per message (${plan.clients} clients), ${options.windowMs / 1_000} s window; median (min–max) of ${options.repeats}\n`,
  );
  console.log(
    formatTable(
      [
        'subject',
        'delivered/s',
        'p50 ms',
        'p99 ms',
        'p99.9 ms',
        'server CPU s',
        'CPU µs/delivery',
        'event loop busy',
        'peak RSS MiB',
      ],
      rows((s) => [
        fmt(s.paced.deliveredPerSec?.median, 0),
        fmtSpread(s.paced.p50Ms),
        fmtSpread(s.paced.p99Ms),
        fmt(s.paced.p999Ms?.median),
        fmtSpread(s.paced.cpuS),
        fmt(s.paced.cpuUsPerDelivery?.median, 1),
        fmt(s.paced.eventLoopUtilization?.median),
        fmt(s.paced.peakRssMiB?.median, 0),
      ]),
    ),
  );
  console.log(
    `\nMax sustained: unpaced publisher (${options.unpacedWindowMs / 1_000} s window; every client keeps up: delivered/offered ≈ 1)\n`,
  );
  const naive = summary.subjects.naive?.unpaced.deliveredPerSec?.median;
  console.log(
    formatTable(
      [
        'subject',
        'messages/s',
        'deliveries/s',
        '× naive',
        'delivered/offered',
        'server CPU s',
        'CPU µs/delivery',
      ],
      rows((s) => [
        fmtSpread(s.unpaced.publishedPerSec, 0),
        fmtSpread(s.unpaced.deliveredPerSec, 0),
        naive === undefined || s.unpaced.deliveredPerSec === undefined
          ? '—'
          : `${fmt(s.unpaced.deliveredPerSec.median / naive)}×`,
        fmt(s.unpaced.deliveredOfOffered?.median, 3),
        fmt(s.unpaced.cpuS?.median),
        fmt(s.unpaced.cpuUsPerDelivery?.median, 1),
      ]),
    ),
  );
  const stalled = summary.stalled;
  if (stalled === undefined) return;
  console.log(
    `\nStalled: ${plan.wideClients} of ${plan.clients} clients stop reading before the first message (mlfp, ${options.rate.toLocaleString('en-US')} messages/s, ${options.stalledWindowMs / 1_000} s window; healthy = the ${plan.clients - plan.wideClients} others)\n`,
  );
  const row = (name: string, h: HealthyStats, extra: string[]): string[] => [
    name,
    fmtSpread(h.p99Ms),
    fmt(h.worstSecondP99Ms?.median),
    fmt(h.deliveredOfOffered?.median, 3),
    fmt(h.cpuS?.median),
    fmtSpread(h.peakRssMiB, 0),
    fmt(h.endRssMiB?.median, 0),
    fmtSpread(h.peakPendingMiB, 1),
    ...extra,
  ];
  console.log(
    formatTable(
      [
        'case',
        'healthy p99 ms',
        'worst 1 s p99',
        'delivered/offered',
        'server CPU s',
        'peak RSS MiB',
        'end RSS',
        'peak in flight MiB',
        'lag notices',
        '4008 closes',
        'all closed after s',
      ],
      [
        row(`without the ${plan.wideClients}`, stalled.without, ['—', '—', '—']),
        row(`${plan.wideClients} stalled`, stalled.withStalled, [
          fmt(stalled.lagNotices?.median, 0),
          fmt(stalled.slowConsumerCloses?.median, 0),
          stalled.allClosedAfterStallMs === undefined
            ? 'not all'
            : `${fmt(stalled.allClosedAfterStallMs.median / 1_000, 1)} (${fmt(stalled.allClosedAfterStallMs.min / 1_000, 1)}–${fmt(stalled.allClosedAfterStallMs.max / 1_000, 1)})`,
        ]),
      ],
    ),
  );
  const bySecond = (h: HealthyStats): string =>
    (h.p99BySecondMs ?? []).map((slice) => `${slice.fromS}s ${fmt(slice.p99Ms)}`).join(', ');
  console.log(`\nhealthy p99 per second (median of runs; stall at −0.1 s):`);
  console.log(`  without: ${bySecond(stalled.without)}`);
  console.log(`  stalled: ${bySecond(stalled.withStalled)}`);
  console.log(
    `\nhealthy p99 with / without the stalled clients: ${fmt(stalled.p99Ratio)}× (target ≤ 1.2; with the ${plan.wideClients} reading instead: p99 ${fmt(stalled.wideReading.p99Ms?.median)} ms over the paced ${options.windowMs / 1_000} s window)`,
  );
  console.log(
    `mlfp / naive max sustained deliveries/s: ${fmt(summary.ratios.mlfpOverNaiveThroughput)}× (target ≥ 2); per server CPU second: ${fmt(summary.ratios.mlfpOverNaivePerCpuSecond)}×; ws-floor / naive: ${fmt(summary.ratios.floorOverNaiveThroughput)}× (${fmt(summary.ratios.floorOverNaivePerCpuSecond)}× per CPU second)`,
  );
}

await main();
