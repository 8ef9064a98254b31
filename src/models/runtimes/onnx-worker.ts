// An onnxruntime session on a worker thread: inference runs beside the event loop instead of on it.
// The worker is a small CommonJS script (eval) that requires onnxruntime-node by absolute path, so it
// runs the same from TypeScript sources (tests) and compiled output. Results come back on a
// MessagePort of their own, which poll() can also drain synchronously: a caller busy with a long
// synchronous burst (1,000 bars closing together) publishes the runs that finished meanwhile without
// waiting for the burst to end.

import { createRequire } from 'node:module';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { MlfpError } from '../../errors.js';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
const results = workerData.results;
let session;
const fail = (id, error) =>
  (id < 0 ? parentPort : results).postMessage({ type: 'error', id, message: String(error && error.message ? error.message : error) });
ort.InferenceSession.create(workerData.model, workerData.sessionOptions).then(
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
      // the input's buffer goes back too (unless the output lives in it): the caller reuses it for a later run
      const input = data.buffer === values.buffer ? undefined : data.buffer;
      results.postMessage({ type: 'result', id, data: values, dims: output.dims, input }, input ? [values.buffer, input] : [values.buffer]);
    },
    (error) => fail(id, error),
  );
});
`;

export interface WorkerRunResult {
  data: Float32Array | Float64Array;
  dims: readonly number[];
}

/** Called once per run, synchronously from whichever delivers its answer first (the port, or poll()). */
export type RunCallback = (error: Error | undefined, result: WorkerRunResult | undefined) => void;

interface WorkerMessage {
  type: string;
  id: number;
  data?: Float32Array | Float64Array;
  dims?: number[];
  /** the run's input buffer, handed back for reuse */
  input?: ArrayBuffer;
  message?: string;
}

/** Input buffers kept for reuse per worker (a burst's runs in flight, and a few more). */
const SPARE_BUFFERS = 12;

/** Runs one ONNX session on its own thread; calls are answered in order. */
export class OnnxWorkerSession {
  private readonly worker: Worker;
  private readonly results: MessagePort;
  private readonly pending = new Map<number, RunCallback>();
  private nextId = 0;
  private failure: Error | undefined;
  /**
   * input buffers the worker handed back: each run's input is written into one and transferred, so a
   * run allocates no fresh (zeroed, external) memory on either thread and the GC has none to reclaim
   */
  private readonly spare: ArrayBuffer[] = [];

  private constructor(worker: Worker, results: MessagePort) {
    this.worker = worker;
    this.results = results;
    results.on('message', (message: WorkerMessage) => this.answer(message));
    // errors before a run exists (and a failed session start) come on the worker's own channel
    worker.on('message', (message: WorkerMessage) => this.answer(message));
    const stop = (error: Error): void => {
      this.failure = error;
      const waiting = [...this.pending.values()];
      this.pending.clear();
      for (const callback of waiting) callback(error, undefined);
    };
    worker.on('error', (error) => stop(new MlfpError('model_error', `onnxruntime worker failed: ${error.message}`, { cause: error })));
    worker.on('exit', (code) => {
      if (this.failure === undefined) stop(new MlfpError('model_error', `onnxruntime worker exited (${code})`));
    });
    // an idle model thread does not keep the process alive; one with a run in flight does
    worker.unref();
    results.unref();
  }

  /** Answers the runs that have finished now, synchronously (their callbacks run before this returns). */
  poll(): void {
    if (this.pending.size === 0) return;
    for (;;) {
      const received = receiveMessageOnPort(this.results) as { message: WorkerMessage } | undefined;
      if (received === undefined) return;
      this.answer(received.message);
    }
  }

  private answer(message: WorkerMessage): void {
    if (message.input !== undefined) this.keepSpare(message.input);
    const callback = this.pending.get(message.id);
    if (callback === undefined) return;
    this.pending.delete(message.id);
    if (this.pending.size === 0) {
      this.worker.unref();
      this.results.unref();
    }
    if (message.type === 'result') callback(undefined, { data: message.data!, dims: message.dims! });
    else callback(new MlfpError('model_error', `onnxruntime worker: ${message.message ?? 'failed'}`), undefined);
  }

  /** Keeps a handed-back buffer; with the pool full, it replaces the smallest one when larger. */
  private keepSpare(buffer: ArrayBuffer): void {
    if (this.spare.length < SPARE_BUFFERS) {
      this.spare.push(buffer);
      return;
    }
    let smallest = 0;
    for (let i = 1; i < this.spare.length; i++)
      if (this.spare[i]!.byteLength < this.spare[smallest]!.byteLength) smallest = i;
    if (buffer.byteLength > this.spare[smallest]!.byteLength) this.spare[smallest] = buffer;
  }

  /**
   * An array of `length` elements for a run's input, on a buffer handed back by an earlier run when
   * one is large enough (its contents are stale: the caller overwrites all of it), else a new one.
   */
  inputArray(type: 'float32' | 'float64', length: number): Float32Array | Float64Array {
    const bytes = length * (type === 'float32' ? 4 : 8);
    let buffer: ArrayBuffer | undefined;
    for (let i = this.spare.length - 1; i >= 0; i--)
      if (this.spare[i]!.byteLength >= bytes) {
        buffer = this.spare[i]!;
        this.spare.splice(i, 1);
        break;
      }
    buffer ??= new ArrayBuffer(bytes);
    return type === 'float32' ? new Float32Array(buffer, 0, length) : new Float64Array(buffer, 0, length);
  }

  /**
   * Starts the worker and its session on `model` (a file, or a model's bytes); rejects with the session
   * error (model_invalid), naming `modelPath`.
   */
  static start(
    model: string | Uint8Array,
    sessionOptions: Record<string, unknown>,
    modelPath: string,
  ): Promise<OnnxWorkerSession> {
    const ortPath = createRequire(import.meta.url).resolve('onnxruntime-node');
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { ortPath, model, sessionOptions, results: port2 },
      transferList: [port2],
    });
    return new Promise((resolve, reject) => {
      const onMessage = (message: { type: string; message?: string }): void => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        if (message.type === 'ready') resolve(new OnnxWorkerSession(worker, port1));
        else {
          port1.close();
          void worker.terminate();
          reject(new MlfpError('model_invalid', `${modelPath}: onnxruntime cannot load it: ${message.message ?? ''}`));
        }
      };
      const onError = (error: Error): void => {
        port1.close();
        worker.off('message', onMessage);
        reject(new MlfpError('model_invalid', `${modelPath}: onnxruntime worker failed: ${error.message}`, { cause: error }));
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
    });
  }

  /**
   * Runs the session on `data`, whose buffer is transferred to the worker (do not reuse it).
   * `callback` is called once, synchronously from the port's listener or from poll().
   */
  submit(
    inputName: string,
    outputName: string,
    inputType: 'float32' | 'float64',
    data: Float32Array | Float64Array,
    dims: readonly number[],
    callback: RunCallback,
  ): void {
    if (this.failure !== undefined) {
      const failure = this.failure;
      queueMicrotask(() => callback(failure, undefined));
      return;
    }
    const id = this.nextId++;
    if (this.pending.size === 0) {
      this.worker.ref();
      this.results.ref();
    }
    this.pending.set(id, callback);
    this.worker.postMessage({ type: 'run', id, inputName, outputName, inputType, data, dims }, [data.buffer as ArrayBuffer]);
  }

  async close(): Promise<void> {
    if (this.failure !== undefined) return;
    this.failure = new MlfpError('model_error', 'the model was closed');
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const callback of waiting) callback(this.failure, undefined);
    this.results.close();
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
