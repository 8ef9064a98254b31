// `mlfp run`: the live engine. With no config it runs embedded: the synthetic market through validate →
// bars → features, a progress line every few seconds, Ctrl-C (SIGINT) or SIGTERM stops it cleanly.
// With `source: 'kafka'` it runs the Kafka engine (src/streams/engine.ts): graceful stop on the first
// signal (final snapshots and commits), immediate stop on the second.

import { map } from 'rxjs';
import { loadConfig } from '../config/load.js';
import type { EngineConfig } from '../config/schema.js';
import { isMlfpError } from '../errors.js';
import { EngineStats, ProgressReporter } from '../monitoring/stats.js';
import { MemoryStore } from '../sinks/memory-store.js';
import {
  type BarHistory,
  type OutputBatch,
  type Sink,
  type SinkHealth,
  type SnapshotStore,
} from '../sinks/sink.js';
import { KafkaEngine } from '../streams/engine.js';
import type { EngineEvent } from '../streams/engine-events.js';
import { envelopeOf, StreamState, tickGraph } from '../streams/pipeline.js';
import { syntheticTicks } from '../streams/synthetic-market.js';
import type { CliIo } from './main.js';

export interface RunCommandOptions {
  config?: string;
  maxTicks?: number;
}

/** What `mlfp run` cannot build from the config alone yet (and what tests replace). */
export interface RunDependencies {
  /** Kafka run outputs; default: the local in-memory store (latest value per key) */
  sinks?: Sink[];
  snapshotStore?: SnapshotStore;
  barHistory?: BarHistory;
  /** aborting it stops the run like SIGTERM does */
  stopSignal?: AbortSignal;
}

export async function runCommand(
  options: RunCommandOptions,
  io: CliIo,
  deps: RunDependencies = {},
): Promise<number> {
  const config = await loadConfig(options.config);
  if (options.maxTicks !== undefined) config.synthetic.maxTicks = options.maxTicks;
  if (config.source === 'kafka') return runKafka(config, io, deps);
  return runEmbedded(config, io);
}

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

function levelRank(level: string): number {
  const rank = LEVELS.indexOf(level as (typeof LEVELS)[number]);
  return rank < 0 ? Number.POSITIVE_INFINITY : rank; // 'silent'
}

/** The local store as a Sink: writes are durable at once (in memory), for a Kafka run with no outputs configured. */
class LocalStoreSink implements Sink {
  readonly name = 'local';
  private readonly sinceMs = Date.now();
  constructor(private readonly store: MemoryStore) {}
  async start(): Promise<void> {}
  async write(batch: OutputBatch): Promise<void> {
    for (const bar of batch.bars) this.store.bar(bar);
    for (const vector of batch.features) this.store.featureVector(vector);
    for (const prediction of batch.predictions) this.store.prediction(prediction);
    for (const letter of batch.deadLetters) this.store.deadLetter(letter);
  }
  health(): SinkHealth {
    return { state: 'up', sinceMs: this.sinceMs, pendingRecords: 0, retries: 0 };
  }
  async close(): Promise<void> {}
}

export async function runKafka(config: EngineConfig, io: CliIo, deps: RunDependencies = {}): Promise<number> {
  const stats = new EngineStats(Date.now());
  const progress = new ProgressReporter(stats, Date.now());
  const threshold = levelRank(config.log.level);
  const onEvent = (event: EngineEvent): void => {
    if (levelRank(event.level) < threshold) return;
    io.stderr(`mlfp: [${event.level}] ${event.type}: ${event.message}\n`);
  };
  const sinks = deps.sinks ?? [new LocalStoreSink(new MemoryStore())];
  const engine = new KafkaEngine(config, {
    sinks,
    snapshotStore: deps.snapshotStore,
    barHistory: deps.barHistory,
    stats,
    onEvent,
  });
  const kafka = config.kafka;
  io.stderr(
    `mlfp: kafka run: ${kafka.topics.ticks} (${kafka.format}) on ${kafka.brokers.join(',')}, group ${kafka.groupId}, ` +
      `snapshots ${config.snapshots.store}, outputs ${sinks.map((sink) => sink.name).join(', ')}\n`,
  );
  try {
    await engine.start();
  } catch (error) {
    const code = isMlfpError(error) ? error.code : 'internal';
    io.stderr(`mlfp: ${code}: cannot start: ${(error as Error).message}\n`);
    return code === 'config_invalid' ? 2 : 1;
  }
  let timer: NodeJS.Timeout | undefined;
  if (config.progress.intervalMs > 0)
    timer = setInterval(
      () => io.stdout(`${progress.line(Date.now(), engine.progressExtra())}\n`),
      config.progress.intervalMs,
    );
  let signals = 0;
  const onSignal = (): void => {
    signals++;
    // first signal: graceful (final snapshots and commits); second: stop now, the last commit stands
    void (signals === 1 ? engine.stop() : engine.abort());
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  deps.stopSignal?.addEventListener('abort', onSignal, { once: true });
  try {
    await engine.done;
    io.stdout(`${progress.line(Date.now(), engine.progressExtra())}\n`);
    io.stderr('mlfp: stopped\n');
    return 0;
  } catch (error) {
    io.stderr(`mlfp: engine failed: ${(error as Error).message}\n`);
    return 1;
  } finally {
    if (timer !== undefined) clearInterval(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    deps.stopSignal?.removeEventListener('abort', onSignal);
  }
}

export async function runEmbedded(config: EngineConfig, io: CliIo): Promise<number> {
  const stats = new EngineStats(Date.now());
  const progress = new ProgressReporter(stats, Date.now());
  const store = new MemoryStore();
  const state = new StreamState({ bars: config.bars });
  const outputs = {
    deadLetter: (letter: Parameters<MemoryStore['deadLetter']>[0]) => store.deadLetter(letter),
    bar: (bar: Parameters<MemoryStore['bar']>[0]) => store.bar(bar),
    features: (vector: Parameters<MemoryStore['featureVector']>[0]) => store.featureVector(vector),
  };
  io.stderr(
    `mlfp: embedded run: synthetic market, ${config.synthetic.symbols.length} symbols, seed ${config.synthetic.seed}` +
      `${config.synthetic.maxTicks > 0 ? `, ${config.synthetic.maxTicks} ticks` : ', until Ctrl-C'}\n`,
  );
  const graph = tickGraph(syntheticTicks(config.synthetic).pipe(map(envelopeOf())), state, outputs, stats);

  return new Promise<number>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = (code: number, why: string): void => {
      if (timer !== undefined) clearInterval(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      io.stdout(`${progress.line(Date.now())}\n`);
      io.stderr(`mlfp: stopped (${why})\n`);
      resolve(code);
    };
    const subscription = graph.subscribe({
      error: (error: unknown) => {
        io.stderr(`mlfp: engine failed: ${(error as Error)?.stack ?? String(error)}\n`);
        finish(1, 'error');
      },
      complete: () => finish(0, 'input complete'),
    });
    function onSignal(signal: NodeJS.Signals): void {
      subscription.unsubscribe();
      finish(0, signal);
    }
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    if (config.progress.intervalMs > 0) {
      timer = setInterval(() => io.stdout(`${progress.line(Date.now())}\n`), config.progress.intervalMs);
    }
  });
}
