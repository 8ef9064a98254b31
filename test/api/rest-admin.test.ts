// REST model admin on a real registry over a temporary model directory (auth none): list, load a new version
// from a folder on the server, promote, roll back, shadow, each saved to registry.json as `mlfp models` does;
// bad bodies and unknown names get typed errors.

import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPublicApi, type PublicApi } from '../../src/api/public-api.js';
import { apiSchema } from '../../src/config/api-schemas.js';
import { ModelRegistry } from '../../src/models/registry.js';
import { createLogger } from '../../src/monitoring/log.js';
import { MemoryStore } from '../../src/sinks/memory/memory-store.js';

const MODELS = join(import.meta.dirname, '..', '..', 'models');
let dir: string;
let registry: ModelRegistry;
let api: PublicApi;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mlfp-rest-admin-'));
  const models = join(dir, 'models');
  await cp(join(MODELS, 'lgbm-return'), join(models, 'lgbm-return'), { recursive: true });
  // a second version, outside the directory, for load
  await cp(join(MODELS, 'lgbm-return'), join(dir, 'v2'), { recursive: true });
  const manifest = JSON.parse(await readFile(join(dir, 'v2', 'manifest.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  await writeFile(join(dir, 'v2', 'manifest.json'), JSON.stringify({ ...manifest, version: '2.0.0' }));
  ({ registry } = await ModelRegistry.fromDirectory(models));
  api = await startPublicApi({
    config: apiSchema.parse({ port: 0 }),
    store: new MemoryStore(),
    registry,
    modelsDir: models,
    metricsRegistry: new Registry(),
    log: createLogger({ level: 'silent', write: () => undefined }),
    now: Date.now,
  });
});

afterAll(async () => {
  await api.server.close();
  await registry.close();
  await rm(dir, { recursive: true, force: true });
});

async function call(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${api.url}${path.slice(1)}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

const states = async () =>
  Object.fromEntries(
    ((await call('GET', '/v1/models')).json.models as Array<{ version: string; state: string }>).map((m) => [
      m.version,
      m.state,
    ]),
  );
const saved = async () =>
  (
    JSON.parse(await readFile(join(dir, 'models', 'registry.json'), 'utf8')) as {
      models: Record<string, unknown>;
    }
  ).models['lgbm-return'];

describe('REST model admin', () => {
  it('loads, promotes, rolls back and shadows, saving registry.json like mlfp models', async () => {
    expect(await states()).toEqual({ '1.0.0': 'live' });
    const loaded = await call('POST', '/v1/models/load', { source: join(dir, 'v2') });
    expect(loaded).toMatchObject({
      status: 200,
      json: { name: 'lgbm-return', version: '2.0.0', live: false, problems: [] },
    });
    expect(await states()).toEqual({ '1.0.0': 'live', '2.0.0': 'loaded' });
    expect((await call('POST', '/v1/models/lgbm-return/promote', { version: '2.0.0' })).status).toBe(200);
    expect(await states()).toEqual({ '1.0.0': 'loaded', '2.0.0': 'live' });
    expect(await saved()).toMatchObject({ live: '2.0.0', history: ['1.0.0'] });
    expect((await call('POST', '/v1/models/lgbm-return/rollback')).json).toEqual({
      name: 'lgbm-return',
      live: '1.0.0',
    });
    expect((await call('POST', '/v1/models/lgbm-return/shadow', { version: '2.0.0' })).status).toBe(200);
    expect(await states()).toEqual({ '1.0.0': 'live', '2.0.0': 'shadow' });
    expect(await saved()).toMatchObject({ live: '1.0.0', shadow: '2.0.0' });
    expect((await call('POST', '/v1/models/lgbm-return/shadow', { version: null })).status).toBe(200);
    expect(await states()).toEqual({ '1.0.0': 'live', '2.0.0': 'loaded' });
  });

  it.each([
    ['a promote without a version', '/v1/models/lgbm-return/promote', {}, 400, 'bad_request'],
    ['a body that is not JSON', '/v1/models/lgbm-return/promote', 'x', 400, 'bad_json'],
    [
      'loading what is already there',
      '/v1/models/load',
      { source: join('models', 'lgbm-return') },
      400,
      'bad_argument',
    ],
    ['an unknown route', '/v1/models/lgbm-return/delete', {}, 404, 'not_found'],
  ])('%s: %i %s', async (_name, path, body, status, code) => {
    const response = await fetch(`${api.url}${path.slice(1)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    expect(response.status).toBe(status);
    expect(await response.json()).toMatchObject({ success: false, error: { code } });
  });
});
