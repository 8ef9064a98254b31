// A model name's entry in the registry (its loaded versions, live, shadow and rollback history), the lookups
// that list what is loaded when one misses, and the live/shadow assignment built from all entries.

import { MlfpError } from '../errors.js';
import type { LoadedModel } from './load-model.js';

export type ModelRole = 'live' | 'shadow';

export interface ActiveModel {
  readonly model: LoadedModel;
  readonly role: ModelRole;
}

export interface NameEntry {
  versions: Map<string, LoadedModel>;
  live: string | undefined;
  shadow: string | undefined;
  /** earlier live versions, most recent last (rollback pops) */
  history: string[];
}

export function entryOf(names: ReadonlyMap<string, NameEntry>, name: string): NameEntry {
  const entry = names.get(name);
  if (entry === undefined)
    throw new MlfpError(
      'bad_argument',
      `no model named "${name}" is loaded (${[...names.keys()].join(', ') || 'none'})`,
      {
        field: 'name',
      },
    );
  return entry;
}

export function versionOf(entry: NameEntry, name: string, version: string): LoadedModel {
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

export function pushHistory(entry: NameEntry, version: string, maxHistory: number): void {
  entry.history.push(version);
  if (entry.history.length > maxHistory) entry.history.shift();
}

/** The live and shadow model of every name, as the immutable array scorers read between batches. */
export function assignmentOf(names: ReadonlyMap<string, NameEntry>): readonly ActiveModel[] {
  const next: ActiveModel[] = [];
  for (const entry of names.values()) {
    if (entry.live !== undefined) next.push({ model: entry.versions.get(entry.live)!, role: 'live' });
    if (entry.shadow !== undefined) next.push({ model: entry.versions.get(entry.shadow)!, role: 'shadow' });
  }
  return Object.freeze(next);
}
