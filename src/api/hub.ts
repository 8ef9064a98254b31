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

export interface HubOptions {
  /** messages each channel's ring keeps for resubscriptions */
  ringSize: number;
  /** the feature columns (FeatureVector.values' names) */
  columns: readonly string[];
  latest?: LatestValues;
  /** told of each message published (metrics) */
  onPublish?: (channel: Channel) => void;
}

interface ChannelState {
  seq: number;
  ring: MessageRing;
  subscribers: Set<Session>;
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
  /** messages published per channel (metrics) */
  readonly published = new Map<Channel, number>();

  constructor(private readonly options: HubOptions) {
    for (const channel of CHANNELS)
      this.channels.set(channel, { seq: 0, ring: new MessageRing(options.ringSize), subscribers: new Set() });
  }

  /** Publishes a durable batch: bars, feature vectors, predictions and alerts (dead letters are not served). */
  publishBatch(batch: OutputBatch): void {
    for (const bar of batch.bars) this.publish(barChannel(bar.timeframe), bar);
    for (const vector of batch.features) this.publish(featuresChannel(vector.timeframe), vector);
    for (const prediction of batch.predictions) this.publish('predictions', prediction);
    for (const alert of batch.alerts) this.publish('alerts', alert);
  }

  publish(channel: Channel, record: ChannelRecord): void {
    const state = this.channels.get(channel)!;
    const seq = ++state.seq;
    const id = recordId(channel, record);
    const frame = Buffer.from(
      `{"type":"data","channel":"${channel}","epoch":"${this.epoch}","seq":${seq},"id":${JSON.stringify(id)},"data":${JSON.stringify(recordData(channel, record, this.options.columns))}}`,
    );
    const symbol = recordSymbol(channel, record);
    const model = channel === 'predictions' ? (record as { model: string }).model : undefined;
    state.ring.push({ seq, symbol, model, frame });
    this.published.set(channel, (this.published.get(channel) ?? 0) + 1);
    this.options.onPublish?.(channel);
    if (state.subscribers.size === 0) return;
    const key = conflationKey(channel, record);
    for (const session of state.subscribers) {
      const subscription = session.subscriptions.get(channel);
      if (subscription === undefined || !matches(subscription, symbol, model)) continue;
      subscription.lastSeq = seq;
      session.deliver(channel, key, frame);
    }
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
    let tier: ReplayTier = 'none';
    let frames: Array<{ key: string; frame: Buffer }> = [];
    if (since !== undefined) {
      const fromRing =
        since.epoch === this.epoch && since.seq <= state.seq
          ? state.ring.after(since.seq, state.seq)
          : undefined;
      if (fromRing !== undefined) {
        tier = 'ring';
        frames = fromRing
          .filter((entry) => matches(subscription, entry.symbol, entry.model))
          .map((entry) => ({ key: entryKey(subscription.channel, entry), frame: entry.frame }));
      } else {
        tier = 'snapshot';
        frames = this.snapshotFrames(subscription, state.seq);
      }
    }
    subscription.lastSeq = state.seq;
    session.subscriptions.set(subscription.channel, subscription);
    state.subscribers.add(session);
    reply({
      channel: subscription.channel,
      epoch: this.epoch,
      seq: state.seq,
      replay: tier,
      replayed: frames.length,
    });
    for (const { key, frame } of frames) session.deliver(subscription.channel, key, frame);
  }

  unsubscribe(session: Session, channel: Channel): boolean {
    const had = session.subscriptions.delete(channel);
    this.channels.get(channel)!.subscribers.delete(session);
    return had;
  }

  /** Forgets a closed session. */
  remove(session: Session): void {
    for (const channel of session.subscriptions.keys())
      this.channels.get(channel)!.subscribers.delete(session);
    session.subscriptions.clear();
  }

  /** Connected sessions subscribed to anything (metrics). */
  get subscriberCount(): number {
    const all = new Set<Session>();
    for (const state of this.channels.values()) for (const session of state.subscribers) all.add(session);
    return all.size;
  }

  /** Latest value per key, as snapshot frames at the channel's head (the position a client resumes from). */
  private snapshotFrames(subscription: Subscription, head: number): Array<{ key: string; frame: Buffer }> {
    const latest =
      this.options.latest?.latest(subscription.channel, subscription.symbols, subscription.model) ?? [];
    const channel = subscription.channel;
    return latest.map((record) => ({
      key: conflationKey(channel, record),
      frame: Buffer.from(
        `{"type":"snapshot","channel":"${channel}","epoch":"${this.epoch}","seq":${head},"id":${JSON.stringify(recordId(channel, record))},"data":${JSON.stringify(recordData(channel, record, this.options.columns))}}`,
      ),
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
