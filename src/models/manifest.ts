// The model manifest: what a model file is, which feature columns it reads (in order, how scaled), what
// its outputs mean, how its label is defined, and the training distributions that drift detection uses.

import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { MlfpError } from '../errors.js';

export const MODEL_FORMATS = ['onnx', 'tfjs-layers', 'xgboost-json', 'lightgbm-txt'] as const;
export type ModelFormat = (typeof MODEL_FORMATS)[number];

export const EXECUTION_PROVIDERS = ['cpu', 'cuda', 'tensorrt'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

const finite = z.number().refine(Number.isFinite, 'must be a finite number');

const histogram = z
  .object({
    /** bin edges, increasing; proportions[i] is the share of training values in [edges[i], edges[i+1]) */
    edges: z.array(finite).min(2),
    proportions: z.array(z.number().min(0).max(1)),
    /** share of training values that were missing (NaN), when the input can be missing */
    missing: z.number().min(0).max(1).optional(),
  })
  .strict()
  .superRefine((h, ctx) => {
    if (h.proportions.length !== h.edges.length - 1)
      ctx.addIssue({
        code: 'custom',
        message: `${h.edges.length} edges need ${h.edges.length - 1} proportions, got ${h.proportions.length}`,
      });
    for (let i = 1; i < h.edges.length; i++)
      if (!(h.edges[i]! > h.edges[i - 1]!)) {
        ctx.addIssue({ code: 'custom', message: `edges are not increasing at ${i}` });
        break;
      }
    const total = h.proportions.reduce((a, b) => a + b, 0) + (h.missing ?? 0);
    if (Math.abs(total - 1) > 1e-6)
      ctx.addIssue({ code: 'custom', message: `proportions (and missing) sum to ${total}, not 1` });
  });
export type Histogram = z.infer<typeof histogram>;

const scaling = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('none') }).strict(),
  /** fixed standardisation from training: (x - mean) / std, per input */
  z
    .object({
      kind: z.literal('standard'),
      mean: z.array(finite),
      std: z.array(finite.refine((v) => v > 0, 'must be > 0')),
    })
    .strict(),
  /**
   * online standardisation, as the engine's RollingNormaliser: per symbol and input, the z-score against the
   * last `window` values (the current one included); NaN (missing) until `minCount` values were seen
   */
  z
    .object({
      kind: z.literal('rolling'),
      window: z.number().int().min(2).max(100_000),
      minCount: z.number().int().min(1).optional(),
      ddof: z.union([z.literal(0), z.literal(1)]).default(0),
    })
    .strict()
    .refine((s) => s.minCount === undefined || (s.minCount <= s.window && s.minCount > s.ddof), {
      message: 'minCount must be in (ddof, window]',
      path: ['minCount'],
    }),
]);
export type Scaling = z.infer<typeof scaling>;

export const manifestSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/i, 'letters, digits, ".", "_", "-" (at most 64)'),
    version: z.string().regex(/^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/, 'like 1.2.0 or 2024-06-01'),
    description: z.string().optional(),
    kind: z.enum(['classifier', 'regressor', 'sequence']),
    format: z.enum(MODEL_FORMATS),
    /** the model file, relative to the manifest */
    file: z.string().min(1),
    /** bars of this timeframe are scored; others pass by */
    timeframe: z.enum(['5m', '1h', '1d']),
    inputs: z
      .object({
        /** feature names in the model's input order */
        features: z.array(z.string().min(1)).min(1),
        /** feature vectors per input row: 1 for tabular models, N for a sequence model */
        sequenceLength: z.number().int().min(1).max(4096).default(1),
        scaling: scaling.default({ kind: 'none' }),
        /**
         * what a missing (NaN) input becomes: `native` passes NaN to the model (trees route it),
         * `zero` makes it 0 after scaling (the training mean under standard scaling), `skip` scores
         * nothing for that row or window
         */
        missing: z.enum(['native', 'zero', 'skip']).default('native'),
      })
      .strict(),
    output: z.discriminatedUnion('type', [
      /** regressor / sequence: one named value per model output, in order */
      z.object({ type: z.literal('value'), names: z.array(z.string().min(1)).min(1) }).strict(),
      /** classifier: class labels in the model's class order */
      z.object({ type: z.literal('classes'), labels: z.array(z.string().min(1)).min(2) }).strict(),
    ]),
    /** what the model predicts, for performance monitoring against realised outcomes */
    label: z
      .object({
        kind: z.enum(['return_sign', 'return', 'return_percent', 'custom']),
        horizonBars: z.number().int().min(1),
        description: z.string().optional(),
      })
      .strict()
      .optional(),
    /** training distributions of every input (by feature name) and every output, for drift detection */
    reference: z
      .object({
        inputs: z.record(z.string(), histogram),
        outputs: z.record(z.string(), histogram),
      })
      .strict()
      .optional(),
    runtime: z
      .object({
        executionProvider: z.enum(EXECUTION_PROVIDERS).default('cpu'),
        /** onnxruntime intra-op threads (1 keeps latency predictable beside the event loop) */
        threads: z.number().int().min(1).max(64).default(1),
        /** ONNX inference on a worker thread (true) or on the event loop (false) */
        worker: z.boolean().default(true),
        /**
         * sessions (worker threads) that runs are spread over: a burst of windows (1,000 symbols closing a
         * bar together) is scored in parallel runs; each session holds its own copy of the model
         */
        workers: z.number().int().min(1).max(64).default(1),
        /**
         * ONNX LSTM nodes rewritten into per-step ops at load, used when they give the op's outputs:
         * `auto` for sequences of at most 64 steps that missing values cannot reach, `always` for any
         * of at most 256 steps, `never` keeps the LSTM op (see onnx-runtime.ts)
         */
        unrollLstm: z.enum(['auto', 'always', 'never']).default('auto'),
      })
      .strict()
      .default({ executionProvider: 'cpu', threads: 1, worker: true, workers: 1, unrollLstm: 'auto' }),
  })
  .strict()
  .superRefine((m, ctx) => {
    const issue = (path: (string | number)[], message: string): void =>
      ctx.addIssue({ code: 'custom', path, message });
    const width = m.inputs.features.length;
    if (new Set(m.inputs.features).size !== width) issue(['inputs', 'features'], 'feature names repeat');
    if (m.inputs.scaling.kind === 'standard') {
      if (m.inputs.scaling.mean.length !== width)
        issue(
          ['inputs', 'scaling', 'mean'],
          `has ${m.inputs.scaling.mean.length} values for ${width} features`,
        );
      if (m.inputs.scaling.std.length !== width)
        issue(
          ['inputs', 'scaling', 'std'],
          `has ${m.inputs.scaling.std.length} values for ${width} features`,
        );
    }
    if (m.kind === 'classifier' && m.output.type !== 'classes')
      issue(['output', 'type'], 'a classifier needs output.type "classes"');
    if (m.kind !== 'classifier' && m.output.type !== 'value')
      issue(['output', 'type'], `a ${m.kind} needs output.type "value"`);
    if (m.kind === 'sequence' && m.inputs.sequenceLength < 2)
      issue(['inputs', 'sequenceLength'], 'a sequence model needs sequenceLength >= 2');
    if (m.kind !== 'sequence' && m.inputs.sequenceLength !== 1)
      issue(['inputs', 'sequenceLength'], `a ${m.kind} reads one vector (sequenceLength 1)`);
    if ((m.format === 'lightgbm-txt' || m.format === 'xgboost-json') && m.kind === 'sequence')
      issue(['format'], 'tree models cannot be sequence models');
    const outputs = m.output.type === 'classes' ? m.output.labels : m.output.names;
    if (new Set(outputs).size !== outputs.length) issue(['output'], 'output names repeat');
    if (m.reference !== undefined) {
      for (const f of m.inputs.features)
        if (m.reference.inputs[f] === undefined)
          issue(['reference', 'inputs'], `no reference distribution for input "${f}"`);
      for (const name of Object.keys(m.reference.inputs))
        if (!m.inputs.features.includes(name))
          issue(['reference', 'inputs', name], 'is not an input of this model');
      const expected = outputNamesOf(m);
      for (const o of expected)
        if (m.reference.outputs[o] === undefined)
          issue(['reference', 'outputs'], `no reference distribution for output "${o}"`);
    }
  });

export type ModelManifest = z.output<typeof manifestSchema>;
export type ModelManifestInput = z.input<typeof manifestSchema>;

/** Output keys of a prediction: `<name>` per value, or `p_<label>` per class (the label itself is `label`). */
export function outputNamesOf(m: Pick<ModelManifest, 'output'>): string[] {
  return m.output.type === 'classes' ? m.output.labels.map((l) => `p_${l}`) : [...m.output.names];
}

/** Validates a parsed manifest object; the error names every bad key. */
export function parseManifest(value: unknown, source = 'manifest'): ModelManifest {
  const result = manifestSchema.safeParse(value);
  if (!result.success) {
    const first = result.error.issues[0];
    const problems = result.error.issues
      .map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`)
      .join('; ');
    throw new MlfpError('model_invalid', `${source}: ${problems}`, {
      field: first?.path.join('.'),
    });
  }
  return result.data;
}

/** A manifest read from disk, with the absolute path of its model file. */
export interface ManifestOnDisk {
  manifest: ModelManifest;
  manifestPath: string;
  modelPath: string;
}

export async function readManifestFile(path: string): Promise<ManifestOnDisk> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new MlfpError('io_error', `cannot read manifest ${path}: ${(error as Error).message}`, {
      cause: error,
      retriable: false,
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new MlfpError('model_invalid', `${path}: not JSON (${(error as Error).message})`, {
      cause: error,
    });
  }
  const manifest = parseManifest(value, path);
  return { manifest, manifestPath: resolve(path), modelPath: resolve(dirname(path), manifest.file) };
}
