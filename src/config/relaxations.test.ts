import { describe, expect, it } from 'vitest';
import { engineConfigSchema } from './schema.js';
import { relaxedRules } from './relaxations.js';

describe('relaxedRules', () => {
  it('says nothing for the strict defaults', () => {
    expect(relaxedRules(engineConfigSchema.parse({}))).toStrictEqual([]);
  });

  it('names each relaxed validation key once', () => {
    const config = engineConfigSchema.parse({
      validation: {
        keyMustEqualSymbol: false,
        numbersAsStrings: true,
        rejectDuplicateMembers: false,
        rejectByteOrderMark: false,
      },
    });
    const warnings = relaxedRules(config);
    expect(warnings).toHaveLength(4);
    for (const key of [
      'keyMustEqualSymbol',
      'numbersAsStrings',
      'rejectDuplicateMembers',
      'rejectByteOrderMark',
    ])
      expect(warnings.filter((w) => w.startsWith(`validation.${key} `))).toHaveLength(1);
  });
});
