// The fan-out core of the public API: every durable output (a flush the delivery wrote) is published once
// per channel: a position (epoch, seq), a stable id, one serialised frame shared by every subscriber and the
// ring. Subscriptions filter by symbol (and model); a resubscription with `since` gets what it missed exactly
// once: from the ring when it still holds the position, else the latest value per key (snapshot tier).

import { randomUUID } from 'node:crypto';
import type { OutputBatch } from '../sinks/sink.js';
import {
  barChannel,
  CHANNELS,
  conflationKey,
  featuresChannel,
  recordData,
  recordId,
  recordSymbol,
  type Channel,
  type ChannelRecord,
} from './channels.js';
import type { ReplayTier, Since } from './protocol.js';
import { PositionIndex, type KafkaPosition } from './position-index.js';
import { MessageRing, type RingEntry } from './ring.js';
import type { Session, Subscription } from './session.js';

/** The latest record per key of a channel, for the snapshot tier (the in-memory store, or the output topics). */
export interface LatestValues {
  latest(
    channel: Channel,
    symbols: ReadonlySet<string> | undefined,
    model: string | undefined,
  ): ChannelRecord[];
}

/** Reads records back from a channel's Kafka topic by position (the Kafka replay tier). */
export type KafkaFetch = (channel: Channel, positions: readonly KafkaPosition[]) => Promise<ChannelRecord[]>;

export interface HubOptions {
  /** messages each channel's ring keeps for resubscriptions */
  ringSize: number;
  /** Kafka positions each channel remembers for the Kafka replay tier (0 = no tier) */
  kafkaReplayMessages?: number;
  /** how the tier reads records back (set by the output-topics reader) */
  kafkaFetch?: KafkaFetch;
  /** the feature columns (FeatureVector.values' names) */
  columns: readonly string[];
  latest?: LatestValues;
  /** told of each message published (metrics) */
  onPublish?: (channel: Channel) => void;
}

/** One session's subscription to a channel, as the channel's index holds it. */
interface Entry {
  session: Session;
  subscription: Subscription;
}

interface ChannelState {
  seq: number;
  ring: MessageRing;
  positions: PositionIndex;
  /** each subscribed session's entry */
  entries: Map<Session, Entry>;
  /** entries with symbols ['*'] */
  everyone: Set<Entry>;
  /** entries by the symbols they name: a message visits only its symbol's subscribers */
  bySymbol: Map<string, Set<Entry>>;
}

interface Pending {
  key: string;
  frame: Buffer;
  seq: number;
}

export interface SubscribeResult {
  channel: Channel;
  epoch: string;
  /** the channel's head when the subscription started: live messages follow from seq + 1 */
  seq: number;
  replay: ReplayTier;
  /** messages replayed before the live ones */
  replayed: number;
}

export class SignalHub {
  /** this hub's epoch: a seq is meaningful only with it (a restarted or other instance has another) */
  readonly epoch = randomUUID();
  private readonly channels = new Map<Channel, ChannelState>();

  /** subscriptions replaying from Kafka: live messages wait here until the replay is out */
  private readonly buffering = new Map<Subscription, Pending[]>();

  constructor(private readonly options: HubOptions) {
    for (const channel of CHANNELS)
      this.channels.set(channel, {
        seq: 0,
        ring: new MessageRing(options.ringSize),
        positions: new PositionIndex(options.kafkaReplayMessages ?? 0),
        entries: new Map(),
        everyone: new Set(),
        bySymbol: new Map(),
      });
  }

  /** Set by the output-topics reader: how the Kafka tier reads records back. */
  set kafkaFetch(fetch: KafkaFetch | undefined) {
    this.options.kafkaFetch = fetch;
  }

  /** Publishes a durable batch: bars, feature vectors, predictions and alerts (dead letters are not served). */
  publishBatch(batch: OutputBatch): void {
    for (const bar of batch.bars) this.publish(barChannel(bar.timeframe), bar);
    for (const vector of batch.features) this.publish(featuresChannel(vector.timeframe), vector);
    for (const prediction of batch.predictions) this.publish('predictions', prediction);
    for (const alert of batch.alerts) this.publish('alerts', alert);
  }

  /** Publishes one record; `position` is where it lies in the channel's Kafka topic, when it came from there. */
  publish(channel: Channel, record: ChannelRecord, position?: KafkaPosition): void {
    const state = this.channels.get(channel)!;
    const seq = ++state.seq;
    if (position !== undefined) state.positions.push(seq, position.partition, position.offset);
    const frame = this.frame('data', channel, seq, record);
    const symbol = recordSymbol(channel, record);
    const model = modelOf(channel, record);
    state.ring.push({ seq, symbol, model, frame });
    this.options.onPublish?.(channel);
    if (state.entries.size === 0) return;
    const key = conflationKey(channel, record);
    if (symbol === '') {
      // alerts: never filtered by symbol
      for (const entry of state.entries.values()) this.deliverTo(entry, channel, key, frame, seq, model);
      return;
    }
    for (const entry of state.everyone) this.deliverTo(entry, channel, key, frame, seq, model);
    const named = state.bySymbol.get(symbol);
    if (named !== undefined)
      for (const entry of named) this.deliverTo(entry, channel, key, frame, seq, model);
  }

  private deliverTo(
    entry: Entry,
    channel: Channel,
    key: string,
    frame: Buffer,
    seq: number,
    model: string | undefined,
  ): void {
    const subscription = entry.subscription;
    if (subscription.model !== undefined && model !== undefined && subscription.model !== model) return;
    subscription.lastSeq = seq;
    const pending = this.buffering.size === 0 ? undefined : this.buffering.get(subscription);
    if (pending !== undefined) pending.push({ key, frame, seq });
    else entry.session.deliver(channel, key, frame);
  }

  private index(state: ChannelState, entry: Entry): void {
    state.entries.set(entry.session, entry);
    const symbols = entry.subscription.symbols;
    if (symbols === undefined) state.everyone.add(entry);
    else
      for (const symbol of symbols) {
        let set = state.bySymbol.get(symbol);
        if (set === undefined) state.bySymbol.set(symbol, (set = new Set()));
        set.add(entry);
      }
  }

  private unindex(state: ChannelState, session: Session): void {
    const entry = state.entries.get(session);
    if (entry === undefined) return;
    state.entries.delete(session);
    this.buffering.delete(entry.subscription);
    const symbols = entry.subscription.symbols;
    if (symbols === undefined) state.everyone.delete(entry);
    else
      for (const symbol of symbols) {
        const set = state.bySymbol.get(symbol);
        set?.delete(entry);
        if (set?.size === 0) state.bySymbol.delete(symbol);
      }
  }

  private frame(type: 'data' | 'snapshot', channel: Channel, seq: number, record: ChannelRecord): Buffer {
    return Buffer.from(
      `{"type":"${type}","channel":"${channel}","epoch":"${this.epoch}","seq":${seq},"id":${JSON.stringify(recordId(channel, record))},"data":${JSON.stringify(recordData(channel, record, this.options.columns))}}`,
    );
  }

  /** The head of every channel a session subscribes to (app heartbeats carry it). */
  heads(session: Session): Record<string, { epoch: string; seq: number }> {
    const heads: Record<string, { epoch: string; seq: number }> = {};
    for (const channel of session.subscriptions.keys())
      heads[channel] = { epoch: this.epoch, seq: this.channels.get(channel)!.seq };
    return heads;
  }

  /**
   * Adds (or replaces) the session's subscription to `subscription.channel`, replaying what it missed since
   * `since`. The reply goes out first (`reply(result)`), then the replayed frames, then live messages.
   */
  subscribe(
    session: Session,
    subscription: Subscription,
    since: Since | undefined,
    reply: (result: SubscribeResult) => void,
  ): void {
    const state = this.channels.get(subscription.channel)!;
    const channel = subscription.channel;
    let tier: ReplayTier = 'none';
    let frames: Array<{ key: string; frame: Buffer }> = [];
    if (since !== undefined) {
      const ours = since.epoch === this.epoch && since.seq <= state.seq;
      const fromRing = ours ? state.ring.after(since.seq, state.seq) : undefined;
      if (fromRing !== undefined) {
        tier = 'ring';
        frames = fromRing
          .filter((entry) => matches(subscription, entry.symbol, entry.model))
          .map((entry) => ({ key: entryKey(channel, entry), frame: entry.frame }));
      } else {
        const firstInRing = state.ring.firstSeq ?? state.seq + 1;
        const positions =
          ours && this.options.kafkaFetch !== undefined
            ? state.positions.between(since.seq, firstInRing)
            : undefined;
        if (positions !== undefined) {
          this.replayFromKafka(session, subscription, positions, firstInRing, reply);
          return;
        }
        tier = 'snapshot';
        frames = this.snapshotFrames(subscription, state.seq);
      }
    }
    this.attach(session, subscription);
    reply({ channel, epoch: this.epoch, seq: state.seq, replay: tier, replayed: frames.length });
    for (const { key, frame } of frames) session.deliver(channel, key, frame);
  }

  private attach(session: Session, subscription: Subscription): void {
    const state = this.channels.get(subscription.channel)!;
    this.unindex(state, session);
    subscription.lastSeq = state.seq;
    session.subscriptions.set(subscription.channel, subscription);
    this.index(state, { session, subscription });
  }

  /**
   * The Kafka tier: the subscription is attached at once with its live messages held back; the records between
   * the client's position and the ring are read back from the topic (same seqs, same ids), then the ring's, then
   * the held live ones, each exactly once. A failed read falls back to the snapshot tier.
   */
  private replayFromKafka(
    session: Session,
    subscription: Subscription,
    positions: ReadonlyArray<KafkaPosition & { seq: number }>,
    firstInRing: number,
    reply: (result: SubscribeResult) => void,
  ): void {
    const channel = subscription.channel;
    const state = this.channels.get(channel)!;
    const pending: Pending[] = [];
    this.attach(session, subscription);
    this.buffering.set(subscription, pending);
    const head = state.seq;
    // the ring's part now, before it moves on: entries from firstInRing up to the head
    const ringPart = (state.ring.after(firstInRing - 1, head) ?? [])
      .filter((entry) => matches(subscription, entry.symbol, entry.model))
      .map((entry) => ({ key: entryKey(channel, entry), frame: entry.frame, seq: entry.seq }));
    const finish = (tier: ReplayTier, frames: Pending[]): void => {
      if (this.buffering.get(subscription) !== pending) return; // unsubscribed meanwhile
      this.buffering.delete(subscription);
      if (session.closed) return;
      reply({ channel, epoch: this.epoch, seq: head, replay: tier, replayed: frames.length });
      for (const { key, frame } of frames) session.deliver(channel, key, frame);
      for (const { key, frame } of pending) session.deliver(channel, key, frame);
    };
    this.options.kafkaFetch!(channel, positions).then(
      (records) => {
        const frames: Pending[] = [];
        for (let index = 0; index < records.length; index++) {
          const record = records[index]!;
          if (!matches(subscription, recordSymbol(channel, record), modelOf(channel, record))) continue;
          const seq = positions[index]!.seq;
          frames.push({
            key: conflationKey(channel, record),
            frame: this.frame('data', channel, seq, record),
            seq,
          });
        }
        finish('kafka', [...frames, ...ringPart]);
      },
      () => {
        const snapshot = this.snapshotFrames(subscription, head).map((f) => ({ ...f, seq: head }));
        finish('snapshot', snapshot);
      },
    );
  }

  unsubscribe(session: Session, channel: Channel): boolean {
    this.unindex(this.channels.get(channel)!, session);
    return session.subscriptions.delete(channel);
  }

  /** Forgets a closed session. */
  remove(session: Session): void {
    for (const channel of session.subscriptions.keys()) this.unindex(this.channels.get(channel)!, session);
    session.subscriptions.clear();
  }

  /** Latest value per key, as snapshot frames at the channel's head (the position a client resumes from). */
  private snapshotFrames(subscription: Subscription, head: number): Array<{ key: string; frame: Buffer }> {
    const latest =
      this.options.latest?.latest(subscription.channel, subscription.symbols, subscription.model) ?? [];
    const channel = subscription.channel;
    return latest.map((record) => ({
      key: conflationKey(channel, record),
      frame: this.frame('snapshot', channel, head, record),
    }));
  }
}

function matches(subscription: Subscription, symbol: string, model: string | undefined): boolean {
  if (subscription.model !== undefined && model !== undefined && subscription.model !== model) return false;
  return subscription.symbols === undefined || symbol === '' || subscription.symbols.has(symbol);
}

function entryKey(channel: Channel, entry: RingEntry): string {
  return channel === 'predictions' ? `${entry.symbol}|${entry.model ?? ''}` : entry.symbol;
}

function modelOf(channel: Channel, record: ChannelRecord): string | undefined {
  return channel === 'predictions' ? (record as { model: string }).model : undefined;
}
