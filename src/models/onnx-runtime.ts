// ModelRuntime over onnxruntime-node: CPU by default; `cuda` / `tensorrt` when the installed runtime
// has them, else a warning and CPU. onnxruntime-node runs a session on the event-loop thread after a
// setImmediate, so a batch blocks the loop for its inference time: the scorer bounds the batch size.

import * as ort from 'onnxruntime-node';
import { MlfpError } from '../errors.js';
import type { ExecutionProvider } from './manifest.js';
import { SILENT_LOGGER, type ModelLogger, type ModelRuntime, type OutputKind } from './runtime.js';

const FLOAT_TYPES = new Set(['float32', 'float64']);

/** Execution providers the installed onnxruntime-node lists (bundled or loadable). */
export function availableExecutionProviders(): string[] {
  return ort.listSupportedBackends().map((b) => b.name);
}

export interface OnnxRuntimeOptions {
  executionProvider?: ExecutionProvider;
  threads?: number;
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
  private readonly session: ort.InferenceSession;
  private readonly inputName: string;
  private readonly outputName: string;
  private readonly inputType: 'float32' | 'float64';
  private readonly rank: number;
  private buffer: Float32Array | Float64Array = new Float32Array(0);

  constructor(session: ort.InferenceSession, provider: string, path: string) {
    this.session = session;
    this.provider = `onnxruntime:${provider}`;
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

  async score(input: Float64Array, rows: number, out: Float64Array): Promise<void> {
    const steps = this.sequenceLength ?? input.length / (rows * this.inputWidth);
    const size = rows * steps * this.inputWidth;
    if (this.buffer.length < size)
      this.buffer = this.inputType === 'float32' ? new Float32Array(size) : new Float64Array(size);
    const data = this.buffer.length === size ? this.buffer : this.buffer.subarray(0, size);
    data.set(input.subarray(0, size));
    const dims = this.rank === 3 ? [rows, steps, this.inputWidth] : [rows, this.inputWidth];
    const tensor = new ort.Tensor(this.inputType, data, dims);
    const result = await this.session.run({ [this.inputName]: tensor }, [this.outputName]);
    const output = result[this.outputName]!;
    const values = output.data as Float32Array | Float64Array;
    const width = this.outputWidth;
    if (values.length !== rows * width)
      throw new MlfpError(
        'model_error',
        `output "${this.outputName}" has shape [${output.dims.join(', ')}] for ${rows} rows`,
      );
    out.set(values);
    output.dispose();
  }

  async close(): Promise<void> {
    await this.session.release();
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
  try {
    const runtime = new OnnxRuntime(session, active, path);
    logger.info(`${path}: onnxruntime execution provider ${active}`);
    return runtime;
  } catch (error) {
    await session.release();
    throw error;
  }
}
