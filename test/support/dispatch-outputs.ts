// Test and benchmark helper: routes a graph's Output stream to per-kind handlers (only those given).

import type { Output } from '../../src/domain/output.js';
import type { Alert, Bar, DeadLetter, FeatureVector, Prediction } from '../../src/domain/types.js';

export interface OutputHandlers {
  bar?(bar: Bar): void;
  features?(vector: FeatureVector): void;
  prediction?(prediction: Prediction): void;
  alert?(alert: Alert): void;
  deadLetter?(letter: DeadLetter): void;
}

export function dispatchTo(handlers: OutputHandlers): (output: Output) => void {
  return (output) => {
    switch (output.kind) {
      case 'bar':
        return handlers.bar?.(output.value);
      case 'features':
        return handlers.features?.(output.value);
      case 'prediction':
        return handlers.prediction?.(output.value);
      case 'alert':
        return handlers.alert?.(output.value);
      case 'dead_letter':
        return handlers.deadLetter?.(output.value);
    }
  };
}
