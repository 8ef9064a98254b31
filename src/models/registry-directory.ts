// The model registry's folder on disk: registry.json (live / shadow / history per name) read and written
// atomically, the model folders beside it, and syncing a registry from both (new folders, changed state).

import { readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { MlfpError } from '../errors.js';
import type { ModelLogger } from './runtimes/runtime.js';

export const REGISTRY_STATE_FILE = 'registry.json';

const stateSchema = z
  .object({
    version: z.literal(1),
    models: z.record(
      z.string(),
      z
        .object({
          live: z.string().nullable(),
          shadow: z.string().nullable().default(null),
          history: z.array(z.string()).default([]),
        })
        .strict(),
    ),
  })
  .strict();
export type RegistryState = z.output<typeof stateSchema>;

/** Sub-folders of `dir` that hold a manifest.json, sorted by name. */
export async function listModelFolders(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    throw new MlfpError('io_error', `cannot read model directory ${dir}: ${(error as Error).message}`, {
      cause: error,
      retriable: false,
    });
  }
  const folders: string[] = [];
  for (const e of entries.filter((x) => x.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    try {
      await stat(join(dir, e.name, 'manifest.json'));
      folders.push(join(dir, e.name));
    } catch {
      // a folder without a manifest is not a model folder: ignored by design
    }
  }
  return folders;
}

export async function readRegistryState(dir: string): Promise<RegistryState | undefined> {
  const path = join(dir, REGISTRY_STATE_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new MlfpError('io_error', `cannot read ${path}: ${(error as Error).message}`, {
      cause: error,
      retriable: false,
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new MlfpError('config_invalid', `${path}: not JSON (${(error as Error).message})`, {
      cause: error,
    });
  }
  const parsed = stateSchema.safeParse(value);
  if (!parsed.success)
    throw new MlfpError(
      'config_invalid',
      `${path}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  return parsed.data;
}

export async function writeRegistryState(dir: string, state: RegistryState): Promise<void> {
  const path = join(dir, REGISTRY_STATE_FILE);
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(state, null, 2)}\n`);
  await rename(temporary, path);
}


/** Changes when a model folder is added or removed, or registry.json is written. */
export async function directorySignature(dir: string): Promise<string> {
  const folders = await listModelFolders(dir);
  let stateStamp = 'none';
  try {
    const s = await stat(join(dir, REGISTRY_STATE_FILE));
    stateStamp = `${s.mtimeMs}:${s.size}`;
  } catch {
    // no registry.json: the signature says so
  }
  return `${folders.join('|')}#${stateStamp}`;
}

/** What syncing needs of a registry (ModelRegistry; an interface so this file does not import registry.ts). */
export interface SyncableRegistry {
  load(source: string): Promise<unknown>;
  /** one entry per loaded version, with the manifest path it was loaded from */
  list(): ReadonlyArray<{ readonly source: string }>;
  get(name: string, version: string): unknown;
  applyState(state: RegistryState): void;
}

/**
 * Loads model folders under `dir` that `registry` has not loaded yet and applies registry.json (names whose
 * versions are not all loaded are skipped). A failure is logged and returned, or thrown when `strict`.
 */
export async function syncModelDirectory(
  dir: string,
  registry: SyncableRegistry,
  strict: boolean,
  logger: ModelLogger,
): Promise<MlfpError[]> {
  const errors: MlfpError[] = [];
  const known = new Set<string>();
  for (const status of registry.list()) known.add(status.source);
  const folders = await listModelFolders(dir);
  for (const folder of folders) {
    const manifestPath = join(folder, 'manifest.json');
    if (known.has(manifestPath)) continue;
    try {
      await registry.load(manifestPath);
    } catch (error) {
      const failure =
        error instanceof MlfpError
          ? error
          : new MlfpError('model_invalid', String(error), { cause: error });
      if (strict) throw failure;
      errors.push(failure);
      logger.warn(`model in ${folder} not loaded: ${failure.message}`);
    }
  }
  const state = await readRegistryState(dir);
  if (state !== undefined) {
    // names whose versions failed to load are left as they are rather than failing the rest
    const loadable: RegistryState = { version: 1, models: {} };
    for (const [name, wanted] of Object.entries(state.models)) {
      const ok = [wanted.live, wanted.shadow, ...wanted.history].every(
        (v) => v === null || registry.get(name, v) !== undefined,
      );
      if (ok) loadable.models[name] = wanted;
      else {
        const failure = new MlfpError(
          'bad_argument',
          `${join(dir, REGISTRY_STATE_FILE)}: ${name} names a version that is not loaded`,
        );
        if (strict) throw failure;
        errors.push(failure);
        logger.warn(failure.message);
      }
    }
    registry.applyState(loadable);
  }
  return errors;
}

/** Calls `pollOnce` now and every `intervalMs` (skipping a tick while one runs), logging failures; returns a stop function. */
export function watchModelDirectory(
  pollOnce: () => Promise<unknown>,
  intervalMs: number,
  logger: ModelLogger,
): () => void {
  let running = false;
  const poll = (): void => {
    if (running) return;
    running = true;
    pollOnce()
      .catch((error: unknown) => logger.warn(`model directory sync failed: ${String(error)}`))
      .finally(() => {
        running = false;
      });
  };
  poll();
  const timer = setInterval(poll, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
