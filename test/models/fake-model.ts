// Test helper: LoadedModel objects over scripted runtimes (constant outputs, failures, async delays).

import type { ModelManifest, ModelManifestInput } from '../../src/models/manifest.js';
import { parseManifest } from '../../src/models/manifest.js';
import type { LoadedModel } from '../../src/models/load-model.js';
import type { ModelRuntime, OutputKind } from '../../src/models/runtimes/runtime.js';

export interface FakeBehaviour {
  /** output per row: a function of (input row values, version) */
  output?: (row: Float64Array, rowIndex: number) => number[];
  throws?: () => Error | undefined;
  async?: boolean;
  /** async only: milliseconds before call n (0-based) settles (default: next turn of the loop) */
  delayMs?: (call: number) => number;
  outputKind?: OutputKind;
}

export class FakeRuntime implements ModelRuntime {
  readonly format = 'onnx';
  readonly featureNames = undefined;
  readonly provider = 'fake';
  readonly description = 'fake runtime';
  readonly outputKind: OutputKind;
  readonly synchronous: boolean;
  readonly calls: number[] = [];
  closed = false;
  constructor(
    readonly inputWidth: number,
    readonly sequenceLength: number,
    readonly outputWidth: number,
    readonly behaviour: FakeBehaviour,
  ) {
    this.outputKind = behaviour.outputKind ?? 'value';
    this.synchronous = behaviour.async !== true;
  }

  score(input: Float64Array, rows: number, out: Float64Array): void | Promise<void> {
    this.calls.push(rows);
    const run = (): void => {
      const error = this.behaviour.throws?.();
      if (error !== undefined) throw error;
      const size = this.inputWidth * this.sequenceLength;
      for (let r = 0; r < rows; r++) {
        const values = this.behaviour.output?.(input.subarray(r * size, (r + 1) * size), r) ?? [0];
        for (let j = 0; j < this.outputWidth; j++) out[r * this.outputWidth + j] = values[j] ?? 0;
      }
    };
    if (!this.behaviour.async) return run();
    // like the real async runtimes: take a copy of the input now, the caller reuses its buffer
    input = input.slice(0, rows * this.inputWidth * this.sequenceLength);
    const settle = (resolve: () => void, reject: (error: Error) => void): void => {
      try {
        run();
        resolve();
      } catch (error) {
        reject(error as Error);
      }
    };
    const delay = this.behaviour.delayMs?.(this.calls.length - 1);
    return new Promise((resolve, reject) =>
      delay === undefined ? setImmediate(() => settle(resolve, reject)) : setTimeout(() => settle(resolve, reject), delay),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

export function fakeManifest(overrides: Partial<ModelManifestInput> = {}): ModelManifest {
  return parseManifest({
    name: 'fake',
    version: '1',
    kind: 'regressor',
    format: 'onnx',
    file: 'fake.onnx',
    timeframe: '5m',
    inputs: { features: ['returns', 'rsi_14'] },
    output: { type: 'value', names: ['value'] },
    ...overrides,
  });
}

export function fakeModel(manifest: ModelManifest, behaviour: FakeBehaviour, outputWidth = 1): LoadedModel & { runtime: FakeRuntime } {
  const runtime = new FakeRuntime(manifest.inputs.features.length, manifest.inputs.sequenceLength, outputWidth, behaviour);
  return { id: `${manifest.name}@${manifest.version}`, manifest, runtime, modelPath: 'fake', source: `fake:${manifest.name}@${manifest.version}` };
}
