// Dead letters the bar aggregator returns for a tick it rejects: late for its 5m bar, or (for a Tick that
// skipped validation) a bad time, price or size.

import { formatTime } from '../domain/time.js';
import type { DeadLetter, Tick } from '../domain/types.js';
import { MAX_EVENT_TIME_MS } from './bar-slots.js';

export function lateTick(
  tick: Tick,
  barStartMs: number,
  why: string,
  watermarkMs: number,
  allowedLatenessMs: number,
): DeadLetter {
  const watermark = watermarkMs === Number.NEGATIVE_INFINITY ? '-' : formatTime(watermarkMs);
  return {
    reason: 'late',
    field: 'ts',
    value: formatTime(tick.ts),
    message: `${tick.symbol} tick at ${formatTime(tick.ts)} is late: ${why} (5m bar ${formatTime(barStartMs)}, watermark ${watermark}, allowedLatenessMs ${allowedLatenessMs})`,
  };
}

export function unvalidatedTick(tick: Tick): DeadLetter {
  const ts = tick.ts;
  if (!(ts >= 0 && ts < MAX_EVENT_TIME_MS))
    return {
      reason: 'bad_time',
      field: 'ts',
      value: String(ts),
      message: 'tick ts must be epoch ms in 1970..2200',
    };
  if (!(tick.price > 0 && tick.price < Infinity))
    return {
      reason: 'non_positive_price',
      field: 'price',
      value: String(tick.price),
      message: 'price must be finite and > 0',
    };
  return {
    reason: 'negative_size',
    field: 'size',
    value: String(tick.size),
    message: 'size must be finite and >= 0',
  };
}
