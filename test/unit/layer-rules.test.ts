// The layer rules in .dependency-cruiser.js (run by `npm run lint`): each kind of rule fails on a deliberately
// wrong import in a small fixture tree shaped like src/, and the real src/ and bin/ have no violation.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cruise, type ICruiseOptions, type ICruiseResult } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';

const root = join(import.meta.dirname, '..', '..');

async function violations(
  baseDir: string,
  paths: string[],
): Promise<{ rule: string; from: string; to: string }[]> {
  const options: ICruiseOptions = await extractDepcruiseOptions(join(root, '.dependency-cruiser.js'));
  const tsConfigFile = join(baseDir, 'tsconfig.json');
  const result = await cruise(
    paths,
    { ...options, baseDir, tsConfig: { fileName: tsConfigFile } },
    {},
    { tsConfig: extractTSConfig(tsConfigFile) },
  );
  const output = result.output as ICruiseResult;
  return output.summary.violations
    .map((v) => ({ rule: v.rule.name, from: v.from, to: v.to }))
    .sort((a, b) => `${a.rule} ${a.from} ${a.to}`.localeCompare(`${b.rule} ${b.from} ${b.to}`));
}

describe('layer rules (dependency-cruiser)', () => {
  let fixture = '';

  const write = (path: string, text: string): void => {
    mkdirSync(dirname(join(fixture, path)), { recursive: true });
    writeFileSync(join(fixture, path), text);
  };

  beforeAll(() => {
    fixture = mkdtempSync(join(tmpdir(), 'mlfp-layer-rules-'));
    copyFileSync(join(root, 'package.json'), join(fixture, 'package.json'));
    copyFileSync(join(root, 'tsconfig.json'), join(fixture, 'tsconfig.json'));
    symlinkSync(join(root, 'node_modules'), join(fixture, 'node_modules'), 'dir');
    write('src/errors.ts', 'export class MlfpError extends Error {}\n');
    write('src/domain/types.ts', 'export interface Bar { close: number }\n');
    // the deliberately wrong imports, one per rule
    write('src/domain/misplaced.ts', "export { engine } from '../streams/engine.js';\n");
    write(
      'src/sinks/memory.ts',
      "import type { Outputs } from '../streams/engine.js';\nexport type M = Outputs;\n",
    );
    write('src/models/scorer.ts', "export { memory } from '../sinks/memory-sink.js';\n");
    write('src/sinks/memory-sink.ts', 'export const memory = 1;\n');
    write('src/operators/score.ts', "export { fake } from '../../test/support/fake.js';\n");
    write('test/support/fake.ts', 'export const fake = 1;\n');
    write('src/monitoring/stats.ts', "import { expect } from 'vitest';\nexport const e = expect;\n");
    write('src/indicators/sma.ts', "import { SMA } from 'technicalindicators';\nexport const s = SMA;\n");
    write('src/bars/a.ts', "import { b } from './b.js';\nexport const a = (): number => b();\n");
    write('src/bars/b.ts', "import { a } from './a.js';\nexport const b = (): number => a();\n");
    // allowed: the composition root reads down the layers, a test reads anything
    write(
      'src/streams/engine.ts',
      [
        "import type { Bar } from '../domain/types.js';",
        "import { MlfpError } from '../errors.js';",
        'export interface Outputs { bar(bar: Bar): void }',
        'export const engine = MlfpError;',
        '',
      ].join('\n'),
    );
    write(
      'src/domain/types.test.ts',
      "import { engine } from '../streams/engine.js';\nexport const t = engine;\n",
    );
  });

  afterAll(() => {
    if (fixture !== '') rmSync(fixture, { recursive: true, force: true });
  });

  it('fails on each deliberately wrong import, naming the rule', async () => {
    expect(await violations(fixture, ['src'])).toEqual([
      { rule: 'layer-domain', from: 'src/domain/misplaced.ts', to: 'src/streams/engine.ts' },
      { rule: 'layer-models', from: 'src/models/scorer.ts', to: 'src/sinks/memory-sink.ts' },
      { rule: 'layer-sinks', from: 'src/sinks/memory.ts', to: 'src/streams/engine.ts' },
      // one violation per cycle, a.ts → b.ts → a.ts
      { rule: 'no-circular', from: 'src/bars/a.ts', to: 'src/bars/b.ts' },
      {
        rule: 'not-to-dev-dep',
        from: 'src/indicators/sma.ts',
        to: expect.stringMatching(/technicalindicators/),
      },
      // vitest is both a test library and a devDependency
      {
        rule: 'not-to-dev-dep',
        from: 'src/monitoring/stats.ts',
        to: expect.stringMatching(/node_modules\/vitest\//),
      },
      {
        rule: 'not-to-test',
        from: 'src/monitoring/stats.ts',
        to: expect.stringMatching(/node_modules\/vitest\//),
      },
      { rule: 'not-to-test', from: 'src/operators/score.ts', to: 'test/support/fake.ts' },
    ]);
  });

  it('finds no violation in the real src/ and bin/', async () => {
    expect(await violations(root, ['src', 'bin'])).toEqual([]);
  }, 60_000);
});
