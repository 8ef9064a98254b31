// Holds every loaded model version and which one is live (published) or shadow (scored, not published)
// per model name. Changes swap an immutable assignment between batches, so no batch mixes versions and
// nothing restarts. A folder of models plus registry.json (live / shadow / history) can drive it.

import { readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { FEATURE_COLUMNS } from '../domain/types.js';
import { MlfpError } from '../errors.js';
import { openModel, type LoadedModel, type OpenModelOptions } from './load-model.js';
import { SILENT_LOGGER, type ModelLogger, type RuntimeOptions } from './runtimes/runtime.js';

export type ModelRole = 'live' | 'shadow';

export interface ActiveModel {
  readonly model: LoadedModel;
  readonly role: ModelRole;
}

export interface ModelStatus {
  name: string;
  version: string;
  kind: string;
  format: string;
  timeframe: string;
  provider: string;
  state: 'live' | 'shadow' | 'loaded';
  source: string;
}

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

interface NameEntry {
  versions: Map<string, LoadedModel>;
  live: string | undefined;
  shadow: string | undefined;
  /** earlier live versions, most recent last (rollback pops) */
  history: string[];
}

export interface RegistryOptions {
  /** feature columns the engine produces (FeatureVector.values order); models must read only these */
  columns?: readonly string[];
  logger?: ModelLogger;
  runtime?: RuntimeOptions;
  /** longest history kept per name */
  maxHistory?: number;
}

export class ModelRegistry {
  readonly columns: readonly string[];
  private readonly logger: ModelLogger;
  private readonly runtimeOptions: RuntimeOptions;
  private readonly maxHistory: number;
  private readonly names = new Map<string, NameEntry>();
  private current: readonly ActiveModel[] = [];
  private generationValue = 0;
  private readonly inFlight = new Map<LoadedModel, number>();
  private readonly closeWhenIdle = new Set<LoadedModel>();
  private readonly listeners = new Set<(generation: number) => void>();
  /** the folder this registry mirrors (fromDirectory), for state persistence and sync */
  directory: string | undefined;

  constructor(options: RegistryOptions = {}) {
    this.columns = options.columns ?? FEATURE_COLUMNS;
    this.logger = options.logger ?? SILENT_LOGGER;
    this.runtimeOptions = { logger: this.logger, ...options.runtime };
    this.maxHistory = options.maxHistory ?? 20;
  }

  /** Incremented at every change of the live / shadow assignment. */
  get generation(): number {
    return this.generationValue;
  }

  /** The live and shadow models now; an immutable array replaced (never mutated) on change. */
  assignment(): readonly ActiveModel[] {
    return this.current;
  }

  /** Called when the assignment changes (for logs and metrics). Returns an unsubscribe function. */
  onChange(listener: (generation: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Opens a model (manifest folder or file, or bare model file) and adds it (see `add`). */
  async load(source: string, options: OpenModelOptions = {}): Promise<LoadedModel> {
    const model = await openModel(source, { ...this.runtimeOptions, ...options });
    try {
      this.add(model);
    } catch (error) {
      await model.runtime.close();
      throw error;
    }
    return model;
  }

  /**
   * Adds an opened model version. The first version of a name goes live; later ones wait to be
   * promoted or shadowed. Refuses a version already loaded or a model reading a column the engine
   * does not produce.
   */
  add(model: LoadedModel): void {
    const { name, version } = model.manifest;
    const missing = model.manifest.inputs.features.filter((f) => !this.columns.includes(f));
    if (missing.length > 0)
      throw new MlfpError(
        'model_mismatch',
        `${model.source}: input${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(', ')} ${missing.length > 1 ? 'are' : 'is'} not produced by the engine (it produces ${this.columns.join(', ')})`,
        { field: 'inputs.features' },
      );
    let entry = this.names.get(name);
    if (entry === undefined) {
      entry = { versions: new Map(), live: undefined, shadow: undefined, history: [] };
      this.names.set(name, entry);
    }
    if (entry.versions.has(version))
      throw new MlfpError('bad_argument', `${name}@${version} is already loaded`, { field: 'version' });
    entry.versions.set(version, model);
    this.logger.info(`model ${model.id} loaded (${model.runtime.description}; ${model.runtime.provider})`);
    if (entry.live === undefined) {
      entry.live = version;
      this.changed(`${model.id} is live`);
    }
  }

  /** Makes `version` the live one; the previous live version goes to the rollback history. */
  promote(name: string, version: string): void {
    const entry = this.entry(name);
    this.version(entry, name, version);
    if (entry.live === version) return;
    if (entry.live !== undefined) this.pushHistory(entry, entry.live);
    entry.live = version;
    if (entry.shadow === version) entry.shadow = undefined;
    this.changed(`${name}@${version} promoted to live`);
  }

  /** Puts the previous live version back; the current one stays loaded. */
  rollback(name: string): string {
    const entry = this.entry(name);
    const previous = entry.history.pop();
    if (previous === undefined)
      throw new MlfpError('bad_argument', `${name} has no earlier live version to roll back to`, {
        field: name,
      });
    entry.live = previous;
    if (entry.shadow === previous) entry.shadow = undefined;
    this.changed(`${name} rolled back to ${previous}`);
    return previous;
  }

  /** Scores `version` beside the live one without publishing it; undefined stops shadowing. */
  shadow(name: string, version: string | undefined): void {
    const entry = this.entry(name);
    if (version !== undefined) {
      this.version(entry, name, version);
      if (entry.live === version)
        throw new MlfpError('bad_argument', `${name}@${version} is live; it cannot also be its shadow`);
    }
    if (entry.shadow === version) return;
    entry.shadow = version;
    this.changed(version === undefined ? `${name}: shadow off` : `${name}@${version} in shadow`);
  }

  /** Removes a version that is neither live nor shadow; its runtime closes once no batch uses it. */
  async unload(name: string, version: string): Promise<void> {
    const entry = this.entry(name);
    const model = this.version(entry, name, version);
    if (entry.live === version || entry.shadow === version)
      throw new MlfpError(
        'bad_argument',
        `${model.id} is ${entry.live === version ? 'live' : 'shadow'}; promote or unshadow first`,
      );
    entry.versions.delete(version);
    entry.history = entry.history.filter((v) => v !== version);
    if ((this.inFlight.get(model) ?? 0) > 0) this.closeWhenIdle.add(model);
    else await model.runtime.close();
    this.logger.info(`model ${model.id} unloaded`);
  }

  list(): ModelStatus[] {
    const out: ModelStatus[] = [];
    for (const [name, entry] of this.names)
      for (const [version, model] of entry.versions)
        out.push({
          name,
          version,
          kind: model.manifest.kind,
          format: model.manifest.format,
          timeframe: model.manifest.timeframe,
          provider: model.runtime.provider,
          state: entry.live === version ? 'live' : entry.shadow === version ? 'shadow' : 'loaded',
          source: model.source,
        });
    return out;
  }

  get(name: string, version: string): LoadedModel | undefined {
    return this.names.get(name)?.versions.get(version);
  }

  /** A scorer holds a model while it has rows for it; a held model is closed only once released. */
  retain(model: LoadedModel): void {
    this.inFlight.set(model, (this.inFlight.get(model) ?? 0) + 1);
  }

  release(model: LoadedModel): void {
    const left = (this.inFlight.get(model) ?? 1) - 1;
    if (left > 0) {
      this.inFlight.set(model, left);
      return;
    }
    this.inFlight.delete(model);
    if (this.closeWhenIdle.delete(model))
      model.runtime.close().catch((error: unknown) => this.logger.warn(`closing ${model.id}: ${String(error)}`));
  }

  /** The live / shadow / history of every name, as registry.json holds it. */
  state(): RegistryState {
    const models: RegistryState['models'] = {};
    for (const [name, entry] of this.names)
      models[name] = { live: entry.live ?? null, shadow: entry.shadow ?? null, history: [...entry.history] };
    return { version: 1, models };
  }

  /**
   * Applies a registry.json state to the loaded versions (versions it names must be loaded). All
   * names are checked before anything changes, so a bad state changes nothing.
   */
  applyState(state: RegistryState): void {
    for (const [name, wanted] of Object.entries(state.models)) {
      const entry = this.names.get(name);
      for (const v of [wanted.live, wanted.shadow, ...wanted.history])
        if (v !== null && entry?.versions.has(v) !== true)
          throw new MlfpError('bad_argument', `registry state names ${name}@${v}, which is not loaded`, {
            field: name,
          });
      if (wanted.live !== null && wanted.live === wanted.shadow)
        throw new MlfpError(
          'bad_argument',
          `registry state makes ${name}@${wanted.live} both live and shadow`,
        );
    }
    let changed = false;
    for (const [name, wanted] of Object.entries(state.models)) {
      const entry = this.names.get(name)!;
      const live = wanted.live ?? undefined;
      const shadow = wanted.shadow ?? undefined;
      if (entry.live !== live || entry.shadow !== shadow) changed = true;
      entry.live = live;
      entry.shadow = shadow;
      entry.history = wanted.history.slice(-this.maxHistory);
    }
    if (changed) this.changed('registry state applied');
  }

  /**
   * Loads every model folder under `dir` (a folder holding manifest.json), then applies
   * `dir/registry.json` when present. A model that fails to load is logged and skipped, unless
   * `strict` is set; the error list comes back either way.
   */
  static async fromDirectory(
    dir: string,
    options: RegistryOptions & { strict?: boolean } = {},
  ): Promise<{ registry: ModelRegistry; errors: MlfpError[] }> {
    const registry = new ModelRegistry(options);
    registry.directory = dir;
    const errors = await registry.syncDirectory(options.strict === true);
    return { registry, errors };
  }

  /**
   * Loads model folders under `directory` that are not loaded yet and applies registry.json: what
   * the admin CLI changed on disk reaches the running engine (see `watchDirectory`).
   */
  async syncDirectory(strict = false): Promise<MlfpError[]> {
    const dir = this.directory;
    if (dir === undefined) throw new MlfpError('internal', 'this registry has no directory');
    const errors: MlfpError[] = [];
    const known = new Set<string>();
    for (const entry of this.names.values()) for (const m of entry.versions.values()) known.add(m.source);
    const folders = await listModelFolders(dir);
    for (const folder of folders) {
      const manifestPath = join(folder, 'manifest.json');
      if (known.has(manifestPath)) continue;
      try {
        await this.load(manifestPath);
      } catch (error) {
        const failure =
          error instanceof MlfpError
            ? error
            : new MlfpError('model_invalid', String(error), { cause: error });
        if (strict) throw failure;
        errors.push(failure);
        this.logger.warn(`model in ${folder} not loaded: ${failure.message}`);
      }
    }
    const state = await readRegistryState(dir);
    if (state !== undefined) {
      // names whose versions failed to load are left as they are rather than failing the rest
      const loadable: RegistryState = { version: 1, models: {} };
      for (const [name, wanted] of Object.entries(state.models)) {
        const entry = this.names.get(name);
        const ok = [wanted.live, wanted.shadow, ...wanted.history].every(
          (v) => v === null || entry?.versions.has(v) === true,
        );
        if (ok) loadable.models[name] = wanted;
        else {
          const failure = new MlfpError(
            'bad_argument',
            `${join(dir, REGISTRY_STATE_FILE)}: ${name} names a version that is not loaded`,
          );
          if (strict) throw failure;
          errors.push(failure);
          this.logger.warn(failure.message);
        }
      }
      this.applyState(loadable);
    }
    return errors;
  }

  private directoryStamp = '';

  /**
   * Syncs the directory when its folder list or registry.json changed since the last call (the first
   * call only records the stamp). Returns whether it synced.
   */
  async pollDirectory(): Promise<boolean> {
    const stamp = await directorySignature(this.directory!);
    if (stamp === this.directoryStamp) return false;
    const first = this.directoryStamp === '';
    this.directoryStamp = stamp;
    if (first) return false;
    await this.syncDirectory();
    return true;
  }

  /** Polls the directory (registry.json and new folders) every `intervalMs`; returns a stop function. */
  watchDirectory(intervalMs = 1000): () => void {
    let running = false;
    const poll = (): void => {
      if (running) return;
      running = true;
      this.pollDirectory()
        .catch((error: unknown) => this.logger.warn(`model directory sync failed: ${String(error)}`))
        .finally(() => {
          running = false;
        });
    };
    poll();
    const timer = setInterval(poll, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  /** Writes the current state to the directory's registry.json (atomically). */
  async saveState(): Promise<void> {
    if (this.directory === undefined) throw new MlfpError('internal', 'this registry has no directory');
    await writeRegistryState(this.directory, this.state());
  }

  async close(): Promise<void> {
    const all = [...this.names.values()].flatMap((e) => [...e.versions.values()]);
    this.names.clear();
    this.current = [];
    await Promise.all(all.map((m) => m.runtime.close()));
  }

  private entry(name: string): NameEntry {
    const entry = this.names.get(name);
    if (entry === undefined)
      throw new MlfpError(
        'bad_argument',
        `no model named "${name}" is loaded (${[...this.names.keys()].join(', ') || 'none'})`,
        {
          field: 'name',
        },
      );
    return entry;
  }

  private version(entry: NameEntry, name: string, version: string): LoadedModel {
    const model = entry.versions.get(version);
    if (model === undefined)
      throw new MlfpError(
        'bad_argument',
        `${name}@${version} is not loaded (loaded: ${[...entry.versions.keys()].join(', ')})`,
        {
          field: 'version',
        },
      );
    return model;
  }

  private pushHistory(entry: NameEntry, version: string): void {
    entry.history.push(version);
    if (entry.history.length > this.maxHistory) entry.history.shift();
  }

  private changed(what: string): void {
    const next: ActiveModel[] = [];
    for (const entry of this.names.values()) {
      if (entry.live !== undefined) next.push({ model: entry.versions.get(entry.live)!, role: 'live' });
      if (entry.shadow !== undefined) next.push({ model: entry.versions.get(entry.shadow)!, role: 'shadow' });
    }
    this.current = Object.freeze(next);
    this.generationValue++;
    this.logger.info(`models: ${what}`);
    for (const listener of this.listeners) listener(this.generationValue);
  }
}

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

async function directorySignature(dir: string): Promise<string> {
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
