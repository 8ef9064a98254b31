// Structured logs: one pino root logger from the config's `log.level`, JSON lines on stderr (level, time,
// component, event, msg, fields) for log pipelines, or one readable line each when stderr is a terminal.
// Secrets never reach a line: pino's `redact` paths censor them, and URLs keep everything but their password.

import { pino, type DestinationStream, type Logger } from 'pino';
import type { EngineConfig } from '../config/schema.js';
import { redactUrl } from '../config/redact.js';

export type { Logger };

export type LogLevel = EngineConfig['log']['level'];

/** Who writes a line: one child logger each, named in the line's `component` field. */
export type LogComponent = 'cli' | 'engine' | 'kafka' | 'models' | 'http' | 'api' | 'alerts';

/** An event as the engine and the kafkajs bridge report it (src/streams/engine-events.ts's EngineEvent fits). */
export interface LogEvent {
  /** namespaced event name, e.g. `partition.restored`: the line's `event` field */
  type: string;
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  fields?: Record<string, unknown>;
}

/** Keys whose value is censored wherever they sit, at the top of a line or one or two objects down. */
const SECRET_KEYS = [
  'password',
  'passphrase',
  'secret',
  'token',
  'accessToken',
  'refreshToken',
  'apiKey',
  'authorization',
  'Authorization',
  'cookie',
  'sasl',
  'privateKey',
];

/** Keys holding a connection URL: censored to the URL without its password. */
const URL_KEYS = ['url', 'connectionString', 'uri', 'dsn', 'brokerUrl'];

const atDepths = (keys: readonly string[]): string[] =>
  keys.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]);

/** pino `redact` paths (exported for the README and the tests). */
export const REDACT_PATHS: readonly string[] = [
  ...atDepths(SECRET_KEYS),
  ...atDepths(URL_KEYS),
  'ssl.key',
  '*.ssl.key',
  'ssl.passphrase',
  '*.ssl.passphrase',
  'headers.authorization',
  '*.headers.authorization',
  'headers.cookie',
  '*.headers.cookie',
];

const URL_KEY_SET = new Set(URL_KEYS);
export const CENSORED = '[redacted]';

function censor(value: unknown, path: string[]): unknown {
  const key = path[path.length - 1] ?? '';
  if (URL_KEY_SET.has(key) && typeof value === 'string') return redactUrl(value);
  return CENSORED;
}

export interface LoggerOptions {
  level: LogLevel;
  /** where lines go; default stderr (fd 2), synchronously so that the last lines survive an exit */
  write?: (line: string) => void;
  /** one readable line per entry instead of JSON (for a terminal) */
  pretty?: boolean;
}

/** The root logger; components log through `componentLogger(root, name)`. */
export function createLogger(options: LoggerOptions): Logger {
  const write = options.write;
  let destination: DestinationStream =
    write === undefined ? pino.destination({ fd: 2, sync: true }) : { write: (line) => write(line) };
  if (options.pretty === true) {
    const inner = destination;
    destination = { write: (line) => inner.write(prettyLine(line)) };
  }
  return pino(
    {
      level: options.level,
      base: undefined, // no pid/hostname: the shipper adds the host, the component says who
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: [...REDACT_PATHS], censor },
    },
    destination,
  );
}

export function componentLogger(root: Logger, component: LogComponent): Logger {
  return root.child({ component });
}

/** One line per event: `{level, time, component, event: event.type, ...event.fields, msg: event.message}`. */
export function logEvent(logger: Logger, event: LogEvent): void {
  if (!logger.isLevelEnabled(event.level)) return;
  logger[event.level]({ ...event.fields, event: event.type }, event.message);
}

const LEVEL_LABELS: Record<string, string> = {
  trace: 'TRACE',
  debug: 'DEBUG',
  info: 'INFO ',
  warn: 'WARN ',
  error: 'ERROR',
  fatal: 'FATAL',
};

const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, ' ⏎ ');

function shown(value: unknown): string {
  if (typeof value === 'string') return /[\s"=]/.test(value) ? JSON.stringify(value) : value;
  return oneLine(JSON.stringify(value) ?? String(value));
}

/**
 * A JSON line as one terminal line: `19:20:01.123 WARN  engine partition.data_quality: <msg> key=value …`.
 * A line that is not JSON passes through unchanged.
 */
export function prettyLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { level, time, component, event, msg, err, ...fields } = entry;
  const clock = typeof time === 'string' ? time.slice(11, 23) : String(time ?? '');
  const parts = [clock, LEVEL_LABELS[String(level)] ?? String(level), String(component ?? '-')];
  const head = typeof event === 'string' ? `${event}: ` : '';
  parts.push(oneLine(`${head}${typeof msg === 'string' ? msg : ''}`));
  for (const [key, value] of Object.entries(fields))
    if (value !== undefined) parts.push(`${key}=${shown(value)}`);
  if (typeof err === 'object' && err !== null) {
    const { stack, message } = err as { stack?: unknown; message?: unknown };
    parts.push(`err=${oneLine(String(stack ?? message ?? ''))}`);
  }
  return `${parts.join(' ')}\n`;
}

/**
 * A text-only logger (`info(msg)`, `warn(msg)`: the model registry's ModelLogger) over a component logger:
 * each line gets the event `<prefix>.info` or `<prefix>.warning`.
 */
export function messageLogger(
  logger: Logger,
  prefix: string,
): { info(message: string): void; warn(message: string): void } {
  const info = `${prefix}.info`;
  const warning = `${prefix}.warning`;
  return {
    info: (message) => logger.info({ event: info }, message),
    warn: (message) => logger.warn({ event: warning }, message),
  };
}
