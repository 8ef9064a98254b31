import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEMO_MODELS } from '../../test/models/fixture-tables.js';
import { ModelRegistry, readRegistryState } from '../models/registry.js';
import { adminCommand } from './models.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function admin(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await adminCommand(args, {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
  });
  return { code, stdout, stderr };
}

/** A folder holding lgbm-return 1.0.0, and a 1.1.0 copy of it outside, ready to load. */
async function setUp(): Promise<{ dir: string; next: string }> {
  const root = await mkdtemp(join(tmpdir(), 'mlfp-admin-'));
  dirs.push(root);
  const dir = join(root, 'models');
  await cp(join(DEMO_MODELS, 'lgbm-return'), join(dir, 'lgbm-return'), { recursive: true });
  const next = join(root, 'incoming');
  await cp(join(DEMO_MODELS, 'lgbm-return'), next, { recursive: true });
  const manifest = JSON.parse(await readFile(join(next, 'manifest.json'), 'utf8')) as { version: string };
  manifest.version = '1.1.0';
  await writeFile(join(next, 'manifest.json'), JSON.stringify(manifest));
  return { dir, next };
}

describe('mlfp models', () => {
  it('list, load, promote, shadow, rollback: registry.json follows, and a running registry applies it', async () => {
    const { dir, next } = await setUp();
    const { registry } = await ModelRegistry.fromDirectory(dir);
    const live = (): string[] => registry.assignment().map((a) => `${a.model.id}:${a.role}`);
    expect(live()).toEqual(['lgbm-return@1.0.0:live']);

    expect((await admin('load', next, '--dir', dir)).stdout).toMatch(
      /lgbm-return@1.1.0 copied to .*lgbm-return-1.1.0: loaded/,
    );
    expect((await admin('shadow', 'lgbm-return', '1.1.0', '--dir', dir)).code).toBe(0);
    await registry.syncDirectory();
    expect(live()).toEqual(['lgbm-return@1.0.0:live', 'lgbm-return@1.1.0:shadow']);

    const listing = (await admin('list', '--dir', dir)).stdout;
    expect(listing).toMatch(/lgbm-return\s+1\.0\.0\s+live\s+regressor\s+lightgbm-txt\s+5m/);
    expect(listing).toMatch(/lgbm-return\s+1\.1\.0\s+shadow/);

    expect((await admin('promote', 'lgbm-return', '1.1.0', '--dir', dir)).stdout).toBe(
      'lgbm-return@1.1.0 is live\n',
    );
    await registry.syncDirectory();
    expect(live()).toEqual(['lgbm-return@1.1.0:live']);
    expect((await readRegistryState(dir))?.models['lgbm-return']).toEqual({
      live: '1.1.0',
      shadow: null,
      history: ['1.0.0'],
    });

    expect((await admin('rollback', 'lgbm-return', '--dir', dir)).stdout).toBe(
      'lgbm-return rolled back to 1.0.0\n',
    );
    await registry.syncDirectory();
    expect(live()).toEqual(['lgbm-return@1.0.0:live']);
    await registry.close();
  });

  it('refuses what it cannot do, naming why (exit 2)', async () => {
    const { dir, next } = await setUp();
    expect((await admin('promote', 'lgbm-return', '9.9', '--dir', dir)).stderr).toMatch(
      /lgbm-return@9.9 is not in the directory \(versions: 1.0.0\)/,
    );
    expect((await admin('rollback', 'lgbm-return', '--dir', dir)).stderr).toMatch(/no earlier live version/);
    expect((await admin('shadow', 'lgbm-return', '1.0.0', '--dir', dir)).stderr).toMatch(
      /is live; it cannot also be its shadow/,
    );
    expect((await admin('promote', 'nope', '1', '--dir', dir)).stderr).toMatch(/no model named "nope"/);
    expect((await admin('load', join(DEMO_MODELS, 'lgbm-return'), '--dir', dir)).stderr).toMatch(
      /lgbm-return@1.0.0 is already in/,
    );
    const manifest = JSON.parse(await readFile(join(next, 'manifest.json'), 'utf8')) as {
      inputs: { features: string[] };
    };
    manifest.inputs.features.reverse();
    await writeFile(join(next, 'manifest.json'), JSON.stringify(manifest));
    const refused = await admin('load', next, '--dir', dir);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/input 0: the manifest says "obv", the model file says "returns"/);
    expect((await admin('frobnicate')).stderr).toMatch(
      /unknown command "frobnicate"[\s\S]*usage: mlfp models/,
    );
  });
});
