// The one small interface every model runtime implements (native trees, onnxruntime, TensorFlow.js),
// and the options they share. Rows are row-major: rows x sequenceLength x inputWidth, Float64Array (or
// Float32Array for a runtime whose model takes float32, see float32Input).

import type { ExecutionProvider, ModelFormat } from '../manifest.js';

/** How a runtime's outputs read: a value per output, P(class 1) of a binary model, or one probability per class. */
export type OutputKind = 'value' | 'probability' | 'probabilities';

/** Model input rows: doubles, or floats for a runtime with float32Input. */
export type ModelInput = Float64Array | Float32Array;

export interface ModelRuntime {
  readonly format: ModelFormat;
  /** values per time step (feature vector width) */
  readonly inputWidth: number;
  /** time steps per row: 1 for tabular models; undefined when the file leaves it open */
  readonly sequenceLength: number | undefined;
  /** the model file's own input names, when it has them (LightGBM, XGBoost) */
  readonly featureNames: readonly string[] | undefined;
  /** values per output row */
  readonly outputWidth: number;
  readonly outputKind: OutputKind;
  /** what runs it, for logs and benchmark reports: `native`, `onnxruntime:cpu`, `tfjs:tensorflow` … */
  readonly provider: string;
  /** a line saying what the model file is (objective, trees, layers) */
  readonly description: string;
  /** true when `score` finishes before returning (native trees); false when it returns a promise */
  readonly synchronous: boolean;
  /**
   * the model computes in float32: `score` takes a Float32Array input as it is (a Float64Array is
   * rounded to float32 first, the same values), so callers may assemble rows in float32 directly
   */
  readonly float32Input?: boolean;
  /**
   * Scores `rows` rows from `input` into `out` (rows x outputWidth). Synchronous runtimes return void
   * (no promise hop on the hot path); others a promise, after copying what they need from `input`
   * before returning (the caller refills it while the promise runs; `out` is written until it
   * settles). Throws (or rejects) MlfpError on failure.
   */
  score(input: ModelInput, rows: number, out: Float64Array): void | Promise<void>;
  /**
   * An asynchronous runtime may also offer score with a callback: `done` is called once, with the
   * error if the run failed, either from an event or synchronously from poll().
   */
  scoreWith?(input: ModelInput, rows: number, out: Float64Array, done: (error: Error | undefined) => void): void;
  /** Reports the runs that have finished by now (their `done` callbacks run before it returns). */
  poll?(): void;
  close(): Promise<void>;
}

/** Text-only logger: `mlfp run` passes the `models` component's pino child (src/monitoring/log.ts messageLogger). */
export interface ModelLogger {
  info(message: string): void;
  warn(message: string): void;
}

export const SILENT_LOGGER: ModelLogger = { info: () => undefined, warn: () => undefined };

export interface RuntimeOptions {
  logger?: ModelLogger;
  /** overrides the manifest's runtime.executionProvider (from the engine config) */
  executionProvider?: ExecutionProvider;
  /** overrides the manifest's runtime.threads */
  threads?: number;
  /** overrides the manifest's runtime.worker (ONNX inference on a worker thread) */
  onnxWorker?: boolean;
  /** overrides the manifest's runtime.workers (ONNX sessions on worker threads, runs spread over them) */
  onnxWorkers?: number;
  /** overrides the manifest's runtime.unrollLstm (ONNX LSTM nodes rewritten into per-step ops) */
  onnxUnrollLstm?: 'auto' | 'always' | 'never';
}
