// TA-Lib's parameter limits and zero threshold, shared by the indicators.

import { MlfpError } from '../errors.js';

/** TA-Lib accepts periods up to 100,000. */
export const MAX_PERIOD = 100_000;

/** TA-Lib's TA_EPSILON: a variance or RSI denominator below it counts as zero. */
export const TA_EPSILON = 1e-14;

export function checkPeriod(name: string, value: number, min: number, max = MAX_PERIOD): void {
  if (!Number.isInteger(value) || value < min || value > max)
    throw new MlfpError('bad_argument', `${name} must be an integer in [${min}, ${max}]`, {
      field: name,
      value,
    });
}
