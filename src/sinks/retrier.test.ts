import { describe, expect, it } from 'vitest';
import { MlfpError } from '../errors.js';
import { backoffDelayMs, Retrier, type Sleep } from './retrier.js';

const retriable = (message: string): MlfpError =>
  new MlfpError('sink_unavailable', message, { retriable: true });
const final = (message: string): MlfpError => new MlfpError('sink_rejected', message, { retriable: false });
const classify = (error: unknown): MlfpError =>
  error instanceof MlfpError ? error : new MlfpError('internal', String(error), { retriable: false });

/** A sleep that records the delays and resolves at once (or waits for the abort, when `hold` is set). */
function fakeSleep(hold = false): { sleep: Sleep; delays: number[] } {
  const delays: number[] = [];
  const sleep: Sleep = (ms, signal) => {
    delays.push(ms);
    if (!hold) return Promise.resolve();
    return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  };
  return { sleep, delays };
}

describe('backoffDelayMs', () => {
  it('doubles from the initial delay up to the cap, jittered within the upper half of each step', () => {
    const options = { initialDelayMs: 100, maxDelayMs: 1_000 };
    expect([1, 2, 3, 4, 5, 40].map((attempt) => backoffDelayMs(attempt, options, 0))).toEqual([
      50, 100, 200, 400, 500, 500,
    ]);
    expect([1, 2, 3, 4, 5, 40].map((attempt) => backoffDelayMs(attempt, options, 0.999999))).toEqual([
      100, 200, 400, 800, 1_000, 1_000,
    ]);
  });
});

describe('Retrier', () => {
  it('retries retriable failures while health says retrying, then reports up', async () => {
    const { sleep, delays } = fakeSleep();
    let clock = 1_000;
    const retrier = new Retrier('test', { initialDelayMs: 10, maxDelayMs: 40 }, classify, {
      sleep,
      now: () => clock,
      random: () => 0,
    });
    retrier.markUp();
    const states: string[] = [];
    let attempts = 0;
    const result = await retrier.run('write', async () => {
      attempts++;
      states.push(retrier.health().state);
      clock += 5;
      if (attempts < 4) throw retriable(`down ${attempts}`);
      return 'written';
    });
    expect(result).toBe('written');
    expect(states).toEqual(['up', 'retrying', 'retrying', 'retrying']);
    expect(delays).toEqual([5, 10, 20]);
    expect(retrier.health()).toEqual({
      state: 'up',
      sinceMs: clock,
      lastError: 'write: down 3',
      pendingRecords: 0,
      retries: 3,
    });
  });

  it('rejects a final failure at once, without retrying', async () => {
    const { sleep, delays } = fakeSleep();
    const retrier = new Retrier('test', { initialDelayMs: 10, maxDelayMs: 40 }, classify, { sleep });
    retrier.markUp();
    await expect(
      retrier.run('write', async () => {
        throw final('bad record');
      }),
    ).rejects.toMatchObject({ code: 'sink_rejected', message: 'bad record' });
    expect(delays).toEqual([]);
    expect(retrier.health()).toMatchObject({ state: 'up', retries: 0 });
  });

  it('stays retrying while any operation still fails', async () => {
    const { sleep } = fakeSleep();
    const retrier = new Retrier('test', { initialDelayMs: 1, maxDelayMs: 1 }, classify, { sleep });
    retrier.markUp();
    let releaseSecond: () => void = () => undefined;
    const secondMayPass = new Promise<void>((resolve) => (releaseSecond = resolve));
    let firstAttempts = 0;
    let secondAttempts = 0;
    const first = retrier.run('a', async () => {
      if (++firstAttempts < 2) throw retriable('a down');
    });
    const second = retrier.run('b', async () => {
      secondAttempts++;
      if (secondAttempts === 1) throw retriable('b down');
      await secondMayPass;
    });
    await first;
    expect(retrier.health().state).toBe('retrying'); // b has failed and not yet succeeded
    releaseSecond();
    await second;
    expect(retrier.health().state).toBe('up');
  });

  it('close() stops a retrying operation with sink_unavailable naming the last error', async () => {
    const { sleep } = fakeSleep(true);
    const retrier = new Retrier('postgres x', { initialDelayMs: 10, maxDelayMs: 10 }, classify, { sleep });
    const running = retrier.run('write', async () => {
      throw retriable('ECONNREFUSED');
    });
    await Promise.resolve();
    await Promise.resolve();
    retrier.close();
    await expect(running).rejects.toMatchObject({
      code: 'sink_unavailable',
      retriable: false,
      message: 'postgres x: closed before write succeeded (last error: write: ECONNREFUSED)',
    });
    expect(retrier.health().state).toBe('closed');
    await expect(retrier.run('later', async () => 1)).rejects.toMatchObject({ code: 'sink_unavailable' });
  });

  it('counts pending records and notes errors seen outside operations', () => {
    const retrier = new Retrier('test', { initialDelayMs: 1, maxDelayMs: 1 }, classify);
    retrier.addPending(30);
    retrier.addPending(-10);
    retrier.note('idle connection: terminated');
    expect(retrier.health()).toMatchObject({
      state: 'starting',
      pendingRecords: 20,
      lastError: 'idle connection: terminated',
    });
  });
});
