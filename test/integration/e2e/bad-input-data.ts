// The data of the bad-input end-to-end test (e2e-bad-input.test.ts): clean ticks with overnight and weekend
// gaps, the bad records interleaved into them, and where the production is split (see buildInput).
import { Partitioners, type Message } from 'kafkajs';
import { DAY_MS, formatTime, HOUR_MS } from '../../../src/domain/time.js';
import { sentinels, sessionTicks, tickJson, type DatasetTick, type MalformedMessage } from './dataset.js';

export const PARTITIONS = 4;
export const LATE_BURST = 150; // 15 % of a 1,000-record window (or ≥ 7.5 % of each of two): over the 5 % bound

/** The clean ticks: one-hour sessions a day (23 h overnight gaps), and every session from day 8 on two days later (a weekend gap). */
export function cleanTicks(): { ticks: DatasetTick[]; symbols: readonly string[]; weekendMs: number } {
  const data = sessionTicks({ count: 40_000, symbols: 12, seed: 16_016, days: 16 });
  const weekendMs = data.ticks[0]!.ts + 8 * DAY_MS - HOUR_MS;
  const ticks = data.ticks.map((tick) => {
    if (tick.ts < weekendMs) return tick;
    const ts = tick.ts + 2 * DAY_MS;
    return { ...tick, ts, tsText: tick.isoTs ? formatTime(ts) : String(ts) };
  });
  return { ticks, symbols: data.symbols, weekendMs };
}

export const data = cleanTicks();
export const sentinel = sentinels(data.ticks, PARTITIONS);

export interface BadRecord extends MalformedMessage {
  what: string;
}

/** The bad records to insert before clean tick `index` (whose time is "now" in its stream). */
function badRecordsAt(index: number, tick: DatasetTick): BadRecord[] {
  const s = tick.symbol;
  const t = tick.ts;
  const json = (text: string) => Buffer.from(text);
  const valid = (
    symbol: string,
    ts: number | string,
    price: number | string = tick.price,
    size: number | string = 5,
  ) =>
    `{"symbol":"${symbol}","ts":${typeof ts === 'number' ? ts : `"${ts}"`},"price":${price},"size":${size}}`;
  const other = data.symbols[(data.symbols.indexOf(s) + 5) % data.symbols.length]!;
  switch (index % 5_000) {
    case 1_000:
      return [
        { what: '+1 h', key: s, value: json(valid(s, t + HOUR_MS, tick.price * 1.5)), reason: 'future_time' },
        {
          what: '+1 d',
          key: other,
          value: json(valid(other, formatTime(t + DAY_MS))),
          reason: 'future_time',
        },
      ];
    case 2_000:
      return [
        { what: '+10 y', key: s, value: json(valid(s, t + 3_652 * DAY_MS, 1)), reason: 'future_time' },
        {
          what: 'ts twice, the last an hour later',
          key: s,
          value: json(
            `{"symbol":"${s}","ts":"${formatTime(t)}","price":${tick.price},"size":5,"ts":"${formatTime(t + HOUR_MS)}"}`,
          ),
          reason: 'duplicate_member',
        },
      ];
    case 3_000:
      return [
        { what: 'other key', key: 'other_key', value: json(valid(s, t)), reason: 'key_mismatch' },
        { what: 'lower-case key', key: s.toLowerCase(), value: json(valid(s, t)), reason: 'key_mismatch' },
        { what: 'padded key', key: ` ${s}`, value: json(valid(s, t)), reason: 'key_mismatch' },
      ];
    case 9_500 - 5_000:
      // a null key goes to any partition: kept away from the late burst's partition count (see buildInput)
      return index % 10_000 === 9_500 && index > data.ticks.length / 2 + 6_000
        ? [{ what: 'null key', key: null, value: json(valid(s, t)), reason: 'key_mismatch' }]
        : [];
    case 4_000:
      return [
        {
          what: 'price as string',
          key: s,
          value: json(valid(s, t, `"${tick.price}"`)),
          reason: 'wrong_type',
        },
        {
          what: 'size as string',
          key: s,
          value: json(valid(s, t, tick.price, '"100"')),
          reason: 'wrong_type',
        },
      ];
    default:
      return [];
  }
}

export interface Input {
  /** produced first: up to and with the late burst, and just enough of its partition to close its window */
  first: Message[];
  /** produced once /readyz has said degraded */
  rest: Message[];
  bad: BadRecord[];
}

/** The partition kafkajs's default partitioner gives a key (as produceInOrder produces). */
export function partitionOf(key: string, topic: string): number {
  const partitioner = Partitioners.DefaultPartitioner();
  const metadata = Array.from({ length: PARTITIONS }, (_, partitionId) => ({
    partitionId,
    leader: 0,
    partitionErrorCode: 0,
    replicas: [0],
    isr: [0],
  }));
  return partitioner({ topic, partitionMetadata: metadata, message: { key, value: null } });
}

/**
 * All messages, split right after the record of the late burst's partition that closes the data-quality window
 * (1,000 records from the partition's start) holding most of the burst: that window fires, the next one cannot
 * close before the rest is produced, so the engine sits degraded until then. Null keys (any partition) come
 * only after the split, so the partition's count up to it is exact.
 */
export function buildInput(topic: string): Input {
  const messages: Message[] = [];
  const bad: BadRecord[] = [];
  const burstAt = Math.floor(data.ticks.length / 2) + 17;
  const latePartition = partitionOf(data.ticks[burstAt]!.symbol, topic);
  let split: number | undefined;
  let splitAtCount = Number.POSITIVE_INFINITY;
  let lateCount = 0; // records of the late partition so far
  const push = (message: Message): void => {
    messages.push(message);
    if (split !== undefined) return;
    if (message.key === null || message.key === undefined) throw new Error('a null key before the split');
    if (partitionOf(String(message.key), topic) === latePartition && ++lateCount === splitAtCount)
      split = messages.length;
  };
  for (const [index, tick] of data.ticks.entries()) {
    for (const record of badRecordsAt(index, tick)) {
      bad.push(record);
      push({ key: record.key, value: record.value });
    }
    if (index === burstAt) {
      // ten minutes behind: their 5m bars closed long ago (late), all in the late symbol's partition
      // the window holding most of the burst's records [lateCount, lateCount + LATE_BURST)
      const middle = lateCount + LATE_BURST / 2;
      splitAtCount = (Math.floor(middle / 1_000) + 1) * 1_000;
      for (let copy = 0; copy < LATE_BURST; copy++) {
        const ts = tick.ts - 10 * 60_000 - copy;
        const value = Buffer.from(tickJson({ ...tick, ts, tsText: String(ts), isoTs: false }));
        bad.push({ what: 'late burst', key: tick.symbol, value, reason: 'late' });
        push({ key: tick.symbol, value });
      }
    }
    push({ key: tick.symbol, value: tickJson(tick) });
  }
  for (const tick of sentinel.ticks)
    messages.push({ key: tick.symbol, value: tickJson(tick), partition: tick.partition });
  if (split === undefined) throw new Error('the late burst has no full window after it');
  return { first: messages.slice(0, split), rest: messages.slice(split), bad };
}
