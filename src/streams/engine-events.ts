// The Kafka engine's event catalogue: what happened to partitions, snapshots, commits and backpressure.
// Events are built only when someone listens (src/monitoring, the CLI's log); names are namespaced and frozen.

export const ENGINE_EVENTS = Object.freeze({
  started: 'engine.started',
  stopping: 'engine.stopping',
  stopped: 'engine.stopped',
  failed: 'engine.failed',
  warning: 'engine.warning',
  assigned: 'partition.assigned',
  revoked: 'partition.revoked',
  restored: 'partition.restored',
  fresh: 'partition.fresh',
  seek: 'partition.seek',
  warmedUp: 'partition.warmed_up',
  snapshotSaved: 'snapshot.saved',
  snapshotFailed: 'snapshot.failed',
  snapshotInvalid: 'snapshot.invalid',
  committed: 'offsets.committed',
  commitFailed: 'offsets.commit_failed',
  paused: 'consumer.paused',
  resumed: 'consumer.resumed',
  corporateActionsLoaded: 'corporate_actions.loaded',
  corporateActionRejected: 'corporate_actions.rejected',
  dataQuality: 'partition.data_quality',
  /** an alert of the alert lifecycle fired or resolved (src/monitoring/model-monitor.ts) */
  alert: 'monitor.alert',
} as const);

export type EngineEventType = (typeof ENGINE_EVENTS)[keyof typeof ENGINE_EVENTS];

export type EngineEventLevel = 'debug' | 'info' | 'warn' | 'error';

export interface EngineEvent {
  type: EngineEventType;
  level: EngineEventLevel;
  message: string;
  /** partition, offsets, counts, error message: never credentials */
  fields?: Record<string, unknown>;
}

export type EngineEventListener = (event: EngineEvent) => void;
