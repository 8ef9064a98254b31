// ModelRuntime over onnxruntime-node: CPU by default; `cuda` / `tensorrt` when the installed runtime
// has them, else a warning and CPU. By default the session runs on a worker thread: onnxruntime-node
// runs on the calling thread, and the event loop must not wait for inference.

import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { MlfpError } from '../../errors.js';
import type { ExecutionProvider } from '../manifest.js';
import { unrollLstm } from '../formats/onnx-unroll.js';
import { OnnxWorkerSession } from './onnx-worker.js';
import { SILENT_LOGGER, type ModelInput, type ModelLogger, type ModelRuntime, type OutputKind } from './runtime.js';

const FLOAT_TYPES = new Set(['float32', 'float64']);

/** Execution providers the installed onnxruntime-node lists (bundled or loadable). */
export function availableExecutionProviders(): string[] {
  return ort.listSupportedBackends().map((b) => b.name);
}

export interface OnnxRuntimeOptions {
  executionProvider?: ExecutionProvider;
  threads?: number;
  /** run the session on a worker thread (default true) */
  worker?: boolean;
  /** worker-thread sessions runs are spread over (default 1) */
  workers?: number;
  /**
   * LSTM nodes rewritten into per-step ops (onnx-unroll.ts), used once the rewritten graph gives the
   * op's outputs on sample windows: `auto` (default) for sequences of at most 64 steps whose inputs
   * cannot be NaN (see nanInputs), `always` for any sequence of at most 256 steps, `never` keeps the op.
   * The choice depends on the model file and options only (not on timings), so a model scores the
   * same in every process and run
   */
  unrollLstm?: UnrollLstm;
  /**
   * missing values (NaN) may reach the model (a manifest's `inputs.missing: native`, a bare file):
   * `auto` then keeps the LSTM op, which turns NaN inputs into finite outputs (its activations clamp
   * NaN) where the unrolled graph, as torch does, gives NaN
   */
  nanInputs?: boolean;
  logger?: ModelLogger;
}

export type UnrollLstm = 'auto' | 'always' | 'never';

export class OnnxRuntime implements ModelRuntime {
  readonly format = 'onnx';
  readonly inputWidth: number;
  readonly sequenceLength: number | undefined;
  readonly featureNames = undefined;
  readonly outputWidth: number;
  readonly outputKind: OutputKind;
  readonly provider: string;
  description: string;
  readonly synchronous = false;
  readonly float32Input: boolean;
  /** the in-thread session; undefined once inference moves to worker threads */
  private session: ort.InferenceSession | undefined;
  /** worker-thread sessions, used round robin; empty when inference runs on the event loop */
  private workers: OnnxWorkerSession[] = [];
  private nextWorker = 0;
  private readonly inputName: string;
  private readonly outputName: string;
  private readonly inputType: 'float32' | 'float64';
  private readonly rank: number;
  private readonly path: string;

  constructor(session: ort.InferenceSession, provider: string, path: string) {
    this.session = session;
    this.provider = `onnxruntime:${provider}`;
    this.path = path;
    if (session.inputMetadata.length !== 1)
      throw new MlfpError(
        'model_unsupported',
        `${path}: the graph has ${session.inputMetadata.length} inputs; one float tensor input is supported`,
      );
    const input = session.inputMetadata[0]!;
    if (!input.isTensor || !FLOAT_TYPES.has(input.type))
      throw new MlfpError(
        'model_unsupported',
        `${path}: input "${input.name}" is ${input.isTensor ? input.type : 'not a tensor'}; float32 or float64 tensors are supported`,
      );
    if (input.shape.length !== 2 && input.shape.length !== 3)
      throw new MlfpError(
        'model_unsupported',
        `${path}: input "${input.name}" has rank ${input.shape.length}; [batch, features] or [batch, steps, features] are supported`,
      );
    const width = input.shape[input.shape.length - 1];
    if (typeof width !== 'number')
      throw new MlfpError(
        'model_unsupported',
        `${path}: the feature dimension of input "${input.name}" is symbolic (${String(width)}); it must be fixed`,
      );
    this.inputName = input.name;
    this.inputType = input.type as 'float32' | 'float64';
    this.float32Input = this.inputType === 'float32';
    this.rank = input.shape.length;
    this.inputWidth = width;
    const steps = input.shape.length === 3 ? input.shape[1] : 1;
    this.sequenceLength = typeof steps === 'number' ? steps : undefined;
    const output = session.outputMetadata.find((o) => o.isTensor && FLOAT_TYPES.has(o.type));
    if (output === undefined || !output.isTensor)
      throw new MlfpError(
        'model_unsupported',
        `${path}: no float tensor output (outputs: ${session.outputNames.join(', ')}); ZipMap outputs are not supported`,
      );
    this.outputName = output.name;
    const last = output.shape.length <= 1 ? 1 : output.shape[output.shape.length - 1];
    if (typeof last !== 'number' || output.shape.length > 2)
      throw new MlfpError(
        'model_unsupported',
        `${path}: output "${output.name}" has shape [${output.shape.join(', ')}]; [batch] or [batch, k] with a fixed k is supported`,
      );
    this.outputWidth = last;
    // a classifier graph (TreeEnsembleClassifier, sklearn-onnx) pairs an integer label with probabilities
    const hasLabel = session.outputMetadata.some(
      (o) => o.isTensor && (o.type === 'int64' || o.type === 'string'),
    );
    this.outputKind = hasLabel ? 'probabilities' : 'value';
    this.description = `ONNX graph, input ${input.name}[${input.shape.join(', ')}] ${input.type}, output ${output.name}[${output.shape.join(', ')}]`;
  }

  /**
   * Runs use `session` (the same graph with its LSTM nodes unrolled) from now on; the graph as loaded
   * is released. One graph for every run: a window scores the same whatever run it lands in.
   */
  async useUnrolled(session: ort.InferenceSession, note: string): Promise<void> {
    const loaded = this.session;
    this.description += `; ${note}`;
    this.session = session;
    await loaded?.release();
  }

  /** Moves inference to worker threads (the in-thread session, used to read the graph, is released). */
  async useWorkers(workers: OnnxWorkerSession[]): Promise<void> {
    const session = this.session;
    this.workers = workers;
    this.session = undefined;
    await session?.release();
  }

  /** Where inference runs: `1 worker thread`, `2 worker threads` or `event loop`. */
  get thread(): string {
    const n = this.workers.length;
    return n === 0 ? 'event loop' : `${n} worker thread${n > 1 ? 's' : ''}`;
  }

  score(input: ModelInput, rows: number, out: Float64Array): Promise<void> {
    return new Promise((resolve, reject) =>
      this.scoreWith(input, rows, out, (error) => (error === undefined ? resolve() : reject(error))),
    );
  }

  scoreWith(input: ModelInput, rows: number, out: Float64Array, done: (error: Error | undefined) => void): void {
    const steps = this.sequenceLength ?? input.length / (rows * this.inputWidth);
    const size = rows * steps * this.inputWidth;
    const dims = this.rank === 3 ? [rows, steps, this.inputWidth] : [rows, this.inputWidth];
    // an input buffer of the run's own: a worker takes it over (and hands it back for a later run), and
    // onnxruntime-node's own run starts only after a setImmediate, by when the caller may have started
    // the next run
    const worker = this.workers.length > 0 ? this.workers[this.nextWorker]! : undefined;
    const data =
      worker !== undefined
        ? worker.inputArray(this.inputType, size)
        : this.inputType === 'float32'
          ? new Float32Array(size)
          : new Float64Array(size);
    data.set(input.subarray(0, size));
    const finish = (values: Float32Array | Float64Array, shape: readonly number[]): void => {
      if (values.length !== rows * this.outputWidth) {
        done(new MlfpError('model_error', `output "${this.outputName}" has shape [${shape.join(', ')}] for ${rows} rows`));
        return;
      }
      out.set(values);
      done(undefined);
    };
    if (worker !== undefined) {
      this.nextWorker = (this.nextWorker + 1) % this.workers.length;
      worker.submit(this.inputName, this.outputName, this.inputType, data, dims, (error, result) => {
        if (error !== undefined) done(error);
        else finish(result!.data, result!.dims);
      });
      return;
    }
    const session = this.session;
    if (session === undefined) {
      queueMicrotask(() => done(new MlfpError('model_error', `${this.path}: the model was closed`)));
      return;
    }
    const tensor = new ort.Tensor(this.inputType, data, dims);
    session.run({ [this.inputName]: tensor }, [this.outputName]).then(
      (result) => {
        const output = result[this.outputName]!;
        finish(output.data as Float32Array | Float64Array, output.dims);
      },
      (error: unknown) => done(error as Error),
    );
  }

  /** Runs finished on the worker threads are reported now (see OnnxWorkerSession.poll). */
  poll(): void {
    for (const worker of this.workers) worker.poll();
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.close()));
    await this.session?.release();
    this.workers = [];
    this.session = undefined;
  }
}

/**
 * Opens an ONNX model with the requested execution provider, falling back to CPU with a warning when
 * the installed onnxruntime-node lacks it or it fails to start. Logs which provider is active.
 */
export async function openOnnxRuntime(path: string, options: OnnxRuntimeOptions = {}): Promise<OnnxRuntime> {
  const logger = options.logger ?? SILENT_LOGGER;
  const wanted = options.executionProvider ?? 'cpu';
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: options.threads ?? 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  };
  const open = (providers: string[], source: string | Uint8Array = path): Promise<ort.InferenceSession> =>
    typeof source === 'string'
      ? ort.InferenceSession.create(source, { ...sessionOptions, executionProviders: providers })
      : ort.InferenceSession.create(source, { ...sessionOptions, executionProviders: providers });
  let session: ort.InferenceSession | undefined;
  let active = 'cpu';
  if (wanted !== 'cpu') {
    const listed = ort.listSupportedBackends().find((b) => b.name === wanted);
    if (listed === undefined) {
      logger.warn(
        `${path}: execution provider ${wanted} is not in this onnxruntime-node (has ${availableExecutionProviders().join(', ')}); using cpu`,
      );
    } else {
      try {
        session = await open([wanted, 'cpu']);
        active = wanted;
      } catch (error) {
        logger.warn(
          `${path}: execution provider ${wanted} did not start (${(error as Error).message.split('\n')[0]}); using cpu`,
        );
      }
    }
  }
  if (session === undefined) {
    try {
      session = await open(['cpu']);
    } catch (error) {
      throw new MlfpError(
        'model_invalid',
        `${path}: onnxruntime cannot load it: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }
  let runtime: OnnxRuntime;
  try {
    runtime = new OnnxRuntime(session, active, path);
  } catch (error) {
    await session.release();
    throw error;
  }
  const providers = active === 'cpu' ? ['cpu'] : [active, 'cpu'];
  // the graph with its LSTM nodes unrolled, when the mode allows it and it gives the op's outputs
  let unrolledBytes: Uint8Array | undefined;
  const unroll = options.unrollLstm ?? 'auto';
  if (unroll !== 'never' && runtime.sequenceLength !== undefined && runtime.sequenceLength > 1) {
    const unrolled = await unrolledGraph(path, session, runtime.sequenceLength, unroll, options.nanInputs ?? true, (bytes) => open(providers, bytes), logger);
    if (unrolled !== undefined) {
      unrolledBytes = unrolled.bytes;
      await runtime.useUnrolled(unrolled.session, unrolled.note);
    }
  }
  if (options.worker !== false) {
    try {
      const count = Math.max(1, options.workers ?? 1);
      const started = await Promise.allSettled(
        Array.from({ length: count }, () =>
          OnnxWorkerSession.start(unrolledBytes ?? path, { ...sessionOptions, executionProviders: providers }, path),
        ),
      );
      const failed = started.find((result) => result.status === 'rejected');
      if (failed !== undefined) {
        for (const result of started) if (result.status === 'fulfilled') await result.value.close();
        throw (failed as PromiseRejectedResult).reason as Error;
      }
      await runtime.useWorkers(started.map((result) => (result as PromiseFulfilledResult<OnnxWorkerSession>).value));
    } catch (error) {
      logger.warn(`${path}: no worker thread for onnxruntime (${(error as Error).message}); inference runs on the event loop`);
    }
  }
  logger.info(`${path}: onnxruntime execution provider ${active}, inference on the ${runtime.thread}`);
  return runtime;
}

/** The LSTM-unrolled graph of `path`, when there is one that loads and gives the op's outputs. */
async function unrolledGraph(
  path: string,
  original: ort.InferenceSession,
  steps: number,
  mode: 'auto' | 'always',
  nanInputs: boolean,
  open: (bytes: Uint8Array) => Promise<ort.InferenceSession>,
  logger: ModelLogger,
): Promise<{ session: ort.InferenceSession; bytes: Uint8Array; note: string } | undefined> {
  let file: Buffer;
  try {
    file = await readFile(path);
  } catch {
    return undefined; // the session loaded it a moment ago; a file gone now keeps the op
  }
  if (file.length > MAX_REWRITE_BYTES) return undefined;
  const rewrite = unrollLstm(new Uint8Array(file.buffer, file.byteOffset, file.length), steps);
  for (const kept of rewrite.kept) logger.info(`${path}: LSTM op kept (${kept})`);
  if (rewrite.bytes === undefined) return undefined;
  if (mode === 'auto' && steps > AUTO_MAX_STEPS) {
    logger.info(`${path}: LSTM op kept (${steps} steps: auto unrolls up to ${AUTO_MAX_STEPS}; runtime.unrollLstm always goes to 256)`);
    return undefined;
  }
  if (mode === 'auto' && nanInputs) {
    logger.info(
      `${path}: LSTM op kept (missing values reach the model: onnxruntime's LSTM op makes NaN inputs finite outputs, the unrolled graph NaN, as torch does; set inputs.missing to zero or skip, or runtime.unrollLstm to always)`,
    );
    return undefined;
  }
  let candidate: ort.InferenceSession;
  try {
    candidate = await open(rewrite.bytes);
  } catch (error) {
    logger.warn(`${path}: the unrolled LSTM graph does not load (${(error as Error).message.split('\n')[0]}); LSTM op kept`);
    return undefined;
  }
  const keep = async (message: string, warn: boolean): Promise<undefined> => {
    if (warn) logger.warn(`${path}: ${message}; LSTM op kept`);
    else logger.info(`${path}: ${message}; LSTM op kept`);
    await candidate.release();
    return undefined;
  };
  const input = original.inputMetadata[0]!;
  const width = input.isTensor ? input.shape[2] : undefined;
  if (typeof width !== 'number') return keep('input width unknown', false);
  const float64 = input.isTensor && input.type === 'float64';
  // 8 windows of deterministic values in (-3, 3): every gate well inside and outside its linear range
  const size = 8 * steps * width;
  const data = float64 ? new Float64Array(size) : new Float32Array(size);
  for (let i = 0; i < size; i++) data[i] = Math.sin(i * 1.618 + 0.5) * 3;
  const sample = new ort.Tensor(float64 ? 'float64' : 'float32', data, [8, steps, width]);
  let mismatch: string | undefined;
  try {
    mismatch = await compareOutputs(original, candidate, input.name, sample);
  } catch (error) {
    mismatch = `it fails to run (${(error as Error).message.split('\n')[0]})`;
  }
  const nodes = rewrite.unrolled.join(', ');
  if (mismatch !== undefined) return keep(`the unrolled LSTM graph (${nodes}) differs from the op: ${mismatch}`, true);
  const note = `LSTM ${nodes} unrolled into ${steps} steps`;
  logger.info(`${path}: ${note}`);
  return { session: candidate, bytes: rewrite.bytes, note };
}

/** `auto` unrolls sequences up to this length (the graph grows by ~12 nodes a step). */
const AUTO_MAX_STEPS = 64;

/** Larger model files keep their LSTM op (the rewrite holds the file twice in memory). */
const MAX_REWRITE_BYTES = 64 * 2 ** 20;

/** Why two sessions' outputs differ on `sample` (every output of `a`), or undefined when they agree. */
async function compareOutputs(
  a: ort.InferenceSession,
  b: ort.InferenceSession,
  inputName: string,
  sample: ort.Tensor,
): Promise<string | undefined> {
  const want = await a.run({ [inputName]: sample });
  const got = await b.run({ [inputName]: sample }, a.outputNames);
  for (const name of a.outputNames) {
    const x = want[name];
    const y = got[name];
    if (x === undefined || y === undefined) return `output ${name} missing`;
    if (x.dims.join(',') !== y.dims.join(',')) return `output ${name} has shape [${y.dims.join(', ')}], not [${x.dims.join(', ')}]`;
    if (typeof x.data[0] !== 'number') continue;
    const xs = x.data as Float32Array;
    const ys = y.data as Float32Array;
    for (let i = 0; i < xs.length; i++)
      if (!(Math.abs(xs[i]! - ys[i]!) <= 1e-5 * Math.max(1, Math.abs(xs[i]!))))
        return `output ${name}[${i}] is ${ys[i]}, the op gives ${xs[i]}`;
  }
  return undefined;
}
