// Public surface of model performance monitoring: the per-stream join of predictions with the bars that label
// them, the rolling per-model-version performance tracker, and the batch metrics both are checked against.

export {
  LABEL_JOINER_DEFAULTS,
  LabelJoiner,
  type JoinableLabelKind,
  type LabelJoinerOptions,
  type LabelJoinerSnapshot,
  type LabelSpec,
  type LabelSpecSnapshot,
} from './label-joiner.js';
export { batchPerformance, pairwiseSum, signClassesOf, type SignClasses } from './performance-metrics.js';
export {
  PERFORMANCE_DEFAULTS,
  PerformanceTracker,
  type PerformanceModel,
  type PerformanceTrackerOptions,
  type PerformanceTrackerSnapshot,
} from './performance-tracker.js';
