import { mkdtemp, readFile, rm, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMlfpError, type MlfpError } from '../errors.js';
import { DEMO_MODELS, fixturePath } from '../../test/models/fixture-tables.js';
import { openModel } from './load-model.js';
import type { ModelManifestInput } from './manifest.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlfp-models-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function demoManifest(folder: string): Promise<ModelManifestInput & Record<string, unknown>> {
  const m = JSON.parse(await readFile(`${DEMO_MODELS}${folder}/manifest.json`, 'utf8')) as ModelManifestInput & {
    file: string;
  };
  // point at the demo model file from wherever the edited manifest is written
  return { ...m, file: `${DEMO_MODELS}${folder}/${m.file}` };
}

let count = 0;
async function writeManifest(manifest: unknown): Promise<string> {
  const path = join(dir, `manifest-${count++}.json`);
  await writeFile(path, JSON.stringify(manifest));
  return path;
}

async function refusal(source: string, options = {}): Promise<MlfpError> {
  try {
    const model = await openModel(source, options);
    await model.runtime.close();
  } catch (error) {
    if (isMlfpError(error)) return error;
    throw error;
  }
  throw new Error(`${source} was accepted`);
}

describe('demo models load and describe themselves', () => {
  it.each([
    ['lgbm-return', 'regressor', 'native'],
    ['xgb-direction', 'classifier', 'native'],
    ['lstm-return', 'sequence', 'onnxruntime:cpu'],
    ['lstm-return-tfjs', 'sequence', 'tfjs:cpu'],
  ])('%s', async (folder, kind, provider) => {
    const model = await openModel(`${DEMO_MODELS}${folder}`);
    expect(model.manifest.kind).toBe(kind);
    expect(model.runtime.provider.startsWith(provider)).toBe(true);
    expect(model.manifest.inputs.features).toHaveLength(16);
    expect(model.manifest.reference?.inputs.rsi_14?.proportions.length).toBeGreaterThan(2);
    await model.runtime.close();
  });
});

describe('a manifest that does not match its model file is refused, naming the mismatch', () => {
  it.each([
    [
      'input width',
      'lgbm-return',
      (m: ModelManifestInput) => {
        m.inputs.features = m.inputs.features.slice(0, 15);
        delete m.reference;
      },
      /lists 15 input features, the model file reads 16/,
    ],
    [
      'feature names',
      'lgbm-return',
      (m: ModelManifestInput) => {
        const f = m.inputs.features;
        [f[2], f[3]] = [f[3]!, f[2]!];
      },
      /input 2: the manifest says "macd_12_26_9", the model file says "rsi_14"/,
    ],
    [
      'regressor declared a classifier',
      'lgbm-return',
      (m: ModelManifestInput) => {
        m.kind = 'classifier';
        m.output = { type: 'classes', labels: ['down', 'up'] };
        delete m.reference;
      },
      /declares 2 classes, the model file is a regressor/,
    ],
    [
      'classifier declared a regressor',
      'xgb-direction',
      (m: ModelManifestInput) => {
        m.kind = 'regressor';
        m.output = { type: 'value', names: ['value'] };
        delete m.reference;
      },
      /declares a regressor, the model file is a classifier/,
    ],
    [
      'three classes for a binary model',
      'xgb-direction',
      (m: ModelManifestInput) => {
        m.output = { type: 'classes', labels: ['down', 'flat', 'up'] };
        delete m.reference;
      },
      /declares 3 classes, the model file gives 1 outputs/,
    ],
    [
      'sequence length',
      'lstm-return',
      (m: ModelManifestInput) => (m.inputs.sequenceLength = 8),
      /sequenceLength is 8, the model file takes 16 steps/,
    ],
    [
      'unknown output',
      'lstm-return-tfjs',
      (m: ModelManifestInput) => {
        m.output = { type: 'value', names: ['return_pct', 'risk'] };
        delete m.reference;
      },
      /names 2 outputs, the model file gives 1/,
    ],
  ])('%s', async (_name, folder, edit, message) => {
    const m = await demoManifest(folder);
    edit(m);
    const error = await refusal(await writeManifest(m));
    expect(error.code).toBe('model_mismatch');
    expect(error.message).toMatch(message);
  });
});

describe('invalid manifests are refused, naming the key', () => {
  it.each([
    ['no name', (m: Record<string, unknown>) => delete m.name, /name/],
    ['unknown format', (m: Record<string, unknown>) => (m.format = 'pickle'), /format/],
    [
      'scaling length',
      (m: Record<string, unknown>) =>
        ((m.inputs as Record<string, unknown>).scaling = { kind: 'standard', mean: [0], std: [1] }),
      /inputs\.scaling\.mean: has 1 values for 16 features/,
    ],
    [
      'missing reference input',
      (m: Record<string, unknown>) => delete (m.reference as { inputs: Record<string, unknown> }).inputs.obv,
      /no reference distribution for input "obv"/,
    ],
    [
      'bad histogram',
      (m: Record<string, unknown>) =>
        ((m.reference as { outputs: Record<string, unknown> }).outputs.value = { edges: [0, 1], proportions: [0.5] }),
      /sum to 0.5/,
    ],
    ['unknown key', (m: Record<string, unknown>) => (m.colour = 'red'), /colour/],
    ['sequence on a tree', (m: Record<string, unknown>) => (m.kind = 'sequence'), /tree models cannot be sequence/],
  ])('%s', async (_name, edit, message) => {
    const m = await demoManifest('lgbm-return');
    edit(m);
    const error = await refusal(await writeManifest(m));
    expect(error.code).toBe('model_invalid');
    expect(error.message).toMatch(message);
  });
});

describe('malformed model files never crash the loader', () => {
  it.each([
    ['truncated LightGBM', 'model.txt', async () => (await readFile(`${DEMO_MODELS}lgbm-return/model.txt`, 'utf8')).slice(0, 5000)],
    ['garbage ONNX', 'model.onnx', async () => 'not a protobuf at all'],
    ['empty XGBoost JSON', 'model.json', async () => '{}'],
    ['TF.js without weights', 'model.json', async () => '{"modelTopology": {}, "weightsManifest": [{"paths": ["nope.bin"], "weights": []}]}'],
  ])('%s', async (_name, file, content) => {
    const sub = await mkdtemp(join(dir, 'bad-'));
    await writeFile(join(sub, file), await content());
    const error = await refusal(join(sub, file), { features: ['a'] });
    expect(['model_invalid', 'io_error']).toContain(error.code);
  });
});

describe('bare model files', () => {
  it('a LightGBM file names its own inputs; it is a regressor', async () => {
    const model = await openModel(fixturePath('lightgbm-regressor/model.txt'));
    expect(model.manifest.kind).toBe('regressor');
    expect(model.manifest.inputs.features[15]).toBe('obv');
    expect(model.manifest.output).toEqual({ type: 'value', names: ['value'] });
  });

  it('a binary XGBoost file is a classifier with labels 0 and 1', async () => {
    const model = await openModel(fixturePath('xgboost/classifier/model.json'));
    expect(model.manifest.kind).toBe('classifier');
    expect(model.manifest.output).toEqual({ type: 'classes', labels: ['0', '1'] });
  });

  it('a multiclass LightGBM file has labels 0..K-1', async () => {
    const model = await openModel(fixturePath('lightgbm-cases/multiclass/model.txt'));
    expect(model.manifest.output).toEqual({ type: 'classes', labels: ['0', '1', '2'] });
  });

  it('an ONNX file needs --features, and they must match its width', async () => {
    const path = fixturePath('lstm/model.onnx');
    expect((await refusal(path)).message).toMatch(/--features/);
    expect((await refusal(path, { features: ['a', 'b'] })).message).toMatch(/lists 2 input features, the model file reads 16/);
    const names = Array.from({ length: 16 }, (_, i) => `f${i}`);
    const model = await openModel(path, { features: names });
    expect(model.manifest.kind).toBe('sequence');
    expect(model.manifest.inputs.sequenceLength).toBe(16);
    await model.runtime.close();
  });

  it('features given for a LightGBM file must be the file own names', async () => {
    const error = await refusal(fixturePath('lightgbm-regressor/model.txt'), { features: Array.from({ length: 16 }, (_, i) => `f${i}`) });
    expect(error.code).toBe('model_mismatch');
    expect(error.message).toMatch(/input 0: the manifest says "f0", the model file says "returns"/);
  });
});

describe('execution providers', () => {
  it('cuda that this onnxruntime-node lacks falls back to CPU with a warning naming it', async () => {
    const warnings: string[] = [];
    const infos: string[] = [];
    const model = await openModel(`${DEMO_MODELS}lstm-return`, {
      executionProvider: 'cuda',
      logger: { info: (m) => infos.push(m), warn: (m) => warnings.push(m) },
    });
    expect(model.runtime.provider).toBe('onnxruntime:cpu');
    expect(warnings.join('\n')).toMatch(/execution provider cuda/);
    expect(infos.join('\n')).toMatch(/execution provider cpu, inference on the 1 worker thread/);
    await model.runtime.close();
  });

  it('copies of a demo folder load from anywhere (file paths are relative to the manifest)', async () => {
    const sub = await mkdtemp(join(dir, 'copy-'));
    await copyFile(`${DEMO_MODELS}lgbm-return/manifest.json`, join(sub, 'manifest.json'));
    await copyFile(`${DEMO_MODELS}lgbm-return/model.txt`, join(sub, 'model.txt'));
    const model = await openModel(sub);
    expect(model.id).toBe('lgbm-return@1.0.0');
  });
});
