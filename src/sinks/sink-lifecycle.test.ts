import { describe, expect, it } from 'vitest';
import { MlfpError } from '../errors.js';
import { Retrier } from './retrier.js';
import { SinkLifecycle } from './sink-lifecycle.js';

const classify = (error: unknown): MlfpError =>
  error instanceof MlfpError ? error : new MlfpError('sink_unavailable', String(error), { retriable: true });

function lifecycle(): { retrier: Retrier; sink: SinkLifecycle } {
  const retrier = new Retrier('test', { initialDelayMs: 1, maxDelayMs: 1 }, classify, {
    sleep: async () => undefined,
  });
  return { retrier, sink: new SinkLifecycle('test', retrier) };
}

describe('SinkLifecycle', () => {
  it('starts once, retrying, and reports up', async () => {
    const { retrier, sink } = lifecycle();
    let attempts = 0;
    const connect = async (): Promise<void> => {
      if (++attempts < 3) throw new Error('ECONNREFUSED');
    };
    const first = sink.start(connect);
    expect(sink.start(connect)).toBe(first);
    await first;
    expect(attempts).toBe(3);
    expect(retrier.health()).toMatchObject({ state: 'up', retries: 2 });
    await expect(sink.ready()).resolves.toBeUndefined();
  });

  it('runs writes behind start, in order, counting pending records until acknowledged or settled', async () => {
    const { retrier, sink } = lifecycle();
    const order: string[] = [];
    let finishStart: () => void = () => undefined;
    const started = sink.start(() => new Promise<void>((resolve) => (finishStart = resolve)));
    const a = sink.write(10, async (acknowledge) => {
      order.push('a');
      acknowledge(4);
      expect(retrier.health().pendingRecords).toBe(6 + 5);
    });
    const b = sink.write(5, async () => {
      order.push('b');
      throw new MlfpError('sink_rejected', 'refused');
    });
    expect(retrier.health().pendingRecords).toBe(15);
    finishStart();
    await started;
    await a;
    await expect(b).rejects.toMatchObject({ code: 'sink_rejected' });
    expect(order).toEqual(['a', 'b']);
    expect(retrier.health().pendingRecords).toBe(0);
    await expect(sink.write(0, async () => undefined)).resolves.toBeUndefined();
  });

  it('refuses writes before start and after close; close reports whether it closed', async () => {
    const { retrier, sink } = lifecycle();
    await expect(sink.write(1, async () => undefined)).rejects.toMatchObject({ code: 'internal' });
    await expect(sink.ready()).rejects.toMatchObject({ code: 'internal' });
    await sink.start(async () => undefined);
    expect(await sink.close(10)).toBe(true);
    expect(await sink.close(10)).toBe(false);
    await expect(sink.write(1, async () => undefined)).rejects.toMatchObject({
      code: 'sink_unavailable',
      retriable: false,
    });
    expect(retrier.health().state).toBe('closed');
  });
});
