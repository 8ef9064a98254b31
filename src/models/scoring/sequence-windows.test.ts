// SequenceWindows: raw rings (revisions, stale bars, eviction, snapshots) and the scaled planes sequence
// models read, checked against a direct computation of the window from the raw vectors.

import { describe, expect, it } from 'vitest';
import { SequenceWindows, type PlaneSpec } from './sequence-windows.js';

const row = (...values: number[]): Float64Array => Float64Array.from(values);

/** the newest `steps` vectors pushed for a key, scaled and with missing values handled as `spec` says */
function expectedWindow(history: Float64Array[], steps: number, spec: PlaneSpec): number[] | undefined {
  const out: number[] = [];
  for (const vector of history.slice(-steps)) {
    for (let j = 0; j < spec.columns.length; j++) {
      let v = vector[spec.columns[j]!]!;
      if (spec.mean !== undefined) v = (v - spec.mean[j]!) / spec.std![j]!;
      if (Number.isNaN(v)) {
        if (spec.missing === 'skip') return undefined;
        if (spec.missing === 'zero') v = 0;
      }
      out.push(spec.float32 === true ? Math.fround(v) : v);
    }
  }
  return out;
}

describe('SequenceWindows', () => {
  it('a revision replaces the newest vector; an older bar is stale and changes nothing', () => {
    const w = new SequenceWindows(2, 3);
    expect(w.push('A', 1, row(1, 10))).toBe('appended');
    expect(w.push('A', 2, row(2, 20))).toBe('appended');
    expect(w.push('A', 2, row(2.5, 25))).toBe('revised');
    expect(w.push('A', 1, row(9, 9))).toBe('stale');
    const out = new Float64Array(4);
    expect(w.copyWindow('A', 2, Int32Array.of(0, 1), out, 0)).toBe(true);
    expect([...out]).toEqual([1, 10, 2.5, 25]);
    expect(w.copyWindow('A', 3, Int32Array.of(0, 1), new Float64Array(6), 0)).toBe(false);
  });

  it.each([
    ['standard scaling, missing -> 0, float64', { mean: row(1, 2, 3), std: row(2, 4, 0.5), missing: 'zero', float32: false }],
    ['standard scaling, missing kept, float32', { mean: row(1, 2, 3), std: row(2, 4, 0.5), missing: 'native', float32: true }],
    ['no scaling, skip windows with a missing value', { missing: 'skip', float32: false }],
  ] as const)('planes equal the window recomputed from the raw vectors: %s', (_name, options) => {
    const spec: PlaneSpec = { columns: Int32Array.of(2, 0, 1), ...options };
    const steps = 4;
    const w = new SequenceWindows(3, 6);
    const plane = w.plane('p', spec);
    const history = new Map<string, Float64Array[]>();
    let seed = 7;
    const random = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 200 - 100;
    for (let bar = 0; bar < 40; bar++)
      for (const key of ['A', 'B']) {
        const vector = row(random(), bar % 9 === 4 && key === 'B' ? Number.NaN : random(), random());
        const revise = bar % 5 === 3;
        const ts = revise ? bar - 1 : bar; // every fifth bar revises the previous one
        const ring = w.update(key, ts, vector);
        const list = history.get(key) ?? [];
        if (ring === undefined) continue;
        if (revise && list.length > 0) list[list.length - 1] = vector;
        else list.push(vector);
        history.set(key, list);
        const out = spec.float32 === true ? new Float32Array(steps * 3) : new Float64Array(steps * 3);
        const want = list.length >= steps ? expectedWindow(list, steps, spec) : undefined;
        expect(w.copyPlane(ring, plane, steps, out, 0)).toBe(want !== undefined);
        if (want !== undefined) expect([...out]).toEqual(want);
      }
  });

  it('a plane registered later, after a deeper ring or a restore, is built from the raw vectors', () => {
    const w = new SequenceWindows(2, 2);
    for (let t = 0; t < 5; t++) w.push('A', t, row(t, -t));
    const spec: PlaneSpec = { columns: Int32Array.of(1), missing: 'native' };
    w.ensureDepth(3); // keeps the 2 vectors held
    const again = new SequenceWindows(2, 3);
    again.restore(w.snapshot());
    for (const windows of [w, again]) {
      const ring = windows.update('A', 5, row(5, -5))!;
      const out = new Float64Array(3);
      expect(windows.copyPlane(ring, windows.plane('neg', spec), 3, out, 0)).toBe(true);
      expect([...out]).toEqual([-3, -4, -5]);
    }
  });

  it('keepPlanes drops unused planes; the rest still read right', () => {
    const w = new SequenceWindows(2, 2);
    const first = w.plane('first', { columns: Int32Array.of(0), missing: 'native' });
    w.plane('second', { columns: Int32Array.of(1), missing: 'native' });
    expect(first).toBe(0);
    w.push('A', 0, row(1, 2));
    w.keepPlanes(new Set(['second']));
    const ring = w.update('A', 1, row(3, 4))!;
    const out = new Float64Array(2);
    expect(w.copyPlane(ring, w.plane('second', { columns: Int32Array.of(1), missing: 'native' }), 2, out, 0)).toBe(true);
    expect([...out]).toEqual([2, 4]);
  });

  it('at the key cap the least recently updated keys go first, and a snapshot keeps that order', () => {
    const w = new SequenceWindows(1, 2, 3);
    w.push('A', 0, row(1));
    w.push('B', 0, row(2));
    w.push('C', 0, row(3));
    w.push('A', 1, row(4)); // A is now the most recent
    w.push('D', 0, row(5)); // evicts B
    expect([w.count('A'), w.count('B'), w.count('C'), w.count('D')]).toEqual([2, 0, 1, 1]);
    const restored = new SequenceWindows(1, 2, 3);
    restored.restore(w.snapshot());
    restored.push('E', 0, row(6)); // evicts C, the least recently updated before the snapshot
    expect([restored.count('A'), restored.count('C'), restored.count('D'), restored.count('E')]).toEqual([2, 0, 1, 1]);
  });

  it('a stream of new keys at a large cap stays bounded', () => {
    const w = new SequenceWindows(1, 1, 1000);
    for (let k = 0; k < 20_000; k++) w.push(`K${k}`, 0, row(k));
    expect(w.size).toBeLessThanOrEqual(1000);
    expect(w.count('K19999')).toBe(1);
  });
});
