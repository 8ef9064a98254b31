// Which daily bar a 5m bar rolls into. No session: UTC days [00:00, +24h). With a session (IANA timezone,
// local open/close): the daily bar of a local date covers 5m bars that START within [open, close) local
// time, DST-correct; its ts/end are the open/close instants. Intl is consulted only when a bar start leaves
// the cached interval (about twice per local day), never per tick.

import { MlfpError } from '../errors.js';
import { daysFromCivil, DAY_MS, MINUTE_MS } from '../domain/time.js';

export interface SessionOptions {
  /** IANA zone, e.g. 'America/New_York' */
  timezone: string;
  /** local 'HH:MM' on a 5-minute boundary, e.g. '09:30' */
  open: string;
  /** local 'HH:MM' after open on a 5-minute boundary, e.g. '16:00'; '24:00' = end of the local date */
  close: string;
}

const TIME_OF_DAY = /^(\d{2}):(\d{2})$/;

/** Maps 5m bar starts to daily-bar windows; one per aggregator (its cache follows the watermark). */
export class SessionCalendar {
  /** Set by locate(): start (session open or 00:00 UTC) of the daily bar, epoch ms. */
  dayStartMs = 0;
  /** Set by locate(): end (session close or +24h) of the daily bar, epoch ms. */
  dayEndMs = 0;
  readonly session: SessionOptions | undefined;
  private readonly openMinutes: number;
  private readonly closeMinutes: number;
  private readonly format: Intl.DateTimeFormat | undefined;
  /** [cacheFromMs, cacheToMs): bar starts whose answer is cached (inside one session, or between two) */
  private cacheFromMs = 0;
  private cacheToMs = 0;
  private cacheInSession = false;
  private cacheDayStartMs = 0;
  private cacheDayEndMs = 0;

  constructor(session?: SessionOptions) {
    if (session === undefined) {
      this.session = undefined;
      this.openMinutes = 0;
      this.closeMinutes = 0;
      this.format = undefined;
      return;
    }
    if (typeof session !== 'object' || session === null)
      throw new MlfpError('config_invalid', 'session must be { timezone, open, close }', {
        field: 'session',
      });
    this.format = timeZoneFormat(session.timezone);
    this.openMinutes = minutesOfDay('session.open', session.open, false);
    this.closeMinutes = minutesOfDay('session.close', session.close, true);
    if (this.closeMinutes <= this.openMinutes)
      throw new MlfpError(
        'config_invalid',
        'session.close must be after session.open on the same local date',
        {
          field: 'session.close',
          value: session.close,
        },
      );
    this.session = { timezone: session.timezone, open: session.open, close: session.close };
  }

  /**
   * For a 5m bar starting at barStartMs: true and dayStartMs/dayEndMs set when it rolls into a daily bar;
   * false when it lies outside the session (extended hours). Always true without a session.
   */
  locate(barStartMs: number): boolean {
    if (this.format === undefined) {
      this.dayStartMs = Math.floor(barStartMs / DAY_MS) * DAY_MS;
      this.dayEndMs = this.dayStartMs + DAY_MS;
      return true;
    }
    if (!(barStartMs >= this.cacheFromMs && barStartMs < this.cacheToMs)) this.fillCache(barStartMs);
    this.dayStartMs = this.cacheDayStartMs;
    this.dayEndMs = this.cacheDayEndMs;
    return this.cacheInSession;
  }

  /** UTC offset (local − UTC, ms) in force at an instant; exposed for tests. */
  offsetAt(instantMs: number): number {
    if (this.format === undefined) return 0;
    return zoneOffsetMs(this.format, instantMs);
  }

  /** The UTC instant of a local date and minute of day (gaps resolve forward, overlaps to the earlier instant). */
  localToUtc(year: number, month: number, day: number, minutes: number): number {
    if (this.format === undefined) return daysFromCivil(year, month, day) * DAY_MS + minutes * MINUTE_MS;
    return localToUtc(this.format, daysFromCivil(year, month, day), minutes);
  }

  private fillCache(barStartMs: number): void {
    const format = this.format!;
    const localDay = Math.floor((barStartMs + zoneOffsetMs(format, barStartMs)) / DAY_MS);
    const openMs = localToUtc(format, localDay, this.openMinutes);
    const closeMs = localToUtc(format, localDay, this.closeMinutes);
    if (barStartMs >= openMs && barStartMs < closeMs) {
      this.setCache(openMs, closeMs, true, openMs, closeMs);
    } else if (barStartMs < openMs) {
      // between the previous local date's close and this one's open
      this.setCache(localToUtc(format, localDay - 1, this.closeMinutes), openMs, false, openMs, closeMs);
    } else {
      this.setCache(closeMs, localToUtc(format, localDay + 1, this.openMinutes), false, openMs, closeMs);
    }
  }

  private setCache(
    fromMs: number,
    toMs: number,
    inSession: boolean,
    dayStartMs: number,
    dayEndMs: number,
  ): void {
    this.cacheFromMs = fromMs;
    this.cacheToMs = toMs;
    this.cacheInSession = inSession;
    this.cacheDayStartMs = dayStartMs;
    this.cacheDayEndMs = dayEndMs;
  }
}

function timeZoneFormat(timezone: unknown): Intl.DateTimeFormat {
  if (typeof timezone !== 'string' || timezone === '')
    throw new MlfpError('config_invalid', 'session.timezone must be an IANA zone name', {
      field: 'session.timezone',
      value: timezone,
    });
  try {
    return new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  } catch (error) {
    throw new MlfpError('config_invalid', `session.timezone: unknown time zone ${JSON.stringify(timezone)}`, {
      field: 'session.timezone',
      value: timezone,
      cause: error,
    });
  }
}

function minutesOfDay(field: string, text: unknown, allowEndOfDay: boolean): number {
  const match = typeof text === 'string' ? TIME_OF_DAY.exec(text) : null;
  const minutes = match === null ? Number.NaN : Number(match[1]) * 60 + Number(match[2]);
  const valid =
    match !== null &&
    Number(match[2]) < 60 &&
    (minutes < 24 * 60 || (allowEndOfDay && minutes === 24 * 60)) &&
    minutes % 5 === 0;
  if (!valid)
    throw new MlfpError(
      'config_invalid',
      `${field} must be local 'HH:MM' on a 5-minute boundary${allowEndOfDay ? " (or '24:00')" : ''}`,
      { field, value: text },
    );
  return minutes;
}

/** local − UTC in ms at an instant, from the zone's wall clock (whole seconds). */
function zoneOffsetMs(format: Intl.DateTimeFormat, instantMs: number): number {
  let year = 0;
  let month = 0;
  let day = 0;
  let hour = 0;
  let minute = 0;
  let second = 0;
  for (const part of format.formatToParts(instantMs)) {
    if (part.type === 'year') year = Number(part.value);
    else if (part.type === 'month') month = Number(part.value);
    else if (part.type === 'day') day = Number(part.value);
    else if (part.type === 'hour') hour = Number(part.value);
    else if (part.type === 'minute') minute = Number(part.value);
    else if (part.type === 'second') second = Number(part.value);
  }
  const wallMs = daysFromCivil(year, month, day) * DAY_MS + ((hour * 60 + minute) * 60 + second) * 1000;
  return wallMs - (instantMs - (((instantMs % 1000) + 1000) % 1000));
}

/**
 * The instant whose local wall time is `localDay` (days since 1970-01-01 on the local calendar) + minutes.
 * Tries the offsets in force a day before and a day after: both valid = DST overlap, take the earlier;
 * neither = DST gap, take the one shifted forward (as Temporal's 'compatible' disambiguation).
 */
function localToUtc(format: Intl.DateTimeFormat, localDay: number, minutes: number): number {
  const wallMs = localDay * DAY_MS + minutes * MINUTE_MS;
  const earlierOffset = zoneOffsetMs(format, wallMs - DAY_MS);
  const laterOffset = zoneOffsetMs(format, wallMs + DAY_MS);
  const earlierCandidate = wallMs - earlierOffset;
  if (earlierOffset === laterOffset) return earlierCandidate;
  const laterCandidate = wallMs - laterOffset;
  const earlierValid = zoneOffsetMs(format, earlierCandidate) === earlierOffset;
  const laterValid = zoneOffsetMs(format, laterCandidate) === laterOffset;
  if (earlierValid && laterValid) return Math.min(earlierCandidate, laterCandidate);
  if (earlierValid) return earlierCandidate;
  if (laterValid) return laterCandidate;
  return Math.max(earlierCandidate, laterCandidate);
}
