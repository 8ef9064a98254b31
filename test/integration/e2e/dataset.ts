// The end-to-end data set: seeded ticks over many symbols and ~80 trading days (a one-hour session a day, so
// 5m, 1h and 1d bars all get past every indicator's warm-up without millions of 5m bars), the same ticks as
// a CSV for the batch CLI, malformed messages with the reason each must be dead-lettered with, and
// three sentinel ticks per partition far in the future that close every real bar (the sentinels' own bars stay
// open, so they never reach an output).
import { writeFile } from 'node:fs/promises';
import type { Message } from 'kafkajs';
import { TickGenerator } from '../../../benchmarks/lib/tick-generator.js';
import { DAY_MS, formatTime } from '../../../src/domain/time.js';
import type { ErrorCode } from '../../../src/errors.js';

/** Event time of the first session (a Tuesday) and the session inside each UTC day: 14:30 to 15:30. */
const FIRST_DAY_MS = Date.UTC(2024, 0, 2);
const SESSION_OPEN_MS = (14 * 60 + 30) * 60_000;
const SESSION_MS = 3_600_000;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

export interface DatasetTick {
  symbol: string;
  ts: number;
  price: number;
  size: number;
  /** ts as written (epoch ms digits, or an ISO-8601 string for some ticks) and price as written (a JSON number) */
  tsText: string;
  priceText: string;
  isoTs: boolean;
}

export interface MalformedMessage {
  key: string | null;
  value: Buffer | null;
  reason: ErrorCode;
}

export interface TickOptions {
  count: number;
  symbols: number;
  seed: number;
  /** trading sessions the ticks span (about) */
  days: number;
}

/**
 * `count` ticks in event-time order (so in order per symbol and per partition: nothing is late), in a
 * one-hour session a day. Some ticks carry an ISO-8601 ts, which the engine and the CLI must read as the
 * same time. Numbers are always JSON numbers: a number as a string is wrong_type by default
 * (validation.numbersAsStrings), so those are among the malformed messages.
 */
export function sessionTicks(options: TickOptions): { ticks: DatasetTick[]; symbols: readonly string[] } {
  const perSymbol = options.count / options.symbols;
  const generator = new TickGenerator({
    symbols: options.symbols,
    seed: options.seed,
    startMs: 0,
    meanGapMs: Math.max(1, Math.round((options.days * SESSION_MS) / perSymbol)),
  });
  const ticks: DatasetTick[] = [];
  for (let index = 0; index < options.count; index++) {
    const raw = generator.next();
    // market time (sessions back to back) -> calendar time (one session a day)
    const ts =
      FIRST_DAY_MS + Math.floor(raw.ts / SESSION_MS) * DAY_MS + SESSION_OPEN_MS + (raw.ts % SESSION_MS);
    const isoTs = index % 5 === 0;
    ticks.push({
      symbol: raw.symbol,
      ts,
      price: raw.price,
      size: raw.size,
      tsText: isoTs ? formatTime(ts) : String(ts),
      priceText: String(raw.price),
      isoTs,
    });
  }
  return { ticks, symbols: generator.symbolNames };
}

export function tickJson(tick: DatasetTick): string {
  const ts = tick.isoTs ? `"${tick.tsText}"` : tick.tsText;
  return `{"symbol":"${tick.symbol}","ts":${ts},"price":${tick.priceText},"size":${tick.size}}`;
}

export async function writeTicksCsv(path: string, ticks: readonly DatasetTick[]): Promise<void> {
  const lines = ['symbol,ts,price,size'];
  for (const tick of ticks) lines.push(`${tick.symbol},${tick.tsText},${tick.priceText},${tick.size}`);
  await writeFile(path, lines.join('\n') + '\n');
}

/**
 * Three sentinels per partition (three symbols, produced to that partition), far enough ahead to close every
 * daily bar. Three, of different symbols: the engine's event-time guard holds a tick far ahead of its stream
 * until ticks of another symbol confirm its time (bars.futureTime.confirmTicks = 3), so one would close nothing.
 */
export function sentinels(
  ticks: readonly DatasetTick[],
  partitions: number,
): { sentinelMs: number; symbols: string[]; ticks: Array<DatasetTick & { partition: number }> } {
  const lastMs = ticks.reduce((max, tick) => Math.max(max, tick.ts), 0);
  const sentinelMs = (Math.floor(lastMs / DAY_MS) + 10) * DAY_MS + SESSION_OPEN_MS;
  const list = Array.from({ length: partitions }, (_, partition) =>
    ['A', 'B', 'C'].map((suffix) => ({
      symbol: `ZZSENTINEL${partition}${suffix}`,
      ts: sentinelMs,
      price: 100,
      size: 1,
      tsText: String(sentinelMs),
      priceText: '100',
      isoTs: false,
      partition,
    })),
  ).flat();
  return { sentinelMs, symbols: list.map((tick) => tick.symbol), ticks: list };
}

/** Spreads `extra` evenly through `main` (both keep their own order). */
export function interleave<T>(main: readonly T[], extra: readonly T[]): T[] {
  const out: T[] = [];
  const every = extra.length === 0 ? Infinity : main.length / extra.length;
  let next = 0;
  for (let index = 0; index < main.length; index++) {
    while (next < extra.length && next * every <= index) out.push(extra[next++]!);
    out.push(main[index]!);
  }
  while (next < extra.length) out.push(extra[next++]!);
  return out;
}

/**
 * `count` malformed JSON messages, cycling through every kind of damage the engine must survive, each with
 * the reason code it must be dead-lettered with. `maxMessageBytes` is the engine's limit (too_large above it).
 * Payloads that would otherwise be valid ticks carry a real symbol and a plausible ts, so a validator that
 * let them through would change a bar.
 */
export function malformedJson(
  count: number,
  symbols: readonly string[],
  sampleTs: number,
  maxMessageBytes: number,
): MalformedMessage[] {
  const deepArray = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;
  const deepObject = (depth: number): string => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
  type Kind = (symbol: string, index: number) => { value: Buffer | null; reason: ErrorCode };
  const text = (value: string, reason: ErrorCode) => ({ value: Buffer.from(value), reason });
  const kinds: Kind[] = [
    // not JSON
    (s) => text(`{"symbol":"${s}","ts":${sampleTs},"price":1.5,`, 'bad_json'),
    (s) => text(`{"symbol":"${s}","ts":${sampleTs},"price":NaN,"size":1}`, 'bad_json'),
    (s) => text(`{'symbol':'${s}'}`, 'bad_json'),
    () => text('', 'bad_json'),
    // not UTF-8: a broken two-byte sequence, an overlong '/', an encoded surrogate
    (s, i) => ({
      value: Buffer.concat([
        Buffer.from(`{"symbol":"${s}","n":${i},"x":"`),
        Buffer.from([0xc3, 0x28]),
        Buffer.from('"}'),
      ]),
      reason: 'bad_encoding',
    }),
    (s) => ({
      value: Buffer.concat([
        Buffer.from(`{"symbol":"${s}","x":"`),
        Buffer.from([0xc0, 0xaf]),
        Buffer.from('"}'),
      ]),
      reason: 'bad_encoding',
    }),
    (s) => ({
      value: Buffer.concat([
        Buffer.from(`{"symbol":"${s}","x":"`),
        Buffer.from([0xed, 0xa0, 0x80]),
        Buffer.from('"}'),
      ]),
      reason: 'bad_encoding',
    }),
    // wrong types
    (_, i) => text(`{"symbol":${i},"ts":${sampleTs},"price":1.5,"size":1}`, 'wrong_type'),
    (s) => text(`{"symbol":"${s}","ts":${sampleTs},"price":{"value":1.5},"size":1}`, 'wrong_type'),
    (s) => text(`{"symbol":"${s}","ts":${sampleTs},"price":true,"size":1}`, 'wrong_type'),
    (s, i) => text(`["${s}",${sampleTs},1.5,${i}]`, 'wrong_type'),
    (_, i) => text(`${i}`, 'wrong_type'),
    () => text('"a string"', 'wrong_type'),
    () => text('null', 'wrong_type'),
    // numbers as strings (validation.numbersAsStrings false): wrong_type before being read, "NaN" included
    (s) => text(`{"symbol":"${s}","ts":${sampleTs},"price":"170.5","size":1}`, 'wrong_type'),
    (s) => text(`{"symbol":"${s}","ts":${sampleTs},"price":1.5,"size":"100"}`, 'wrong_type'),
    (s) => text(`{"symbol":"${s}","ts":"${sampleTs}","price":1.5,"size":1}`, 'wrong_type'),
    (s) =>
      text(`{"symbol":"${s}","ts":${sampleTs},"price":1.5,"size":1,"bid":"1.4","ask":1.6}`, 'wrong_type'),
    (s, i) => text(`{"symbol":"${s}","ts":${sampleTs},"price":1.5,"size":1,"seq":"${i}"}`, 'wrong_type'),
    (s) => text(`{"symbol":"${s}","ts":${sampleTs},"price":"0x1f","size":1}`, 'wrong_type'),
    (s) => text(`{"symbol":"${s}","ts":${sampleTs},"price":1.5,"size":"ten"}`, 'wrong_type'),
    (s) => text(`{"symbol":"${s}","ts":${sampleTs},"price":"NaN","size":1}`, 'wrong_type'),
    (s) => text(`{"symbol":"${s}","ts":${sampleTs},"price":1.5,"size":"-Infinity"}`, 'wrong_type'),
    // not finite
    (s) => text(`{"symbol":"${s}","ts":${sampleTs},"price":1e999,"size":1}`, 'not_finite'),
    (s) => text(`{"symbol":"${s}","ts":${sampleTs},"price":1.5,"size":-1e999}`, 'not_finite'),
    // duplicate member: JSON.parse would keep the later ts (RFC 7493)
    (s) =>
      text(
        `{"symbol":"${s}","ts":${sampleTs},"price":1.5,"size":1,"ts":${sampleTs + 3_600_000}}`,
        'duplicate_member',
      ),
    // a UTF-8 byte-order mark before an otherwise valid tick (RFC 8259 §8.1), with and without a space after it
    (s) => ({
      value: Buffer.concat([BOM, Buffer.from(`{"symbol":"${s}","ts":${sampleTs},"price":1.5,"size":1}`)]),
      reason: 'bad_encoding',
    }),
    (s) => ({
      value: Buffer.concat([BOM, Buffer.from(` {"symbol":"${s}","ts":${sampleTs},"price":1.5,"size":1}`)]),
      reason: 'bad_encoding',
    }),
    // out of range
    (s, i) =>
      text(`{"symbol":"${s}","ts":${sampleTs},"price":-${(i % 90) + 1}.25,"size":1}`, 'non_positive_price'),
    (s) => text(`{"symbol":"${s}","ts":${sampleTs},"price":0,"size":1}`, 'non_positive_price'),
    (s) => text(`{"symbol":"${s}","ts":${sampleTs},"price":1.5,"size":-3}`, 'negative_size'),
    (s) => text(`{"symbol":"${s}","ts":${sampleTs},"price":1.5,"size":1,"bid":2,"ask":1}`, 'crossed_quote'),
    // missing, bad symbol, bad time
    (s) => text(`{"symbol":"${s}","price":1.5,"size":1}`, 'missing_field'),
    (s) => text(`{"symbol":"${s}","ts":${sampleTs},"price":null,"size":1}`, 'missing_field'),
    () => text(`{"symbol":"","ts":${sampleTs},"price":1.5,"size":1}`, 'missing_field'),
    (s) => text(`{"symbol":"${s.toLowerCase()}","ts":${sampleTs},"price":1.5,"size":1}`, 'bad_symbol'),
    () => text(`{"symbol":"${'A'.repeat(40)}","ts":${sampleTs},"price":1.5,"size":1}`, 'bad_symbol'),
    (s) => text(`{"symbol":"${s}","ts":"yesterday","price":1.5,"size":1}`, 'bad_time'),
    (s) => text(`{"symbol":"${s}","ts":1e20,"price":1.5,"size":1}`, 'bad_time'),
    (s) => text(`{"symbol":"${s}","ts":"2301-01-01T00:00:00Z","price":1.5,"size":1}`, 'bad_time'),
    // prototype pollution: inert (own properties only), and each lacks one real field
    (s, i) =>
      text(
        `{"__proto__":{"polluted":${i},"price":5,"size":1},"symbol":"${s}","ts":${sampleTs}}`,
        'missing_field',
      ),
    (s) =>
      text(
        `{"constructor":{"prototype":{"polluted":1,"size":1}},"symbol":"${s}","ts":${sampleTs},"price":2}`,
        'missing_field',
      ),
    (s) =>
      text(
        `{"symbol":"${s}","ts":${sampleTs},"price":2,"size":1,"__proto__":{"symbol":"X"},"constructor":{"prototype":{"price":-1}},"bid":-1}`,
        'non_positive_price',
      ),
    // tombstone
    () => ({ value: null, reason: 'tombstone' }),
    // deeply nested but within the size limit
    (s) => text(`{"symbol":"${s}","ts":${sampleTs},"price":${deepArray(2_000)},"size":1}`, 'wrong_type'),
    (s) => text(`{"symbol":"${s}","ts":${sampleTs},"nested":${deepObject(2_000)},"size":1}`, 'missing_field'),
  ];
  // rare, big ones: over the size limit (huge and deeply nested), and nested to 30,000 levels just under it
  const rare: Kind[] = [
    (s) => text(`{"symbol":"${s}","pad":"${'x'.repeat(maxMessageBytes * 3)}"}`, 'too_large'),
    () => text(deepArray(Math.ceil(maxMessageBytes / 2) + 10), 'too_large'),
    (s) => text(`{"symbol":"${s}","ts":${sampleTs},"price":${deepArray(30_000)},"size":1}`, 'wrong_type'),
  ];
  const messages: MalformedMessage[] = [];
  for (let index = 0; index < count; index++) {
    const symbol = symbols[(index * 7) % symbols.length]!;
    const kind =
      index % 250 === 125 ? rare[Math.floor(index / 250) % rare.length]! : kinds[index % kinds.length]!;
    const { value, reason } = kind(symbol, index);
    // some share a real symbol's key (and partition), the others spread over every partition
    messages.push({ key: index % 3 === 0 ? symbol : `BAD${index % 17}`, value, reason });
  }
  return messages;
}

export function countByReason(messages: ReadonlyArray<{ reason: string }>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const message of messages) counts[message.reason] = (counts[message.reason] ?? 0) + 1;
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}

export function jsonTickMessages(ticks: readonly DatasetTick[]): Message[] {
  return ticks.map((tick) => ({ key: tick.symbol, value: tickJson(tick) }));
}

/** The JSON input of a run: the ticks with the malformed messages spread through them, then one sentinel per partition. */
export function jsonRunMessages(
  ticks: readonly DatasetTick[],
  malformed: readonly MalformedMessage[],
  sentinel: { ticks: ReadonlyArray<DatasetTick & { partition: number }> },
): Message[] {
  return [
    ...interleave(
      jsonTickMessages(ticks),
      malformed.map((message) => ({ key: message.key, value: message.value })),
    ),
    ...sentinel.ticks.map((tick) => ({ key: tick.symbol, value: tickJson(tick), partition: tick.partition })),
  ];
}
