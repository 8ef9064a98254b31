// The records that flow through the engine. Times are epoch milliseconds (UTC) everywhere inside;
// ISO-8601 strings exist only at the edges (CSV, JSON messages).

import type { ErrorCode } from '../errors.js';

export type Timeframe = '5m' | '1h' | '1d';
export const TIMEFRAMES: readonly Timeframe[] = ['5m', '1h', '1d'];

/** A validated trade. `ts` is the event time in epoch ms. */
export interface Tick {
  symbol: string;
  ts: number;
  price: number;
  size: number;
  bid?: number;
  ask?: number;
  exchange?: string;
  seq?: number;
}

/** OHLCV + VWAP + trade count over [ts, end) for one symbol and timeframe. */
export interface Bar {
  symbol: string;
  timeframe: Timeframe;
  /** bar start, epoch ms */
  ts: number;
  /** bar end (exclusive), epoch ms */
  end: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  vwap: number;
  trades: number;
  /** 0 for the first emission of a closed bar; n for its n-th revision by late ticks */
  revision: number;
}

/** The 16 feature columns, in their contractual order. */
export const FEATURE_COLUMNS = [
  'returns',
  'log_returns',
  'rsi_14',
  'macd_12_26_9',
  'macd_signal_12_26_9',
  'macd_hist_12_26_9',
  'mom_14',
  'sma_20',
  'ema_50',
  'bbands_upper_20_2',
  'bbands_middle_20_2',
  'bbands_lower_20_2',
  'atr_14',
  'historical_vol_21',
  'volume_ma_20',
  'obv',
] as const;
export type FeatureName = (typeof FEATURE_COLUMNS)[number];
export const FEATURE_COUNT = FEATURE_COLUMNS.length;

/** Feature values of one closed bar. `values[i]` is column FEATURE_COLUMNS[i]; NaN = undefined (warm-up). */
export interface FeatureVector {
  symbol: string;
  timeframe: Timeframe;
  ts: number;
  revision: number;
  close: number;
  values: Float64Array;
}

export type ModelKind = 'classifier' | 'regressor' | 'sequence';

export interface Prediction {
  symbol: string;
  timeframe: Timeframe;
  /** bar start, epoch ms */
  ts: number;
  model: string;
  version: string;
  kind: ModelKind;
  /** regressor: { value }; classifier: { label, p_<label>... }; sequence: its named outputs */
  output: Record<string, number | string>;
  latencyMs: number;
}

export type AlertType = 'drift' | 'latency' | 'model_error' | 'system' | 'performance';
export type AlertState = 'firing' | 'resolved';
export type AlertSeverity = 'info' | 'warning' | 'critical';

export interface Alert {
  type: AlertType;
  state: AlertState;
  severity: AlertSeverity;
  /** what it is about, e.g. "lgbm-return@1.0.0" or "sink:postgres" */
  subject: string;
  value: number;
  threshold: number;
  /** epoch ms: when this state began (firing: startsAt; resolved: endsAt) */
  ts: number;
  message?: string;
  /**
   * Set by the alert lifecycle (src/monitoring/alerts/): the rule's name (Alertmanager's `alertname`), the
   * label set that identifies the alert, its fingerprint (hash of the sorted label set; one per label set,
   * de-duplicated while firing), when it started firing, and free-text annotations. Alerts raised before
   * the lifecycle existed (data quality) leave them out.
   */
  rule?: string;
  labels?: Readonly<Record<string, string>>;
  fingerprint?: string;
  /** epoch ms the alert started firing (equals ts while firing) */
  startsAt?: number;
  annotations?: Readonly<Record<string, string>>;
}

/** Why a pending label never arrived. */
export type LabelExpiry =
  /** a later bar of the series closed without the horizon bar (no trades in it) */
  | 'gap'
  /** event time went past the horizon bar's end + lateness + `labels.maxWaitBars` bars without it */
  | 'timeout'
  /** more pending labels than `labels.maxPending` for the stream: the oldest went */
  | 'evicted';

/**
 * The realised outcome of one prediction: the prediction at bar close t (bar start `ts`) with horizon h
 * (the manifest's `label.horizonBars`) is labelled by the same series' bar t+h (start `labelTs`). A late
 * revision of either bar re-emits the label with `revision` + 1. An expired label has no outcome.
 */
export interface LabelRecord {
  symbol: string;
  timeframe: Timeframe;
  /** bar start of the predicted bar (the prediction's ts), epoch ms */
  ts: number;
  model: string;
  version: string;
  kind: ModelKind;
  horizonBars: number;
  /** bar start of the labelling bar (ts + h bars when no bar is missing), epoch ms */
  labelTs: number;
  state: 'labelled' | 'expired';
  reason?: LabelExpiry;
  /** 0 when first labelled; +1 for each revision of the bar t or t+h that changed it */
  revision: number;
  /** close[t+h] / close[t] − 1 (NaN when expired) */
  realisedReturn: number;
  /** classifier: the realised class (e.g. "up"); regressor: the realised value in the model's units; expired: null */
  actual: number | string | null;
  /** classifier: the predicted class; regressor: the predicted value */
  predicted: number | string;
}

/** Rolling performance of one model (one version) over its last `window` labelled predictions. */
export interface PerformanceRecord {
  model: string;
  version: string;
  kind: ModelKind;
  timeframe: Timeframe;
  /** event time (labelling bar start) of the newest label in the window, epoch ms */
  ts: number;
  /** labelled predictions in the window */
  count: number;
  /**
   * classifier: accuracy, precision_<class>, recall_<class>, f1_<class>, macro_precision, macro_recall,
   * macro_f1; regressor: mae, rmse, directional_accuracy; both: hit_rate, cumulative_return, max_drawdown,
   * sharpe (sign-following strategy over the window, per label, not annualised)
   */
  metrics: Record<string, number>;
  /** Page-Hinkley on the error (classifier: 0/1 error; regressor: |error|): statistic, threshold, alarm */
  errorDrift: { statistic: number; threshold: number; alarm: boolean };
}

export interface CorporateAction {
  symbol: string;
  type: 'split' | 'dividend';
  /** ex-date at 00:00 UTC, epoch ms */
  exDate: number;
  /** split: new shares per old share (4 = 4-for-1) */
  ratio?: number;
  /** dividend: cash amount per share */
  amount?: number;
}

/** Where a record came from, so a rejection can name it (Kafka coordinates, or a file line). */
export interface SourceRef {
  topic?: string;
  partition?: number;
  offset?: string;
  file?: string;
  line?: number;
}

/** A rejected input record on its way to the dead-letter output (Kafka `market.ticks.dlq`, CLI stderr). */
export interface DeadLetter {
  reason: ErrorCode;
  field?: string;
  value?: string;
  message: string;
  source?: SourceRef;
  /** the original bytes or text, when known */
  original?: Uint8Array | string;
}

/** Tells a validator's result from its rejection. */
export function isDeadLetter<T extends object>(result: T | DeadLetter): result is DeadLetter {
  return (result as DeadLetter).reason !== undefined;
}

/** Anything that accepts dead letters. Implementations must not throw. */
export interface DeadLetterSink {
  deadLetter(letter: DeadLetter): void;
}
