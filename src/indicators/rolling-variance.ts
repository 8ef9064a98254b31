// Rolling mean and M2 (sum of squared deviations) over the last `window` values, kept in a caller's
// Float64Array: Welford add/replace, O(1) per value, with an exact two-pass re-sum once per `window`
// replacements and at once when M2 collapses (so rounding never outlives the window). Shared by
// HistoricalVolatility, FeatureSet and RollingNormaliser.

/** Doubles after `stats`: mean, M2, peak M2 since the last exact re-sum, replacements since then. */
export const ROLLING_VARIANCE_STATS = 4;
export const STAT_MEAN = 0;
export const STAT_M2 = 1;
const STAT_PEAK = 2;
const STAT_SINCE = 3;

/**
 * M2 falling below this share of its peak means a large value left the window and cancelled most of M2;
 * Welford's update would keep that value's absolute rounding error (about eps × peak), so re-sum. This
 * bounds the relative error of M2 by about window × eps / COLLAPSE_RATIO ≈ 5e-11 for a window of 21.
 */
const COLLAPSE_RATIO = 1e-4;

/**
 * Adds x to the window held in state[ring .. ring+window), writing it at `slot` (which holds the oldest
 * value once the window is full). `filled` is how many values the window held before x. Returns the new M2.
 */
export function pushRollingVariance(
  state: Float64Array,
  ring: number,
  stats: number,
  window: number,
  slot: number,
  filled: number,
  x: number,
): number {
  let mean = state[stats + STAT_MEAN] as number;
  let m2 = state[stats + STAT_M2] as number;
  let peak = state[stats + STAT_PEAK] as number;
  let since = state[stats + STAT_SINCE] as number;
  if (filled < window) {
    // only additions yet: M2 cannot cancel
    const delta = x - mean;
    mean += delta / (filled + 1);
    m2 += delta * (x - mean);
    state[ring + slot] = x;
    if (m2 > peak) peak = m2;
  } else {
    // replace the oldest value y by x: Welford's remove and add folded into one step
    const oldest = state[ring + slot] as number;
    const delta = x - oldest;
    const nextMean = mean + delta / window;
    m2 += delta * (x - nextMean + (oldest - mean));
    mean = nextMean;
    state[ring + slot] = x;
    if (m2 > peak) peak = m2;
    if (++since >= window || m2 < peak * COLLAPSE_RATIO) {
      // exact two-pass re-sum, shifted by one member so that a mean of large values keeps its last bits
      const shift = state[ring] as number;
      let sum = 0;
      for (let i = 0; i < window; i++) sum += (state[ring + i] as number) - shift;
      mean = shift + sum / window;
      m2 = 0;
      for (let i = 0; i < window; i++) {
        const deviation = (state[ring + i] as number) - mean;
        m2 += deviation * deviation;
      }
      peak = m2;
      since = 0;
    }
  }
  if (m2 < 0) m2 = 0;
  state[stats + STAT_MEAN] = mean;
  state[stats + STAT_M2] = m2;
  state[stats + STAT_PEAK] = peak;
  state[stats + STAT_SINCE] = since;
  return m2;
}
