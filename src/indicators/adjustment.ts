// Corporate-action back-adjustment factors. A split or dividend rescales history: prices by `priceFactor`,
// volumes by `volumeFactor`; every indicator's `adjust()` rescales its live state by the same factors.

import { MlfpError } from '../errors.js';

/** Which factor an input series follows under back-adjustment. */
export type InputScale = 'price' | 'volume';

export const INPUT_SCALES: readonly InputScale[] = ['price', 'volume'];

export interface AdjustmentFactors {
  priceFactor: number;
  volumeFactor: number;
}

/** An n-for-1 split: history's prices × 1/n, volumes × n (a 1-for-4 reverse split is ratio 0.25). */
export function splitAdjustment(ratio: number): AdjustmentFactors {
  if (!Number.isFinite(ratio) || ratio <= 0)
    throw new MlfpError('bad_argument', 'split ratio must be a positive finite number', {
      field: 'ratio',
      value: ratio,
    });
  return { priceFactor: 1 / ratio, volumeFactor: ratio };
}

/** A cash dividend going ex after `previousClose`: prices × (previousClose − amount) / previousClose. */
export function dividendAdjustment(previousClose: number, amount: number): AdjustmentFactors {
  if (!Number.isFinite(previousClose) || previousClose <= 0)
    throw new MlfpError('bad_argument', 'previous close must be a positive finite number', {
      field: 'previousClose',
      value: previousClose,
    });
  if (!Number.isFinite(amount) || amount < 0 || amount >= previousClose)
    throw new MlfpError('bad_argument', 'dividend amount must be in [0, previous close)', {
      field: 'amount',
      value: amount,
    });
  return { priceFactor: (previousClose - amount) / previousClose, volumeFactor: 1 };
}

/** Throws unless both factors are positive and finite (a zero or NaN factor would poison all state). */
export function checkAdjustmentFactors(priceFactor: number, volumeFactor: number): void {
  if (!Number.isFinite(priceFactor) || priceFactor <= 0)
    throw new MlfpError('bad_argument', 'price factor must be a positive finite number', {
      field: 'priceFactor',
      value: priceFactor,
    });
  if (!Number.isFinite(volumeFactor) || volumeFactor <= 0)
    throw new MlfpError('bad_argument', 'volume factor must be a positive finite number', {
      field: 'volumeFactor',
      value: volumeFactor,
    });
}
