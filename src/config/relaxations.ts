// The input-contract rules a config relaxes (validation.*), as one warning each: a relaxed rule is allowed
// where a user has reason to, never silently. The engine logs them at start.

import type { EngineConfig } from './schema.js';

export function relaxedRules(config: Pick<EngineConfig, 'validation'>): string[] {
  const rules = config.validation;
  const warnings: string[] = [];
  if (!rules.keyMustEqualSymbol)
    warnings.push(
      'validation.keyMustEqualSymbol is false: ticks whose Kafka key is not their symbol (or null) are accepted; ' +
        "such a symbol's state can live in two partitions and two instances then compute two sets of its bars",
    );
  if (rules.numbersAsStrings)
    warnings.push(
      'validation.numbersAsStrings is true: prices, sizes and epoch-ms times given as JSON strings are accepted',
    );
  if (!rules.rejectDuplicateMembers)
    warnings.push(
      'validation.rejectDuplicateMembers is false: a JSON tick naming a member twice is read with the last value (as JSON.parse does)',
    );
  if (!rules.rejectByteOrderMark)
    warnings.push('validation.rejectByteOrderMark is false: a leading UTF-8 byte-order mark is stripped');
  return warnings;
}
