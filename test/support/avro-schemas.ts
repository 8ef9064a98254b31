// The schemas the Avro integration suites register: the engine's tick schema under `<ticks topic>-value`, and
// an unrelated record under another subject, whose encoded frames must be dead-lettered as bad_schema.
import { readFile } from 'node:fs/promises';
import { SchemaType, type SchemaRegistry } from '@kafkajs/confluent-schema-registry';

export async function registerTickSchemas(
  registry: SchemaRegistry,
  ticksTopic: string,
  namespace: string,
): Promise<{ tick: number; other: number }> {
  const schema = await readFile(new URL('../../src/streams/avro/tick.avsc', import.meta.url), 'utf8');
  const { id: tick } = await registry.register(
    { type: SchemaType.AVRO, schema },
    { subject: `${ticksTopic}-value` },
  );
  const { id: other } = await registry.register(
    {
      type: SchemaType.AVRO,
      schema: JSON.stringify({
        type: 'record',
        name: 'Other',
        namespace,
        fields: [{ name: 'name', type: 'string' }],
      }),
    },
    { subject: `${ticksTopic}-other-value` },
  );
  return { tick, other };
}
