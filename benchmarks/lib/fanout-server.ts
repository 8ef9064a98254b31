// One fan-out subject in its own process, so that its CPU (process.cpuUsage) and memory are its alone
// (benchmarks/fanout.bench.ts forks it, the clients run in other processes):
//   mlfp      the public API as the engine builds it (startPublicApi, auth none, loopback): SignalHub.publish
//             serialises each message once into a Buffer frame shared by every matching session;
//   naive     a plain ws server: for every message and every matching client, JSON.stringify + ws.send;
//   ws-floor  a plain ws server that serialises once and keeps a per-symbol list of clients: ws.send(buffer)
//             to exactly the readers, no session bookkeeping (the floor under any ws fan-out).
// The paced publisher runs here (same code for every subject): bars.5m bars over the plan's symbols,
// round-robin, each carrying its publish time (clockMs) in the field `publishedAtMs`.
// Talks to its parent over IPC: sends {type:'ready', url}, takes {type:'run'}, answers {type:'report'}.

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Registry } from 'prom-client';
import { WebSocketServer, type WebSocket } from 'ws';
import { startPublicApi } from '../../src/api/public-api.js';
import { apiSchema } from '../../src/config/api-schemas.js';
import type { Bar } from '../../src/domain/types.js';
import { createLogger } from '../../src/monitoring/log.js';
import { MemoryStore } from '../../src/sinks/memory/memory-store.js';
import {
  clockMs,
  readersPerSymbol,
  symbolName,
  type FanoutPlan,
  type MemorySample,
  type Phase,
  type ServerPhaseReport,
  type ServerRunCommand,
  type ServerRunReport,
  type Subject,
} from './fanout-shared.js';
import { generateBars } from './synthetic-bars.js';

const CHANNEL = 'bars.5m';
const BAR_MS = 300_000;
/** A late publisher drops its debt past this many ms of messages: at saturation it publishes what it can. */
const MAX_DEBT_MS = 20;
/** At most this many messages per event-loop turn, so that sockets' I/O runs between bursts. */
const MAX_PER_TURN = 200;
const MEMORY_SAMPLE_MS = 100;
const MiB = 2 ** 20;

export interface ServerOptions {
  subject: Subject;
  plan: FanoutPlan;
  /** mlfp only: api.* overrides (softBytes, hardBytes, lagGraceMs, …) */
  api: Record<string, unknown>;
}

interface Fanout {
  url: string;
  publish(record: Bar): void;
  /** mlfp: bytes in flight over every session and open connections, for the memory samples */
  inFlight(): { pendingBytes: number | undefined; connections: number };
  apiCounters(): Promise<ServerRunReport['api']>;
}

type BenchBar = Bar & { publishedAtMs: number };

async function startMlfp(options: ServerOptions): Promise<Fanout> {
  const config = apiSchema.parse({
    host: '127.0.0.1',
    port: 0,
    auth: { mode: 'none' },
    maxConnections: 10_000,
    ...options.api,
  });
  const registry = new Registry();
  const api = await startPublicApi({
    config,
    store: new MemoryStore(),
    registry: undefined,
    metricsRegistry: registry,
    log: createLogger({ level: 'error' }),
    now: Date.now,
  });
  // read-only look at the sessions (private to ApiServer): bytes in flight are what bounds memory
  const peers = (
    api.server as unknown as { peers: Set<{ connection: { session: { pendingBytes: number } } }> }
  ).peers;
  const counter = async (name: string): Promise<number> => {
    const metric = registry.getSingleMetric(name);
    if (metric === undefined) return 0;
    const { values } = await metric.get();
    return values.reduce((sum, value) => sum + value.value, 0);
  };
  return {
    url: `${api.url.replace(/^http/u, 'ws')}v1/ws`,
    publish: (record) => api.hub.publish(CHANNEL, record),
    inFlight: () => {
      let pendingBytes = 0;
      for (const peer of peers) pendingBytes += peer.connection.session.pendingBytes;
      return { pendingBytes, connections: peers.size };
    },
    apiCounters: async () => ({
      lagNotices: await counter('mlfp_api_lag_notices_total'),
      slowConsumerCloses: await counter('mlfp_api_slow_consumer_closes_total'),
      conflated: await counter('mlfp_api_conflated_total'),
    }),
  };
}

interface PlainClient {
  ws: WebSocket;
  /** undefined until it subscribes; an empty set never matches */
  symbols: Set<string> | undefined;
  star: boolean;
}

/** The two plain ws peers: `perClient` = naive (stringify per client), else ws-floor (once, indexed). */
async function startPlain(perClient: boolean): Promise<Fanout> {
  const http = createServer((_request, response) => response.writeHead(404).end());
  const wss = new WebSocketServer({ server: http, perMessageDeflate: false });
  const clients = new Set<PlainClient>();
  const bySymbol = new Map<string, WebSocket[]>();
  const stars: WebSocket[] = [];
  const epoch = 'plain-epoch';
  let seq = 0;
  wss.on('connection', (ws) => {
    const client: PlainClient = { ws, symbols: undefined, star: false };
    clients.add(client);
    ws.on('error', () => undefined);
    ws.on('close', () => {
      clients.delete(client);
      for (const list of [stars, ...bySymbol.values()]) {
        const at = list.indexOf(ws);
        if (at >= 0) list.splice(at, 1);
      }
    });
    ws.on('message', (data) => {
      const request = JSON.parse(data.toString()) as { id: number; op: string; symbols: string[] };
      if (request.op !== 'subscribe') return;
      client.star = request.symbols.includes('*');
      client.symbols = new Set(client.star ? [] : request.symbols);
      if (client.star) stars.push(ws);
      else
        for (const symbol of request.symbols) {
          const list = bySymbol.get(symbol) ?? [];
          list.push(ws);
          bySymbol.set(symbol, list);
        }
      ws.send(JSON.stringify({ id: request.id, op: 'subscribe', success: true }));
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const port = (http.address() as AddressInfo).port;
  const publishNaive = (record: Bar): void => {
    seq++;
    const message = {
      type: 'data',
      channel: CHANNEL,
      epoch,
      seq,
      id: `bar:${record.symbol}:${record.timeframe}:${record.ts}:${record.revision}`,
      data: record,
    };
    for (const client of clients) {
      if (client.symbols === undefined) continue;
      if (!client.star && !client.symbols.has(record.symbol)) continue;
      client.ws.send(JSON.stringify(message));
    }
  };
  const publishFloor = (record: Bar): void => {
    seq++;
    const frame = Buffer.from(
      `{"type":"data","channel":"${CHANNEL}","epoch":"${epoch}","seq":${seq},"id":"bar:${record.symbol}:${record.timeframe}:${record.ts}:${record.revision}","data":${JSON.stringify(record)}}`,
    );
    const readers = bySymbol.get(record.symbol);
    if (readers !== undefined) for (const ws of readers) ws.send(frame);
    for (const ws of stars) ws.send(frame);
  };
  return {
    url: `ws://127.0.0.1:${port}/`,
    publish: perClient ? publishNaive : publishFloor,
    inFlight: () => ({ pendingBytes: undefined, connections: clients.size }),
    apiCounters: async () => undefined,
  };
}

/** Realistic bars: the golden generator's OHLCV, one bar per symbol per round, 5-minute bar starts. */
class BarSource {
  private readonly columns = generateBars(4_096, 20240601);
  private readonly names: string[];
  private readonly readers: { narrow: Int32Array; wide: Int32Array };
  private symbol = 0;
  private round = 0;
  private readonly startTs = Date.UTC(2026, 0, 5, 14, 30);

  constructor(private readonly plan: FanoutPlan) {
    this.names = Array.from({ length: plan.symbols }, (_, i) => symbolName(i));
    this.readers = readersPerSymbol(plan);
  }

  /** Narrow clients reading the symbol the next bar is for. */
  nextNarrowReaders(): number {
    return this.readers.narrow[this.symbol]!;
  }

  /** Wide clients reading the symbol the next bar is for. */
  nextWideReaders(): number {
    return this.readers.wide[this.symbol]!;
  }

  next(): BenchBar {
    const c = this.columns;
    const row = (this.round * 7 + this.symbol) % c.length;
    const close = c.close[row]!;
    const ts = this.startTs + this.round * BAR_MS;
    const bar: BenchBar = {
      symbol: this.names[this.symbol]!,
      timeframe: '5m',
      ts,
      end: ts + BAR_MS,
      open: c.open[row]!,
      high: c.high[row]!,
      low: c.low[row]!,
      close,
      volume: c.volume[row]!,
      vwap: Math.round(((c.high[row]! + c.low[row]! + close) / 3) * 1e4) / 1e4,
      trades: 40 + (row % 97),
      revision: 0,
      publishedAtMs: clockMs(),
    };
    if (++this.symbol === this.plan.symbols) {
      this.symbol = 0;
      this.round++;
    }
    return bar;
  }
}

function runPhases(fanout: Fanout, plan: FanoutPlan, command: ServerRunCommand): Promise<ServerRunReport> {
  const source = new BarSource(plan);
  const phases = command.phases;
  const reports: ServerPhaseReport[] = [];
  const memory: MemorySample[] = [];
  const firstStartMs = phases[0]!.startMs;
  let firstLagMs: number | undefined;
  let allClosedMs: number | undefined;
  const sampleMemory = (): void => {
    const usage = process.memoryUsage();
    const flight = fanout.inFlight();
    memory.push({
      atMs: Math.round(clockMs() - firstStartMs),
      rssMiB: usage.rss / MiB,
      heapUsedMiB: usage.heapUsed / MiB,
      externalMiB: (usage.external + usage.arrayBuffers) / MiB,
      pendingMiB: flight.pendingBytes === undefined ? undefined : flight.pendingBytes / MiB,
      connections: flight.connections,
    });
    if (command.stallAtMs !== undefined && clockMs() >= command.stallAtMs)
      void fanout.apiCounters().then((counters) => {
        if (counters === undefined) return;
        const since = clockMs() - command.stallAtMs!;
        if (firstLagMs === undefined && counters.lagNotices > 0) firstLagMs = since;
        if (allClosedMs === undefined && counters.slowConsumerCloses >= plan.wideClients) allClosedMs = since;
      });
  };
  const sampler = setInterval(sampleMemory, MEMORY_SAMPLE_MS);

  return new Promise((resolve) => {
    let index = 0;
    let issued = 0; // messages due so far in this phase (published or dropped as debt)
    let inWindow = false;
    let cpuAtStart = process.cpuUsage();
    let eluAtStart = performance.eventLoopUtilization();
    let report: ServerPhaseReport = emptyReport(0);

    const finish = (): void => {
      clearInterval(sampler);
      sampleMemory();
      // a last look at the counters after the run (the stalled clients' closes)
      setTimeout(() => {
        sampleMemory();
        void fanout.apiCounters().then((api) =>
          resolve({
            type: 'report',
            phases: reports,
            memory,
            api,
            firstLagNoticeAfterStallMs: firstLagMs,
            allStalledClosedAfterStallMs: allClosedMs,
          }),
        );
      }, 300);
    };

    const tick = (): void => {
      const phase: Phase = phases[index]!;
      const now = clockMs();
      if (now >= phase.windowEndMs) {
        const cpu = process.cpuUsage(cpuAtStart);
        report.cpuUserS = cpu.user / 1e6;
        report.cpuSystemS = cpu.system / 1e6;
        report.eventLoopUtilization = performance.eventLoopUtilization(eluAtStart).utilization;
        reports.push(report);
        index++;
        issued = 0;
        inWindow = false;
        if (index === phases.length) return finish();
        setTimeout(tick, Math.max(0, phases[index]!.startMs - clockMs()));
        return;
      }
      if (!inWindow && now >= phase.windowStartMs) {
        inWindow = true;
        cpuAtStart = process.cpuUsage();
        eluAtStart = performance.eventLoopUtilization();
        report = emptyReport(phase.rate);
      }
      let due = Math.floor(((now - phase.startMs) * phase.rate) / 1_000) - issued;
      const maxDebt = Math.ceil((phase.rate * MAX_DEBT_MS) / 1_000);
      if (due > maxDebt) {
        issued += due - maxDebt;
        due = maxDebt;
      }
      const behind = due > MAX_PER_TURN;
      if (behind) due = MAX_PER_TURN;
      for (let i = 0; i < due; i++) {
        if (inWindow) {
          report.published++;
          report.expectedNarrow += source.nextNarrowReaders();
          report.expectedWide += source.nextWideReaders();
        }
        fanout.publish(source.next());
      }
      issued += due;
      if (behind) setImmediate(tick);
      else setTimeout(tick, 1);
    };
    setTimeout(tick, Math.max(0, phases[0]!.startMs - clockMs()));
  });
}

function emptyReport(rate: number): ServerPhaseReport {
  return {
    rate,
    published: 0,
    expectedNarrow: 0,
    expectedWide: 0,
    cpuUserS: 0,
    cpuSystemS: 0,
    eventLoopUtilization: 0,
  };
}

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as ServerOptions;
  const fanout =
    options.subject === 'mlfp' ? await startMlfp(options) : await startPlain(options.subject === 'naive');
  process.on('message', (message: ServerRunCommand | { type: 'exit' }) => {
    if (message.type === 'exit') process.exit(0);
    void runPhases(fanout, options.plan, message).then((report) => process.send!(report));
  });
  process.send!({ type: 'ready', url: fanout.url });
}

await main();
