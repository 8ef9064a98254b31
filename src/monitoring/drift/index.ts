// Public surface of drift detection: pure streaming detectors (PSI with an effective-sample-size gate, sliding
// KS, Page-Hinkley), their calibration from one false-alarm budget, and ModelDrift, every detector of one model
// version fed from feature vectors and predictions. No RxJS, no I/O, no clock.

export {
  automaticBlockLength,
  bootstrapCut,
  CircularBlockSampler,
  detectorBeta,
  detectorCount,
  lag1Autocorrelation,
  splitFalseAlarmBudget,
  type BootstrapCut,
  type BootstrapCutOptions,
  type BudgetGroup,
  type DetectorCount,
  type GroupBudget,
  type RandomSource,
} from './calibration.js';
export {
  KS_DEFAULTS,
  KsDetector,
  SCAN_MAX_BUCKETS,
  KsReference,
  type KsOptions,
  type KsSnapshot,
  type KsStatus,
} from './ks.js';
export {
  MIN_RUN_LENGTH,
  MODEL_DRIFT_DEFAULTS,
  ModelDrift,
  pooledEffectiveSampleSize,
  varianceInflation,
  type DriftBudget,
  type DriftCalibration,
  type DriftChange,
  type DriftDetectorName,
  type DriftKey,
  type DriftSampling,
  type DriftSkip,
  type DriftState,
  type DriftStatusRow,
  type ModelDriftDependencies,
  type ModelDriftOptions,
  type ModelDriftSnapshot,
  type ModelDriftSpec,
} from './model-drift.js';
export {
  PageHinkley,
  runLengthTable,
  thresholdForRunLength,
  type PageHinkleyOptions,
  type PageHinkleySnapshot,
  type PageHinkleyStatus,
  type RunLengthRow,
  type RunLengthTableOptions,
} from './page-hinkley.js';
export {
  effectiveSampleSize,
  PSI_DEFAULTS,
  PsiDetector,
  psiOfCounts,
  psiStatistic,
  type PsiOptions,
  type PsiSnapshot,
  type PsiStatus,
} from './psi.js';
export { BinnedReference, fingerprint, type ReferenceHistogram } from './reference.js';
export { SymbolSample, symbolHash, type SampledSymbol } from './sampling.js';
