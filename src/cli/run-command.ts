// `mlfp run`: the live engine. With no config it runs embedded: the synthetic market through validate →
// bars → features → the demo models, a progress line every few seconds (with the latest prediction of each
// model), metrics and health over HTTP; Ctrl-C (SIGINT) or SIGTERM stops it cleanly.

import { map, type Observable } from 'rxjs';
import { loadConfig } from '../config/load.js';
import type { EngineConfig } from '../config/schema.js';
import type { Prediction } from '../domain/types.js';
import { ModelRegistry } from '../models/registry.js';
import type { ModelLogger } from '../models/runtime.js';
import { Scorer } from '../models/scorer.js';
import { OpsHttpServer } from '../monitoring/http-server.js';
import { EngineMetrics } from '../monitoring/metrics.js';
import { EngineStats, ProgressReporter } from '../monitoring/stats.js';
import { MemoryStore } from '../sinks/memory-store.js';
import { envelopeOf, scoredGraph, StreamState, tickGraph } from '../streams/pipeline.js';
import { syntheticTicks } from '../streams/synthetic-market.js';
import type { CliIo } from './main.js';

export interface RunCommandOptions {
  config?: string;
  maxTicks?: number;
}

export async function runCommand(options: RunCommandOptions, io: CliIo): Promise<number> {
  const config = await loadConfig(options.config);
  if (options.maxTicks !== undefined) config.synthetic.maxTicks = options.maxTicks;
  return runEmbedded(config, io);
}

/** Engine log lines on stderr, one per event that matters (never per tick). */
export function stderrLogger(io: CliIo, level: EngineConfig['log']['level']): ModelLogger {
  const quiet = level === 'silent' || level === 'fatal' || level === 'error';
  return {
    info: (message) => {
      if (!quiet && level !== 'warn') io.stderr(`mlfp: ${message}\n`);
    },
    warn: (message) => {
      if (!quiet) io.stderr(`mlfp: warning: ${message}\n`);
    },
  };
}

/** "lgbm-return AAPL 0.0012 | xgb-direction MSFT up (p 0.53)" */
export function describePredictions(latest: ReadonlyMap<string, Prediction>): string {
  const parts: string[] = [];
  for (const [model, p] of latest) {
    const label = p.output.label;
    const shown =
      label !== undefined
        ? `${String(label)} (p ${Number(p.output[`p_${String(label)}`]).toPrecision(3)})`
        : Object.values(p.output)
            .map((v) => (typeof v === 'number' ? v.toPrecision(4) : v))
            .join(' ');
    parts.push(`${model}@${p.version} ${p.symbol} ${shown}`);
  }
  return parts.length === 0 ? '' : `latest: ${parts.join(' | ')}`;
}

export async function runEmbedded(config: EngineConfig, io: CliIo): Promise<number> {
  const logger = stderrLogger(io, config.log.level);
  const stats = new EngineStats(Date.now());
  const progress = new ProgressReporter(stats, Date.now());
  const store = new MemoryStore();
  const state = new StreamState({ bars: config.bars });
  const metrics = new EngineMetrics(stats);
  metrics.addHealthCheck({ name: 'source:synthetic', status: () => ({ state: 'up' }) });

  let registry: ModelRegistry | undefined;
  let stopWatching: (() => void) | undefined;
  if (config.models.enabled) {
    const loaded = await ModelRegistry.fromDirectory(config.models.dir, {
      logger,
      strict: config.models.strict,
      runtime: { executionProvider: config.models.executionProvider },
    });
    registry = loaded.registry;
    if (config.models.watchIntervalMs > 0)
      stopWatching = registry.watchDirectory(config.models.watchIntervalMs);
  }

  const http = config.http.enabled ? new OpsHttpServer(metrics, config.http) : undefined;
  if (http !== undefined) {
    const address = await http.start();
    io.stderr(
      `mlfp: metrics and health on http://${address.address}:${address.port}/metrics, /healthz, /readyz\n`,
    );
  }
  io.stderr(
    `mlfp: embedded run: synthetic market, ${config.synthetic.symbols.length} symbols, seed ${config.synthetic.seed}` +
      `${config.synthetic.maxTicks > 0 ? `, ${config.synthetic.maxTicks} ticks` : ', until Ctrl-C'}\n`,
  );
  const vectors = tickGraph(syntheticTicks(config.synthetic).pipe(map(envelopeOf())), state, store, stats);
  const graph: Observable<unknown> =
    registry === undefined
      ? vectors
      : scoredGraph(
          vectors,
          new Scorer(registry, { maxRunRows: config.models.maxBatchSize }),
          { maxBatchSize: config.models.maxBatchSize, maxWaitMs: config.models.maxWaitMs },
          store,
          stats,
        );

  const code = await new Promise<number>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const line = (): string => progress.line(Date.now(), describePredictions(store.latestByModel));
    const finish = (exitCode: number, why: string): void => {
      if (timer !== undefined) clearInterval(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      io.stdout(`${line()}\n`);
      io.stderr(`mlfp: stopped (${why})\n`);
      resolve(exitCode);
    };
    const subscription = graph.subscribe({
      error: (error: unknown) => {
        if (http !== undefined) http.failure = (error as Error)?.message ?? String(error);
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
    if (config.progress.intervalMs > 0)
      timer = setInterval(() => io.stdout(`${line()}\n`), config.progress.intervalMs);
  });
  stopWatching?.();
  await registry?.close();
  await http?.close();
  return code;
}
