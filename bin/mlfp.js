#!/usr/bin/env node
// Entry point of the `mlfp` command: runs the compiled CLI (npm run build / npm ci builds dist/).
import { main } from '../dist/src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
