// `mlfp score --model <dir|manifest|model file> --input features.csv --output predictions.csv`: scores a
// features table with the live path's code (Scorer: windows, scaling, runtimes) and writes predictions.

import type { Alert, FeatureVector, Prediction } from '../domain/types.js';
import { parseTime } from '../domain/time.js';
import { MlfpError, toMlfpError } from '../errors.js';
import { CsvWriter, csvField, csvNumber, parseNumberCell, readCsv } from '../streams/csv.js';
import { openModel, type LoadedModel } from '../models/load-model.js';
import { ModelRegistry } from '../models/registry.js';
import { Scorer } from '../models/scoring/scorer.js';

export interface ScoreCommandOptions {
  /** a model folder (with manifest.json), a manifest file, or a bare model file */
  model: string;
  /** features CSV: a header with the model's input names; an empty cell is a missing value */
  input: string;
  /** predictions CSV to write */
  output: string;
  /** input names for a bare ONNX / TF.js model file */
  features?: readonly string[];
  /** rows scored per batch (default 256) */
  batchSize?: number;
}

export interface CommandStreams {
  stderr: { write(text: string): unknown };
}

const KEY_COLUMNS = ['symbol', 'ts', 'row'];

/** Exit code: 0 done, 1 some rows could not be read or scored, 2 bad arguments or model. */
export async function scoreCommand(
  options: ScoreCommandOptions,
  streams: CommandStreams = { stderr: process.stderr },
): Promise<number> {
  let model: LoadedModel;
  try {
    model = await openModel(options.model, { features: options.features });
  } catch (error) {
    streams.stderr.write(`mlfp score: ${toMlfpError(error).message}\n`);
    return 2;
  }
  try {
    return await scoreFile(model, options, streams);
  } catch (error) {
    const failure = toMlfpError(error);
    streams.stderr.write(`mlfp score: ${failure.message}\n`);
    return failure.code === 'malformed_row' || failure.code === 'not_finite' ? 1 : 2;
  } finally {
    await model.runtime.close();
  }
}

async function scoreFile(
  model: LoadedModel,
  options: ScoreCommandOptions,
  streams: CommandStreams,
): Promise<number> {
  const manifest = model.manifest;
  const features = manifest.inputs.features;
  // the registry's columns are the model's own inputs: FeatureVector.values holds them in order
  const registry = new ModelRegistry({ columns: features });
  registry.add(model);
  const scorer = new Scorer(registry, { maxRunRows: options.batchSize ?? 256 });
  // outputs of the batch being scored, by vector (row) and as alerts
  const byVector = new Map<FeatureVector, Prediction>();
  const alerts: Alert[] = [];
  const published = scorer.outputs.subscribe(({ output, vector }) => {
    if (vector === undefined) alerts.push(output as Alert);
    else byVector.set(vector, output as Prediction);
  });
  const batchSize = options.batchSize ?? 256;
  const lines = readCsv(options.input);
  const first = await lines.next();
  if (first.done === true) throw new MlfpError('malformed_row', `${options.input} is empty (no header)`);
  const header = first.value.fields;
  const featureColumns = features.map((f) => header.indexOf(f));
  const absent = features.filter((_, i) => featureColumns[i]! < 0);
  if (absent.length > 0)
    throw new MlfpError(
      'bad_argument',
      `${options.input} lacks the model's input column${absent.length > 1 ? 's' : ''} ${absent.join(', ')}`,
      { field: absent[0] },
    );
  const keys = header.map((name, i) => [name, i] as const).filter(([name]) => KEY_COLUMNS.includes(name));
  const symbolColumn = header.indexOf('symbol');
  const tsColumn = header.indexOf('ts');
  const valueColumns =
    manifest.output.type === 'classes'
      ? [...manifest.output.labels.map((l) => `p_${l}`), 'label']
      : manifest.output.names.length === 1
        ? ['prediction']
        : manifest.output.names;
  // prediction keys behind the columns: a single value is printed as `prediction`
  const valueKeys =
    manifest.output.type === 'value' && manifest.output.names.length === 1
      ? manifest.output.names
      : valueColumns;
  // written to <output>.partial and renamed on success: a failed run leaves no half-written file
  const out = new CsvWriter(options.output);
  await out.writeLine([...keys.map(([n]) => n), ...valueColumns].map(csvField).join(','));

  let failedRows = 0;
  try {
    let batch: FeatureVector[] = [];
    let batchKeys: string[][] = [];
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      scorer.submit(batch);
      await scorer.whenIdle();
      for (const a of alerts) streams.stderr.write(`mlfp score: ${a.subject}: ${a.message ?? ''}\n`);
      failedRows += alerts.reduce((n, a) => n + a.value, 0);
      for (let i = 0; i < batch.length; i++) {
        const p = byVector.get(batch[i]!);
        const cells = batchKeys[i]!.map(csvField);
        for (const key of valueKeys) {
          const v = p?.output[key];
          cells.push(v === undefined ? '' : typeof v === 'number' ? csvNumber(v) : csvField(v));
        }
        await out.writeLine(cells.join(','));
      }
      batch = [];
      batchKeys = [];
      byVector.clear();
      alerts.length = 0;
    };

    let index = 0;
    for await (const { line, fields } of lines) {
      if (fields.length !== header.length)
        throw new MlfpError(
          'malformed_row',
          `${options.input} line ${line}: ${fields.length} cells, the header has ${header.length}`,
        );
      const values = new Float64Array(features.length);
      for (let j = 0; j < features.length; j++) {
        const text = fields[featureColumns[j]!]!;
        const v = parseNumberCell(text);
        if (v === undefined)
          throw new MlfpError(
            'malformed_row',
            `${options.input} line ${line}, column ${features[j]}: not a number`,
            {
              field: features[j],
              value: text,
            },
          );
        values[j] = v;
      }
      let ts = index;
      if (tsColumn >= 0) {
        ts = parseTime(fields[tsColumn]);
        if (Number.isNaN(ts))
          throw new MlfpError('malformed_row', `${options.input} line ${line}: ts is not a time`, {
            field: 'ts',
            value: fields[tsColumn],
          });
      }
      batch.push({
        symbol: symbolColumn >= 0 ? fields[symbolColumn]! : '',
        timeframe: manifest.timeframe,
        ts,
        revision: 0,
        close: Number.NaN,
        values,
      });
      batchKeys.push(keys.map(([, i]) => fields[i]!));
      index++;
      if (batch.length >= batchSize) await flush();
    }
    await flush();
  } catch (error) {
    await out.abort();
    throw error;
  } finally {
    published.unsubscribe();
  }
  await out.commit();
  if (failedRows > 0) {
    streams.stderr.write(`mlfp score: ${failedRows} rows could not be scored\n`);
    return 1;
  }
  return 0;
}
