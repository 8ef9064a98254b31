// End to end on a CSV fixture: string cells -> validateTicks -> aggregateBars, against bars computed by hand.
import { readFileSync } from 'node:fs';
import { from, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { Bar, DeadLetter } from '../../src/domain/types.js';
import { aggregateBars } from '../../src/operators/aggregate-bars.js';
import { validateTicks, type TickEnvelope } from '../../src/operators/validate-ticks.js';

const FIXTURES = new URL('../fixtures/bars/', import.meta.url);

function readCsv(name: string): TickEnvelope[] {
  const [header, ...rows] = readFileSync(new URL(name, FIXTURES), 'utf8').trimEnd().split('\n');
  const columns = header!.split(',');
  return rows.map((row, index) => {
    const cells = row.split(',');
    const value: Record<string, string> = {};
    columns.forEach((column, at) => (value[column] = cells[at] ?? ''));
    return { value, source: { file: name, line: index + 2 }, original: row };
  });
}

describe('hand-checked CSV fixture', () => {
  it('gives the hand-computed bars and dead letters', async () => {
    const expected = JSON.parse(readFileSync(new URL('hand-checked.bars.json', FIXTURES), 'utf8')) as {
      bars: Bar[];
      deadLetters: Array<{ line: number; reason: string; field: string }>;
    };
    const letters: DeadLetter[] = [];
    const sink = { deadLetter: (letter: DeadLetter) => void letters.push(letter) };
    const bars = await lastValueFrom(
      from(readCsv('hand-checked.ticks.csv')).pipe(
        validateTicks({}, sink),
        aggregateBars({ allowedLatenessMs: 2000 }, sink),
        toArray(),
      ),
    );
    expect(bars).toStrictEqual(expected.bars);
    expect(letters.map((letter) => letter.reason)).toStrictEqual(
      expected.deadLetters.map((letter) => letter.reason),
    );
    expect(letters.map((letter) => letter.field)).toStrictEqual(
      expected.deadLetters.map((letter) => letter.field),
    );
    // validation rejects carry their file line and original row; late ticks are judged after validation
    expect(letters.slice(0, 2).map((letter) => letter.source?.line)).toStrictEqual([8, 11]);
    expect(letters[0]!.original).toBe('BAD,2024-03-04T14:33:00.000Z,-1,1,,,,');
  });
});
