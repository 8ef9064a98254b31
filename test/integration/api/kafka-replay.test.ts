// The Kafka replay tier: a client resubscribing from a position the ring (api.ringSize, tiny here) no longer
// holds gets the missed messages read back from the output topic, with their original seqs and ids, then the
// ring's and the live ones: every message after its position exactly once, the same as a client that never left.

import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { runApp } from '../../../src/streams/app.js';
import { apiRunConfig, apiRunTopicNames } from './api-run.js';
import { apiUrlFrom } from '../../support/api-exerciser.js';
import {
  createTopics,
  deleteTopics,
  jsonMessages,
  makeTicks,
  produce,
  testKafka,
  uniqueName,
  waitUntil,
} from '../kafka/harness.js';

const services = inject('services');
const kafka = testKafka(services.kafkaBrokers);
const group = uniqueName('mlfp-it-replay');
const ticksTopic = `${group}.ticks`;
const actionsTopic = `${group}.actions`;
const stop = new AbortController();
let run: Promise<number> | undefined;
let log = '';

interface Frame {
  type: string;
  seq: number;
  id: string;
  epoch: string;
  data: unknown;
}

async function client(
  url: string,
): Promise<{ ws: WebSocket; frames: Frame[]; replies: Array<Record<string, unknown>> }> {
  const ws = new WebSocket(`${url.replace(/^http/u, 'ws')}v1/ws`, 'mlfp.v1');
  const frames: Frame[] = [];
  const replies: Array<Record<string, unknown>> = [];
  ws.on('message', (raw) => {
    const message = JSON.parse(raw.toString()) as Record<string, unknown>;
    if (message.type === 'data' || message.type === 'snapshot') frames.push(message as unknown as Frame);
    else if (message.success !== undefined) replies.push(message);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, frames, replies };
}

beforeAll(async () => {
  await createTopics(kafka, [
    { topic: ticksTopic, numPartitions: 2 },
    { topic: actionsTopic, numPartitions: 1 },
  ]);
});

afterAll(async () => {
  stop.abort();
  await run?.catch(() => undefined);
  await deleteTopics(kafka, apiRunTopicNames({ group, ticks: ticksTopic, actions: actionsTopic })).catch(
    () => undefined,
  );
});

describe('the Kafka replay tier', { timeout: 120_000 }, () => {
  it('replays what the ring dropped from the output topic, exactly once, as a client that never left saw it', async () => {
    const config = apiRunConfig(
      services.kafkaBrokers,
      { group, ticks: ticksTopic, actions: actionsTopic },
      { ringSize: 10 },
    );
    run = runApp(
      config,
      { stdout: () => undefined, stderr: (text) => void (log += text) },
      { stopSignal: stop.signal },
    );
    await waitUntil(() => apiUrlFrom(log) !== undefined, 30_000, 'the API');
    await waitUntil(() => /"event":"partition\.(fresh|restored)"/u.test(log), 60_000, 'partitions');
    const url = apiUrlFrom(log)!;
    const observer = await client(url);
    observer.ws.send(JSON.stringify({ id: 1, op: 'subscribe', channel: 'bars.5m', symbols: ['*'] }));
    const leaver = await client(url);
    leaver.ws.send(JSON.stringify({ id: 1, op: 'subscribe', channel: 'bars.5m', symbols: ['SYM0', 'SYM2'] }));
    await waitUntil(() => observer.replies.length === 1 && leaver.replies.length === 1, 10_000, 'acks');

    const data = makeTicks(8_000, 4, 31, 60_000);
    await produce(kafka, ticksTopic, jsonMessages(data.ticks.slice(0, 3_000)));
    await waitUntil(() => leaver.frames.length >= 20, 60_000, 'the leaver to see some bars');
    const last = leaver.frames.at(-1)!;
    leaver.ws.terminate();
    await produce(kafka, ticksTopic, jsonMessages(data.ticks.slice(3_000)));
    // wait until the stream is quiet: the observer saw everything there is
    let seen = -1;
    await waitUntil(
      () => {
        const now = observer.frames.length;
        const quiet = now === seen && now > last.seq + 100;
        seen = now;
        return quiet;
      },
      60_000,
      'the observer to see the rest',
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    const head = observer.frames.at(-1)!.seq;
    expect(head - last.seq).toBeGreaterThan(10 * 10); // far past the ring

    const back = await client(url);
    back.ws.send(
      JSON.stringify({
        id: 2,
        op: 'subscribe',
        channel: 'bars.5m',
        symbols: ['SYM0', 'SYM2'],
        since: { epoch: last.epoch, seq: last.seq },
      }),
    );
    await waitUntil(() => back.replies.length === 1, 30_000, 'the replay');
    const reply = back.replies[0]!;
    expect(reply).toMatchObject({ success: true, result: { replay: 'kafka', seq: head } });
    const expected = observer.frames.filter(
      (f) => f.seq > last.seq && ['SYM0', 'SYM2'].includes((f.data as { symbol: string }).symbol),
    );
    await waitUntil(() => back.frames.length >= expected.length, 10_000, 'every replayed frame');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(back.frames.map((f) => [f.seq, f.id])).toEqual(expected.map((f) => [f.seq, f.id]));
    expect(back.frames.map((f) => f.data)).toEqual(expected.map((f) => f.data));
    expect((reply.result as { replayed: number }).replayed).toBe(expected.length);
    observer.ws.terminate();
    back.ws.terminate();
  });
});
