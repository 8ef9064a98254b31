// Health and progress of the Kafka engine, read from its parts: per-partition offsets and lag, degraded input,
// outputs, and whether consumption is paused or waiting (ready only when none of these holds it back).

import type { SinkHealth } from '../../sinks/sink.js';
import type { DeliveryCoordinator } from '../delivery.js';
import type { EngineState } from './engine-context.js';
import type { PartitionSlots } from './partition-slots.js';

export interface PartitionStatus {
  partition: number;
  /** next offset to process, once known */
  nextOffset: string | undefined;
  /** high watermark − next offset at the last batch */
  lag: number;
  committed: string | undefined;
  restored: boolean;
}

export interface EngineHealth {
  state: EngineState;
  /** false while paused for backpressure, waiting for a dependency, failing, or not running */
  ready: boolean;
  paused: boolean;
  /** what consumption has been waiting for, for over a second (a snapshot store, the registry, the bar history),
   * or the Kafka brokers while kafkajs restarts a crashed consumer */
  waitingFor?: string;
  pendingRecords: number;
  partitions: PartitionStatus[];
  outputs: Array<{ name: string; kind: 'sink' | 'store' } & SinkHealth>;
  /** partitions whose input is degraded: a reject reason's share of the last window over its bound */
  degraded: Array<{ partition: number; detail: string }>;
  error?: string;
}

/** What health and progress read from the engine. */
export interface EngineView {
  state: EngineState;
  topic: string;
  slots: PartitionSlots;
  delivery: DeliveryCoordinator;
  /** paused for backpressure */
  paused: boolean;
  /** what a wait of over a second is for (FlowControl) */
  waitingFor: string | undefined;
  /** the Kafka brokers while kafkajs restarts a crashed consumer (TickConsumer) */
  sourceDown: string | undefined;
  /** the fatal error's message */
  error: string | undefined;
}

export function engineHealth(view: EngineView): EngineHealth {
  const { slots, delivery } = view;
  const partitions: PartitionStatus[] = [];
  for (const slot of slots.values()) {
    const next = slot.worker?.nextOffset;
    partitions.push({
      partition: slot.partition,
      nextOffset: next === undefined ? undefined : String(next),
      lag: slot.lag,
      committed: delivery.stats.committed.get(`${view.topic}[${slot.partition}]`),
      restored: slot.restored,
    });
  }
  partitions.sort((a, b) => a.partition - b.partition);
  const degraded: EngineHealth['degraded'] = [];
  for (const slot of slots.values()) {
    const detail = slot.worker?.quality.describe();
    if (detail !== undefined) degraded.push({ partition: slot.partition, detail });
  }
  degraded.sort((a, b) => a.partition - b.partition);
  const outputs = delivery.health();
  return {
    state: view.state,
    ready:
      view.state === 'running' &&
      !view.paused &&
      view.waitingFor === undefined &&
      view.sourceDown === undefined &&
      degraded.length === 0 &&
      outputs.every((output) => output.state === 'up'),
    paused: view.paused,
    waitingFor: view.waitingFor ?? view.sourceDown,
    pendingRecords: delivery.pendingRecords,
    partitions,
    outputs,
    degraded,
    error: view.error,
  };
}

/** The Kafka part of a progress line: lag, pending records, commits, snapshots, outputs not up. */
export function progressLine(view: EngineView): string {
  const { slots, delivery, paused, waitingFor } = view;
  let lag = 0;
  for (const slot of slots.values()) lag += slot.lag;
  const stats = delivery.stats;
  const degraded: string[] = [];
  for (const slot of slots.values()) {
    const detail = slot.worker?.quality.describe();
    if (detail !== undefined) degraded.push(`p${slot.partition} ${detail}`);
  }
  const outputs = delivery
    .health()
    .map((output) => `${output.name} ${output.state}`)
    .join(', ');
  return (
    `partitions ${slots.size} | lag ${lag} | pending ${delivery.pendingRecords}` +
    `${paused ? ' (paused)' : ''}${waitingFor === undefined ? '' : ` (waiting for ${waitingFor})`} | commits ${stats.commits} | snapshots ${stats.snapshotsSaved}` +
    `${outputs === '' ? '' : ` | ${outputs}`}${degraded.length === 0 ? '' : ` | DEGRADED input: ${degraded.join('; ')}`}`
  );
}
