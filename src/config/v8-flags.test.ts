import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MlfpError } from '../errors.js';
import { applyEngineV8Flags } from './v8-flags.js';

const BIN = fileURLToPath(new URL('../../bin/mlfp.js', import.meta.url));

describe('applyEngineV8Flags', () => {
  it('turns the parallel scavenger off by default, keeps it with MLFP_PARALLEL_SCAVENGE=1', () => {
    expect(applyEngineV8Flags({})).toEqual(['--no-parallel-scavenge']);
    expect(applyEngineV8Flags({ MLFP_PARALLEL_SCAVENGE: '0' })).toEqual(['--no-parallel-scavenge']);
    expect(applyEngineV8Flags({ MLFP_PARALLEL_SCAVENGE: '1' })).toEqual([]);
  });

  it('refuses any other value, naming the variable and the value', () => {
    expect(() => applyEngineV8Flags({ MLFP_PARALLEL_SCAVENGE: 'yes' })).toThrow(MlfpError);
    expect(() => applyEngineV8Flags({ MLFP_PARALLEL_SCAVENGE: 'yes' })).toThrow(
      /MLFP_PARALLEL_SCAVENGE.*"yes"/,
    );
  });

  it('the mlfp command applies it: a bad value exits 2 before running anything', () => {
    const bad = spawnSync(process.execPath, [BIN, '--help'], {
      env: { ...process.env, MLFP_PARALLEL_SCAVENGE: 'on' },
      encoding: 'utf8',
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('mlfp: config_invalid: MLFP_PARALLEL_SCAVENGE must be 0');
    // and a process that scavenges a lot with the flag set stays well (the flag is read at each scavenge)
    const script = `require('node:v8').setFlagsFromString('--no-parallel-scavenge'); const keep = []; for (let i = 0; i < 2e6; i++) { keep.push({ i }); if (keep.length > 1e5) keep.length = 0; } console.log('ok');`;
    expect(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }).trim()).toBe('ok');
  });
});
