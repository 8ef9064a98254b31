// ModelRuntime over the native tree evaluators (LightGBM text, XGBoost JSON): synchronous, no per-row
// allocation, generated code per model. Faster than onnxruntime's TreeEnsemble at batch 1 and 256
// (benchmarks/README.md), so trees always run here.

import { readFile } from 'node:fs/promises';
import { MlfpError } from '../../errors.js';
import { loadLightGbmModel, type LightGbmModel } from '../formats/lightgbm.js';
import type { ModelFormat } from '../manifest.js';
import type { ModelRuntime, OutputKind } from './runtime.js';
import { loadXgboostModel, type XgboostModel } from '../formats/xgboost.js';

export class TreeRuntime implements ModelRuntime {
  readonly format: ModelFormat;
  readonly inputWidth: number;
  readonly sequenceLength = 1;
  readonly featureNames: readonly string[] | undefined;
  readonly outputWidth: number;
  readonly outputKind: OutputKind;
  readonly provider = 'native';
  readonly description: string;
  readonly synchronous = true;
  private readonly model: LightGbmModel | XgboostModel;

  constructor(format: 'lightgbm-txt' | 'xgboost-json', model: LightGbmModel | XgboostModel) {
    this.format = format;
    this.model = model;
    this.inputWidth = model.inputWidth;
    this.featureNames = model.featureNames;
    this.outputWidth = model.outputWidth;
    const objective = model.objective;
    this.outputKind =
      objective === 'binary' || objective === 'binary:logistic'
        ? 'probability'
        : objective === 'multiclass' || objective === 'multi:softprob'
          ? 'probabilities'
          : 'value';
    const engine = model.isCompiled ? 'compiled' : 'interpreted';
    this.description = `${format === 'lightgbm-txt' ? `LightGBM ${(model as LightGbmModel).version}` : `XGBoost ${(model as XgboostModel).version.join('.')}`}, objective ${objective}, ${model.treeCount} trees, ${engine}`;
  }

  score(input: Float64Array, rows: number, out: Float64Array): void {
    this.model.predict(input, 0, rows, out, 0);
  }

  async close(): Promise<void> {}
}

/** Reads and compiles a LightGBM text or XGBoost JSON model file. */
export async function openTreeRuntime(
  format: 'lightgbm-txt' | 'xgboost-json',
  path: string,
): Promise<TreeRuntime> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new MlfpError('io_error', `cannot read model ${path}: ${(error as Error).message}`, {
      cause: error,
      retriable: false,
    });
  }
  const model = format === 'lightgbm-txt' ? loadLightGbmModel(text, path) : loadXgboostModel(text, path);
  return new TreeRuntime(format, model);
}
