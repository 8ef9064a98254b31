// The embedded progress line's "latest:" part: every symbol a model scored gets its turn, line after line.
import { describe, expect, it } from 'vitest';
import type { Prediction } from '../domain/types.js';
import { MemoryStore } from '../sinks/memory/memory-store.js';
import { describePredictions } from './app.js';

const SYMBOLS = ['AAPL', 'MSFT', 'XOM'];

function prediction(model: string, symbol: string, ts: number, value: number): Prediction {
  return {
    symbol,
    timeframe: '5m',
    ts,
    model,
    version: '1.0.0',
    kind: 'regressor',
    output: { value },
    latencyMs: 1,
  };
}

/** A bar close: every symbol scored at once, in the same order each time (so XOM is always the newest). */
function closeBars(store: MemoryStore, ts: number): void {
  for (const [i, symbol] of SYMBOLS.entries()) {
    store.prediction(prediction('lgbm', symbol, ts, i + ts / 1e6));
    store.prediction({
      ...prediction('xgb', symbol, ts, 0),
      kind: 'classifier',
      output: { label: 'up', p_up: 0.5, p_down: 0.5 },
    });
  }
}

describe('describePredictions', () => {
  it('rotates through the symbols a model scored, one per progress line', () => {
    const store = new MemoryStore();
    closeBars(store, 300_000);
    const shown = [0, 1, 2, 3].map((turn) => describePredictions(store.latestByModel, turn));
    expect(shown.map((line) => /lgbm@1\.0\.0 (\w+)/.exec(line)?.[1])).toEqual([
      'AAPL',
      'MSFT',
      'XOM',
      'AAPL',
    ]);
    expect(shown.map((line) => /xgb@1\.0\.0 (\w+)/.exec(line)?.[1])).toEqual(['AAPL', 'MSFT', 'XOM', 'AAPL']);
    expect(shown[1]).toBe('latest: lgbm@1.0.0 MSFT 1.300 | xgb@1.0.0 MSFT up (p 0.500)');
  });

  it("shows each symbol's newest prediction", () => {
    const store = new MemoryStore();
    closeBars(store, 300_000);
    closeBars(store, 600_000);
    expect(describePredictions(store.latestByModel, 0)).toContain('lgbm@1.0.0 AAPL 0.6000');
  });

  it('is empty before the first prediction', () => {
    expect(describePredictions(new MemoryStore().latestByModel, 7)).toBe('');
  });
});
