// The `monitoring` config section (issue 19): delayed labels and model performance, data drift against each
// model's reference, and the alert rules with their lifecycle and webhook (zod schemas; the type is exported
// from schema.ts). Every key is documented in the README's Monitoring section.

import { z } from 'zod';
import { retrySchema } from './sink-schemas.js';

/** One alert rule's lifecycle (Prometheus semantics): pending for `forMs`, firing, resolved after `keepFiringForMs`. */
const lifecycle = (defaults: { forMs: number; keepFiringForMs: number }) => ({
  enabled: z.boolean().default(true),
  /** the condition must hold this long before the alert fires (pending meanwhile) */
  forMs: z.number().int().min(0).max(86_400_000).default(defaults.forMs),
  /** a firing alert resolves only after its condition has been false this long */
  keepFiringForMs: z.number().int().min(0).max(86_400_000).default(defaults.keepFiringForMs),
  severity: z.enum(['info', 'warning', 'critical']).default('warning'),
});

const rulesSchema = z.strictObject({
  /** live prediction latency (max over the evaluation interval, per model) over a bound */
  latency: z
    .strictObject({
      ...lifecycle({ forMs: 10_000, keepFiringForMs: 30_000 }),
      thresholdMs: z.number().min(0).max(600_000).default(250),
      /** resolves below this share of the threshold (hysteresis) */
      resolveRatio: z.number().min(0).max(1).default(0.8),
    })
    .prefault({}),
  /** a model's scoring runs failing (exceptions, wrong shapes, NaN/Inf outputs) */
  modelErrors: z
    .strictObject({
      ...lifecycle({ forMs: 0, keepFiringForMs: 60_000 }),
      /** errors per evaluation interval at which the alert fires */
      threshold: z.number().int().min(1).default(1),
    })
    .prefault({}),
  /** a sink or the snapshot store not up (retrying, down) */
  sinkDown: z.strictObject(lifecycle({ forMs: 5_000, keepFiringForMs: 10_000 })).prefault({}),
  /** the Kafka consumer's lag (records, all partitions) over a bound */
  consumerLag: z
    .strictObject({
      ...lifecycle({ forMs: 60_000, keepFiringForMs: 60_000 }),
      maxRecords: z.number().int().min(1).default(1_000_000),
      resolveRatio: z.number().min(0).max(1).default(0.5),
    })
    .prefault({}),
  /** data drift: PSI at or above `psiFire` fires, below `psiResolve` resolves; a KS alarm fires too */
  drift: z
    .strictObject({
      ...lifecycle({ forMs: 0, keepFiringForMs: 0 }),
      psiFire: z.number().positive().default(0.25),
      psiResolve: z.number().positive().default(0.15),
    })
    .refine((r) => r.psiResolve <= r.psiFire, {
      message: 'psiResolve must not exceed psiFire',
      path: ['psiResolve'],
    })
    .prefault({}),
  /** concept drift: the Page-Hinkley detector on a model's errors alarmed */
  performance: z.strictObject(lifecycle({ forMs: 0, keepFiringForMs: 0 })).prefault({}),
});

const webhookSchema = z.strictObject({
  /** http(s) URL of an Alertmanager-compatible webhook receiver; absent = no webhook */
  url: z.url({ protocol: /^https?$/ }).optional(),
  /** extra request headers (e.g. Authorization); never logged */
  headers: z.record(z.string().min(1), z.string()).default({}),
  /** the `receiver` field of the payload */
  receiver: z.string().min(1).default('mlfp'),
  timeoutMs: z.number().int().min(100).max(120_000).default(5_000),
  /** alerts queued while the receiver is away; beyond it the oldest are dropped and counted */
  maxQueued: z.number().int().min(1).max(1_000_000).default(1_000),
  /** attempts per payload before it is given up (counted) */
  maxAttempts: z.number().int().min(1).max(1_000).default(10),
  retry: retrySchema.prefault({}),
});

export const monitoringSchema = z.strictObject({
  /** labels, performance, drift and alerts; off = none of them (and no per-output cost) */
  enabled: z.boolean().default(true),
  /** how often alert rules are evaluated (wall clock) */
  evaluationIntervalMs: z.number().int().min(10).max(600_000).default(1_000),
  labels: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** a pending label expires ('timeout') when event time passes its horizon bar by this many bars */
      maxWaitBars: z.number().int().min(0).max(10_000).default(3),
      /** pending labels per stream; beyond it the oldest expire ('evicted') */
      maxPending: z.number().int().min(1).max(10_000_000).default(100_000),
    })
    .prefault({}),
  performance: z
    .strictObject({
      /** labelled predictions in each model's rolling window */
      window: z.number().int().min(10).max(1_000_000).default(500),
      /**
       * a performance record every this many labels; absent: the window (each label in one record, O(1) per
       * label; 50 made 200 records per model per 5m bar at 10,000 symbols)
       */
      every: z.number().int().min(1).max(1_000_000).optional(),
      /** Page-Hinkley on the errors: expected labels between false alarms under no change */
      errorRunLength: z.number().int().min(100).max(1e12).default(100_000),
    })
    .prefault({}),
  drift: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** the false-alarm budget: false drift alerts per model per week, across all its detectors */
      alarmsPerWeek: z.number().positive().max(10_000).default(1),
      /** symbols a model scores (sets how many evaluations a week brings, so each detector's share) */
      expectedSymbols: z.number().int().min(1).max(10_000_000).default(100),
      /**
       * most symbols whose values feed a model's drift detectors: a stable sample, the symbols of lowest hash
       * (FNV-1a) among those seen; the budget counts min(expectedSymbols, maxSymbols) symbols
       */
      maxSymbols: z.number().int().min(1).max(10_000_000).default(500),
      psi: z
        .strictObject({
          /** at least 500: PSI is read only once the window holds 500 values */
          window: z.number().int().min(500).max(1_000_000).default(1_000),
          warn: z.number().positive().default(0.1),
          alert: z.number().positive().default(0.25),
          /** PSI is evaluated only when the window's effective sample size reaches this */
          minEss: z.number().min(1).default(500),
        })
        .prefault({}),
      ks: z
        .strictObject({
          window: z.number().int().min(10).max(1_000_000).default(1_000),
          minCount: z.number().int().min(2).max(1_000_000).default(500),
          every: z.number().int().min(1).max(1_000_000).default(50),
        })
        .prefault({}),
      calibration: z
        .strictObject({
          /** no-drift values per input the KS cut is bootstrapped from (the first values seen live) */
          values: z.number().int().min(500).max(10_000_000).default(5_000),
          replicates: z.number().int().min(100).max(1_000_000).default(2_000),
          seed: z.number().int().min(0).max(0xffffffff).default(19),
        })
        .prefault({}),
    })
    .prefault({}),
  alerts: z
    .strictObject({
      rules: rulesSchema.prefault({}),
      webhook: webhookSchema.prefault({}),
      /** label sets tracked per rule; beyond it new ones are counted, not tracked */
      maxSeriesPerRule: z.number().int().min(1).max(1_000_000).default(10_000),
      /** the `externalURL` and generatorURL base in webhook payloads */
      externalUrl: z.string().default('http://127.0.0.1:8090/dashboard/'),
    })
    .prefault({}),
});
