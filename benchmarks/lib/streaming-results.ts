// Turns the runner's measured runs (one JSON line per subject and run) into benchmarks/results/streaming.json:
// per subject every run plus median, min and max; the machine and versions beside them.
// Usage: node dist/benchmarks/lib/streaming-results.js --runs runs.jsonl --data producer.json --out FILE [--meta k=v]...
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, release } from 'node:os';
import { parseArgs } from 'node:util';

/** One measured run: the subject's own JSON line plus what the runner measured from outside. */
export interface MeasuredRun {
  subject: string;
  ticks: number;
  seconds: number;
  ticksPerSec: number;
  cpuSeconds: number;
  peakRssMb: number;
  processSeconds: number;
  [extra: string]: unknown;
}

export interface Summary {
  ticksPerSec: number;
  seconds: number;
  cpuSeconds: number;
  peakRssMb: number;
  processSeconds: number;
}

export interface SubjectResult {
  runs: MeasuredRun[];
  median: Summary;
  min: Summary;
  max: Summary;
}

const SUMMARY_KEYS = ['ticksPerSec', 'seconds', 'cpuSeconds', 'peakRssMb', 'processSeconds'] as const;

/** Median of a non-empty list; the mean of the two middle values for an even count. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of no values');
  const sorted = [...values].sort((left, right) => left - right);
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle] ?? NaN;
  return sorted.length % 2 === 1 ? upper : ((sorted[middle - 1] ?? NaN) + upper) / 2;
}

function summarise(runs: readonly MeasuredRun[], pick: (values: readonly number[]) => number): Summary {
  const summary = {} as Summary;
  for (const key of SUMMARY_KEYS) summary[key] = Number(pick(runs.map((run) => run[key])).toFixed(3));
  return summary;
}

/** Groups runs by subject, in first-seen order, and summarises each. */
export function summariseRuns(runs: readonly MeasuredRun[]): Record<string, SubjectResult> {
  const bySubject = new Map<string, MeasuredRun[]>();
  for (const run of runs) {
    const list = bySubject.get(run.subject) ?? [];
    list.push(run);
    bySubject.set(run.subject, list);
  }
  const result: Record<string, SubjectResult> = {};
  for (const [subject, list] of bySubject) {
    result[subject] = {
      runs: list,
      median: summarise(list, median),
      min: summarise(list, (values) => Math.min(...values)),
      max: summarise(list, (values) => Math.max(...values)),
    };
  }
  return result;
}

/** The Flink configuration (flink-p1, flink-p2, ...) with the highest median ticks/s: the engine must beat it. */
export function bestFlink(
  subjects: Record<string, SubjectResult>,
): { subject: string; ticksPerSec: number } | undefined {
  let best: { subject: string; ticksPerSec: number } | undefined;
  for (const [subject, result] of Object.entries(subjects)) {
    if (!subject.startsWith('flink')) continue;
    if (best === undefined || result.median.ticksPerSec > best.ticksPerSec) {
      best = { subject, ticksPerSec: result.median.ticksPerSec };
    }
  }
  return best;
}

export function parseRuns(text: string): MeasuredRun[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as MeasuredRun);
}

function main(): void {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string' },
      data: { type: 'string' },
      out: { type: 'string' },
      meta: { type: 'string', multiple: true, default: [] },
    },
  });
  if (values.runs === undefined || values.data === undefined || values.out === undefined) {
    throw new RangeError('--runs, --data and --out are required');
  }
  const subjects = summariseRuns(parseRuns(readFileSync(values.runs, 'utf8')));
  const meta = Object.fromEntries(
    values.meta.map((entry) => {
      const separator = entry.indexOf('=');
      return separator < 0 ? [entry, ''] : [entry.slice(0, separator), entry.slice(separator + 1)];
    }),
  );
  const engine = subjects['engine']?.median.ticksPerSec;
  const engineKafkaFeatures = subjects['engine-kafka-features']?.median.ticksPerSec;
  const flink = bestFlink(subjects);
  const floor = subjects['kafkajs-passthrough']?.median.ticksPerSec;
  const document = {
    benchmark: 'streaming: Kafka ticks -> 5m/1h/1d bars -> Kafka (engine vs Flink 2.2 vs bare kafkajs floor)',
    date: new Date().toISOString(),
    method:
      'Ticks produced once; each subject then reads the same topic from the start with its own consumer group, ' +
      'bounded to what was produced. seconds = from the subject starting to consume (consumer run / Flink job ' +
      'submission) to its last output acknowledged, so JVM and MiniCluster start-up are excluded; processSeconds, ' +
      'cpuSeconds (user + system) and peakRssMb are measured from outside with GNU time for the whole process. ' +
      'Subjects run one after another, round-robin over runs; median, min and max per subject.',
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryGb: Number((totalmem() / 2 ** 30).toFixed(1)),
      kernel: release(),
    },
    versions: { node: process.version, ...meta },
    data: JSON.parse(readFileSync(values.data, 'utf8')) as unknown,
    subjects,
    ratios: {
      bestFlink: flink?.subject ?? null,
      engineVsFlink:
        engine !== undefined && flink !== undefined ? Number((engine / flink.ticksPerSec).toFixed(3)) : null,
      engineKafkaFeaturesVsFlink:
        engineKafkaFeatures !== undefined && flink !== undefined
          ? Number((engineKafkaFeatures / flink.ticksPerSec).toFixed(3))
          : null,
      engineVsFloor: engine !== undefined && floor !== undefined ? Number((engine / floor).toFixed(3)) : null,
      flinkVsFloor:
        flink !== undefined && floor !== undefined ? Number((flink.ticksPerSec / floor).toFixed(3)) : null,
    },
  };
  writeFileSync(values.out, `${JSON.stringify(document, null, 2)}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
