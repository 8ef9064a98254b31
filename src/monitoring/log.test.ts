import { describe, expect, it } from 'vitest';
import { CENSORED, componentLogger, createLogger, logEvent, prettyLine, type LoggerOptions } from './log.js';

function capture(options: Omit<LoggerOptions, 'write'>): { lines: string[]; options: LoggerOptions } {
  const lines: string[] = [];
  return { lines, options: { ...options, write: (line) => void lines.push(line) } };
}

const parse = (line: string | undefined): Record<string, unknown> =>
  JSON.parse(line ?? 'missing') as Record<string, unknown>;

describe('createLogger', () => {
  it('writes one JSON line per event with level, time, component, event and msg', () => {
    const { lines, options } = capture({ level: 'info' });
    const engine = componentLogger(createLogger(options), 'engine');
    logEvent(engine, {
      type: 'partition.restored',
      level: 'info',
      message: 'partition 3 restored at offset 42',
      fields: { partition: 3, offset: 42 },
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\{.*\}\n$/);
    const entry = parse(lines[0]);
    expect(entry).toMatchObject({
      level: 'info',
      component: 'engine',
      event: 'partition.restored',
      msg: 'partition 3 restored at offset 42',
      partition: 3,
      offset: 42,
    });
    expect(new Date(entry.time as string).toISOString()).toBe(entry.time);
    expect(entry).not.toHaveProperty('pid');
    expect(entry).not.toHaveProperty('hostname');
  });

  it('drops lines below the configured level, and `silent` prints nothing', () => {
    const warnOnly = capture({ level: 'warn' });
    const log = createLogger(warnOnly.options);
    logEvent(log, { type: 'engine.started', level: 'info', message: 'consuming' });
    logEvent(log, { type: 'engine.warning', level: 'warn', message: 'careful' });
    expect(warnOnly.lines.map((line) => parse(line).event)).toEqual(['engine.warning']);

    const silent = capture({ level: 'silent' });
    const quiet = componentLogger(createLogger(silent.options), 'cli');
    quiet.fatal('fatal');
    quiet.error({ event: 'run.failed' }, 'error');
    logEvent(quiet, { type: 'engine.failed', level: 'error', message: 'engine failed' });
    expect(silent.lines).toEqual([]);
  });

  it('redacts passwords in URLs, SASL credentials, tokens, TLS keys and Authorization headers', () => {
    const { lines, options } = capture({ level: 'info' });
    const log = componentLogger(createLogger(options), 'kafka');
    log.info(
      {
        event: 'test.secrets',
        url: 'postgres://mlfp:hunter2@db.internal:5432/market',
        postgres: { url: 'postgres://mlfp:hunter2@db.internal:5432/market', ssl: { key: 'PEM KEY' } },
        sasl: { mechanism: 'plain', username: 'mlfp', password: 'hunter2' },
        token: 'eyJhbGciOi.secret.token',
        config: { kafka: { sasl: { password: 'hunter2' } }, auth: { token: 'abc' } },
        headers: { authorization: 'Bearer abc', host: 'localhost' },
        password: 'hunter2',
      },
      'connecting',
    );
    const line = lines[0] ?? '';
    expect(line).not.toMatch(/hunter2|eyJhbGciOi|Bearer abc|PEM KEY|"abc"/);
    const entry = parse(line);
    expect(entry.url).toBe('postgres://mlfp:***@db.internal:5432/market');
    expect(entry.postgres).toEqual({
      url: 'postgres://mlfp:***@db.internal:5432/market',
      ssl: { key: CENSORED },
    });
    expect(entry.sasl).toBe(CENSORED);
    expect(entry.token).toBe(CENSORED);
    expect(entry.password).toBe(CENSORED);
    expect(entry.headers).toEqual({ authorization: CENSORED, host: 'localhost' });
    expect(entry.config).toEqual({ kafka: { sasl: CENSORED }, auth: { token: CENSORED } });
    expect(entry.msg).toBe('connecting');
  });

  it('writes one readable line per entry in the terminal form', () => {
    const { lines, options } = capture({ level: 'info', pretty: true });
    const log = componentLogger(createLogger(options), 'engine');
    logEvent(log, {
      type: 'partition.data_quality',
      level: 'warn',
      message: 'data quality of source: late is 12% of the last 1000 records',
      fields: { partition: 2, detail: 'two words' },
    });
    log.error({ event: 'run.failed', err: new Error('boom') }, 'engine failed: boom');
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line.indexOf('\n')).toBe(line.length - 1);
    expect(lines[0]).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} WARN {2}engine partition\.data_quality: data quality of source: late is 12% of the last 1000 records partition=2 detail="two words"\n$/,
    );
    expect(lines[1]).toMatch(/ERROR engine run\.failed: engine failed: boom err=Error: boom ⏎ at /);
  });

  it('passes a line that is not JSON through the terminal form unchanged', () => {
    expect(prettyLine('plain text\n')).toBe('plain text\n');
  });
});
