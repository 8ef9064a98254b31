// Loading a model version into a model directory, as `mlfp models load` and the REST admin do: the model is
// opened fully first (a model that does not load, or does not match its manifest, is refused), then its
// folder is copied to <dir>/<name>-<version> and registry.json gains the name (live when the name is new).

import { cp, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { MlfpError } from '../errors.js';
import { openModel } from './load-model.js';
import { readManifestFile, type ModelManifest } from './manifest.js';
import { listModelFolders, readRegistryState, writeRegistryState, type RegistryState } from './registry.js';

export interface DirectoryModel {
  manifest: ModelManifest;
  folder: string;
}

export async function scanModelDirectory(dir: string): Promise<DirectoryModel[]> {
  const folders = await listModelFolders(dir);
  const models: DirectoryModel[] = [];
  for (const folder of folders)
    models.push({ manifest: (await readManifestFile(join(folder, 'manifest.json'))).manifest, folder });
  return models;
}

/** The state in registry.json, completed the way ModelRegistry.fromDirectory starts (first folder per name is live). */
export async function currentRegistryState(dir: string, models: readonly DirectoryModel[]): Promise<RegistryState> {
  const state = (await readRegistryState(dir)) ?? { version: 1, models: {} };
  for (const { manifest } of models) state.models[manifest.name] ??= { live: manifest.version, shadow: null, history: [] };
  return state;
}

export interface LoadedIntoDirectory {
  name: string;
  version: string;
  target: string;
  live: boolean;
}

export async function loadIntoDirectory(dir: string, source: string): Promise<LoadedIntoDirectory> {
  const model = await openModel(source);
  await model.runtime.close();
  if (model.source === model.modelPath)
    throw new MlfpError('bad_argument', `${source}: a model needs a manifest to join a registry (see src/models/README.md)`, {
      field: 'source',
    });
  const { name, version } = model.manifest;
  const models = await scanModelDirectory(dir);
  if (models.some((m) => m.manifest.name === name && m.manifest.version === version))
    throw new MlfpError('bad_argument', `${name}@${version} is already in ${dir}`, { field: 'source' });
  const target = join(dir, `${name}-${version}`);
  const exists = await stat(target).then(
    () => true,
    () => false,
  );
  if (exists) throw new MlfpError('bad_argument', `${target} already exists`, { field: 'source' });
  await cp(dirname(resolve(model.source)), target, { recursive: true });
  const state = await currentRegistryState(dir, models);
  state.models[name] ??= { live: version, shadow: null, history: [] };
  await writeRegistryState(dir, state);
  return { name, version, target, live: state.models[name]!.live === version };
}
