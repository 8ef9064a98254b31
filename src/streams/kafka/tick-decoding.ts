// Decoding of a fetched batch of ticks: JSON, or Avro with the writer schemas looked up in a Confluent-compatible
// registry (fetched once per schema id, retried while the registry is down, heartbeating meanwhile).

import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { KafkaMessage } from 'kafkajs';
import type { EngineConfig } from '../../config/schema.js';
import { MlfpError } from '../../errors.js';
import { AvroTickDecoder, JsonTickDecoder, type SchemaLookup } from '../decode.js';
import type { FlowControl } from './backpressure.js';
import { retryWhileOurs, type EngineContext } from './engine-context.js';
import { stillOurs, type PartitionSlot } from './partition-slots.js';

/** The schema lookup of format 'avro': the one given, else a SchemaRegistry on kafka.registry. */
export function avroSchemaLookup(config: EngineConfig, given: SchemaLookup | undefined): SchemaLookup {
  const registry = config.kafka.registry;
  const lookup =
    given ??
    (registry === undefined
      ? undefined
      : new SchemaRegistry({
          host: registry.url,
          auth: registry.auth,
          clientId: config.kafka.clientId,
        }));
  if (lookup === undefined)
    throw new MlfpError('config_invalid', "format 'avro' needs kafka.registry.url", {
      field: 'kafka.registry.url',
    });
  return lookup;
}

export class TickDecoding {
  private readonly jsonDecoder: JsonTickDecoder;
  private avroDecoder: AvroTickDecoder | undefined;

  constructor(
    private readonly context: EngineContext,
    private readonly flow: FlowControl,
  ) {
    const { config } = context;
    this.jsonDecoder = new JsonTickDecoder(config.kafka.maxMessageBytes, {
      rejectDuplicateMembers: config.validation.rejectDuplicateMembers,
      rejectByteOrderMark: config.validation.rejectByteOrderMark,
    });
  }

  /** Decodes Avro from now on, with writer schemas from `lookup`. */
  useAvro(lookup: SchemaLookup): void {
    this.avroDecoder = new AvroTickDecoder(lookup, this.context.config.kafka.maxMessageBytes);
  }

  /** Decodes the batch into `values` (a DecodeFailure where a message is unusable). */
  async decodeAll(
    messages: readonly KafkaMessage[],
    values: unknown[],
    slot: PartitionSlot,
    heartbeat: () => Promise<void>,
  ): Promise<void> {
    const avro = this.avroDecoder;
    if (avro === undefined) {
      const decoder = this.jsonDecoder;
      for (let index = 0; index < messages.length; index++)
        values[index] = decoder.decode(messages[index]!.value);
      return;
    }
    for (let index = 0; index < messages.length; index++) {
      const bytes = messages[index]!.value;
      const id = avro.needsLookup(bytes);
      if (id !== undefined) {
        await this.flow.withHeartbeat(
          retryWhileOurs(this.context, `fetch Avro schema ${id}`, slot, () => avro.lookup(id)),
          heartbeat,
          'the schema registry',
        );
        if (!stillOurs(this.context, slot)) return;
      }
      values[index] = avro.decodeCached(bytes);
    }
  }
}
