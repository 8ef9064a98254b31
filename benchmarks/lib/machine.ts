// What a benchmark ran on: CPU, memory, OS, Node/V8, the commit and the versions of the peer packages.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { projectRoot } from './results.js';

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  platform: string;
  node: string;
  v8: string;
  /** 1-minute load average when the run started: a busy machine makes numbers low and noisy */
  loadAverage1m: number;
  commit: string | undefined;
  packages: Record<string, string>;
}

function packageVersion(name: string): string {
  try {
    const manifest = JSON.parse(
      readFileSync(join(projectRoot(), 'node_modules', name, 'package.json'), 'utf8'),
    ) as {
      version?: string;
    };
    return manifest.version ?? 'unknown';
  } catch {
    return 'not installed';
  }
}

function gitCommit(): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: projectRoot(),
      encoding: 'utf8',
    }).trim();
  } catch {
    return undefined;
  }
}

export function machineInfo(packages: readonly string[] = []): MachineInfo {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    v8: process.versions.v8,
    loadAverage1m: Math.round((os.loadavg()[0] ?? 0) * 100) / 100,
    commit: gitCommit(),
    packages: Object.fromEntries(packages.map((name) => [name, packageVersion(name)])),
  };
}
