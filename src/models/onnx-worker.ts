// An onnxruntime session on a worker thread: inference runs beside the event loop instead of on it.
// The worker is a small CommonJS script (eval) that requires onnxruntime-node by absolute path, so it
// runs the same from TypeScript sources (tests) and compiled output.

import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { MlfpError } from '../errors.js';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
let session;
const fail = (id, error) =>
  parentPort.postMessage({ type: 'error', id, message: String(error && error.message ? error.message : error) });
ort.InferenceSession.create(workerData.modelPath, workerData.sessionOptions).then(
  (created) => {
    session = created;
    parentPort.postMessage({ type: 'ready' });
  },
  (error) => fail(-1, error),
);
parentPort.on('message', (message) => {
  if (message.type === 'close') {
    Promise.resolve(session && session.release()).finally(() => process.exit(0));
    return;
  }
  const { id, inputName, outputName, inputType, data, dims } = message;
  const feeds = { [inputName]: new ort.Tensor(inputType, data, dims) };
  session.run(feeds, [outputName]).then(
    (result) => {
      const output = result[outputName];
      const values = output.data;
      parentPort.postMessage({ type: 'result', id, data: values, dims: output.dims }, [values.buffer]);
    },
    (error) => fail(id, error),
  );
});
`;

export interface WorkerRunResult {
  data: Float32Array | Float64Array;
  dims: readonly number[];
}

interface Pending {
  resolve(result: WorkerRunResult): void;
  reject(error: Error): void;
}

/** Runs one ONNX session on its own thread; calls are answered in order. */
export class OnnxWorkerSession {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private failure: Error | undefined;

  private constructor(worker: Worker) {
    this.worker = worker;
    worker.on('message', (message: { type: string; id: number; data?: Float32Array | Float64Array; dims?: number[]; message?: string }) => {
      const waiting = this.pending.get(message.id);
      if (waiting === undefined) return;
      this.pending.delete(message.id);
      if (this.pending.size === 0) worker.unref();
      if (message.type === 'result') waiting.resolve({ data: message.data!, dims: message.dims! });
      else waiting.reject(new MlfpError('model_error', `onnxruntime worker: ${message.message ?? 'failed'}`));
    });
    const stop = (error: Error): void => {
      this.failure = error;
      for (const waiting of this.pending.values()) waiting.reject(error);
      this.pending.clear();
    };
    worker.on('error', (error) => stop(new MlfpError('model_error', `onnxruntime worker failed: ${error.message}`, { cause: error })));
    worker.on('exit', (code) => {
      if (this.failure === undefined) stop(new MlfpError('model_error', `onnxruntime worker exited (${code})`));
    });
    // an idle model thread does not keep the process alive; one with a run in flight does
    worker.unref();
  }

  /** Starts the worker and its session; rejects with the session error (model_invalid). */
  static start(
    modelPath: string,
    sessionOptions: Record<string, unknown>,
  ): Promise<OnnxWorkerSession> {
    const ortPath = createRequire(import.meta.url).resolve('onnxruntime-node');
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ortPath, modelPath, sessionOptions } });
    return new Promise((resolve, reject) => {
      const onMessage = (message: { type: string; message?: string }): void => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        if (message.type === 'ready') resolve(new OnnxWorkerSession(worker));
        else {
          void worker.terminate();
          reject(new MlfpError('model_invalid', `${modelPath}: onnxruntime cannot load it: ${message.message ?? ''}`));
        }
      };
      const onError = (error: Error): void => {
        worker.off('message', onMessage);
        reject(new MlfpError('model_invalid', `${modelPath}: onnxruntime worker failed: ${error.message}`, { cause: error }));
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
    });
  }

  /** Runs the session on `data` (its buffer is transferred to the worker: do not reuse it). */
  run(
    inputName: string,
    outputName: string,
    inputType: 'float32' | 'float64',
    data: Float32Array | Float64Array,
    dims: readonly number[],
  ): Promise<WorkerRunResult> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ type: 'run', id, inputName, outputName, inputType, data, dims }, [data.buffer as ArrayBuffer]);
    });
  }

  async close(): Promise<void> {
    if (this.failure !== undefined) return;
    this.failure = new MlfpError('model_error', 'the model was closed');
    this.worker.postMessage({ type: 'close' });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => void this.worker.terminate().then(() => resolve()), 2000);
      this.worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
