import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isMlfpError } from '../errors.js';
import { fakeManifest, fakeModel } from '../../test/models/fake-model.js';
import { DEMO_MODELS } from '../../test/models/fixture-tables.js';
import { ModelRegistry, readRegistryState, writeRegistryState } from './registry.js';

const versions = (r: ModelRegistry): string[] => r.assignment().map((a) => `${a.model.id}:${a.role}`);

function code(f: () => unknown): string {
  try {
    f();
  } catch (error) {
    if (isMlfpError(error)) return `${error.code}: ${error.message}`;
    throw error;
  }
  return 'accepted';
}

describe('ModelRegistry operations', () => {
  const make = (): ModelRegistry => {
    const r = new ModelRegistry();
    for (const v of ['1', '2', '3']) r.add(fakeModel(fakeManifest({ version: v }), {}));
    return r;
  };

  it('the first version of a name goes live; later ones wait', () => {
    const r = make();
    expect(versions(r)).toEqual(['fake@1:live']);
    expect(r.list().map((s) => s.state)).toEqual(['live', 'loaded', 'loaded']);
  });

  it('promote, rollback and shadow swap the assignment as a new immutable array', () => {
    const r = make();
    const before = r.assignment();
    const generation = r.generation;
    r.promote('fake', '2');
    expect(versions(r)).toEqual(['fake@2:live']);
    expect(before.map((a) => a.model.id)).toEqual(['fake@1']);
    expect(r.generation).toBe(generation + 1);
    r.shadow('fake', '3');
    expect(versions(r)).toEqual(['fake@2:live', 'fake@3:shadow']);
    r.promote('fake', '3');
    expect(versions(r)).toEqual(['fake@3:live']);
    expect(r.rollback('fake')).toBe('2');
    expect(r.rollback('fake')).toBe('1');
    expect(versions(r)).toEqual(['fake@1:live']);
    expect(code(() => r.rollback('fake'))).toMatch(/bad_argument: fake has no earlier live version/);
    expect(Object.isFrozen(r.assignment())).toBe(true);
  });

  it('refuses unknown names and versions, live as its own shadow, duplicates and foreign columns', () => {
    const r = make();
    expect(code(() => r.promote('nope', '1'))).toMatch(/no model named "nope"/);
    expect(code(() => r.promote('fake', '9'))).toMatch(/fake@9 is not loaded \(loaded: 1, 2, 3\)/);
    expect(code(() => r.shadow('fake', '1'))).toMatch(/is live; it cannot also be its shadow/);
    expect(code(() => r.add(fakeModel(fakeManifest({ version: '2' }), {})))).toMatch(/already loaded/);
    expect(code(() => r.add(fakeModel(fakeManifest({ name: 'x', inputs: { features: ['returns', 'sentiment'] } }), {})))).toMatch(
      /model_mismatch: .*input "sentiment" is not produced by the engine/,
    );
  });

  it('unload closes a version once no batch holds it, and refuses the live one', async () => {
    const r = new ModelRegistry();
    const one = fakeModel(fakeManifest({ version: '1' }), {});
    const two = fakeModel(fakeManifest({ version: '2' }), {});
    r.add(one);
    r.add(two);
    r.promote('fake', '2');
    await expect(r.unload('fake', '2')).rejects.toThrow(/is live/);
    r.promote('fake', '1');
    r.retain(one);
    // fake@1 is live and held by a scorer; make 2 live again so 1 can be unloaded while the batch still holds it
    r.promote('fake', '2');
    await r.unload('fake', '1');
    expect(one.runtime.closed).toBe(false);
    r.release(one);
    await new Promise((resolve) => setImmediate(resolve));
    expect(one.runtime.closed).toBe(true);
    expect(r.list().map((s) => s.version)).toEqual(['2']);
  });

  it('state() and applyState() round-trip; a bad state changes nothing', () => {
    const r = make();
    r.promote('fake', '3');
    r.shadow('fake', '2');
    const state = r.state();
    expect(state).toEqual({ version: 1, models: { fake: { live: '3', shadow: '2', history: ['1'] } } });
    const other = make();
    other.applyState(state);
    expect(versions(other)).toEqual(['fake@3:live', 'fake@2:shadow']);
    expect(code(() => other.applyState({ version: 1, models: { fake: { live: '9', shadow: null, history: [] } } }))).toMatch(
      /fake@9, which is not loaded/,
    );
    expect(versions(other)).toEqual(['fake@3:live', 'fake@2:shadow']);
  });
});

describe('ModelRegistry over a model directory', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('loads the demo models: three live, the TF.js LSTM loaded beside its ONNX twin', async () => {
    const { registry, errors } = await ModelRegistry.fromDirectory(DEMO_MODELS);
    expect(errors).toEqual([]);
    expect(versions(registry).sort()).toEqual(['lgbm-return@1.0.0:live', 'lstm-return@1.0.0:live', 'xgb-direction@1.0.0:live']);
    expect(registry.list().find((s) => s.version === '1.0.0-tfjs')?.state).toBe('loaded');
    await registry.close();
  });

  it('picks up what the admin CLI writes: a new folder and registry.json changes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mlfp-registry-'));
    dirs.push(dir);
    await cp(join(DEMO_MODELS, 'lstm-return'), join(dir, 'lstm-return'), { recursive: true });
    const { registry } = await ModelRegistry.fromDirectory(dir);
    expect(versions(registry)).toEqual(['lstm-return@1.0.0:live']);
    await cp(join(DEMO_MODELS, 'lstm-return-tfjs'), join(dir, 'lstm-return-tfjs'), { recursive: true });
    await writeRegistryState(dir, { version: 1, models: { 'lstm-return': { live: '1.0.0', shadow: '1.0.0-tfjs', history: [] } } });
    expect(await registry.syncDirectory()).toEqual([]);
    expect(versions(registry)).toEqual(['lstm-return@1.0.0:live', 'lstm-return@1.0.0-tfjs:shadow']);
    expect(await registry.pollDirectory()).toBe(false); // first poll records the stamp
    await writeRegistryState(dir, { version: 1, models: { 'lstm-return': { live: '1.0.0-tfjs', shadow: null, history: ['1.0.0'] } } });
    expect(await registry.pollDirectory()).toBe(true);
    expect(versions(registry)).toEqual(['lstm-return@1.0.0-tfjs:live']);
    expect(await registry.pollDirectory()).toBe(false);
    registry.rollback('lstm-return');
    registry.promote('lstm-return', '1.0.0-tfjs');
    await registry.saveState();
    expect((await readRegistryState(dir))?.models['lstm-return']).toEqual({ live: '1.0.0-tfjs', shadow: null, history: ['1.0.0'] });
    await registry.close();
  });

  it('a broken model folder is reported and skipped; the others load', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mlfp-registry-'));
    dirs.push(dir);
    await cp(join(DEMO_MODELS, 'lgbm-return'), join(dir, 'good'), { recursive: true });
    await cp(join(DEMO_MODELS, 'xgb-direction'), join(dir, 'bad'), { recursive: true });
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(dir, 'bad', 'model.json'), '{"learner": 1}');
    const { registry, errors } = await ModelRegistry.fromDirectory(dir);
    expect(errors.map((e) => e.code)).toEqual(['model_invalid']);
    expect(versions(registry)).toEqual(['lgbm-return@1.0.0:live']);
    await expect(ModelRegistry.fromDirectory(dir, { strict: true })).rejects.toThrow(/bad\/model.json: "version" is missing or not an array/);
    await registry.close();
  });
});
