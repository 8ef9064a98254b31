// The results file reports medians and spread per subject; these are easy to get subtly wrong.
import { describe, expect, it } from 'vitest';
import { bestFlink, median, parseRuns, summariseRuns, type MeasuredRun } from './streaming-results.js';

function run(subject: string, ticksPerSec: number, peakRssMb = 100): MeasuredRun {
  return {
    subject,
    ticks: 1000,
    seconds: 1000 / ticksPerSec,
    ticksPerSec,
    cpuSeconds: 1,
    peakRssMb,
    processSeconds: 2,
  };
}

describe('median', () => {
  it('takes the middle value of an odd count and the mean of the middle two of an even count', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('refuses an empty list', () => {
    expect(() => median([])).toThrow(RangeError);
  });
});

describe('summariseRuns', () => {
  it('groups runs per subject with median, min and max of each measure', () => {
    const result = summariseRuns([
      run('flink', 50_000, 500),
      run('engine', 90_000),
      run('flink', 60_000, 700),
      run('flink', 55_000, 600),
    ]);
    expect(Object.keys(result)).toEqual(['flink', 'engine']);
    expect(result['flink']?.runs).toHaveLength(3);
    expect(result['flink']?.median.ticksPerSec).toBe(55_000);
    expect(result['flink']?.min.peakRssMb).toBe(500);
    expect(result['flink']?.max.peakRssMb).toBe(700);
    expect(result['engine']?.median.ticksPerSec).toBe(90_000);
  });
});

describe('bestFlink', () => {
  it('picks the Flink configuration with the highest median and ignores other subjects', () => {
    const subjects = summariseRuns([
      run('flink-p1', 50_000),
      run('flink-p2', 61_000),
      run('engine', 99_000),
      run('flink-p2', 59_000),
    ]);
    expect(bestFlink(subjects)).toEqual({ subject: 'flink-p2', ticksPerSec: 60_000 });
    expect(bestFlink(summariseRuns([run('engine', 1)]))).toBeUndefined();
  });
});

describe('parseRuns', () => {
  it('reads one JSON object per non-empty line', () => {
    const lines = `${JSON.stringify(run('a', 1))}\n\n${JSON.stringify(run('b', 2))}\n`;
    expect(parseRuns(lines).map((entry) => entry.subject)).toEqual(['a', 'b']);
  });
});
