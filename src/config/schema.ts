// The engine's one configuration: a zod schema gives the type, the defaults (which run embedded, with no
// external service) and the validation. Read once at start (src/config/load.ts) and passed down.

import { z } from 'zod';
import { DEFAULT_SYMBOL_PATTERN } from '../domain/validate-tick.js';

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected HH:MM (24h)');

const timezone = z.string().refine((zone) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}, 'unknown IANA time zone');

export const sessionSchema = z
  .strictObject({
    timezone,
    open: hhmm,
    close: hhmm,
  })
  .refine((s) => s.open < s.close, { message: 'session open must be before close', path: ['close'] });

export const syntheticSchema = z.strictObject({
  /** symbols to simulate; each gets its own price scale and regime path */
  symbols: z
    .array(z.string().regex(DEFAULT_SYMBOL_PATTERN))
    .min(1)
    .max(100_000)
    .default(['AAPL', 'MSFT', 'NVDA', 'AMZN', 'TSLA', 'JPM', 'XOM', 'BTC-USD']),
  seed: z.number().int().min(0).max(0xffffffff).default(42),
  /** simulated start of trading (event time), ISO-8601 */
  start: z.string().default('2024-01-02T00:00:00Z'),
  /** 0 = as fast as the engine takes them (event time runs ahead of wall time); else paced */
  ticksPerSecond: z.number().min(0).max(50_000_000).default(0),
  /** mean simulated milliseconds between two ticks of one symbol */
  meanTickIntervalMs: z.number().positive().max(3_600_000).default(250),
  /** stop after this many ticks (0 = run until stopped) */
  maxTicks: z.number().int().min(0).default(0),
  /** share of deliberately malformed ticks, to exercise the dead-letter path */
  badTickRate: z.number().min(0).max(1).default(0.0001),
});

export const barsSchema = z.strictObject({
  allowedLatenessMs: z.number().int().min(0).max(300_000).default(2_000),
  idleTimeoutMs: z.number().int().min(100).max(86_400_000).default(5_000),
  /** daily bars follow this session; absent = UTC days (24/7 markets) */
  session: sessionSchema.optional(),
});

export const engineConfigSchema = z.strictObject({
  source: z.enum(['synthetic']).default('synthetic'),
  synthetic: syntheticSchema.default(syntheticSchema.parse({})),
  bars: barsSchema.default(barsSchema.parse({})),
  models: z
    .strictObject({
      /** score closed bars with the models of this directory (live and shadow versions, registry.json) */
      enabled: z.boolean().default(true),
      dir: z.string().min(1).default('models'),
      /** feature vectors per micro-batch (and rows per network-model inference) */
      maxBatchSize: z.number().int().min(1).max(65_536).default(256),
      /** the wait budget: a batch is scored at most this long after its first vector arrived */
      maxWaitMs: z.number().min(0).max(60_000).default(1),
      /** overrides each ONNX model's execution provider; falls back to cpu with a warning when unavailable */
      executionProvider: z.enum(['cpu', 'cuda', 'tensorrt']).optional(),
      /** apply `mlfp models …` changes to the directory while running (ms between checks; 0 = never) */
      watchIntervalMs: z.number().int().min(0).default(1_000),
      /** a model that fails to load stops the start instead of being skipped with a warning */
      strict: z.boolean().default(false),
    })
    .default({
      enabled: true,
      dir: 'models',
      maxBatchSize: 256,
      maxWaitMs: 1,
      watchIntervalMs: 1_000,
      strict: false,
    }),
  http: z
    .strictObject({
      /** serve /metrics, /healthz and /readyz */
      enabled: z.boolean().default(true),
      /** loopback by default: bind to 0.0.0.0 only behind a firewall or proxy */
      host: z.string().min(1).default('127.0.0.1'),
      /** 0 = any free port (printed at start) */
      port: z.number().int().min(0).max(65_535).default(9464),
    })
    .default({ enabled: true, host: '127.0.0.1', port: 9464 }),
  progress: z
    .strictObject({
      /** a progress line every this many ms; 0 = none */
      intervalMs: z.number().int().min(0).default(5_000),
    })
    .default({ intervalMs: 5_000 }),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .default({ level: 'info' }),
});

export type EngineConfig = z.infer<typeof engineConfigSchema>;
export type SessionConfig = z.infer<typeof sessionSchema>;
export type BarsConfig = z.infer<typeof barsSchema>;
export type SyntheticConfig = z.infer<typeof syntheticSchema>;
