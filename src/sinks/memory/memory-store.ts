// The embedded default's local store: the latest bar, feature vector and prediction per (symbol, timeframe)
// and the most recent dead letters (bounded), for the progress line, tests and, later, REST reads.

import type { Output } from '../../domain/output.js';
import type {
  Alert,
  Bar,
  DeadLetter,
  FeatureVector,
  LabelRecord,
  PerformanceRecord,
  Prediction,
  Timeframe,
} from '../../domain/types.js';

const key = (symbol: string, timeframe: Timeframe): string => `${symbol}|${timeframe}`;

export class MemoryStore {
  readonly bars = new Map<string, Bar>();
  readonly featureVectors = new Map<string, FeatureVector>();
  readonly predictions = new Map<string, Prediction>();
  private readonly letters: DeadLetter[] = [];
  private nextLetter = 0;

  constructor(private readonly maxDeadLetters = 1_000) {}

  /** Keeps one output of a graph (the whole Output stream can be subscribed with `store.write`). */
  readonly write = (output: Output): void => {
    switch (output.kind) {
      case 'bar':
        return this.bar(output.value);
      case 'features':
        return this.features(output.value);
      case 'prediction':
        return this.prediction(output.value);
      case 'alert':
        return this.alert(output.value);
      case 'dead_letter':
        return this.deadLetter(output.value);
      case 'label':
        return this.label(output.value);
      case 'performance':
        return this.performanceRecord(output.value);
    }
  };

  bar(bar: Bar): void {
    this.bars.set(key(bar.symbol, bar.timeframe), bar);
  }

  features(vector: FeatureVector): void {
    this.featureVectors.set(key(vector.symbol, vector.timeframe), vector);
  }

  /** model → symbol → that symbol's latest prediction of the model, any timeframe (for the progress line) */
  readonly latestByModel = new Map<string, Map<string, Prediction>>();
  /** the most recent alerts (bounded) */
  readonly alerts: Alert[] = [];

  prediction(prediction: Prediction): void {
    this.predictions.set(`${key(prediction.symbol, prediction.timeframe)}|${prediction.model}`, prediction);
    let bySymbol = this.latestByModel.get(prediction.model);
    if (bySymbol === undefined) this.latestByModel.set(prediction.model, (bySymbol = new Map()));
    bySymbol.set(prediction.symbol, prediction);
  }

  alert(alert: Alert): void {
    if (this.alerts.length >= this.maxDeadLetters) this.alerts.shift();
    this.alerts.push(alert);
  }

  /** labels kept (bounded, like alerts), and counts by state */
  readonly labels: LabelRecord[] = [];
  readonly labelCounts = { labelled: 0, expired: 0, revised: 0 };
  /** model@version → its latest performance record */
  readonly performance = new Map<string, PerformanceRecord>();

  label(label: LabelRecord): void {
    if (label.state === 'expired') this.labelCounts.expired++;
    else if (label.revision > 0) this.labelCounts.revised++;
    else this.labelCounts.labelled++;
    if (this.labels.length >= this.maxDeadLetters) this.labels.shift();
    this.labels.push(label);
  }

  performanceRecord(record: PerformanceRecord): void {
    this.performance.set(`${record.model}@${record.version}`, record);
  }

  deadLetter(letter: DeadLetter): void {
    if (this.letters.length < this.maxDeadLetters) this.letters.push(letter);
    else this.letters[this.nextLetter] = letter;
    this.nextLetter = (this.nextLetter + 1) % this.maxDeadLetters;
  }

  /** the kept dead letters, oldest first */
  recentDeadLetters(): DeadLetter[] {
    return this.letters.length < this.maxDeadLetters
      ? [...this.letters]
      : [...this.letters.slice(this.nextLetter), ...this.letters.slice(0, this.nextLetter)];
  }

  latestBar(symbol: string, timeframe: Timeframe): Bar | undefined {
    return this.bars.get(key(symbol, timeframe));
  }

  latestFeatures(symbol: string, timeframe: Timeframe): FeatureVector | undefined {
    return this.featureVectors.get(key(symbol, timeframe));
  }
}
