// What the scorer publishes, as records: a classifier's row as `label` + `p_<label>`, and model_error alerts.

import type { Alert } from '../../domain/types.js';
import type { LoadedModel } from '../load-model.js';

/** `label` (the most probable class; the first on a tie) and `p_<label>` per class. */
export function classOutput(
  labels: readonly string[],
  keys: readonly string[],
  output: Float64Array,
  base: number,
  width: number,
): Record<string, number | string> {
  const result: Record<string, number | string> = {};
  if (width === 1) {
    // binary model: its one output is P(second label)
    const p1 = output[base]!;
    result.label = p1 > 0.5 ? labels[1]! : labels[0]!;
    result[keys[0]!] = 1 - p1;
    result[keys[1]!] = p1;
    return result;
  }
  let best = 0;
  for (let j = 1; j < width; j++) if (output[base + j]! > output[base + best]!) best = j;
  result.label = labels[best]!;
  for (let j = 0; j < width; j++) result[keys[j]!] = output[base + j]!;
  return result;
}

export function modelErrorAlert(
  model: LoadedModel,
  role: 'live' | 'shadow',
  count: number,
  ts: number,
  message: string,
  severity: 'warning' | 'critical',
): Alert {
  return {
    type: 'model_error',
    state: 'firing',
    severity,
    subject: role === 'live' ? model.id : `${model.id} (shadow)`,
    value: count,
    threshold: 0,
    ts,
    message,
  };
}
