// ModelRuntime over onnxruntime-node: CPU by default; `cuda` / `tensorrt` when the installed runtime
// has them, else a warning and CPU. By default the session runs on a worker thread: onnxruntime-node
// runs on the calling thread, and the event loop must not wait for inference.

import * as ort from 'onnxruntime-node';
import { MlfpError } from '../errors.js';
import type { ExecutionProvider } from './manifest.js';
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
  logger?: ModelLogger;
}

export class OnnxRuntime implements ModelRuntime {
  readonly format = 'onnx';
  readonly inputWidth: number;
  readonly sequenceLength: number | undefined;
  readonly featureNames = undefined;
  readonly outputWidth: number;
  readonly outputKind: OutputKind;
  readonly provider: string;
  readonly description: string;
  readonly synchronous = false;
  readonly float32Input: boolean;
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
    // a fresh input buffer per run: a worker takes it over, and onnxruntime-node's own run starts only
    // after a setImmediate, by when the caller may have started the next run
    const data = this.inputType === 'float32' ? new Float32Array(size) : new Float64Array(size);
    data.set(input.subarray(0, size));
    const finish = (values: Float32Array | Float64Array, shape: readonly number[]): void => {
      if (values.length !== rows * this.outputWidth) {
        done(new MlfpError('model_error', `output "${this.outputName}" has shape [${shape.join(', ')}] for ${rows} rows`));
        return;
      }
      out.set(values);
      done(undefined);
    };
    if (this.workers.length > 0) {
      const worker = this.workers[this.nextWorker]!;
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
  const open = (providers: string[]): Promise<ort.InferenceSession> =>
    ort.InferenceSession.create(path, { ...sessionOptions, executionProviders: providers });
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
  if (options.worker !== false) {
    try {
      const providers = active === 'cpu' ? ['cpu'] : [active, 'cpu'];
      const count = Math.max(1, options.workers ?? 1);
      const started = await Promise.allSettled(
        Array.from({ length: count }, () =>
          OnnxWorkerSession.start(path, { ...sessionOptions, executionProviders: providers }),
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
