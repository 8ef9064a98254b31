// `mlfp models list|load|promote|rollback|shadow [--dir models/]`: the administrator operations on a
// model directory. They edit the folder and its registry.json; a running engine whose registry watches
// the directory (ModelRegistry.watchDirectory) applies them between batches, without a restart.

import { basename } from 'node:path';
import { MlfpError, toMlfpError } from '../errors.js';
import { writeRegistryState, type RegistryState } from '../models/registry.js';
import { currentRegistryState, loadIntoDirectory, scanModelDirectory } from '../models/directory-load.js';

export interface AdminStreams {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

const USAGE = `usage: mlfp models <command> [--dir <models dir>]
  list                          versions in the directory and their state (live, shadow, loaded)
  load <model folder|manifest>  validate a model and copy it into the directory (live if its name is new)
  promote <name> <version>      make a version live (the current one can be rolled back to)
  rollback <name>               put the previous live version back
  shadow <name> <version|off>   score a version beside the live one without publishing it
`;

/** Runs one administrator command; returns the exit code (0 ok, 2 refused or bad usage). */
export async function adminCommand(
  args: readonly string[],
  streams: AdminStreams = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const rest = [...args];
  let dir = 'models';
  const at = rest.indexOf('--dir');
  if (at >= 0) {
    const value = rest[at + 1];
    if (value === undefined) return usage(streams, '--dir needs a folder');
    dir = value;
    rest.splice(at, 2);
  }
  const [command, ...operands] = rest;
  try {
    switch (command) {
      case 'list':
        return await list(dir, streams);
      case 'load':
        if (operands.length !== 1) return usage(streams, 'load takes one model folder or manifest');
        return await load(dir, operands[0]!, streams);
      case 'promote':
        if (operands.length !== 2) return usage(streams, 'promote takes a name and a version');
        return await change(dir, streams, operands[0]!, (entry, versions) => {
          const version = operands[1]!;
          requireVersion(versions, operands[0]!, version);
          if (entry.live === version) return `${operands[0]}@${version} is already live`;
          if (entry.live !== null) entry.history.push(entry.live);
          entry.live = version;
          if (entry.shadow === version) entry.shadow = null;
          return `${operands[0]}@${version} is live`;
        });
      case 'rollback':
        if (operands.length !== 1) return usage(streams, 'rollback takes a name');
        return await change(dir, streams, operands[0]!, (entry) => {
          const previous = entry.history.pop();
          if (previous === undefined)
            throw new MlfpError('bad_argument', `${operands[0]} has no earlier live version to roll back to`);
          entry.live = previous;
          if (entry.shadow === previous) entry.shadow = null;
          return `${operands[0]} rolled back to ${previous}`;
        });
      case 'shadow':
        if (operands.length !== 2) return usage(streams, 'shadow takes a name and a version (or off)');
        return await change(dir, streams, operands[0]!, (entry, versions) => {
          const version = operands[1]!;
          if (version === 'off') {
            entry.shadow = null;
            return `${operands[0]}: shadow off`;
          }
          requireVersion(versions, operands[0]!, version);
          if (entry.live === version)
            throw new MlfpError(
              'bad_argument',
              `${operands[0]}@${version} is live; it cannot also be its shadow`,
            );
          entry.shadow = version;
          return `${operands[0]}@${version} runs in shadow`;
        });
      default:
        return usage(streams, command === undefined ? 'no command' : `unknown command "${command}"`);
    }
  } catch (error) {
    streams.stderr.write(`mlfp models: ${toMlfpError(error).message}\n`);
    return 2;
  }
}

function usage(streams: AdminStreams, problem: string): number {
  streams.stderr.write(`mlfp models: ${problem}\n${USAGE}`);
  return 2;
}

function requireVersion(versions: readonly string[], name: string, version: string): void {
  if (!versions.includes(version))
    throw new MlfpError(
      'bad_argument',
      `${name}@${version} is not in the directory (versions: ${versions.join(', ') || 'none'})`,
    );
}

async function list(dir: string, streams: AdminStreams): Promise<number> {
  const models = await scanModelDirectory(dir);
  const state = await currentRegistryState(dir, models);
  const rows = models.map(({ manifest: m, folder }) => {
    const entry = state.models[m.name];
    const role = entry?.live === m.version ? 'live' : entry?.shadow === m.version ? 'shadow' : 'loaded';
    return [m.name, m.version, role, m.kind, m.format, m.timeframe, basename(folder)];
  });
  const table = [['name', 'version', 'state', 'kind', 'format', 'timeframe', 'folder'], ...rows];
  const widths = table[0]!.map((_, c) => Math.max(...table.map((r) => r[c]!.length)));
  for (const r of table)
    streams.stdout.write(
      `${r
        .map((cell, c) => cell.padEnd(widths[c]!))
        .join('  ')
        .trimEnd()}\n`,
    );
  return 0;
}

async function load(dir: string, source: string, streams: AdminStreams): Promise<number> {
  const { name, version, target, live } = await loadIntoDirectory(dir, source);
  streams.stdout.write(
    `${name}@${version} copied to ${target}: ${live ? 'live' : 'loaded (promote or shadow it)'}\n`,
  );
  return 0;
}

async function change(
  dir: string,
  streams: AdminStreams,
  name: string,
  apply: (entry: RegistryState['models'][string], versions: string[]) => string,
): Promise<number> {
  const models = await scanModelDirectory(dir);
  const versions = models.filter((m) => m.manifest.name === name).map((m) => m.manifest.version);
  if (versions.length === 0)
    throw new MlfpError(
      'bad_argument',
      `no model named "${name}" in ${dir} (${[...new Set(models.map((m) => m.manifest.name))].join(', ') || 'none'})`,
    );
  const state = await currentRegistryState(dir, models);
  const entry = state.models[name]!;
  const message = apply(entry, versions);
  await writeRegistryState(dir, state);
  streams.stdout.write(`${message}\n`);
  return 0;
}
