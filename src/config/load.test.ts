import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { envOverrides, loadConfig, parseConfig } from './load.js';
import { MlfpError } from '../errors.js';

describe('engine config', () => {
  it('has defaults that run embedded', () => {
    const config = parseConfig({});
    expect(config.source).toBe('synthetic');
    expect(config.synthetic.symbols.length).toBeGreaterThan(1);
    expect(config.bars.allowedLatenessMs).toBe(2000);
  });

  it('names the bad key and the value it got', () => {
    try {
      parseConfig({ bars: { allowedLatenessMs: -5 }, synthetic: { seed: 'x' } });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(MlfpError);
      const e = error as MlfpError;
      expect(e.code).toBe('config_invalid');
      expect(e.message).toMatch(/bars\.allowedLatenessMs: .*\(got -5\)/);
      expect(e.message).toMatch(/synthetic\.seed: .*\(got "x"\)/);
    }
  });

  it('refuses unknown keys, so a typo is not silently ignored', () => {
    expect(() => parseConfig({ bars: { allowedLatency: 5 } })).toThrow(/allowedLatency/);
  });

  it('validates the session time zone and hours', () => {
    expect(() =>
      parseConfig({ bars: { session: { timezone: 'Mars/Olympus', open: '09:30', close: '16:00' } } }),
    ).toThrow(/bars\.session\.timezone: unknown IANA time zone/);
    expect(() =>
      parseConfig({ bars: { session: { timezone: 'UTC', open: '16:00', close: '09:30' } } }),
    ).toThrow(/bars\.session\.close/);
  });

  it('reads MLFP_SECTION__KEY environment overrides over the file', async () => {
    expect(
      envOverrides({ MLFP_BARS__ALLOWED_LATENESS_MS: '250', MLFP___PROTO____X: '1', OTHER: 'x' }),
    ).toEqual({
      bars: { allowedLatenessMs: 250 },
    });
    const dir = await mkdtemp(join(tmpdir(), 'mlfp-cfg-'));
    const path = join(dir, 'c.json');
    await writeFile(path, JSON.stringify({ bars: { allowedLatenessMs: 100, idleTimeoutMs: 1000 } }));
    const config = await loadConfig(path, { MLFP_BARS__ALLOWED_LATENESS_MS: '250' });
    expect(config.bars).toMatchObject({ allowedLatenessMs: 250, idleTimeoutMs: 1000 });
  });

  it('explains an unreadable or non-JSON file', async () => {
    await expect(loadConfig('/nonexistent.json', {})).rejects.toThrow(/cannot read config file/);
    const dir = await mkdtemp(join(tmpdir(), 'mlfp-cfg-'));
    const path = join(dir, 'bad.json');
    await writeFile(path, '{ nope');
    await expect(loadConfig(path, {})).rejects.toThrow(/not valid JSON/);
  });
});
