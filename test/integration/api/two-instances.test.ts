// Two engine instances in one consumer group (runApp, in process), each computing only its own partitions:
// a WebSocket client on either instance sees bars of every symbol, and REST on either answers for every
// symbol, because each instance's API reads all instances' outputs back from the output topics.

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
const group = uniqueName('mlfp-it-two');
const ticksTopic = `${group}.ticks`;
const actionsTopic = `${group}.actions`;
const data = makeTicks(12_000, 8, 29, 60_000);
const stops: AbortController[] = [];
const runs: Array<Promise<number>> = [];
const logs: string[] = ['', ''];

beforeAll(async () => {
  await createTopics(kafka, [
    { topic: ticksTopic, numPartitions: 4 },
    { topic: actionsTopic, numPartitions: 1 },
  ]);
  await produce(kafka, ticksTopic, jsonMessages(data.ticks));
});

afterAll(async () => {
  for (const stop of stops) stop.abort();
  await Promise.allSettled(runs);
  await deleteTopics(kafka, apiRunTopicNames({ group, ticks: ticksTopic, actions: actionsTopic })).catch(
    () => undefined,
  );
});

describe('two instances, one consumer group', { timeout: 120_000 }, () => {
  it('a client on either instance sees every symbol', async () => {
    const config = apiRunConfig(
      services.kafkaBrokers,
      { group, ticks: ticksTopic, actions: actionsTopic },
      {},
    );
    for (const index of [0, 1]) {
      const stop = new AbortController();
      stops.push(stop);
      runs.push(
        runApp(
          config,
          { stdout: () => undefined, stderr: (text) => void (logs[index] += text) },
          { stopSignal: stop.signal },
        ),
      );
    }
    await waitUntil(() => logs.every((log) => apiUrlFrom(log) !== undefined), 30_000, 'both APIs');
    const urls = logs.map((log) => apiUrlFrom(log)!);
    // each instance owns some of the 4 partitions, not all
    await waitUntil(
      () => logs.every((log) => /"event":"partition\.(fresh|restored)"/u.test(log)),
      60_000,
      'both instances to own partitions',
    );
    for (const url of urls) {
      const ws = new WebSocket(`${url.replace(/^http/u, 'ws')}v1/ws`, 'mlfp.v1');
      const symbols = new Set<string>();
      ws.on('message', (frame) => {
        const message = JSON.parse(frame.toString()) as { type?: string; data?: { symbol?: string } };
        if ((message.type === 'data' || message.type === 'snapshot') && message.data?.symbol !== undefined)
          symbols.add(message.data.symbol);
      });
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      // since a foreign position: the latest value of every symbol first (snapshot tier), then live bars
      ws.send(
        JSON.stringify({
          id: 1,
          op: 'subscribe',
          channel: 'bars.5m',
          symbols: ['*'],
          since: { epoch: 'before', seq: 0 },
        }),
      );
      await waitUntil(() => symbols.size === data.symbols.length, 60_000, `every symbol on ${url}`);
      expect([...symbols].sort()).toEqual([...data.symbols].sort());
      ws.terminate();
      for (const symbol of data.symbols) {
        const response = await fetch(`${url}v1/latest/bars?symbol=${symbol}&timeframe=5m`);
        expect(response.status, `${url} ${symbol}`).toBe(200);
      }
    }
    // and neither instance owns every partition (the first to join may hold all four until the second one's
    // join rebalances them: ownership is what the assignments and revocations leave)
    const owned = logs.map((log) => {
      const partitions = new Set<string>();
      for (const m of log.matchAll(/"partition":(\d+),"event":"partition\.(fresh|restored|revoked)"/gu))
        if (m[2] === 'revoked') partitions.delete(m[1]!);
        else partitions.add(m[1]!);
      return partitions;
    });
    expect(owned.map((partitions) => partitions.size).sort()).toEqual([2, 2]);
  });
});
