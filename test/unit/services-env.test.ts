// The integration setup turns `services.sh env` output into typed addresses; the environment overrides it.
import { describe, expect, it } from 'vitest';
import { parseServiceEnv } from '../setup/services.js';

const SCRIPT_OUTPUT = [
  'MLFP_KAFKA_BROKERS=127.0.0.1:19092',
  'MLFP_REGISTRY_URL=http://127.0.0.1:18081/apis/ccompat/v7',
  'MLFP_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test',
  'MLFP_REDIS_URL=redis://127.0.0.1:6379',
  '',
].join('\n');

describe('parseServiceEnv', () => {
  it('reads every address the script prints', () => {
    expect(parseServiceEnv(SCRIPT_OUTPUT, {})).toEqual({
      kafkaBrokers: ['127.0.0.1:19092'],
      registryUrl: 'http://127.0.0.1:18081/apis/ccompat/v7',
      postgresUrl: 'postgres://postgres@127.0.0.1:5432/test',
      redisUrl: 'redis://127.0.0.1:6379',
    });
  });

  it('lets environment variables win and splits a broker list', () => {
    const addresses = parseServiceEnv(SCRIPT_OUTPUT, {
      MLFP_KAFKA_BROKERS: 'kafka-a:9092, kafka-b:9092',
      MLFP_REDIS_URL: 'redis://cache:6379/2',
    });
    expect(addresses.kafkaBrokers).toEqual(['kafka-a:9092', 'kafka-b:9092']);
    expect(addresses.redisUrl).toBe('redis://cache:6379/2');
    expect(addresses.postgresUrl).toBe('postgres://postgres@127.0.0.1:5432/test');
  });

  it('fails naming the variable when an address is missing', () => {
    expect(() => parseServiceEnv('MLFP_KAFKA_BROKERS=127.0.0.1:19092\n', {})).toThrow(/MLFP_REGISTRY_URL/);
  });
});
