// Public surface of the indicators layer: pure incremental state machines, the fused 16-column FeatureSet,
// the normalisers and the corporate-action factors.

export {
  dividendAdjustment,
  splitAdjustment,
  type AdjustmentFactors,
  type InputScale,
} from './adjustment.js';
export { Atr, trueRange, type AtrSnapshot } from './atr.js';
export { BollingerBands, type BollingerBandsSnapshot } from './bollinger-bands.js';
export { Ema, type EmaSnapshot } from './ema.js';
export {
  FEATURE_SET_WARM_UP,
  FEATURE_WARM_UP,
  FeatureSet,
  type FeatureSetOptions,
  type FeatureSetSnapshot,
} from './feature-set.js';
export { HistoricalVolatility, type HistoricalVolatilitySnapshot } from './historical-volatility.js';
export type { IncrementalIndicator } from './indicator.js';
export { Macd, type MacdSnapshot } from './macd.js';
export { Momentum, type MomentumSnapshot } from './momentum.js';
export {
  FixedNormaliser,
  RollingNormaliser,
  type Normaliser,
  type RollingNormaliserOptions,
  type RollingNormaliserSnapshot,
} from './normaliser.js';
export { Obv, type ObvSnapshot } from './obv.js';
export { LogReturns, Returns, type ReturnsSnapshot } from './returns.js';
export { Rsi, type RsiSnapshot } from './rsi.js';
export { Sma, type SmaSnapshot } from './sma.js';
