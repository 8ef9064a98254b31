// One subscriber connection, apart from its transport (a ws WebSocket in production, a fake in unit tests):
// its principal, subscriptions and limits, and the slow-consumer policy. Bytes in flight are counted from
// send() to its callback (what the kernel has not taken yet, not ws's bufferedAmount alone). Past the soft
// budget, conflatable channels keep only the latest frame per key until the backlog drains; bars and alerts
// are always queued. Past the hard budget the client gets one `lag` notice; still past it after lagGraceMs,
// the connection is closed with 4008 (slow consumer), terminated if it cannot even take the close frame. A
// client's queue is thus bounded by hardBytes plus what arrives for it during lagGraceMs.

import type { Principal } from '../security/token-verifier.js';
import { conflatable, type Channel } from './channels.js';
import { CLOSE } from './protocol.js';

/** What a session needs from its connection. `send`'s callback fires once the bytes left the process. */
export interface Transport {
  send(data: Buffer | string, done: (error?: Error) => void): void;
  close(code: number, reason: string): void;
  terminate(): void;
}

export interface SessionLimits {
  /** bytes in flight past which conflatable channels conflate */
  softBytes: number;
  /** bytes in flight past which the client is told it lags, then closed */
  hardBytes: number;
  /** how long a client may stay past the hard budget after the lag notice */
  lagGraceMs: number;
  /** channels one connection may subscribe to at once */
  maxSubscriptions: number;
  /** control messages (requests) per second, sustained; a burst of as many is allowed */
  controlPerSecond: number;
}

/** Counters the server turns into metrics. */
export interface SessionEvents {
  conflated(channel: Channel): void;
  lagged(): void;
  slowConsumerClosed(): void;
}

export interface Subscription {
  channel: Channel;
  /** undefined = every symbol */
  symbols: ReadonlySet<string> | undefined;
  model: string | undefined;
  /** the last seq this connection was sent on the channel (heartbeats report the channel's head instead) */
  lastSeq: number;
}

export class Session {
  principal: Principal | undefined;
  readonly subscriptions = new Map<Channel, Subscription>();
  /** ms of the last frame sent (data, reply or heartbeat): heartbeats go out when idle */
  lastSentMs: number;
  /** a frame went out since the last idleFor() (no clock read per frame on the fan-out path) */
  private sentSinceCheck = false;
  private bytesInFlight = 0;
  /** conflated frames waiting for the backlog to drain, latest per channel and key */
  private readonly conflated = new Map<string, { channel: Channel; frame: Buffer }>();
  private lagSinceMs: number | undefined;
  private tokens: number;
  private tokensAtMs: number;
  closed = false;

  constructor(
    readonly transport: Transport,
    private readonly limits: SessionLimits,
    private readonly events: SessionEvents,
    private readonly now: () => number,
  ) {
    this.lastSentMs = now();
    this.tokens = limits.controlPerSecond;
    this.tokensAtMs = this.lastSentMs;
  }

  /** How long nothing was sent, to a tick's resolution: the heartbeat clock. */
  idleFor(now: number): number {
    if (this.sentSinceCheck) {
      this.sentSinceCheck = false;
      this.lastSentMs = now;
    }
    return now - this.lastSentMs;
  }

  get pendingBytes(): number {
    return this.bytesInFlight;
  }

  /** A reply, notice or heartbeat: never conflated. */
  sendControl(message: unknown): void {
    this.write(Buffer.from(JSON.stringify(message)));
  }

  /** A data frame of `channel`; `key` is its conflation key. */
  deliver(channel: Channel, key: string, frame: Buffer): void {
    if (this.closed) return;
    if (this.bytesInFlight > this.limits.softBytes && conflatable(channel)) {
      const slot = `${channel}|${key}`;
      if (this.conflated.has(slot)) this.events.conflated(channel);
      this.conflated.set(slot, { channel, frame });
      this.checkLag();
      return;
    }
    this.write(frame);
  }

  /** One more control message; false when over the rate (the caller replies rate_limited). */
  takeControlToken(): boolean {
    const now = this.now();
    const rate = this.limits.controlPerSecond;
    this.tokens = Math.min(rate, this.tokens + ((now - this.tokensAtMs) / 1000) * rate);
    this.tokensAtMs = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  get subscriptionsLeft(): number {
    return this.limits.maxSubscriptions - this.subscriptions.size;
  }

  /** The limits an ack states: what is left of each. */
  limitsLeft(): Record<string, number> {
    return {
      subscriptionsLeft: this.subscriptionsLeft,
      controlPerSecond: this.limits.controlPerSecond,
      controlTokensLeft: Math.floor(this.tokens),
      softBytes: this.limits.softBytes,
      hardBytes: this.limits.hardBytes,
      bytesInFlight: this.bytesInFlight,
    };
  }

  /** Closes with `code` (terminates when the close frame cannot go out in time). */
  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.conflated.clear();
    try {
      this.transport.close(code, reason);
    } catch {
      this.transport.terminate();
    }
  }

  /** Called periodically: a client past the hard budget for longer than lagGraceMs is closed. */
  checkLag(): void {
    if (this.closed) return;
    if (this.bytesInFlight <= this.limits.hardBytes) {
      this.lagSinceMs = undefined;
      return;
    }
    const now = this.now();
    if (this.lagSinceMs === undefined) {
      this.lagSinceMs = now;
      this.events.lagged();
      // the notice goes out however full the queue is: the client must learn why it may be closed
      this.write(
        Buffer.from(
          JSON.stringify({
            type: 'lag',
            bytesInFlight: this.bytesInFlight,
            hardBytes: this.limits.hardBytes,
            closeInMs: this.limits.lagGraceMs,
            message: `slow consumer: ${this.bytesInFlight} bytes not yet taken (hard budget ${this.limits.hardBytes}); read faster or the connection closes with ${CLOSE.slowConsumer}`,
          }),
        ),
      );
      return;
    }
    if (now - this.lagSinceMs >= this.limits.lagGraceMs) {
      this.events.slowConsumerClosed();
      this.close(CLOSE.slowConsumer, 'slow consumer: past the hard byte budget');
    }
  }

  /** sizes of the frames in flight, oldest first (send callbacks come in send order): one callback for all */
  private inFlight: number[] = [];
  private inFlightHead = 0;
  /** bytes handed to the transport so far (mlfp_api_sent_bytes_total sums them at scrape time) */
  sentBytes = 0;

  private readonly onSent = (): void => {
    this.bytesInFlight -= this.inFlight[this.inFlightHead++]!;
    if (this.inFlightHead === this.inFlight.length) {
      this.inFlight.length = 0;
      this.inFlightHead = 0;
    } else if (this.inFlightHead > 4_096) {
      this.inFlight = this.inFlight.slice(this.inFlightHead);
      this.inFlightHead = 0;
    }
    if (this.conflated.size > 0 && this.bytesInFlight <= this.limits.softBytes / 2) this.drainConflated();
  };

  private write(frame: Buffer): void {
    if (this.closed) return;
    const size = frame.length;
    this.bytesInFlight += size;
    this.sentBytes += size;
    this.inFlight.push(size);
    this.sentSinceCheck = true;
    this.transport.send(frame, this.onSent);
    if (this.bytesInFlight > this.limits.hardBytes) this.checkLag();
  }

  private drainConflated(): void {
    const pending = [...this.conflated.values()];
    this.conflated.clear();
    for (const { frame } of pending) this.write(frame);
  }
}
