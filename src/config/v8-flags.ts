// V8 flags the engine process sets for itself at start (bin/mlfp.js, and the benchmarks that stand in
// for it). V8's parallel scavenger gives every young-generation GC helper threads; in the engine they
// compete for a core with the onnxruntime worker thread (the event loop and the worker already use two),
// and a scavenge that would take 0.5 ms on the main thread alone then stretches the worker's runs and
// the predictions behind them (the 1,000-symbol latency benchmark's LSTM p99: 4.9 ms with helper
// threads, 4.4 ms without, medians of 5 runs on 2 vCPUs). `MLFP_V8_FLAGS` replaces the default
// (`MLFP_V8_FLAGS=` sets none).

import { setFlagsFromString } from 'node:v8';

export const DEFAULT_V8_FLAGS = '--no-parallel-scavenge';

/** Applies MLFP_V8_FLAGS (default DEFAULT_V8_FLAGS); returns the flags set. */
export function applyEngineV8Flags(env: NodeJS.ProcessEnv = process.env): string[] {
  const flags = (env.MLFP_V8_FLAGS ?? DEFAULT_V8_FLAGS).split(/\s+/).filter((f) => f !== '');
  for (const flag of flags) setFlagsFromString(flag);
  return flags;
}
