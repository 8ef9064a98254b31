// Every error code is part of the public contract: the README's table must list each one (fastify-style).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/errors.js';

describe('README error-code table', () => {
  const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
  const table = readme.slice(readme.indexOf('## Error codes'));
  it.each(ERROR_CODES.map((code) => [code]))('documents %s', (code) => {
    expect(table).toContain(`| \`${code}\` |`);
  });
});
