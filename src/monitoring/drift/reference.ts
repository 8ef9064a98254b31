// The reference distribution drift is measured against: a model manifest's per-input (or per-output)
// histogram, `{ edges, proportions, missing? }` (decile edges and shares, frozen with the model version).
// Bins are [edges[i], edges[i+1]) as in the manifest, except the two outer ones, which are open:
// (−∞, edges[1]) and [edges[k−1], +∞), so a value beyond the training range still lands in a bin.

import { MlfpError } from '../../errors.js';

/** The manifest's histogram shape (src/models/manifest.ts `Histogram`), restated here: monitoring may not import models. */
export interface ReferenceHistogram {
  readonly edges: readonly number[];
  readonly proportions: readonly number[];
  /** share of training values that were missing (NaN) */
  readonly missing?: number | undefined;
}

/**
 * A validated, frozen histogram reference, built once per (model version, input) and shared by every
 * detector of that input. Missing values are not drift data here (data quality counts them): proportions
 * are renormalised to the non-missing share, so `expected` sums to 1.
 */
export class BinnedReference {
  readonly bins: number;
  /** edges[1 .. k−1]: the bin of x is the number of inner edges ≤ x */
  readonly innerEdges: Float64Array;
  /** share of non-missing reference values in each bin */
  readonly expected: Float64Array;
  /** the middle edge (the median for deciles): running sums are kept relative to it, so no digits cancel */
  readonly centre: number;
  /** a hash of edges, proportions and missing: a snapshot taken against another reference is refused */
  readonly fingerprint: string;

  constructor(histogram: ReferenceHistogram, field = 'reference') {
    const { edges, proportions } = histogram;
    const missing = histogram.missing ?? 0;
    const fail = (key: string, message: string, value: unknown): never => {
      throw new MlfpError('config_invalid', `${field}.${key} ${message}`, {
        field: `${field}.${key}`,
        value,
      });
    };
    if (!Array.isArray(edges) || edges.length < 3) fail('edges', 'needs at least 3 edges (2 bins)', edges);
    for (let i = 0; i < edges.length; i++) {
      if (!Number.isFinite(edges[i])) fail('edges', `has a non-finite edge at ${i}`, edges[i]);
      if (i > 0 && !((edges[i] as number) > (edges[i - 1] as number)))
        fail('edges', `are not increasing at ${i}`, edges[i]);
    }
    if (!Array.isArray(proportions) || proportions.length !== edges.length - 1)
      fail('proportions', `needs ${edges.length - 1} values for ${edges.length} edges`, proportions);
    if (!(Number.isFinite(missing) && missing >= 0 && missing < 1))
      fail('missing', 'must be a share in [0, 1)', missing);
    let total = missing;
    for (let i = 0; i < proportions.length; i++) {
      const p = proportions[i] as number;
      if (!(Number.isFinite(p) && p >= 0 && p <= 1)) fail('proportions', `has a bad share at ${i}`, p);
      total += p;
    }
    if (Math.abs(total - 1) > 1e-6) fail('proportions', `and missing sum to ${total}, not 1`, proportions);

    this.bins = proportions.length;
    this.innerEdges = Float64Array.from(edges.slice(1, -1));
    this.expected = Float64Array.from(proportions, (p) => p / (1 - missing));
    this.centre = edges[Math.floor(edges.length / 2)] as number;
    this.fingerprint = fingerprint([...edges, ...proportions, missing]);
  }

  /**
   * The bin of a finite x, the number of inner edges ≤ x: a binary search of fixed step count (no early exit,
   * a select per step rather than an unpredictable branch), O(log bins), no allocation.
   */
  binOf(x: number): number {
    const inner = this.innerEdges;
    let base = 0;
    let length = inner.length;
    while (length > 1) {
      const half = length >>> 1;
      base = (inner[base + half - 1] as number) <= x ? base + half : base;
      length -= half;
    }
    return (inner[base] as number) <= x ? base + 1 : base;
  }
}

/**
 * A 64-bit hash (two FNV-1a 32-bit passes, forwards and backwards) of the doubles' bytes, as 16 hex digits:
 * a guard against restoring state under another reference, not a security measure.
 */
export function fingerprint(values: ArrayLike<number>): string {
  const bytes = new Uint8Array(Float64Array.from(values).buffer);
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0, j = bytes.length - 1; i < bytes.length; i++, j--) {
    a = Math.imul(a ^ (bytes[i] as number), 0x01000193);
    b = Math.imul(b ^ (bytes[j] as number), 0x01000193);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

/** A ring of bucket (or bin) indexes in the narrowest typed array that holds them: a smaller window in cache. */
export function indexRing(buckets: number, length: number): Uint8Array | Uint16Array | Int32Array {
  if (buckets <= 0x100) return new Uint8Array(length);
  if (buckets <= 0x10000) return new Uint16Array(length);
  return new Int32Array(length);
}
