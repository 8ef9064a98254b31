// Guards a stream's event time against ticks from the future: a tick far ahead of its stream (a bad clock,
// a wrong time zone, a duplicated JSON member) must not move the watermark on its own, or every valid tick
// after it would be late. Pure state machine: no RxJS, no clock, no I/O. See docs/adr/0001-event-time-bars.md.
//
// streamTime = the newest ts released so far (−∞ before the first). With J = toleranceMs, K = confirmTicks:
//   a tick with ts ≤ streamTime + J while nothing is held      → released at once (the hot path: one compare)
//   a tick with ts > streamTime + J                             → held (its source and bytes copied)
//   every tick that arrives while ticks are held is evidence for each held tick h:
//     ts ≥ h.ts − J  confirms h (the stream has reached h's time)   ts < h.ts − J  contradicts h
//   h is confirmed once K ticks confirmed it (h itself counts) and one of them is of another symbol, or the
//     stream has only ever had one symbol, or 4·K ticks confirmed it → streamTime moves to h.ts and every held
//     tick with ts ≤ streamTime + J is released, in arrival order (a real gap: overnight, a weekend, a halt,
//     a replay that jumps days, is followed after K ticks, 4·K at most);
//   h is rejected (`future_time`) once K ticks contradicted it (the stream carried on at its own time), or
//     when the hold is full (maxHeldTicks; the oldest goes);
//   a held tick that the stream time has caught up with (ts ≤ streamTime + J) is released at once;
//   end of input (flush): held ticks that nothing contradicted are released, the others rejected.
// A tick that arrives while others are held and is itself in line is released at once, before them.
// Cost: O(1) per tick while nothing is held; O(held) while something is (held ≤ maxHeldTicks).

import { MlfpError } from '../errors.js';
import { formatTime } from '../domain/time.js';
import type { DeadLetter, SourceRef, Tick } from '../domain/types.js';

export interface EventTimeGuardOptions {
  /** A tick more than this ahead of the stream time is held (integer ms in 0..86,400,000; default 60,000). */
  toleranceMs?: number;
  /** Ticks that confirm (or contradict) a held tick before it is released (or rejected): 2..1000, default 3. */
  confirmTicks?: number;
  /** Most ticks held at once (1..100,000; default 256); past it the oldest held tick is rejected. */
  maxHeldTicks?: number;
}

/** Where a held tick came from, copied when it is held (the caller's envelope is reused per message). */
export interface TickOrigin {
  source?: SourceRef;
  original?: Uint8Array | string;
}

/** A held tick and the evidence gathered for it. */
export interface HeldTick {
  readonly tick: Tick;
  /** undefined for the tick being offered now (its origin is the caller's current message) */
  readonly origin: TickOrigin | undefined;
  confirmations: number;
  otherSymbol: boolean;
  contradictions: number;
  /** why it was rejected, once it is */
  rejection?: string;
}

export interface EventTimeGuardSnapshot {
  version: 1;
  kind: 'mlfp.event-time-guard';
  toleranceMs: number;
  /** null before the first released tick */
  streamTimeMs: number | null;
  firstSymbol: string | null;
  multiSymbol: boolean;
  held: Array<{
    tick: Tick;
    source: SourceRef | null;
    /** base64 of the original bytes, or the original text */
    original: { base64: string } | { text: string } | null;
    confirmations: number;
    otherSymbol: boolean;
    contradictions: number;
  }>;
}

export const DEFAULT_FUTURE_TOLERANCE_MS = 60_000;
export const DEFAULT_CONFIRM_TICKS = 3;
export const DEFAULT_MAX_HELD_TICKS = 256;
/** A held tick of a multi-symbol stream confirmed by its own symbol alone needs this many times K ticks. */
export const SINGLE_SYMBOL_FACTOR = 4;

export class EventTimeGuard {
  readonly toleranceMs: number;
  readonly confirmTicks: number;
  readonly maxHeldTicks: number;
  private streamTime = Number.NEGATIVE_INFINITY;
  /** streamTime + toleranceMs: the hot path's one compare */
  private limit = Number.NEGATIVE_INFINITY;
  private firstSymbol: string | undefined = undefined;
  private multiSymbol = false;
  private held: HeldTick[] = [];

  constructor(options: EventTimeGuardOptions = {}) {
    this.toleranceMs = checkInteger(
      'toleranceMs',
      options.toleranceMs ?? DEFAULT_FUTURE_TOLERANCE_MS,
      0,
      86_400_000,
    );
    this.confirmTicks = checkInteger('confirmTicks', options.confirmTicks ?? DEFAULT_CONFIRM_TICKS, 2, 1_000);
    this.maxHeldTicks = checkInteger(
      'maxHeldTicks',
      options.maxHeldTicks ?? DEFAULT_MAX_HELD_TICKS,
      1,
      100_000,
    );
  }

  /** Newest event time released so far; −Infinity before the first. */
  get streamTimeMs(): number {
    return this.streamTime;
  }

  get heldCount(): number {
    return this.held.length;
  }

  /**
   * The hot path: true when the tick may be applied now (nothing held, not ahead), and then counts it as
   * released. False: call consider() with it.
   */
  passes(tick: Tick): boolean {
    if (!this.multiSymbol && tick.symbol !== this.firstSymbol) this.noteSymbol(tick.symbol);
    const ts = tick.ts;
    if (ts > this.limit || this.held.length !== 0) return false;
    if (ts > this.streamTime) this.moveTo(ts);
    return true;
  }

  /**
   * The slow path for a tick passes() refused (its symbol already noted). Appends to `released` the ticks to
   * apply now, in order (`origin` undefined = this tick), and to `rejected` the held ticks the stream refused
   * (see rejection()). `origin()` is called only when this tick is held, to copy where it came from.
   */
  consider(tick: Tick, origin: () => TickOrigin, released: HeldTick[], rejected: HeldTick[]): void {
    const ts = tick.ts;
    const held = this.held;
    const tolerance = this.toleranceMs;
    const limitK = this.confirmTicks;
    for (let index = 0; index < held.length; index++) {
      const entry = held[index]!;
      if (ts >= entry.tick.ts - tolerance) {
        entry.confirmations++;
        if (tick.symbol !== entry.tick.symbol) entry.otherSymbol = true;
      } else entry.contradictions++;
    }
    if (ts <= this.limit) {
      if (ts > this.streamTime) this.moveTo(ts);
      released.push({ tick, origin: undefined, confirmations: 1, otherSymbol: false, contradictions: 0 });
    } else {
      held.push({ tick, origin: origin(), confirmations: 1, otherSymbol: false, contradictions: 0 });
      if (held.length > this.maxHeldTicks) {
        const oldest = held.shift()!;
        oldest.rejection = `the hold is full (maxHeldTicks ${this.maxHeldTicks})`;
        rejected.push(oldest);
      }
    }
    // rejections first: a contradicted tick must not be released by a confirmation below
    let kept = 0;
    let confirmedTime = Number.NEGATIVE_INFINITY;
    for (let index = 0; index < held.length; index++) {
      const entry = held[index]!;
      if (entry.contradictions >= limitK) {
        entry.rejection = `${entry.contradictions} later ticks stayed at the stream's time`;
        rejected.push(entry);
        continue;
      }
      if (this.isConfirmed(entry) && entry.tick.ts > confirmedTime) confirmedTime = entry.tick.ts;
      held[kept++] = entry;
    }
    held.length = kept;
    // a confirmed tick moves the stream time to it; an in-line tick may have moved it past held ones
    if (confirmedTime !== Number.NEGATIVE_INFINITY) this.releaseThrough(confirmedTime, released);
    else if (held.length !== 0) this.releaseThrough(this.streamTime, released);
  }

  /** End of input: releases held ticks that nothing contradicted, rejects the others. */
  flush(released: HeldTick[], rejected: HeldTick[]): void {
    const held = this.held;
    this.held = [];
    for (const entry of held) {
      if (entry.contradictions === 0) {
        if (entry.tick.ts > this.streamTime) this.moveTo(entry.tick.ts);
        released.push(entry);
      } else {
        entry.rejection = `${entry.contradictions} later ticks stayed at the stream's time and the input ended`;
        rejected.push(entry);
      }
    }
  }

  /** The dead letter of a rejected held tick, with the source and bytes it was held with. */
  rejection(entry: HeldTick): DeadLetter {
    const tick = entry.tick;
    const stream = this.streamTime === Number.NEGATIVE_INFINITY ? '-' : formatTime(this.streamTime);
    const letter: DeadLetter = {
      reason: 'future_time',
      field: 'ts',
      value: formatTime(tick.ts),
      message:
        `${tick.symbol} tick at ${formatTime(tick.ts)} is ahead of its stream (stream time ${stream}, ` +
        `toleranceMs ${this.toleranceMs}) and was never confirmed: ${entry.rejection ?? 'rejected'}`,
    };
    if (entry.origin?.source !== undefined) letter.source = entry.origin.source;
    if (entry.origin?.original !== undefined) letter.original = entry.origin.original;
    return letter;
  }

  snapshot(): EventTimeGuardSnapshot {
    return {
      version: 1,
      kind: 'mlfp.event-time-guard',
      toleranceMs: this.toleranceMs,
      streamTimeMs: this.streamTime === Number.NEGATIVE_INFINITY ? null : this.streamTime,
      firstSymbol: this.firstSymbol ?? null,
      multiSymbol: this.multiSymbol,
      held: this.held.map((entry) => ({
        tick: plainTick(entry.tick),
        source: entry.origin?.source === undefined ? null : { ...entry.origin.source },
        original:
          entry.origin?.original === undefined
            ? null
            : typeof entry.origin.original === 'string'
              ? { text: entry.origin.original }
              : { base64: Buffer.from(entry.origin.original).toString('base64') },
        confirmations: entry.confirmations,
        otherSymbol: entry.otherSymbol,
        contradictions: entry.contradictions,
      })),
    };
  }

  /** Replaces the state; validates all of it first (snapshot_invalid), so a bad snapshot changes nothing. */
  restore(snapshot: unknown): void {
    const fail = (message: string): never => {
      throw new MlfpError('snapshot_invalid', `event-time guard snapshot: ${message}`);
    };
    if (typeof snapshot !== 'object' || snapshot === null) return fail('not an object');
    const candidate = snapshot as Partial<EventTimeGuardSnapshot>;
    if (candidate.version !== 1 || candidate.kind !== 'mlfp.event-time-guard')
      return fail(`unsupported version/kind ${String(candidate.version)}/${String(candidate.kind)}`);
    if (candidate.toleranceMs !== this.toleranceMs)
      return fail(
        `taken with toleranceMs ${String(candidate.toleranceMs)}, this guard has ${this.toleranceMs}`,
      );
    const streamTime = candidate.streamTimeMs;
    if (streamTime !== null && !(typeof streamTime === 'number' && Number.isFinite(streamTime)))
      return fail('streamTimeMs must be null or a finite number');
    const firstSymbol = candidate.firstSymbol;
    if (firstSymbol !== null && typeof firstSymbol !== 'string')
      return fail('firstSymbol must be null or a string');
    if (typeof candidate.multiSymbol !== 'boolean') return fail('multiSymbol must be a boolean');
    if (!Array.isArray(candidate.held)) return fail('held must be an array');
    if (candidate.held.length > this.maxHeldTicks)
      return fail(`${candidate.held.length} held ticks exceed maxHeldTicks ${this.maxHeldTicks}`);
    const held: HeldTick[] = [];
    for (const [index, raw] of (candidate.held as unknown[]).entries()) {
      const entry = raw as Partial<EventTimeGuardSnapshot['held'][number]> | null;
      if (typeof entry !== 'object' || entry === null) return fail(`held[${index}] must be an object`);
      const tick = entry.tick as Partial<Tick> | undefined;
      if (
        typeof tick !== 'object' ||
        tick === null ||
        typeof tick.symbol !== 'string' ||
        !Number.isFinite(tick.ts) ||
        !(typeof tick.price === 'number' && tick.price > 0 && Number.isFinite(tick.price)) ||
        !(typeof tick.size === 'number' && tick.size >= 0 && Number.isFinite(tick.size))
      )
        return fail(`held[${index}].tick must be a valid tick`);
      const counts = [entry.confirmations, entry.contradictions];
      if (
        !counts.every((n) => Number.isInteger(n) && (n as number) >= 0) ||
        typeof entry.otherSymbol !== 'boolean'
      )
        return fail(`held[${index}]: confirmations, contradictions and otherSymbol are required`);
      const origin: TickOrigin = {};
      if (entry.source !== null && entry.source !== undefined) {
        if (typeof entry.source !== 'object') return fail(`held[${index}].source must be an object or null`);
        origin.source = { ...entry.source };
      }
      const original = entry.original as { base64?: unknown; text?: unknown } | null | undefined;
      if (original !== null && original !== undefined) {
        if (typeof original.base64 === 'string')
          origin.original = new Uint8Array(Buffer.from(original.base64, 'base64'));
        else if (typeof original.text === 'string') origin.original = original.text;
        else return fail(`held[${index}].original must be {base64} or {text} or null`);
      }
      held.push({
        tick: {
          symbol: tick.symbol,
          ts: tick.ts as number,
          price: tick.price,
          size: tick.size,
          bid: tick.bid ?? undefined,
          ask: tick.ask ?? undefined,
          exchange: tick.exchange ?? undefined,
          seq: tick.seq ?? undefined,
        },
        origin,
        confirmations: entry.confirmations!,
        otherSymbol: entry.otherSymbol,
        contradictions: entry.contradictions!,
      });
    }
    this.held = held;
    this.firstSymbol = firstSymbol ?? undefined;
    this.multiSymbol = candidate.multiSymbol;
    if (streamTime === null) {
      this.streamTime = Number.NEGATIVE_INFINITY;
      this.limit = Number.NEGATIVE_INFINITY;
    } else this.moveTo(streamTime);
  }

  private isConfirmed(entry: HeldTick): boolean {
    const count = entry.confirmations;
    if (count < this.confirmTicks) return false;
    return entry.otherSymbol || !this.multiSymbol || count >= SINGLE_SYMBOL_FACTOR * this.confirmTicks;
  }

  /** Moves the stream time to `timeMs` and releases, in arrival order, every held tick now in line. */
  private releaseThrough(timeMs: number, released: HeldTick[]): void {
    if (timeMs > this.streamTime) this.moveTo(timeMs);
    const held = this.held;
    // a release can move the stream time past a tick kept earlier in the pass: repeat until none moves
    for (let before = -1; before !== held.length;) {
      before = held.length;
      let kept = 0;
      for (let index = 0; index < held.length; index++) {
        const entry = held[index]!;
        if (entry.tick.ts <= this.limit) {
          if (entry.tick.ts > this.streamTime) this.moveTo(entry.tick.ts);
          released.push(entry);
        } else held[kept++] = entry;
      }
      held.length = kept;
    }
  }

  private moveTo(timeMs: number): void {
    this.streamTime = timeMs;
    this.limit = timeMs + this.toleranceMs;
  }

  private noteSymbol(symbol: string): void {
    if (this.firstSymbol === undefined) this.firstSymbol = symbol;
    else this.multiSymbol = true;
  }
}

function checkInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw new MlfpError('config_invalid', `${name} must be an integer in ${min}..${max}`, {
      field: `bars.futureTime.${name}`,
      value,
    });
  return value;
}

/** A tick as JSON: absent optional fields are left out (one snapshot form however the tick was built). */
function plainTick(tick: Tick): Tick {
  const plain: Tick = { symbol: tick.symbol, ts: tick.ts, price: tick.price, size: tick.size };
  if (tick.bid !== undefined) plain.bid = tick.bid;
  if (tick.ask !== undefined) plain.ask = tick.ask;
  if (tick.exchange !== undefined) plain.exchange = tick.exchange;
  if (tick.seq !== undefined) plain.seq = tick.seq;
  return plain;
}
