// Holds every loaded model version and which one is live (published) or shadow (scored, not published)
// per model name. Changes swap an immutable assignment between batches, so no batch mixes versions and
// nothing restarts. A folder of models plus registry.json (live / shadow / history) can drive it.

import { FEATURE_COLUMNS } from '../domain/types.js';
import { MlfpError } from '../errors.js';
import { openModel, type LoadedModel, type OpenModelOptions } from './load-model.js';
import {
  directorySignature,
  syncModelDirectory,
  watchModelDirectory,
  writeRegistryState,
  type RegistryState,
} from './registry-directory.js';
import {
  assignmentOf,
  entryOf,
  pushHistory,
  versionOf,
  type ActiveModel,
  type NameEntry,
} from './registry-entries.js';
import { SILENT_LOGGER, type ModelLogger, type RuntimeOptions } from './runtimes/runtime.js';

export type { ActiveModel, ModelRole } from './registry-entries.js';

export {
  listModelFolders,
  readRegistryState,
  REGISTRY_STATE_FILE,
  writeRegistryState,
  type RegistryState,
} from './registry-directory.js';

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
    const entry = entryOf(this.names, name);
    versionOf(entry, name, version);
    if (entry.live === version) return;
    if (entry.live !== undefined) pushHistory(entry, entry.live, this.maxHistory);
    entry.live = version;
    if (entry.shadow === version) entry.shadow = undefined;
    this.changed(`${name}@${version} promoted to live`);
  }

  /** Puts the previous live version back; the current one stays loaded. */
  rollback(name: string): string {
    const entry = entryOf(this.names, name);
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
    const entry = entryOf(this.names, name);
    if (version !== undefined) {
      versionOf(entry, name, version);
      if (entry.live === version)
        throw new MlfpError('bad_argument', `${name}@${version} is live; it cannot also be its shadow`);
    }
    if (entry.shadow === version) return;
    entry.shadow = version;
    this.changed(version === undefined ? `${name}: shadow off` : `${name}@${version} in shadow`);
  }

  /** Removes a version that is neither live nor shadow; its runtime closes once no batch uses it. */
  async unload(name: string, version: string): Promise<void> {
    const entry = entryOf(this.names, name);
    const model = versionOf(entry, name, version);
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
    return syncModelDirectory(dir, this, strict, this.logger);
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
    return watchModelDirectory(() => this.pollDirectory(), intervalMs, this.logger);
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

  private changed(what: string): void {
    this.current = assignmentOf(this.names);
    this.generationValue++;
    this.logger.info(`models: ${what}`);
    for (const listener of this.listeners) listener(this.generationValue);
  }
}
