// A labelled gauge that another component feeds (the drift and performance monitors, the alert lifecycle):
// set / remove / reset by label set, with a bound on the number of label sets. Label values must come from a
// bounded set (model, feature and rule names, never symbols); a label set past the bound is refused and
// counted (mlfp_metric_series_refused_total{metric}), so a wrong label shows up on the dashboard instead of
// growing the registry without end.

import type { Counter, Gauge } from 'prom-client';

export interface GaugeFeed<Label extends string> {
  /** sets the series of `labels` (every label given, values from a bounded set) */
  set(labels: Readonly<Record<Label, string>>, value: number): void;
  /** drops the series of `labels` (a model unloaded, an alert no longer active) */
  remove(labels: Readonly<Record<Label, string>>): void;
  /** drops every series (before setting a complete new picture) */
  reset(): void;
  /** series set now */
  readonly size: number;
}

export class BoundedGaugeFeed<Label extends string> implements GaugeFeed<Label> {
  private readonly series = new Set<string>();

  constructor(
    private readonly gauge: Gauge<Label>,
    private readonly labelNames: readonly Label[],
    private readonly maxSeries: number,
    private readonly refused: Counter<'metric'>,
    private readonly metric: string,
  ) {}

  get size(): number {
    return this.series.size;
  }

  set(labels: Readonly<Record<Label, string>>, value: number): void {
    const key = this.key(labels);
    if (!this.series.has(key)) {
      if (this.series.size >= this.maxSeries) {
        this.refused.inc({ metric: this.metric });
        return;
      }
      this.series.add(key);
    }
    this.gauge.set(labels as Partial<Record<Label, string>>, value);
  }

  remove(labels: Readonly<Record<Label, string>>): void {
    if (this.series.delete(this.key(labels))) this.gauge.remove(labels as Partial<Record<Label, string>>);
  }

  reset(): void {
    this.series.clear();
    this.gauge.reset();
  }

  private key(labels: Readonly<Record<Label, string>>): string {
    let key = '';
    for (const name of this.labelNames) key += `${labels[name]}\u0000`;
    return key;
  }
}
