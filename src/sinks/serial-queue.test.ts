import { describe, expect, it } from 'vitest';
import { SerialQueue } from './serial-queue.js';

describe('SerialQueue', () => {
  it('runs tasks one at a time in call order, even when earlier ones are slower', async () => {
    const queue = new SerialQueue();
    const events: string[] = [];
    let releaseFirst: () => void = () => undefined;
    const first = queue.run(async () => {
      events.push('first start');
      await new Promise<void>((resolve) => (releaseFirst = resolve));
      events.push('first end');
      return 1;
    });
    const second = queue.run(async () => {
      events.push('second');
      return 2;
    });
    expect(queue.size).toBe(2);
    await Promise.resolve();
    releaseFirst();
    expect(await Promise.all([first, second])).toEqual([1, 2]);
    expect(events).toEqual(['first start', 'first end', 'second']);
    expect(queue.size).toBe(0);
  });

  it('a failed task rejects its caller and does not stop the next', async () => {
    const queue = new SerialQueue();
    const failed = queue.run(async () => {
      throw new Error('boom');
    });
    const next = queue.run(async () => 'ok');
    await expect(failed).rejects.toThrow('boom');
    await expect(next).resolves.toBe('ok');
    await expect(queue.idle()).resolves.toBeUndefined();
  });
});
