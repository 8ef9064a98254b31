// The configs shipped for Docker users must pass the engine's own validation.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';

describe('deploy/engine.docker.json', () => {
  it('is a valid engine config for the compose stack (Kafka in; Kafka, TimescaleDB, Redis out)', () => {
    const raw: unknown = JSON.parse(
      readFileSync(join(import.meta.dirname, '..', '..', 'deploy', 'engine.docker.json'), 'utf8'),
    );
    const config = parseConfig(raw, 'deploy/engine.docker.json');
    expect(config.source).toBe('kafka');
    expect(config.kafka.brokers).toEqual(['kafka:9092']);
    expect(config.postgres?.url).toMatch(/timescaledb/);
    expect(config.redis?.url).toMatch(/redis:6379/);
    expect(config.snapshots.store).toBe('postgres');
    expect(config.http.host).toBe('0.0.0.0');
  });
});
