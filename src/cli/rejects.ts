// Dead letters of a CLI run: in `fail` mode the first one stops the run with a message naming the file,
// line, field, value and reason; in `skip` mode each is reported (stderr, capped, plus an optional rejects
// CSV) and counted, and the run goes on.

import { MlfpError } from '../errors.js';
import type { DeadLetter, DeadLetterSink } from '../domain/types.js';
import { CsvWriter, csvField } from '../streams/csv.js';

export type OnError = 'fail' | 'skip';

const MAX_PRINTED = 20;

export function formatDeadLetter(letter: DeadLetter, withReason = true): string {
  const where =
    letter.source?.file !== undefined
      ? `${letter.source.file}:${letter.source.line ?? '?'}`
      : letter.source?.topic !== undefined
        ? `${letter.source.topic}/${letter.source.partition ?? '?'}@${letter.source.offset ?? '?'}`
        : 'input';
  const field = letter.field === undefined ? '' : ` field ${letter.field}`;
  const value = letter.value === undefined ? '' : ` = ${letter.value}`;
  return `${where}:${withReason ? ` ${letter.reason}:` : ''}${field}${value}: ${letter.message}`;
}

export class CliRejects implements DeadLetterSink {
  count = 0;
  readonly byReason = new Map<string, number>();
  /** the first dead letter in fail mode; the command checks it after each input row */
  fatal: DeadLetter | undefined;
  private readonly file: CsvWriter | undefined;
  private pending: Promise<void> = Promise.resolve();

  constructor(
    private readonly mode: OnError,
    rejectsPath: string | undefined,
    private readonly stderr: (text: string) => void,
  ) {
    this.file = rejectsPath === undefined ? undefined : new CsvWriter(rejectsPath);
    if (this.file !== undefined) this.pending = this.file.writeLine('file,line,reason,field,value,message');
  }

  /** where the row being processed came from: filled into dead letters raised downstream without one (late) */
  current: { source: DeadLetter['source']; original: string | undefined } = {
    source: undefined,
    original: undefined,
  };

  deadLetter(letter: DeadLetter): void {
    if (letter.source === undefined && this.current.source !== undefined) {
      letter.source = this.current.source;
      letter.original ??= this.current.original;
    }
    this.count++;
    this.byReason.set(letter.reason, (this.byReason.get(letter.reason) ?? 0) + 1);
    if (this.mode === 'fail') {
      this.fatal ??= letter;
      return;
    }
    if (this.count <= MAX_PRINTED) this.stderr(`rejected ${formatDeadLetter(letter)}\n`);
    if (this.file !== undefined) {
      const file = this.file;
      const row = [
        letter.source?.file ?? '',
        String(letter.source?.line ?? ''),
        letter.reason,
        letter.field ?? '',
        letter.value ?? '',
        letter.message,
      ]
        .map(csvField)
        .join(',');
      this.pending = this.pending.then(() => file.writeLine(row));
    }
  }

  /** Throws the first dead letter as an error in fail mode. */
  throwIfFatal(): void {
    if (this.fatal !== undefined) {
      throw new MlfpError(this.fatal.reason, formatDeadLetter(this.fatal, false), {
        field: this.fatal.field,
        value: this.fatal.value,
      });
    }
  }

  async close(success: boolean): Promise<void> {
    if (this.file === undefined) return;
    await this.pending;
    if (success) await this.file.commit();
    else await this.file.abort();
  }

  summary(): string {
    if (this.count === 0) return 'no rows rejected';
    const reasons = [...this.byReason].map(([reason, n]) => `${reason} ${n}`).join(', ');
    const more = this.count > MAX_PRINTED ? ` (first ${MAX_PRINTED} printed)` : '';
    return `${this.count} rows rejected${more}: ${reasons}`;
  }
}
