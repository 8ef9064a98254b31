// `mlfp run`: the live engine. With no config it runs embedded: the synthetic market through validate →
// bars → features, a progress line every few seconds, Ctrl-C (SIGINT) or SIGTERM stops it cleanly.

import { map } from 'rxjs';
import { loadConfig } from '../config/load.js';
import type { EngineConfig } from '../config/schema.js';
import { OpsHttpServer } from '../monitoring/http-server.js';
import { EngineMetrics } from '../monitoring/metrics.js';
import { EngineStats, ProgressReporter } from '../monitoring/stats.js';
import { MemoryStore } from '../sinks/memory-store.js';
import { envelopeOf, StreamState, tickGraph } from '../streams/pipeline.js';
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
  const metrics = new EngineMetrics(stats);
  metrics.addHealthCheck({ name: 'source:synthetic', status: () => ({ state: 'up' }) });
  const http = config.http.enabled ? new OpsHttpServer(metrics, config.http) : undefined;
  if (http !== undefined) {
    const address = await http.start();
    io.stderr(
      `mlfp: metrics and health on http://${address.address}:${address.port}/metrics, /healthz, /readyz\n`,
    );
  }
  const graph = tickGraph(syntheticTicks(config.synthetic).pipe(map(envelopeOf())), state, outputs, stats);

  return new Promise<number>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = (code: number, why: string): void => {
      if (timer !== undefined) clearInterval(timer);
      void http?.close();
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
