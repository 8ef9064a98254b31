// The onnxruntime worker thread as a unit: runs answered in order, input buffers handed back and reused,
// a closed session failing its callers instead of hanging them.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '../../../test/models/fixture-tables.js';
import { OnnxWorkerSession, type WorkerRunResult } from './onnx-worker.js';

const MODEL = fixturePath('lstm/model.onnx');
const WINDOW = 16 * 16;

function run(session: OnnxWorkerSession, data: Float32Array, rows: number): Promise<WorkerRunResult> {
  return new Promise((resolve, reject) =>
    session.submit('input', 'return_pct', 'float32', data, [rows, 16, 16], (error, result) =>
      error === undefined ? resolve(result!) : reject(error),
    ),
  );
}

describe('OnnxWorkerSession', () => {
  let session: OnnxWorkerSession;
  beforeAll(async () => {
    session = await OnnxWorkerSession.start(MODEL, { intraOpNumThreads: 1, executionProviders: ['cpu'] }, MODEL);
  });
  afterAll(() => session.close());

  it('hands each run input buffer back: the next run of that size or smaller writes into it', async () => {
    const first = session.inputArray('float32', 4 * WINDOW) as Float32Array;
    expect(first.every((v) => v === 0)).toBe(true); // a new buffer
    first.fill(0.25);
    const buffer = first.buffer;
    await run(session, first, 4);
    expect(buffer.byteLength).toBe(0); // transferred to the worker
    // the handed-back buffer still holds the last input: a fresh one would be zeroed
    const again = session.inputArray('float32', 2 * WINDOW) as Float32Array;
    expect(again.length).toBe(2 * WINDOW);
    expect(again.buffer.byteLength).toBe(4 * WINDOW * 4);
    expect(again[0]).toBe(0.25);
    // larger than any spare: a new buffer
    const larger = session.inputArray('float32', 8 * WINDOW) as Float32Array;
    expect(larger.every((v) => v === 0)).toBe(true);
  });

  it('a reused buffer gives the same outputs as a fresh one', async () => {
    const values = Float32Array.from({ length: 3 * WINDOW }, (_, i) => Math.sin(i * 0.7));
    const fresh = new Float32Array(values);
    const a = await run(session, fresh, 3);
    const reused = session.inputArray('float32', 3 * WINDOW) as Float32Array;
    reused.set(values);
    const b = await run(session, reused, 3);
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
    expect(b.dims).toEqual([3, 1]);
  });

  it('runs are answered in submission order', async () => {
    const order: number[] = [];
    const runs = [1, 5, 2, 7].map((rows, k) => {
      const data = session.inputArray('float32', rows * WINDOW) as Float32Array;
      data.fill(k / 10);
      return run(session, data, rows).then((r) => order.push(r.dims[0]!));
    });
    await Promise.all(runs);
    expect(order).toEqual([1, 5, 2, 7]);
  });

  it('after close, a run fails with model_error instead of hanging', async () => {
    const closing = await OnnxWorkerSession.start(MODEL, { intraOpNumThreads: 1, executionProviders: ['cpu'] }, MODEL);
    await closing.close();
    await expect(run(closing, new Float32Array(WINDOW), 1)).rejects.toThrow(/closed/);
  });
});
