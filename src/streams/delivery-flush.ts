// One flush of the delivery coordinator: the outboxes it merged into one batch, the checkpoints riding with
// it, and writing it to every sink in parallel (each write timed when someone observes it).

import { MlfpError } from '../errors.js';
import { emptyBatch, type OutputBatch, type Sink } from '../sinks/sink.js';
import type { Checkpoint, DurablePosition } from './delivery-ports.js';

export type FlushState = 'waiting' | 'writing' | 'durable';

export interface Flush {
  batch: OutputBatch;
  records: number;
  checkpoints: Checkpoint[];
  state: FlushState;
  /** owners' positions at the cut (only gathered when someone listens: onDurable) */
  positions: DurablePosition[] | undefined;
}

/** Writes one batch to every sink in parallel; with `observe`, reports each sink's write time in seconds. */
export function writeToSinks(
  sinks: readonly Sink[],
  batch: OutputBatch,
  observe: ((sink: string, seconds: number) => void) | undefined,
  onError?: (sink: string) => void,
): Promise<unknown> {
  // a rejected write (a sink's final error) is counted per sink (mlfp_sink_errors_total) and still fails the flush
  const counted = (sink: Sink, write: Promise<void>): Promise<void> =>
    onError === undefined
      ? write
      : write.catch((error: unknown) => {
          onError(sink.name);
          throw error;
        });
  if (observe === undefined) return Promise.all(sinks.map((sink) => counted(sink, writeTo(sink, batch))));
  return Promise.all(
    sinks.map((sink) => {
      const startedAt = performance.now();
      return counted(sink, writeTo(sink, batch)).then(() =>
        observe(sink.name, (performance.now() - startedAt) / 1000),
      );
    }),
  );
}

/** A sink that throws instead of rejecting still fails only its flush, never the caller of cut(). */
function writeTo(sink: Sink, batch: OutputBatch): Promise<void> {
  try {
    return sink.write(batch);
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new MlfpError('internal', String(error)));
  }
}

export function mergeBatches(batches: readonly OutputBatch[]): OutputBatch {
  const merged = emptyBatch();
  for (const batch of batches) {
    for (const bar of batch.bars) merged.bars.push(bar);
    for (const vector of batch.features) merged.features.push(vector);
    for (const prediction of batch.predictions) merged.predictions.push(prediction);
    for (const alert of batch.alerts) merged.alerts.push(alert);
    for (const letter of batch.deadLetters) merged.deadLetters.push(letter);
    for (const label of batch.labels) merged.labels.push(label);
    for (const record of batch.performance) merged.performance.push(record);
  }
  return merged;
}
