// Data quality of one input stream (a Kafka partition, the embedded feed): the share of each reject reason
// in tumbling windows of `windowRecords` input records. When a reason's share reaches its bound the stream is
// degraded (/readyz says why) and a `system` alert fires; it resolves after a window below half the bound
// (hysteresis, so a share hovering at the bound does not flap). Pure: the caller passes the time and takes the
// alerts. Hot path: record() is one increment and one compare; reject() runs only for rejected records.

import type { Alert } from '../domain/types.js';
import { ERROR_CODES, MlfpError, type ErrorCode } from '../errors.js';

export interface DataQualityOptions {
  /** records per window (default 1,000) */
  windowRecords?: number;
  /** a reason's share at or above which the stream is degraded (default 0.05) */
  maxShare?: number;
  /** per-reason bounds overriding maxShare */
  maxShareByReason?: Readonly<Record<string, number>>;
}

/** A reason over its bound in the last complete window. */
export interface DegradedReason {
  reason: ErrorCode;
  share: number;
  bound: number;
}

export interface DataQualitySnapshot {
  version: 1;
  kind: 'mlfp.data-quality';
  records: number;
  counts: Array<[ErrorCode, number]>;
  firing: Array<{ reason: ErrorCode; share: number; bound: number }>;
}

export const DEFAULT_WINDOW_RECORDS = 1_000;
export const DEFAULT_MAX_SHARE = 0.05;
const CODES: ReadonlySet<string> = new Set(ERROR_CODES);

export class DataQualityMonitor {
  readonly windowRecords: number;
  private readonly maxShare: number;
  private readonly bounds: ReadonlyMap<ErrorCode, number>;
  private records = 0;
  private readonly counts = new Map<ErrorCode, number>();
  private readonly firing = new Map<ErrorCode, DegradedReason>();

  /** `subject` names the stream in alerts and health, e.g. "source:market.ticks[3]". */
  constructor(
    readonly subject: string,
    options: DataQualityOptions = {},
  ) {
    const window = options.windowRecords ?? DEFAULT_WINDOW_RECORDS;
    if (!(Number.isInteger(window) && window >= 10))
      throw new MlfpError('config_invalid', 'windowRecords must be an integer >= 10', {
        field: 'dataQuality.windowRecords',
        value: window,
      });
    this.windowRecords = window;
    this.maxShare = checkShare('dataQuality.maxShare', options.maxShare ?? DEFAULT_MAX_SHARE);
    const bounds = new Map<ErrorCode, number>();
    for (const [reason, share] of Object.entries(options.maxShareByReason ?? {})) {
      if (!CODES.has(reason))
        throw new MlfpError('config_invalid', `unknown reject reason '${reason}'`, {
          field: `dataQuality.maxShareByReason.${reason}`,
          value: reason,
        });
      bounds.set(reason as ErrorCode, checkShare(`dataQuality.maxShareByReason.${reason}`, share));
    }
    this.bounds = bounds;
  }

  /** Counts one input record; true when it completes a window: then call closeWindow(). */
  record(): boolean {
    return ++this.records >= this.windowRecords;
  }

  /** Counts a rejected record (call record() for it too). */
  reject(reason: ErrorCode): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
  }

  /** Reasons over their bound, worst first; empty when the stream is healthy. */
  get degraded(): DegradedReason[] {
    return [...this.firing.values()].sort((a, b) => b.share / b.bound - a.share / a.bound);
  }

  /** "late 18.0% of the last 1000 records (bound 5%)", or undefined when healthy. */
  describe(): string | undefined {
    const degraded = this.degraded;
    if (degraded.length === 0) return undefined;
    return degraded
      .map(
        (d) =>
          `${d.reason} ${percent(d.share)} of the last ${this.windowRecords} records (bound ${percent(d.bound)})`,
      )
      .join(', ');
  }

  snapshot(): DataQualitySnapshot {
    return {
      version: 1,
      kind: 'mlfp.data-quality',
      records: this.records,
      counts: [...this.counts],
      firing: [...this.firing.values()].map((d) => ({ ...d })),
    };
  }

  /** Replaces the state; validates it first (snapshot_invalid), so a bad snapshot changes nothing. */
  restore(snapshot: unknown): void {
    const fail = (message: string): never => {
      throw new MlfpError('snapshot_invalid', `data quality snapshot: ${message}`);
    };
    const candidate = snapshot as Partial<DataQualitySnapshot> | null;
    if (typeof candidate !== 'object' || candidate === null) return fail('not an object');
    if (candidate.version !== 1 || candidate.kind !== 'mlfp.data-quality')
      return fail(`unsupported version/kind ${String(candidate.version)}/${String(candidate.kind)}`);
    const records = candidate.records;
    if (!(Number.isInteger(records) && (records as number) >= 0))
      return fail('records must be an integer >= 0');
    if (!Array.isArray(candidate.counts) || !Array.isArray(candidate.firing))
      return fail('counts and firing must be arrays');
    const counts = new Map<ErrorCode, number>();
    for (const entry of candidate.counts as unknown[]) {
      const [reason, count] = Array.isArray(entry) ? (entry as unknown[]) : [];
      if (
        typeof reason !== 'string' ||
        !CODES.has(reason) ||
        !(Number.isInteger(count) && (count as number) >= 0)
      )
        return fail('counts must be [reason, count] pairs');
      counts.set(reason as ErrorCode, count as number);
    }
    const firing = new Map<ErrorCode, DegradedReason>();
    for (const entry of candidate.firing as unknown[]) {
      const d = entry as Partial<DegradedReason> | null;
      if (
        typeof d !== 'object' ||
        d === null ||
        typeof d.reason !== 'string' ||
        !CODES.has(d.reason) ||
        typeof d.share !== 'number' ||
        typeof d.bound !== 'number'
      )
        return fail('firing entries must be {reason, share, bound}');
      firing.set(d.reason, { reason: d.reason, share: d.share, bound: d.bound });
    }
    this.records = Math.min(records as number, this.windowRecords - 1);
    this.counts.clear();
    for (const [reason, count] of counts) this.counts.set(reason, count);
    this.firing.clear();
    for (const [reason, d] of firing) this.firing.set(reason, d);
  }

  /** Evaluates the window that record() completed; pushes the alerts it raises or resolves onto `alerts`. */
  closeWindow(nowMs: number, alerts: Alert[]): void {
    const records = this.records;
    for (const [reason, count] of this.counts) {
      const bound = this.bounds.get(reason) ?? this.maxShare;
      const share = count / records;
      if (share >= bound && !this.firing.has(reason)) {
        this.firing.set(reason, { reason, share, bound });
        alerts.push(this.alert('firing', reason, share, bound, nowMs));
      } else if (this.firing.has(reason)) this.firing.set(reason, { reason, share, bound });
    }
    for (const [reason, d] of this.firing) {
      const share = (this.counts.get(reason) ?? 0) / records;
      if (share < d.bound / 2) {
        this.firing.delete(reason);
        alerts.push(this.alert('resolved', reason, share, d.bound, nowMs));
      }
    }
    this.records = 0;
    this.counts.clear();
  }

  private alert(
    state: Alert['state'],
    reason: ErrorCode,
    share: number,
    bound: number,
    nowMs: number,
  ): Alert {
    const what =
      state === 'firing'
        ? `${reason} is ${percent(share)} of the last ${this.windowRecords} records, at or over its bound ${percent(bound)}`
        : `${reason} fell to ${percent(share)} of the last ${this.windowRecords} records, under half its bound ${percent(bound)}`;
    return {
      type: 'system',
      state,
      severity: 'warning',
      subject: `${this.subject}:${reason}`,
      value: share,
      threshold: bound,
      ts: nowMs,
      message: `data quality of ${this.subject}: ${what}`,
    };
  }
}

function percent(share: number): string {
  return `${(share * 100).toFixed(share < 0.1 ? 1 : 0)}%`;
}

function checkShare(field: string, value: unknown): number {
  if (!(typeof value === 'number' && value >= 0 && value <= 1))
    throw new MlfpError('config_invalid', `${field} must be a share in 0..1`, { field, value });
  return value;
}
