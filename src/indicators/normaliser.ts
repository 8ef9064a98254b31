// Online feature normalisation to z-scores. RollingNormaliser: per column, over the last `window` finite
// values (the shared rolling-variance kernel: Welford add/replace, O(1) per value, exact re-sums so rounding
// cannot build up). FixedNormaliser: mean/std fixed at training time. NaN in → NaN out.

import { MlfpError } from '../errors.js';
import { pushRollingVariance, ROLLING_VARIANCE_STATS, STAT_M2, STAT_MEAN } from './rolling-variance.js';
import { encodeNumbers, SnapshotReader, type SnapshotNumber } from './snapshot-codec.js';

export interface Normaliser {
  readonly columns: number;
  /** writes the z-score of input[i] into out[i] for every column; non-finite inputs give NaN */
  normalise(input: ArrayLike<number>, out: Float64Array): void;
}

/** A variance below (this × mean)² is rounding noise around a constant column: its z-score is 0. */
const RELATIVE_NOISE = 1e-12;
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
  /** per column, `window` + 6 doubles: the ring, mean, M2, peak M2, replacements since re-sum, count, head */
  state: SnapshotNumber[];
  /** per column, state before the latest row: the 4 statistics, count, head, the overwritten ring slot */
  undo: SnapshotNumber[];
}

/** After a column's ring and statistics: finite values held, next slot to write. */
const COUNT = ROLLING_VARIANCE_STATS;
const HEAD = ROLLING_VARIANCE_STATS + 1;
const UNDO_FIELDS = ROLLING_VARIANCE_STATS + 3;

/** Rolling z-score per column over its last `window` finite values (the current value included). */
export class RollingNormaliser implements Normaliser {
  readonly columns: number;
  readonly window: number;
  readonly minCount: number;
  readonly ddof: 0 | 1;
  /** doubles per column: ring, statistics, count, head */
  private readonly stride: number;
  private readonly state: Float64Array;
  private readonly undo: Float64Array;
  private hasLast = false;

  constructor(options: RollingNormaliserOptions) {
    const { columns, window, minCount = options.window, ddof = 0 } = options;
    if (ddof !== 0 && ddof !== 1)
      throw new MlfpError('bad_argument', 'ddof must be 0 or 1', { field: 'ddof', value: ddof });
    checkInteger('columns', columns, 1, MAX_COLUMNS);
    checkInteger('window', window, 2, MAX_WINDOW);
    checkInteger('minCount', minCount, 1 + ddof, window);
    this.columns = columns;
    this.window = window;
    this.minCount = minCount;
    this.ddof = ddof;
    this.stride = window + ROLLING_VARIANCE_STATS + 2;
    this.state = new Float64Array(columns * this.stride);
    this.undo = new Float64Array(columns * UNDO_FIELDS);
  }

  /** Adds the row to every column's window and writes its z-scores (NaN for non-finite inputs or too few values). */
  normalise(input: ArrayLike<number>, out: Float64Array): void {
    checkRow(this.columns, input, out);
    for (let column = 0; column < this.columns; column++)
      out[column] = this.add(column, input[column] as number);
    this.hasLast = true;
  }

  /** Revises the latest row: state becomes as if `input` had been normalised instead of it. */
  replaceLast(input: ArrayLike<number>, out: Float64Array): void {
    if (!this.hasLast) throw new MlfpError('snapshot_invalid', 'replaceLast: no row has been normalised yet');
    checkRow(this.columns, input, out);
    const { state, undo, window } = this;
    for (let column = 0; column < this.columns; column++) {
      const base = column * this.stride;
      const saved = column * UNDO_FIELDS;
      const stats = base + window;
      for (let i = 0; i < ROLLING_VARIANCE_STATS + 2; i++) state[stats + i] = undo[saved + i] as number;
      state[base + (undo[saved + HEAD] as number)] = undo[saved + HEAD + 1] as number;
    }
    this.normalise(input, out);
  }

  /** Current mean of a column's window (NaN while it holds no value). */
  mean(column: number): number {
    const stats = column * this.stride + this.window;
    return (this.state[stats + COUNT] as number) > 0 ? (this.state[stats + STAT_MEAN] as number) : Number.NaN;
  }

  /** Current std dev of a column's window (population or sample per `ddof`; NaN with too few values). */
  std(column: number): number {
    const stats = column * this.stride + this.window;
    const count = this.state[stats + COUNT] as number;
    return count > this.ddof
      ? Math.sqrt((this.state[stats + STAT_M2] as number) / (count - this.ddof))
      : Number.NaN;
  }

  reset(): void {
    this.state.fill(0);
    this.undo.fill(0);
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
      state: encodeNumbers(this.state),
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
    const { columns, stride, state, undo } = normaliser;
    normaliser.hasLast = reader.boolean('hasLast');
    reader.numbers('state', columns * stride, state);
    reader.numbers('undo', columns * UNDO_FIELDS, undo);
    const isCount = (value: number): boolean => Number.isInteger(value) && value >= 0 && value <= window;
    const isSlot = (value: number): boolean => Number.isInteger(value) && value >= 0 && value < window;
    for (let column = 0; column < columns; column++) {
      const stats = column * stride + window;
      const saved = column * UNDO_FIELDS;
      if (!isCount(state[stats + COUNT] as number) || !isSlot(state[stats + HEAD] as number))
        reader.fail('state', `column ${column}: count or head out of range`);
      if (!isCount(undo[saved + COUNT] as number) || !isSlot(undo[saved + HEAD] as number))
        reader.fail('undo', `column ${column}: count or head out of range`);
    }
    return normaliser;
  }

  /** Adds x to the column's window (when finite) and returns its z-score; saves the prior state first. */
  private add(column: number, x: number): number {
    const { state, window } = this;
    const base = column * this.stride;
    const stats = base + window;
    const head = state[stats + HEAD] as number;
    const saved = column * UNDO_FIELDS;
    for (let i = 0; i < ROLLING_VARIANCE_STATS + 2; i++) this.undo[saved + i] = state[stats + i] as number;
    this.undo[saved + HEAD + 1] = state[base + head] as number;
    if (!Number.isFinite(x)) return Number.NaN;
    const filled = state[stats + COUNT] as number;
    const m2 = pushRollingVariance(state, base, stats, window, head, filled, x);
    const count = filled < window ? filled + 1 : window;
    state[stats + COUNT] = count;
    state[stats + HEAD] = head + 1 === window ? 0 : head + 1;
    if (count < this.minCount) return Number.NaN;
    const mean = state[stats + STAT_MEAN] as number;
    const variance = m2 / (count - this.ddof);
    const noise = RELATIVE_NOISE * mean;
    if (variance <= noise * noise) return 0;
    return (x - mean) / Math.sqrt(variance);
  }
}
