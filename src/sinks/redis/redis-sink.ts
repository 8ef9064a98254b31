// The Redis sink: the latest bar, feature vector and prediction per symbol as hashes with a TTL, for fast reads.
// Each batch goes out in pipelines of monotone Lua writes (an older (ts, revision) never replaces a newer one),
// retried whole while Redis is away; ioredis reconnects by itself and queues nothing meanwhile.

import type { RedisConfig } from '../../config/schema.js';
import { FEATURE_COLUMNS, FEATURE_COUNT } from '../../domain/types.js';
import type { Bar, FeatureVector, Prediction, Timeframe } from '../../domain/types.js';
import { firstPipelineError, RedisConnection, type RedisConnectionDependencies } from './redis-client.js';
import { monotonePipeline } from './redis-scripts.js';
import type { OutputBatch, Sink, SinkHealth } from '../sink.js';

/** Hash keys: `<prefix>:bar:<tf>:<symbol>`, `<prefix>:features:<tf>:<symbol>`, `<prefix>:prediction:<model>:<tf>:<symbol>`. */
export function barKey(prefix: string, timeframe: Timeframe, symbol: string): string {
  return `${prefix}:bar:${timeframe}:${symbol}`;
}
export function featuresKey(prefix: string, timeframe: Timeframe, symbol: string): string {
  return `${prefix}:features:${timeframe}:${symbol}`;
}
export function predictionKey(prefix: string, model: string, timeframe: Timeframe, symbol: string): string {
  return `${prefix}:prediction:${model}:${timeframe}:${symbol}`;
}

/** One latest-value write: the hash, its (ts, revision) and its fields. */
export interface LatestWrite {
  key: string;
  ts: number;
  revision: number;
  fields: string[];
}

const text = (value: number): string => String(value);
/** undefined (NaN) features are stored as empty strings, so a hash always has all 16 fields */
const optional = (value: number | undefined): string =>
  value === undefined || !Number.isFinite(value) ? '' : String(value);

export function barWrite(prefix: string, bar: Bar): LatestWrite {
  return {
    key: barKey(prefix, bar.timeframe, bar.symbol),
    ts: bar.ts,
    revision: bar.revision,
    // prettier-ignore
    fields: [
      'symbol', bar.symbol,
      'timeframe', bar.timeframe,
      'ts', text(bar.ts),
      'end', text(bar.end),
      'open', text(bar.open),
      'high', text(bar.high),
      'low', text(bar.low),
      'close', text(bar.close),
      'volume', text(bar.volume),
      'vwap', text(bar.vwap),
      'trades', text(bar.trades),
      'revision', text(bar.revision),
    ],
  };
}

export function featuresWrite(prefix: string, vector: FeatureVector): LatestWrite {
  // prettier-ignore
  const fields = [
    'symbol', vector.symbol,
    'timeframe', vector.timeframe,
    'ts', text(vector.ts),
    'revision', text(vector.revision),
    'close', text(vector.close),
  ];
  for (let i = 0; i < FEATURE_COUNT; i++)
    fields.push(FEATURE_COLUMNS[i] as string, optional(vector.values[i]));
  return {
    key: featuresKey(prefix, vector.timeframe, vector.symbol),
    ts: vector.ts,
    revision: vector.revision,
    fields,
  };
}

/** Predictions carry no revision: equal ts = rewrite (the later write wins). */
export function predictionWrite(prefix: string, prediction: Prediction): LatestWrite {
  return {
    key: predictionKey(prefix, prediction.model, prediction.timeframe, prediction.symbol),
    ts: prediction.ts,
    revision: 0,
    // prettier-ignore
    fields: [
      'symbol', prediction.symbol,
      'timeframe', prediction.timeframe,
      'ts', text(prediction.ts),
      'model', prediction.model,
      'version', prediction.version,
      'kind', prediction.kind,
      'output', JSON.stringify(prediction.output),
      'latencyMs', text(prediction.latencyMs),
    ],
  };
}

export type RedisSinkDependencies = RedisConnectionDependencies;

export class RedisSink implements Sink {
  readonly name = 'redis';
  private readonly connection: RedisConnection;

  constructor(
    private readonly config: RedisConfig,
    dependencies: RedisSinkDependencies = {},
  ) {
    this.connection = new RedisConnection(this.name, 'redis', config, dependencies);
  }

  /** Connects (retrying while Redis is away) and checks it answers. */
  start(): Promise<void> {
    return this.connection.start();
  }

  health(): SinkHealth {
    return this.connection.health();
  }

  write(batch: OutputBatch): Promise<void> {
    const latest = this.config.latest;
    const records =
      (latest.bars ? batch.bars.length : 0) +
      (latest.features ? batch.features.length : 0) +
      (latest.predictions ? batch.predictions.length : 0);
    return this.connection.lifecycle.write(records, async (acknowledge) => {
      const writes = this.writesOf(batch);
      const size = this.config.maxPipelineCommands;
      // chunk by chunk: a chunk that failed is resent whole (the Lua writes are idempotent and monotone)
      for (let start = 0; start < writes.length; start += size) {
        const chunk = writes.slice(start, start + size);
        await this.connection.retrier.run('write', () => this.execute(chunk));
        acknowledge(chunk.length);
      }
    });
  }

  async close(): Promise<void> {
    await this.connection.close(this.config.closeTimeoutMs);
  }

  private writesOf(batch: OutputBatch): LatestWrite[] {
    const prefix = this.config.keyPrefix;
    const writes: LatestWrite[] = [];
    if (this.config.latest.bars) for (const bar of batch.bars) writes.push(barWrite(prefix, bar));
    if (this.config.latest.features)
      for (const vector of batch.features) writes.push(featuresWrite(prefix, vector));
    if (this.config.latest.predictions)
      for (const prediction of batch.predictions) writes.push(predictionWrite(prefix, prediction));
    return writes;
  }

  private async execute(writes: readonly LatestWrite[]): Promise<void> {
    const pipeline = monotonePipeline(this.connection.client);
    const ttl = this.config.ttlSeconds;
    for (const write of writes)
      pipeline.mlfpSetLatest(write.key, write.ts, write.revision, ttl, ...write.fields);
    const error = firstPipelineError(await pipeline.exec());
    if (error !== undefined) throw error;
  }
}
