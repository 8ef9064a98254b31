// V8 settings the engine process sets for itself at start (bin/mlfp.js, and the benchmarks that stand in
// for it). V8's parallel scavenger gives every young-generation GC helper threads; in the engine they
// compete for a core with the onnxruntime worker thread (the event loop and the worker already use two),
// and a scavenge that takes ~0.5 ms on the main thread alone then stretches the worker's runs and the
// predictions behind them. Only flags that V8 reads afresh at each use can change once the process
// runs (`--single-threaded-gc` set this way aborts the process at the next major GC), so this is one
// switch, not a pass-through: MLFP_PARALLEL_SCAVENGE=1 keeps V8's default.

import { setFlagsFromString } from 'node:v8';
import { MlfpError } from '../errors.js';

/** Applies the engine's V8 settings; returns the flags set (for logs and benchmark reports). */
export function applyEngineV8Flags(env: NodeJS.ProcessEnv = process.env): string[] {
  const parallel = env.MLFP_PARALLEL_SCAVENGE ?? '0';
  if (parallel !== '0' && parallel !== '1')
    throw new MlfpError(
      'config_invalid',
      `MLFP_PARALLEL_SCAVENGE must be 0 (default: young-generation GC on the main thread alone) or 1 (V8's parallel scavenger), got ${JSON.stringify(parallel)}`,
      { field: 'MLFP_PARALLEL_SCAVENGE', value: parallel },
    );
  if (parallel === '1') return [];
  setFlagsFromString('--no-parallel-scavenge');
  return ['--no-parallel-scavenge'];
}
