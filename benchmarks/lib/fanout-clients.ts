// A slice of the fan-out benchmark's WebSocket clients, in their own process (benchmarks/fanout.bench.ts forks
// one or more): real `ws` clients that connect, subscribe to bars.5m (their plan's symbols, or '*'), and for
// every data frame take the publish time the frame carries (`publishedAtMs`, the last field) from the raw
// bytes, without parsing the JSON: latency = receive time − publish time, one clock (clockMs) in both
// processes. Deliveries are counted by receive time within each phase's window, per group (narrow, wide).
// In the stalled case the wide clients pause their socket at stallAtMs (stop reading: the kernel buffers
// fill, the server must hold or drop what follows) and read again only after the run, to see what came.
// IPC: {type:'connect'} → {type:'connected'}; {type:'measure'} → {type:'measured'}; {type:'disconnect'} →
// {type:'disconnected'}.

import WebSocket from 'ws';
import {
  clientSymbols,
  clockMs,
  HISTOGRAM_BUCKETS,
  histogramBucket,
  isWide,
  sparseHistogram,
  STAMP_FIELD,
  symbolName,
  type ClientPhaseReport,
  type ClientsRunReport,
  type FanoutPlan,
  type Phase,
  type Subject,
} from './fanout-shared.js';

const CONNECT_CONCURRENCY = 100;
const STAMP = Buffer.from(`"${STAMP_FIELD}":`);
const LAG = Buffer.from('"type":"lag"');
const RESUME_WAIT_MS = 1_000;

interface ConnectCommand {
  type: 'connect';
  url: string;
  subject: Subject;
  plan: FanoutPlan;
  clients: number[];
}

interface MeasureCommand {
  type: 'measure';
  phases: Phase[];
  stallAtMs: number | undefined;
}

interface Client {
  index: number;
  ws: WebSocket;
  wide: boolean;
  stalled: boolean;
  lagNotices: number;
  /** data frames a stalled client read once it read again */
  framesAfterResume: number;
  closeCode: number | undefined;
  closedAtMs: number | undefined;
}

interface PhaseCounts {
  narrowCount: number;
  wideCount: number;
  narrow: Uint32Array;
  wide: Uint32Array;
}

let clients: Client[] = [];
let phases: Phase[] = [];
let counts: PhaseCounts[] = [];
let phaseIndex = 0;
let measuring = false;
let unexpectedCloses = 0;

/** The number after `"publishedAtMs":` (plain decimal, as JSON.stringify writes a clockMs value). */
function readStamp(data: Buffer, at: number): number {
  let i = at + STAMP.length;
  let value = 0;
  while (i < data.length) {
    const c = data[i]!;
    if (c < 48 || c > 57) break;
    value = value * 10 + (c - 48);
    i++;
  }
  if (data[i] === 46) {
    let scale = 0.1;
    i++;
    while (i < data.length) {
      const c = data[i]!;
      if (c < 48 || c > 57) break;
      value += (c - 48) * scale;
      scale /= 10;
      i++;
    }
  }
  return value;
}

function onData(client: Client, data: Buffer): void {
  const now = clockMs();
  const at = data.lastIndexOf(STAMP);
  if (at < 0) {
    if (data.indexOf(LAG) >= 0) client.lagNotices++;
    return;
  }
  if (client.stalled) client.framesAfterResume++;
  if (!measuring) return;
  while (phaseIndex < phases.length && now >= phases[phaseIndex]!.windowEndMs) phaseIndex++;
  const phase = phases[phaseIndex];
  if (phase === undefined || now < phase.windowStartMs) return;
  const bucket = histogramBucket(now - readStamp(data, at));
  const phaseCounts = counts[phaseIndex]!;
  if (client.wide) {
    phaseCounts.wideCount++;
    phaseCounts.wide[bucket]!++;
  } else {
    phaseCounts.narrowCount++;
    phaseCounts.narrow[bucket]!++;
  }
}

function connectOne(command: ConnectCommand, index: number): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws =
      command.subject === 'mlfp'
        ? new WebSocket(command.url, 'mlfp.v1', { perMessageDeflate: false })
        : new WebSocket(command.url, { perMessageDeflate: false });
    const symbols = clientSymbols(command.plan, index);
    const client: Client = {
      index,
      ws,
      wide: isWide(command.plan, index),
      stalled: false,
      lagNotices: 0,
      framesAfterResume: 0,
      closeCode: undefined,
      closedAtMs: undefined,
    };
    let subscribed = false;
    ws.on('error', (error) => {
      if (!subscribed) reject(error);
    });
    ws.on('close', (code) => {
      client.closeCode = code;
      client.closedAtMs = clockMs();
      if (subscribed && !client.stalled && measuring) unexpectedCloses++;
    });
    ws.on('open', () =>
      ws.send(
        JSON.stringify({
          id: 1,
          op: 'subscribe',
          channel: 'bars.5m',
          symbols: symbols === undefined ? ['*'] : symbols.map(symbolName),
        }),
      ),
    );
    const onReply = (data: Buffer): void => {
      const reply = JSON.parse(data.toString()) as { id?: number; success?: boolean };
      if (reply.id !== 1) return;
      if (reply.success !== true) return reject(new Error(`subscribe refused: ${data.toString()}`));
      subscribed = true;
      ws.off('message', onReply);
      ws.on('message', (frame: Buffer) => onData(client, frame));
      resolve(client);
    };
    ws.on('message', onReply);
  });
}

async function connect(command: ConnectCommand): Promise<void> {
  clients = [];
  unexpectedCloses = 0;
  for (let from = 0; from < command.clients.length; from += CONNECT_CONCURRENCY)
    clients.push(
      ...(await Promise.all(
        command.clients.slice(from, from + CONNECT_CONCURRENCY).map((index) => connectOne(command, index)),
      )),
    );
}

async function measure(command: MeasureCommand): Promise<ClientsRunReport> {
  phases = command.phases;
  phaseIndex = 0;
  counts = phases.map(() => ({
    narrowCount: 0,
    wideCount: 0,
    narrow: new Uint32Array(HISTOGRAM_BUCKETS),
    wide: new Uint32Array(HISTOGRAM_BUCKETS),
  }));
  measuring = true;
  const stallAtMs = command.stallAtMs;
  const stalled = stallAtMs === undefined ? [] : clients.filter((client) => client.wide);
  if (stallAtMs !== undefined)
    setTimeout(
      () => {
        for (const client of stalled) {
          client.stalled = true;
          (client.ws as unknown as { _socket: { pause(): void } })._socket.pause();
        }
      },
      Math.max(0, stallAtMs - clockMs()),
    );
  const endMs = phases[phases.length - 1]!.windowEndMs;
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, endMs - clockMs()) + 50));
  measuring = false;
  // the stalled clients read again: what did the server leave them (a lag notice, a close code)?
  for (const client of stalled) (client.ws as unknown as { _socket: { resume(): void } })._socket.resume();
  if (stalled.length > 0) await new Promise((resolve) => setTimeout(resolve, RESUME_WAIT_MS));
  const phaseReports: ClientPhaseReport[] = counts.map((c) => ({
    narrow: { count: c.narrowCount, histogram: sparseHistogram(c.narrow) },
    wide: { count: c.wideCount, histogram: sparseHistogram(c.wide) },
  }));
  return {
    type: 'measured',
    phases: phaseReports,
    stalled: stalled.map((client) => ({
      closeCode: client.closeCode,
      lagNotices: client.lagNotices,
      framesAfterResume: client.framesAfterResume,
      closedAfterStallMs: client.closedAtMs === undefined ? undefined : client.closedAtMs - stallAtMs!,
    })),
    unexpectedCloses,
  };
}

async function disconnect(): Promise<void> {
  const closing = clients.map(
    (client) =>
      new Promise<void>((resolve) => {
        if (client.ws.readyState === WebSocket.CLOSED) return resolve();
        client.ws.once('close', () => resolve());
        client.ws.terminate();
      }),
  );
  await Promise.all(closing);
  clients = [];
}

process.on('message', (message: ConnectCommand | MeasureCommand | { type: 'disconnect' | 'exit' }) => {
  if (message.type === 'connect')
    connect(message).then(
      () => process.send!({ type: 'connected', clients: clients.length }),
      (error: Error) => process.send!({ type: 'error', message: error.message }),
    );
  else if (message.type === 'measure') void measure(message).then((report) => process.send!(report));
  else if (message.type === 'disconnect')
    void disconnect().then(() => process.send!({ type: 'disconnected' }));
  else process.exit(0);
});
process.send!({ type: 'ready' });
