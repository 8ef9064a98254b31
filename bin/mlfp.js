#!/usr/bin/env node
// Entry point of the `mlfp` command: runs the compiled CLI (npm run build / npm ci builds dist/).
import { applyEngineV8Flags } from '../dist/src/config/v8-flags.js';
import { main } from '../dist/src/cli/main.js';

// the engine's V8 settings (MLFP_PARALLEL_SCAVENGE; see src/config/v8-flags.ts)
try {
  applyEngineV8Flags();
} catch (error) {
  process.stderr.write(`mlfp: ${error.code ?? 'error'}: ${error.message}\n`);
  process.exit(2);
}
process.exitCode = await main(process.argv.slice(2));
