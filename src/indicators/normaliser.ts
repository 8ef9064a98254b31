// Online feature normalisation to z-scores. RollingNormaliser: per column, over the last `window` finite
// values (Welford add/replace on a ring, O(1) per update; re-summed exactly once per `window` updates, and
// at once when the variance collapses, so rounding cannot build up). FixedNormaliser: mean/std fixed at
// training time. NaN in → NaN out.

import { MlfpError } from '../errors.js';
import { encodeNumbers, SnapshotReader, type SnapshotNumber } from './snapshot-codec.js';

export interface Normaliser {
  readonly columns: number;
  /** writes the z-score of input[i] into out[i] for every column; non-finite inputs give NaN */
  normalise(input: ArrayLike<number>, out: Float64Array): void;
}

/** A variance below (this × mean)² is rounding noise around a constant column: its z-score is 0. */
const RELATIVE_NOISE = 1e-12;
/**
 * Re-sum exactly when M2 falls below this share of its peak since the last re-sum: a large value leaving
 * the window cancels most of M2, and Welford's update would keep the absolute error of the large one.
 */
const COLLAPSE_RATIO = 1e-4;
const MAX_COLUMNS = 10_000;
const MAX_WINDOW = 1_000_000;

function checkRow(columns: number, input: ArrayLike<number>, out: Float64Array): void {
  if (input.length < columns || out.length < columns)
    throw new MlfpError('bad_argument', `normalise: input and out must hold ${columns} values`, {
      field: input.length < columns ? 'input' : 'out',
      value: Math.min(input.length, out.length),
    });
}

function checkInteger(field: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max)
    throw new MlfpError('bad_argument', `${field} must be an integer in [${min}, ${max}]`, { field, value });
}

/** z = (x − mean)/std with the mean and std a model was trained with. */
export class FixedNormaliser implements Normaliser {
  readonly columns: number;
  private readonly mean: Float64Array;
  private readonly std: Float64Array;

  constructor(options: { mean: ArrayLike<number>; std: ArrayLike<number> }) {
    const { mean, std } = options;
    if (mean.length !== std.length || mean.length === 0)
      throw new MlfpError('bad_argument', 'mean and std must be non-empty and of equal length', {
        field: 'std',
        value: `${mean.length} means, ${std.length} stds`,
      });
    for (let i = 0; i < mean.length; i++) {
      if (!Number.isFinite(mean[i]))
        throw new MlfpError('bad_argument', `mean[${i}] must be finite`, {
          field: `mean[${i}]`,
          value: mean[i],
        });
      const deviation = std[i] as number;
      if (!Number.isFinite(deviation) || deviation <= 0)
        throw new MlfpError('bad_argument', `std[${i}] must be positive and finite`, {
          field: `std[${i}]`,
          value: deviation,
        });
    }
    this.columns = mean.length;
    this.mean = Float64Array.from(mean);
    this.std = Float64Array.from(std);
  }

  normalise(input: ArrayLike<number>, out: Float64Array): void {
    checkRow(this.columns, input, out);
    for (let i = 0; i < this.columns; i++) {
      const x = input[i] as number;
      out[i] = Number.isFinite(x) ? (x - (this.mean[i] as number)) / (this.std[i] as number) : Number.NaN;
    }
  }
}

export interface RollingNormaliserOptions {
  columns: number;
  /** values per column the statistics cover (the current one included) */
  window: number;
  /** finite values a column needs before it gets a z-score (NaN until then); default `window` */
  minCount?: number;
  /** 0: population std dev (as scikit-learn's StandardScaler); 1: sample std dev */
  ddof?: 0 | 1;
}

export interface RollingNormaliserSnapshot {
  kind: 'rolling-normaliser';
  version: 1;
  columns: number;
  window: number;
  minCount: number;
  ddof: 0 | 1;
  hasLast: boolean;
  /** per column: finite values held, next ring slot, updates since the last exact re-sum */
  counts: SnapshotNumber[];
  heads: SnapshotNumber[];
  sinceResync: SnapshotNumber[];
  means: SnapshotNumber[];
  squares: SnapshotNumber[];
  /** per column, the largest M2 since the last exact re-sum */
  peaks: SnapshotNumber[];
  /** columns × window values, column after column */
  rings: SnapshotNumber[];
  /** per column, state before the latest row: count, head, sinceResync, mean, squares, peak, overwritten slot */
  undo: SnapshotNumber[];
}

const UNDO_FIELDS = 7;

/** Rolling z-score per column over its last `window` finite values (the current value included). */
export class RollingNormaliser implements Normaliser {
  readonly columns: number;
  readonly window: number;
  readonly minCount: number;
  readonly ddof: 0 | 1;
  private readonly rings: Float64Array;
  /** per column: count, head, sinceResync (small integers, kept as doubles for one snapshot format) */
  private readonly counts: Float64Array;
  private readonly heads: Float64Array;
  private readonly sinceResync: Float64Array;
  private readonly means: Float64Array;
  /** Welford's M2: sum of squared deviations from the mean */
  private readonly squares: Float64Array;
  private readonly peaks: Float64Array;
  private readonly undo: Float64Array;
  private hasLast = false;

  constructor(options: RollingNormaliserOptions) {
    const { columns, window, minCount = options.window, ddof = 0 } = options;
    checkInteger('columns', columns, 1, MAX_COLUMNS);
    checkInteger('window', window, 2, MAX_WINDOW);
    checkInteger('minCount', minCount, 1 + ddof, window);
    if (ddof !== 0 && ddof !== 1)
      throw new MlfpError('bad_argument', 'ddof must be 0 or 1', { field: 'ddof', value: ddof });
    this.columns = columns;
    this.window = window;
    this.minCount = minCount;
    this.ddof = ddof;
    this.rings = new Float64Array(columns * window);
    this.counts = new Float64Array(columns);
    this.heads = new Float64Array(columns);
    this.sinceResync = new Float64Array(columns);
    this.means = new Float64Array(columns);
    this.squares = new Float64Array(columns);
    this.peaks = new Float64Array(columns);
    this.undo = new Float64Array(columns * UNDO_FIELDS);
  }

  /** Adds the row to every column's window and writes its z-scores (NaN for non-finite inputs or too few values). */
  normalise(input: ArrayLike<number>, out: Float64Array): void {
    checkRow(this.columns, input, out);
    for (let column = 0; column < this.columns; column++) {
      this.save(column);
      out[column] = this.add(column, input[column] as number);
    }
    this.hasLast = true;
  }

  /** Revises the latest row: state becomes as if `input` had been normalised instead of it. */
  replaceLast(input: ArrayLike<number>, out: Float64Array): void {
    if (!this.hasLast) throw new MlfpError('state_invalid', 'replaceLast: no row has been normalised yet');
    checkRow(this.columns, input, out);
    const undo = this.undo;
    for (let column = 0; column < this.columns; column++) {
      const at = column * UNDO_FIELDS;
      this.counts[column] = undo[at] as number;
      this.heads[column] = undo[at + 1] as number;
      this.sinceResync[column] = undo[at + 2] as number;
      this.means[column] = undo[at + 3] as number;
      this.squares[column] = undo[at + 4] as number;
      this.peaks[column] = undo[at + 5] as number;
      this.rings[column * this.window + (undo[at + 1] as number)] = undo[at + 6] as number;
    }
    this.normalise(input, out);
  }

  /** Current mean of a column's window (NaN while it holds no value). */
  mean(column: number): number {
    return (this.counts[column] as number) > 0 ? (this.means[column] as number) : Number.NaN;
  }

  /** Current std dev of a column's window (population or sample per `ddof`; NaN with too few values). */
  std(column: number): number {
    const count = this.counts[column] as number;
    return count > this.ddof ? Math.sqrt((this.squares[column] as number) / (count - this.ddof)) : Number.NaN;
  }

  reset(): void {
    for (const array of [
      this.rings,
      this.counts,
      this.heads,
      this.sinceResync,
      this.means,
      this.squares,
      this.peaks,
      this.undo,
    ])
      array.fill(0);
    this.hasLast = false;
  }

  snapshot(): RollingNormaliserSnapshot {
    return {
      kind: 'rolling-normaliser',
      version: 1,
      columns: this.columns,
      window: this.window,
      minCount: this.minCount,
      ddof: this.ddof,
      hasLast: this.hasLast,
      counts: encodeNumbers(this.counts),
      heads: encodeNumbers(this.heads),
      sinceResync: encodeNumbers(this.sinceResync),
      means: encodeNumbers(this.means),
      squares: encodeNumbers(this.squares),
      peaks: encodeNumbers(this.peaks),
      rings: encodeNumbers(this.rings),
      undo: encodeNumbers(this.undo),
    };
  }

  static restore(snapshot: unknown): RollingNormaliser {
    const reader = new SnapshotReader(snapshot, 'rolling-normaliser', 1);
    const window = reader.integer('window', 2, MAX_WINDOW);
    const ddof = reader.integer('ddof', 0, 1) as 0 | 1;
    const normaliser = new RollingNormaliser({
      columns: reader.integer('columns', 1, MAX_COLUMNS),
      window,
      minCount: reader.integer('minCount', 1 + ddof, window),
      ddof,
    });
    const { columns } = normaliser;
    normaliser.hasLast = reader.boolean('hasLast');
    reader.numbers('counts', columns, normaliser.counts);
    reader.numbers('heads', columns, normaliser.heads);
    reader.numbers('sinceResync', columns, normaliser.sinceResync);
    reader.numbers('means', columns, normaliser.means);
    reader.numbers('squares', columns, normaliser.squares);
    reader.numbers('peaks', columns, normaliser.peaks);
    reader.numbers('rings', columns * window, normaliser.rings);
    reader.numbers('undo', columns * UNDO_FIELDS, normaliser.undo);
    for (let column = 0; column < columns; column++) {
      const isSlot = (value: number): boolean => Number.isInteger(value) && value >= 0 && value < window;
      if (
        !Number.isInteger(normaliser.counts[column]) ||
        (normaliser.counts[column] as number) < 0 ||
        (normaliser.counts[column] as number) > window
      )
        reader.fail('counts', `column ${column}: not a count in [0, ${window}]`);
      if (!isSlot(normaliser.heads[column] as number)) reader.fail('heads', `column ${column}: not a slot`);
      if (!isSlot(normaliser.undo[column * UNDO_FIELDS + 1] as number))
        reader.fail('undo', `column ${column}: not a slot`);
      if (!Number.isInteger(normaliser.sinceResync[column]) || (normaliser.sinceResync[column] as number) < 0)
        reader.fail('sinceResync', `column ${column}: not a non-negative integer`);
    }
    return normaliser;
  }

  private save(column: number): void {
    const at = column * UNDO_FIELDS;
    const head = this.heads[column] as number;
    const undo = this.undo;
    undo[at] = this.counts[column] as number;
    undo[at + 1] = head;
    undo[at + 2] = this.sinceResync[column] as number;
    undo[at + 3] = this.means[column] as number;
    undo[at + 4] = this.squares[column] as number;
    undo[at + 5] = this.peaks[column] as number;
    undo[at + 6] = this.rings[column * this.window + head] as number;
  }

  /** Adds x to the column's window (when finite) and returns its z-score. */
  private add(column: number, x: number): number {
    if (!Number.isFinite(x)) return Number.NaN;
    const window = this.window;
    const base = column * window;
    const head = this.heads[column] as number;
    let count = this.counts[column] as number;
    let mean = this.means[column] as number;
    let squares = this.squares[column] as number;
    if (count < window) {
      count++;
      const delta = x - mean;
      mean += delta / count;
      squares += delta * (x - mean);
    } else {
      // replace the oldest value y by x: Welford's remove-then-add folded into one step
      const oldest = this.rings[base + head] as number;
      const delta = x - oldest;
      const nextMean = mean + delta / count;
      squares += delta * (x - nextMean + (oldest - mean));
      mean = nextMean;
    }
    this.rings[base + head] = x;
    this.heads[column] = head + 1 === window ? 0 : head + 1;
    this.counts[column] = count;
    const since = (this.sinceResync[column] as number) + 1;
    let peak = this.peaks[column] as number;
    if (squares > peak) peak = squares;
    if (since >= window || squares < peak * COLLAPSE_RATIO) {
      // exact two-pass re-sum (shifted by one member, so the mean of large values keeps its last bits):
      // once per `window` updates, or when M2 collapsed; amortised O(1)
      const shift = this.rings[base] as number;
      let sum = 0;
      for (let i = 0; i < count; i++) sum += (this.rings[base + i] as number) - shift;
      mean = shift + sum / count;
      squares = 0;
      for (let i = 0; i < count; i++) {
        const deviation = (this.rings[base + i] as number) - mean;
        squares += deviation * deviation;
      }
      peak = squares;
      this.sinceResync[column] = 0;
    } else this.sinceResync[column] = since;
    if (squares < 0) squares = 0;
    this.means[column] = mean;
    this.squares[column] = squares;
    this.peaks[column] = peak;
    if (count < this.minCount) return Number.NaN;
    const variance = squares / (count - this.ddof);
    const noise = RELATIVE_NOISE * mean;
    if (variance <= noise * noise) return 0;
    return (x - mean) / Math.sqrt(variance);
  }
}
