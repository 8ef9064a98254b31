// Loads the engine config: defaults, then a JSON file, then MLFP_* environment overrides; validates it and
// names the offending key in the error. The only module that reads process.env for configuration.

import { readFile } from 'node:fs/promises';
import { MlfpError, describeValue } from '../errors.js';
import { redactUrl } from './redact.js';
import { engineConfigSchema, type EngineConfig } from './schema.js';

/**
 * Environment overrides: MLFP_<SECTION>__<KEY>=value sets config.section.key (double underscore between
 * levels; single underscores inside a key become camelCase: MLFP_BARS__ALLOWED_LATENESS_MS). Values are
 * parsed as JSON when they parse, else taken as strings.
 */
export function envOverrides(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('MLFP_') || raw === undefined || !name.includes('__')) continue;
    const path = name
      .slice(5)
      .split('__')
      .map((part) => part.toLowerCase().replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase()));
    // `__` separates levels, so no segment can spell __proto__; empty segments make the name invalid
    if (path.some((part) => part === '')) continue;
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
    let node = result;
    path.forEach((key, i) => {
      if (i === path.length - 1) node[key] = value;
      else {
        const next = node[key];
        node = (typeof next === 'object' && next !== null ? next : (node[key] = {})) as Record<
          string,
          unknown
        >;
      }
    });
  }
  return result;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepMerge(base: unknown, override: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(override)) return override;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) out[key] = deepMerge(out[key], value);
  return out;
}

/** Keys whose values are credentials: an error message names them but never shows what was given. */
const SECRET_KEYS: ReadonlySet<string> = new Set(['password', 'sasl', 'auth', 'key', 'cert', 'ca', 'ssl']);

export function isSecretPath(path: readonly PropertyKey[]): boolean {
  return path.some((part) => typeof part === 'string' && SECRET_KEYS.has(part));
}

/** A copy of `value` with every credential replaced, for messages (objects nested past 8 levels are elided). */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (depth >= 8) return '(…)';
  if (Array.isArray(value)) return value.map((item) => redactSecrets(item, depth + 1));
  // a null prototype: a "__proto__" key from JSON stays a plain key here
  const out = Object.create(null) as Record<string, unknown>;
  for (const [key, item] of Object.entries(value))
    out[key] = SECRET_KEYS.has(key) ? '(redacted)' : redactSecrets(item, depth + 1);
  return out;
}

/** Validates a raw config object; the error lists every bad key as `a.b.c: reason (got value)`. */
export function parseConfig(raw: unknown, origin = 'config'): EngineConfig {
  const result = engineConfigSchema.safeParse(raw);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const key = issue.path.join('.') || '(root)';
    let got: unknown = raw;
    for (const part of issue.path)
      got = isPlainObject(got) || Array.isArray(got) ? (got as never)[part] : undefined;
    // a service URL may carry a password, a secret key (password, key, …) is never shown
    if (typeof got === 'string' && issue.path.at(-1) === 'url') got = redactUrl(got);
    const shown = isSecretPath(issue.path) ? '(redacted)' : describeValue(redactSecrets(got));
    return `${key}: ${issue.message}${got === undefined ? '' : ` (got ${shown})`}`;
  });
  const first = result.error.issues[0];
  throw new MlfpError('config_invalid', `invalid ${origin}:\n  ${lines.join('\n  ')}`, {
    field: first?.path.join('.'),
  });
}

export async function loadConfig(
  path: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<EngineConfig> {
  let fromFile: unknown = {};
  if (path !== undefined) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      throw new MlfpError('config_invalid', `cannot read config file ${path}: ${(error as Error).message}`, {
        field: 'config',
        cause: error,
      });
    }
    try {
      fromFile = JSON.parse(text);
    } catch (error) {
      throw new MlfpError(
        'config_invalid',
        `config file ${path} is not valid JSON: ${(error as Error).message}`,
        {
          field: 'config',
          cause: error,
        },
      );
    }
    if (!isPlainObject(fromFile))
      throw new MlfpError('config_invalid', `config file ${path} must hold a JSON object`);
  }
  const merged = deepMerge(fromFile, envOverrides(env));
  return parseConfig(merged, path === undefined ? 'config (defaults + environment)' : `config ${path}`);
}
