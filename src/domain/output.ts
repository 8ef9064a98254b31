// The one typed output of a stream graph: every result (bar, feature vector, prediction, alert, dead letter)
// leaves the graph as an `Output` on one Observable, in the order it was produced; sinks and the delivery
// outbox subscribe to that stream. One wrapper shape for all kinds (one hidden class on the hot path).

import type {
  Alert,
  Bar,
  DeadLetter,
  FeatureVector,
  LabelRecord,
  PerformanceRecord,
  Prediction,
} from './types.js';

export type Output =
  | { readonly kind: 'bar'; readonly value: Bar }
  | { readonly kind: 'features'; readonly value: FeatureVector }
  | { readonly kind: 'prediction'; readonly value: Prediction }
  | { readonly kind: 'alert'; readonly value: Alert }
  | { readonly kind: 'label'; readonly value: LabelRecord }
  | { readonly kind: 'performance'; readonly value: PerformanceRecord }
  | { readonly kind: 'dead_letter'; readonly value: DeadLetter };

export type OutputKind = Output['kind'];

export const barOutput = (value: Bar): Output => ({ kind: 'bar', value });
export const featuresOutput = (value: FeatureVector): Output => ({ kind: 'features', value });
export const predictionOutput = (value: Prediction): Output => ({ kind: 'prediction', value });
export const alertOutput = (value: Alert): Output => ({ kind: 'alert', value });
export const labelOutput = (value: LabelRecord): Output => ({ kind: 'label', value });
export const performanceOutput = (value: PerformanceRecord): Output => ({ kind: 'performance', value });
export const deadLetterOutput = (value: DeadLetter): Output => ({ kind: 'dead_letter', value });

/** A scorer's result (a live prediction, or a model_error alert) as an output. */
export const scoreOutput = (value: Prediction | Alert): Output =>
  'model' in value ? { kind: 'prediction', value } : { kind: 'alert', value };
