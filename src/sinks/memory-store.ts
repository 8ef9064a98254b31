// The embedded default's local store: the latest bar, feature vector and prediction per (symbol, timeframe)
// and the most recent dead letters (bounded), for the progress line, tests and, later, REST reads.

import type { Bar, DeadLetter, FeatureVector, Prediction, Timeframe } from '../domain/types.js';

const key = (symbol: string, timeframe: Timeframe): string => `${symbol}|${timeframe}`;

export class MemoryStore {
  readonly bars = new Map<string, Bar>();
  readonly features = new Map<string, FeatureVector>();
  readonly predictions = new Map<string, Prediction>();
  private readonly letters: DeadLetter[] = [];
  private nextLetter = 0;

  constructor(private readonly maxDeadLetters = 1_000) {}

  bar(bar: Bar): void {
    this.bars.set(key(bar.symbol, bar.timeframe), bar);
  }

  featureVector(vector: FeatureVector): void {
    this.features.set(key(vector.symbol, vector.timeframe), vector);
  }

  prediction(prediction: Prediction): void {
    this.predictions.set(`${key(prediction.symbol, prediction.timeframe)}|${prediction.model}`, prediction);
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
    return this.features.get(key(symbol, timeframe));
  }
}
