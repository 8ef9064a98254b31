// Opens a model from a manifest (folder or file) or from a bare model file, starts its runtime and
// refuses any manifest that does not match the model file, naming the mismatch.

import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import type { Timeframe } from '../domain/types.js';
import { MlfpError } from '../errors.js';
import {
  outputNamesOf,
  parseManifest,
  readManifestFile,
  type ModelFormat,
  type ModelManifest,
} from './manifest.js';
import { openOnnxRuntime } from './runtimes/onnx-runtime.js';
import type { ModelRuntime, RuntimeOptions } from './runtimes/runtime.js';
import { openTfjsRuntime } from './runtimes/tfjs-runtime.js';
import { openTreeRuntime } from './runtimes/tree-runtime.js';

/** A model ready to score: its manifest and a started runtime. */
export interface LoadedModel {
  /** `name@version` */
  readonly id: string;
  readonly manifest: ModelManifest;
  readonly runtime: ModelRuntime;
  readonly modelPath: string;
  /** where it came from: the manifest path, or the bare model file */
  readonly source: string;
}

export interface OpenModelOptions extends RuntimeOptions {
  /** input names for a bare ONNX / TF.js file (which has none of its own) */
  features?: readonly string[];
  /** timeframe for a bare model file (default 5m) */
  timeframe?: Timeframe;
}

const MANIFEST_NAME = 'manifest.json';

/** Starts the runtime for a format and model file. */
export async function openRuntime(
  format: ModelFormat,
  modelPath: string,
  options: RuntimeOptions & {
    executionProviderFromManifest?: ModelManifest['runtime'];
    /** missing values (NaN) reach the model: `inputs.missing` native, or a bare file (default true) */
    missingInputs?: boolean;
  } = {},
): Promise<ModelRuntime> {
  switch (format) {
    case 'lightgbm-txt':
    case 'xgboost-json':
      return openTreeRuntime(format, modelPath);
    case 'onnx':
      return openOnnxRuntime(modelPath, {
        executionProvider:
          options.executionProvider ?? options.executionProviderFromManifest?.executionProvider,
        threads: options.threads ?? options.executionProviderFromManifest?.threads,
        worker: options.onnxWorker ?? options.executionProviderFromManifest?.worker,
        workers: options.onnxWorkers ?? options.executionProviderFromManifest?.workers,
        unrollLstm: options.onnxUnrollLstm ?? options.executionProviderFromManifest?.unrollLstm,
        nanInputs: options.missingInputs ?? true,
        logger: options.logger,
      });
    case 'tfjs-layers':
      return openTfjsRuntime(modelPath, { logger: options.logger });
  }
}

/**
 * Opens `source`: a folder holding manifest.json, a manifest file, or a bare model file (model.txt,
 * an XGBoost model .json, a TF.js model.json, a .onnx file).
 */
export async function openModel(source: string, options: OpenModelOptions = {}): Promise<LoadedModel> {
  const path = resolve(source);
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    throw new MlfpError('io_error', `cannot read ${source}: ${(error as Error).message}`, {
      cause: error,
      retriable: false,
    });
  }
  if (info.isDirectory()) {
    const entries = await readdir(path);
    if (entries.includes(MANIFEST_NAME)) return openManifest(join(path, MANIFEST_NAME), options);
    const models = entries.filter((e) => /\.(txt|onnx|json)$/.test(e));
    if (models.length !== 1)
      throw new MlfpError(
        'bad_argument',
        `${source}: no ${MANIFEST_NAME}, and not exactly one model file (${models.join(', ') || 'none'})`,
      );
    return openBare(join(path, models[0]!), options);
  }
  if (extname(path) === '.json') {
    const head = await readJsonHead(path);
    // any JSON that is not an XGBoost model or a TF.js model.json is read as a manifest, so that a
    // broken manifest is reported key by key
    if (!('learner' in head) && !('modelTopology' in head)) return openManifest(path, options);
  }
  return openBare(path, options);
}

export async function openManifest(manifestPath: string, options: RuntimeOptions = {}): Promise<LoadedModel> {
  const { manifest, modelPath } = await readManifestFile(manifestPath);
  const runtime = await openRuntime(manifest.format, modelPath, {
    ...options,
    executionProviderFromManifest: manifest.runtime,
    missingInputs: manifest.inputs.missing === 'native',
  });
  try {
    checkManifestAgainstRuntime(manifest, runtime, manifestPath);
  } catch (error) {
    await runtime.close();
    throw error;
  }
  return { id: `${manifest.name}@${manifest.version}`, manifest, runtime, modelPath, source: manifestPath };
}

async function readJsonHead(path: string): Promise<Record<string, unknown>> {
  try {
    const value: unknown = JSON.parse(await readFile(path, 'utf8'));
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch (error) {
    throw new MlfpError('model_invalid', `${path}: not JSON (${(error as Error).message})`, { cause: error });
  }
}

async function detectFormat(path: string): Promise<ModelFormat> {
  const ext = extname(path);
  if (ext === '.txt') return 'lightgbm-txt';
  if (ext === '.onnx') return 'onnx';
  if (ext === '.json') {
    const head = await readJsonHead(path);
    if ('learner' in head) return 'xgboost-json';
    if ('modelTopology' in head) return 'tfjs-layers';
    throw new MlfpError(
      'model_invalid',
      `${path}: a JSON file that is neither a manifest, an XGBoost model nor a TF.js model.json`,
    );
  }
  throw new MlfpError('bad_argument', `${path}: unknown model file type "${ext}" (.txt, .json, .onnx)`);
}

/** A bare model file: its own feature names (or --features) define the inputs; classes are 0..K-1. */
async function openBare(modelPath: string, options: OpenModelOptions): Promise<LoadedModel> {
  const format = await detectFormat(modelPath);
  const runtime = await openRuntime(format, modelPath, options);
  try {
    const own = runtime.featureNames;
    const features = options.features ?? own;
    if (features === undefined)
      throw new MlfpError(
        'bad_argument',
        `${modelPath}: the model file does not name its inputs; give them (--features a,b,c)`,
        { field: 'features' },
      );
    const width = runtime.outputWidth;
    const steps = runtime.sequenceLength ?? 1;
    const kind = steps > 1 ? 'sequence' : runtime.outputKind === 'value' ? 'regressor' : 'classifier';
    const classes = runtime.outputKind === 'probability' ? 2 : width;
    const manifest = parseManifest(
      {
        name: basename(modelPath, extname(modelPath)).replace(/[^A-Za-z0-9._-]/g, '_') || 'model',
        version: '0',
        description: `bare ${format} file ${modelPath}`,
        kind,
        format,
        file: basename(modelPath),
        timeframe: options.timeframe ?? '5m',
        inputs: { features: [...features], sequenceLength: steps },
        output:
          kind === 'classifier'
            ? { type: 'classes', labels: Array.from({ length: classes }, (_, i) => String(i)) }
            : {
                type: 'value',
                names: width === 1 ? ['value'] : Array.from({ length: width }, (_, i) => `value_${i}`),
              },
      },
      modelPath,
    );
    checkManifestAgainstRuntime(manifest, runtime, modelPath);
    return { id: `${manifest.name}@${manifest.version}`, manifest, runtime, modelPath, source: modelPath };
  } catch (error) {
    await runtime.close();
    throw error;
  }
}

const TREE_FORMATS: ReadonlySet<ModelFormat> = new Set(['lightgbm-txt', 'xgboost-json']);

/** Throws model_mismatch naming the first difference between a manifest and its model file. */
export function checkManifestAgainstRuntime(
  manifest: ModelManifest,
  runtime: ModelRuntime,
  source: string,
): void {
  const mismatch = (message: string, field: string): never => {
    throw new MlfpError('model_mismatch', `${source}: ${message}`, { field });
  };
  const features = manifest.inputs.features;
  if (runtime.inputWidth !== features.length)
    mismatch(
      `the manifest lists ${features.length} input features, the model file reads ${runtime.inputWidth}`,
      'inputs.features',
    );
  const own = runtime.featureNames;
  if (own !== undefined) {
    const at = own.findIndex((name, i) => name !== features[i]);
    if (at >= 0)
      mismatch(
        `input ${at}: the manifest says "${features[at]}", the model file says "${own[at]}"`,
        'inputs.features',
      );
  }
  if (runtime.sequenceLength !== undefined && runtime.sequenceLength !== manifest.inputs.sequenceLength)
    mismatch(
      `the manifest's sequenceLength is ${manifest.inputs.sequenceLength}, the model file takes ${runtime.sequenceLength} steps`,
      'inputs.sequenceLength',
    );
  const width = runtime.outputWidth;
  const outputs = outputNamesOf(manifest);
  const isTree = TREE_FORMATS.has(manifest.format);
  if (manifest.output.type === 'classes') {
    const k = manifest.output.labels.length;
    if (isTree && runtime.outputKind === 'value')
      mismatch(
        `the manifest declares ${k} classes, the model file is a regressor (${runtime.description})`,
        'output',
      );
    if (!(width === k || (width === 1 && k === 2)))
      mismatch(`the manifest declares ${k} classes, the model file gives ${width} outputs`, 'output.labels');
    if (runtime.outputKind === 'probability' && k !== 2)
      mismatch(`the manifest declares ${k} classes, the model file is a binary classifier`, 'output.labels');
  } else {
    if (isTree && runtime.outputKind !== 'value')
      mismatch(
        `the manifest declares a ${manifest.kind}, the model file is a classifier (${runtime.description})`,
        'kind',
      );
    if (width !== outputs.length)
      mismatch(`the manifest names ${outputs.length} outputs, the model file gives ${width}`, 'output.names');
  }
}
