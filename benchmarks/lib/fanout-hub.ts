// The fan-out benchmark's in-process section: the userland cost of one published message with no sockets,
// so the socket writes (the same for every subject) do not hide it. SignalHub.publish with the plan's
// 1,000 sessions behind fake transports (each send completes at once), beside the same hub with no
// subscriber (serialise + ring only), the naive loop (every client's filter, JSON.stringify per match)
// and a per-symbol index (one lookup, serialise once).

import { SignalHub } from '../../src/api/hub.js';
import { Session, type Transport } from '../../src/api/session.js';
import { FEATURE_COLUMNS, type Bar } from '../../src/domain/types.js';
import { clientSymbols, symbolName, type FanoutPlan } from './fanout-shared.js';
import { measureThroughput } from './measure.js';

export interface HubCase {
  name: string;
  /** µs per published message, median (min–max) of the timed runs */
  usPerMessage: number;
  min: number;
  max: number;
  /** deliveries (sends) per message, to check every case did the same work */
  deliveriesPerMessage: number;
}

function bars(plan: FanoutPlan, count: number): Bar[] {
  return Array.from({ length: count }, (_, i) => ({
    symbol: symbolName(i % plan.symbols),
    timeframe: '5m' as const,
    ts: Date.UTC(2026, 0, 5) + Math.floor(i / plan.symbols) * 300_000,
    end: Date.UTC(2026, 0, 5) + (Math.floor(i / plan.symbols) + 1) * 300_000,
    open: 100.1234 + (i % 13),
    high: 101.2345 + (i % 13),
    low: 99.8765 + (i % 13),
    close: 100.5432 + (i % 13),
    volume: 12_345.6789 + i,
    vwap: 100.4321 + (i % 13),
    trades: 40 + (i % 97),
    revision: 0,
  }));
}

export function measureHub(plan: FanoutPlan, messagesPerRun = 20_000, runs = 5): HubCase[] {
  const records = bars(plan, messagesPerRun);
  const cases: HubCase[] = [];
  let sends = 0;
  const time = (name: string, publish: (record: Bar) => void): void => {
    sends = 0;
    const result = measureThroughput(
      () => {
        for (const record of records) publish(record);
        return sends;
      },
      messagesPerRun,
      { warmUpRuns: 1, runs },
    );
    cases.push({
      name,
      usPerMessage: 1 / result.mUpdatesPerSec,
      min: 1 / result.max,
      max: 1 / result.min,
      deliveriesPerMessage: sends / (messagesPerRun * (runs + 1)),
    });
  };

  const transport: Transport = {
    send: (_data, done) => {
      sends++;
      done();
    },
    close: () => undefined,
    terminate: () => undefined,
  };
  const limits = {
    softBytes: 1_048_576,
    hardBytes: 8_388_608,
    lagGraceMs: 5_000,
    maxSubscriptions: 8,
    controlPerSecond: 20,
  };
  const events = {
    conflated: () => undefined,
    lagged: () => undefined,
    slowConsumerClosed: () => undefined,
  };
  const hub = (subscribe: boolean): SignalHub => {
    const signalHub = new SignalHub({ ringSize: 10_000, columns: FEATURE_COLUMNS });
    if (subscribe)
      for (let client = 0; client < plan.clients; client++) {
        const symbols = clientSymbols(plan, client);
        const session = new Session(transport, limits, events, Date.now);
        signalHub.subscribe(
          session,
          {
            channel: 'bars.5m',
            symbols: symbols === undefined ? undefined : new Set(symbols.map(symbolName)),
            model: undefined,
            lastSeq: 0,
          },
          undefined,
          () => undefined,
        );
      }
    return signalHub;
  };
  const subscribed = hub(true);
  time(`mlfp SignalHub.publish, ${plan.clients} sessions`, (record) => subscribed.publish('bars.5m', record));
  const alone = hub(false);
  time('mlfp SignalHub.publish, no session (serialise + ring)', (record) => alone.publish('bars.5m', record));

  const clients = Array.from({ length: plan.clients }, (_, client) => {
    const symbols = clientSymbols(plan, client);
    return { star: symbols === undefined, symbols: new Set((symbols ?? []).map(symbolName)) };
  });
  let seq = 0;
  time(`naive loop, ${plan.clients} clients (filter, stringify per match)`, (record) => {
    seq++;
    const message = {
      type: 'data',
      channel: 'bars.5m',
      epoch: 'plain-epoch',
      seq,
      id: `bar:${record.symbol}`,
      data: record,
    };
    for (const client of clients)
      if (client.star || client.symbols.has(record.symbol)) {
        sends++;
        if (JSON.stringify(message).length === 0) sends--;
      }
  });
  const bySymbol = new Map<string, number[]>();
  const stars: number[] = [];
  clients.forEach((client, index) => {
    if (client.star) stars.push(index);
    for (const symbol of client.symbols) bySymbol.set(symbol, [...(bySymbol.get(symbol) ?? []), index]);
  });
  const sent = new Uint32Array(plan.clients);
  time('per-symbol index, serialise once (the ws-floor)', (record) => {
    seq++;
    const frame = Buffer.from(
      `{"type":"data","channel":"bars.5m","epoch":"plain-epoch","seq":${seq},"id":"bar:${record.symbol}","data":${JSON.stringify(record)}}`,
    );
    for (const index of bySymbol.get(record.symbol) ?? []) {
      sends++;
      sent[index]! += frame.length;
    }
    for (const index of stars) {
      sends++;
      sent[index]! += frame.length;
    }
  });
  return cases;
}
