// `mlfp run`: the live engine. It parses its options, loads the config and hands both to the composition
// root (src/streams/app.ts), which runs the embedded default (the synthetic market, no external service) or
// the Kafka engine, as the config's `source` says, through the same graph, delivery and sinks.

import { loadConfig } from '../config/load.js';
import { runApp, type AppDependencies } from '../streams/app.js';
import { runServe } from '../streams/serve.js';
import type { CliIo } from './io.js';

export interface RunCommandOptions {
  config?: string;
  maxTicks?: number;
}

/** What tests replace; by default everything is built from the config. */
export type RunDependencies = AppDependencies;

export async function runCommand(
  options: RunCommandOptions,
  io: CliIo,
  deps: RunDependencies = {},
): Promise<number> {
  const config = await loadConfig(options.config);
  if (options.maxTicks !== undefined) config.synthetic.maxTicks = options.maxTicks;
  return runApp(config, io, deps);
}

/** `mlfp serve`: the public API alone, reading every instance's outputs from the output topics. */
export async function serveCommand(
  options: { config?: string },
  io: CliIo,
  deps: { stopSignal?: AbortSignal } = {},
): Promise<number> {
  return runServe(await loadConfig(options.config), io, deps);
}
