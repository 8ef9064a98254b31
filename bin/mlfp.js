#!/usr/bin/env node
// Entry point of the `mlfp` command: runs the compiled CLI (npm run build / npm ci builds dist/).
import { applyEngineV8Flags } from '../dist/src/config/v8-flags.js';
import { main } from '../dist/src/cli/main.js';

// the engine's V8 settings (MLFP_V8_FLAGS; see src/config/v8-flags.ts)
applyEngineV8Flags();
process.exitCode = await main(process.argv.slice(2));
