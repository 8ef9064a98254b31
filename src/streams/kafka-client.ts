// Builds the kafkajs client from the `kafka` config section: brokers, client id, TLS (PEM text or file
// paths), SASL, connection retries. kafkajs's own log lines become engine events (never credentials: kafkajs
// does not log them, and neither do we).

import { readFile } from 'node:fs/promises';
import { Kafka, logLevel, type KafkaConfig as KafkajsConfig, type SASLOptions } from 'kafkajs';
import type { KafkaConfig } from '../config/schema.js';
import { MlfpError } from '../errors.js';
import { ENGINE_EVENTS, type EngineEventListener } from './engine-events.js';

const PEM_PREFIX = '-----BEGIN';

/** PEM text as given, or the content of the file it names. */
async function pem(value: string | undefined, key: string): Promise<string | undefined> {
  if (value === undefined || value.trimStart().startsWith(PEM_PREFIX)) return value;
  try {
    return await readFile(value, 'utf8');
  } catch (error) {
    throw new MlfpError('config_invalid', `${key}: cannot read ${value}: ${(error as Error).message}`, {
      field: key,
      cause: error,
    });
  }
}

export async function createKafkaClient(config: KafkaConfig, onEvent?: EngineEventListener): Promise<Kafka> {
  let ssl: KafkajsConfig['ssl'];
  if (typeof config.ssl === 'object') {
    ssl = {
      ca: await pem(config.ssl.ca, 'kafka.ssl.ca'),
      cert: await pem(config.ssl.cert, 'kafka.ssl.cert'),
      key: await pem(config.ssl.key, 'kafka.ssl.key'),
      rejectUnauthorized: config.ssl.rejectUnauthorized ?? true,
    };
  } else ssl = config.ssl;
  let sasl: SASLOptions | undefined;
  if (config.sasl !== undefined) {
    const { mechanism, username, password } = config.sasl;
    sasl =
      mechanism === 'plain'
        ? { mechanism, username, password }
        : mechanism === 'scram-sha-256'
          ? { mechanism, username, password }
          : { mechanism, username, password };
  }
  return new Kafka({
    clientId: config.clientId,
    brokers: config.brokers,
    ssl,
    sasl,
    retry: { retries: config.connectRetries },
    logLevel: logLevel.WARN,
    logCreator: () => (entry) => {
      if (onEvent === undefined || entry.level > logLevel.WARN) return;
      // the engine's consumer and the corporate-actions reader both log as "Consumer": the group tells them apart
      const group: unknown = entry.log.groupId;
      onEvent({
        type: ENGINE_EVENTS.warning,
        level: entry.level <= logLevel.ERROR ? 'warn' : 'info',
        message: `kafkajs ${entry.namespace}${typeof group === 'string' ? ` (group ${group})` : ''}: ${entry.log.message}`,
        fields: { error: entry.log.error },
      });
    },
  });
}
