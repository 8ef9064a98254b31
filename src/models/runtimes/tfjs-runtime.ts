// ModelRuntime over TensorFlow.js LayersModels (model.json + weight files). Backend: tfjs-node-gpu, then
// tfjs-node when installed (optional dependencies, loaded dynamically), else pure @tensorflow/tfjs (CPU).

import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type * as Tf from '@tensorflow/tfjs';
import { MlfpError } from '../../errors.js';
import { SILENT_LOGGER, type ModelInput, type ModelLogger, type ModelRuntime, type OutputKind } from './runtime.js';

type TfModule = typeof Tf;

const BACKEND_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node', '@tensorflow/tfjs'];
let tfLoading: Promise<{ tf: TfModule; packageName: string }> | undefined;

/** The TensorFlow.js module in use (first that loads of tfjs-node-gpu, tfjs-node, tfjs). */
export function loadTensorFlow(
  logger: ModelLogger = SILENT_LOGGER,
): Promise<{ tf: TfModule; packageName: string }> {
  tfLoading ??= (async () => {
    for (const packageName of BACKEND_PACKAGES) {
      try {
        // a variable keeps TypeScript from resolving optional packages that are not installed
        const name: string = packageName;
        const tf = (await import(name)) as TfModule;
        // production mode: no debug checks, and no "install tfjs-node" banner on the CPU backend
        tf.env().set('PROD', true);
        await tf.ready();
        logger.info(`TensorFlow.js from ${packageName}, backend ${tf.getBackend()}`);
        return { tf, packageName };
      } catch (error) {
        if (packageName === '@tensorflow/tfjs') throw error;
      }
    }
    throw new MlfpError('internal', 'no TensorFlow.js package could be loaded');
  })();
  return tfLoading;
}

export class TfjsRuntime implements ModelRuntime {
  readonly format = 'tfjs-layers';
  readonly inputWidth: number;
  readonly sequenceLength: number | undefined;
  readonly featureNames = undefined;
  readonly outputWidth: number;
  readonly outputKind: OutputKind;
  readonly provider: string;
  readonly description: string;
  readonly synchronous = false;
  readonly float32Input = true;
  private readonly tf: TfModule;
  private readonly model: Tf.LayersModel;
  private buffer = new Float32Array(0);

  constructor(tf: TfModule, model: Tf.LayersModel, packageName: string, path: string) {
    this.tf = tf;
    this.model = model;
    this.provider = `tfjs:${tf.getBackend()} (${packageName})`;
    if (model.inputs.length !== 1 || model.outputs.length !== 1)
      throw new MlfpError(
        'model_unsupported',
        `${path}: ${model.inputs.length} inputs / ${model.outputs.length} outputs; one of each is supported`,
      );
    const inShape = model.inputs[0]!.shape;
    const outShape = model.outputs[0]!.shape;
    const width = inShape[inShape.length - 1];
    if ((inShape.length !== 2 && inShape.length !== 3) || typeof width !== 'number')
      throw new MlfpError(
        'model_unsupported',
        `${path}: input shape [${inShape.join(', ')}]; [batch, features] or [batch, steps, features] are supported`,
      );
    this.inputWidth = width;
    const steps = inShape.length === 3 ? inShape[1] : 1;
    this.sequenceLength = typeof steps === 'number' ? steps : undefined;
    const outWidth = outShape[outShape.length - 1];
    if (outShape.length !== 2 || typeof outWidth !== 'number')
      throw new MlfpError(
        'model_unsupported',
        `${path}: output shape [${outShape.join(', ')}]; [batch, k] is supported`,
      );
    this.outputWidth = outWidth;
    const layers = model.layers;
    const activation = String(
      (layers[layers.length - 1]?.getConfig() as { activation?: unknown } | undefined)?.activation ?? '',
    );
    this.outputKind =
      activation === 'softmax'
        ? 'probabilities'
        : activation === 'sigmoid' && outWidth === 1
          ? 'probability'
          : 'value';
    this.description = `TF.js LayersModel, ${layers.map((l) => l.getClassName()).join(' + ')}, input [${inShape.join(', ')}]`;
  }

  async score(input: ModelInput, rows: number, out: Float64Array): Promise<void> {
    const steps = this.sequenceLength ?? input.length / (rows * this.inputWidth);
    const size = rows * steps * this.inputWidth;
    if (this.buffer.length < size) this.buffer = new Float32Array(size);
    const data = this.buffer.subarray(0, size);
    data.set(input.subarray(0, size));
    const shape =
      this.sequenceLength === 1 && this.model.inputs[0]!.shape.length === 2
        ? [rows, this.inputWidth]
        : [rows, steps, this.inputWidth];
    const x = this.tf.tensor(data, shape, 'float32');
    let y: Tf.Tensor | undefined;
    try {
      y = this.model.predict(x) as Tf.Tensor;
      const values = await y.data();
      if (values.length !== rows * this.outputWidth)
        throw new MlfpError('model_error', `output shape [${y.shape.join(', ')}] for ${rows} rows`);
      for (let i = 0; i < values.length; i++) out[i] = values[i]!;
    } finally {
      // tensors hold backend memory until disposed, whatever happened
      x.dispose();
      y?.dispose();
    }
  }

  async close(): Promise<void> {
    this.model.dispose();
  }
}

/** Loads model.json and its weight files (paths relative to model.json) through tf.io.fromMemory. */
export async function openTfjsRuntime(
  path: string,
  options: { logger?: ModelLogger } = {},
): Promise<TfjsRuntime> {
  const { tf, packageName } = await loadTensorFlow(options.logger);
  let artifacts: Tf.io.ModelArtifacts;
  try {
    const json = JSON.parse(await readFile(path, 'utf8')) as {
      modelTopology?: unknown;
      weightsManifest?: { paths: string[]; weights: Tf.io.WeightsManifestEntry[] }[];
    };
    if (typeof json.modelTopology !== 'object' || !Array.isArray(json.weightsManifest))
      throw new Error('no modelTopology / weightsManifest (a LayersModel model.json is expected)');
    const specs: Tf.io.WeightsManifestEntry[] = [];
    const parts: Buffer[] = [];
    for (const group of json.weightsManifest) {
      specs.push(...group.weights);
      for (const p of group.paths) {
        const file = resolve(dirname(path), p);
        if (!file.startsWith(dirname(resolve(path))))
          throw new Error(`weight path ${p} leaves the model folder`);
        parts.push(await readFile(file));
      }
    }
    const weights = Buffer.concat(parts);
    artifacts = {
      modelTopology: json.modelTopology as Tf.io.ModelArtifacts['modelTopology'],
      weightSpecs: specs,
      weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
    };
  } catch (error) {
    throw new MlfpError('model_invalid', `${path}: ${(error as Error).message}`, { cause: error });
  }
  let model: Tf.LayersModel;
  try {
    model = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  } catch (error) {
    throw new MlfpError(
      'model_invalid',
      `${path}: TensorFlow.js cannot load it: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  try {
    return new TfjsRuntime(tf, model, packageName, path);
  } catch (error) {
    model.dispose();
    throw error;
  }
}
