// One model's lane in the scorer: its queue of assembled rows (arrival order), their buffers, the model's
// column mapping, scaling and missing-value policy, and its asynchronous runs in flight.

import type { FeatureVector } from '../../domain/types.js';
import type { MlfpError } from '../../errors.js';
import type { LoadedModel } from '../load-model.js';
import { outputNamesOf } from '../manifest.js';
import type { RollingScalingParameters } from './rolling-scaling.js';
import type { PlaneSpec, Rows } from './sequence-windows.js';

/** One asynchronous inference: its rows' vectors, arrival times and output. */
export interface Run {
  vectors: FeatureVector[];
  arrivals: Float64Array;
  output: Float64Array;
  done: boolean;
  error: MlfpError | undefined;
  /** performance.now() at dispatch (the inference event's duration runs from here) */
  startedAt: number;
}

/** One model's queue of assembled rows, its buffers and its column mapping. */
export class Lane {
  readonly model: LoadedModel;
  readonly role: 'live' | 'shadow';
  readonly columns: Int32Array;
  /** the model reads every engine column in engine order: rows are copied whole */
  readonly identityColumns: boolean;
  readonly steps: number;
  readonly width: number;
  readonly rowSize: number;
  readonly outputWidth: number;
  readonly outputKeys: string[];
  readonly labels: string[] | undefined;
  readonly mean: Float64Array | undefined;
  readonly std: Float64Array | undefined;
  readonly missing: 'native' | 'zero' | 'skip';
  /** online scaling: the bank (rollingKey) whose z-rows this lane reads instead of the raw vector */
  readonly rolling: RollingScalingParameters | undefined;
  readonly synchronous: boolean;
  /** a sequence model on the raw windows: how it reads them (its plane is scaled once per vector) */
  readonly planeSpec: PlaneSpec | undefined;
  readonly planeKey: string;
  /** the plane's index in its timeframe's windows, resolved at each submit */
  plane = -1;
  /** rows are assembled in float32: a sequence model whose runtime takes float32 (no conversion per run) */
  readonly float32: boolean;
  input: Rows = new Float64Array(0);
  output = new Float64Array(0);
  /** pending rows' vectors and arrival times (rows [0, rows) of `input`) */
  vectors: FeatureVector[] = [];
  arrivals = new Float64Array(0);
  rows = 0;
  /** asynchronous runs in flight, oldest first: published in this order */
  runs: Run[] = [];
  /** the previous lane of the same name and role, still draining: this one waits for it (per-symbol order) */
  after: Lane | undefined;

  constructor(model: LoadedModel, role: 'live' | 'shadow', engineColumns: readonly string[]) {
    const m = model.manifest;
    this.model = model;
    this.role = role;
    this.columns = Int32Array.from(m.inputs.features, (f) => engineColumns.indexOf(f));
    this.identityColumns =
      this.columns.length === engineColumns.length && this.columns.every((column, j) => column === j);
    this.steps = m.inputs.sequenceLength;
    this.width = m.inputs.features.length;
    this.rowSize = this.steps * this.width;
    this.outputWidth = model.runtime.outputWidth;
    this.outputKeys = outputNamesOf(m);
    this.labels = m.output.type === 'classes' ? m.output.labels : undefined;
    this.missing = m.inputs.missing;
    this.synchronous = model.runtime.synchronous;
    const scaling = m.inputs.scaling;
    if (scaling.kind === 'standard') {
      this.mean = Float64Array.from(scaling.mean);
      this.std = Float64Array.from(scaling.std);
    }
    this.rolling =
      scaling.kind === 'rolling'
        ? { window: scaling.window, minCount: scaling.minCount ?? scaling.window, ddof: scaling.ddof }
        : undefined;
    this.float32 = false;
    if (this.steps > 1 && this.rolling === undefined) {
      this.float32 = model.runtime.float32Input === true;
      this.planeSpec = { columns: this.columns, mean: this.mean, std: this.std, missing: this.missing, float32: this.float32 };
      this.planeKey = JSON.stringify([m.timeframe, [...this.columns], scaling, this.missing, this.float32]);
      if (this.float32) this.input = new Float32Array(0);
    } else this.planeKey = '';
  }

  /** Room for `more` rows after the pending ones. */
  reserve(more: number): void {
    const rows = this.rows + more;
    if (this.input.length < rows * this.rowSize) {
      const size = rows * this.rowSize * 2;
      const grown = this.float32 ? new Float32Array(size) : new Float64Array(size);
      grown.set(this.input.subarray(0, this.rows * this.rowSize));
      this.input = grown;
    }
    if (this.arrivals.length < rows) {
      const grown = new Float64Array(rows * 2);
      grown.set(this.arrivals.subarray(0, this.rows));
      this.arrivals = grown;
    }
  }

  /**
   * Scales the row at `rows` in place and applies the missing-value policy; false = skip it. (Rows
   * copied from a window plane are ready already.)
   */
  prepareRow(): boolean {
    const mean = this.mean;
    const std = this.std;
    const missing = this.missing;
    if (mean === undefined && missing === 'native') return true; // nothing to do: the common fast path
    const width = this.width;
    const input = this.input;
    let at = this.rows * this.rowSize;
    for (let step = 0; step < this.steps; step++) {
      for (let j = 0; j < width; j++, at++) {
        let v = input[at]!;
        // (x - mean) / std, the same double operations as numpy in the training script
        if (mean !== undefined) v = (v - mean[j]!) / std![j]!;
        if (v !== v) {
          if (missing === 'skip') return false;
          if (missing === 'zero') v = 0;
        }
        input[at] = v;
      }
    }
    return true;
  }

  /** Drops the first `count` pending rows (they went into a run). */
  shift(count: number): void {
    if (count === this.rows) {
      this.rows = 0;
      this.vectors = [];
      return;
    }
    this.input.copyWithin(0, count * this.rowSize, this.rows * this.rowSize);
    this.arrivals.copyWithin(0, count, this.rows);
    this.vectors = this.vectors.slice(count);
    this.rows -= count;
  }
}
