/** Opens a Kafka transport on the test broker; used in-process and by consumer-child.ts. */
import { createKafkaTransport } from '../../../src/transport/kafka/index.ts';
import type { Transport } from '../../../src/transport/types.ts';

export function open(): Promise<Transport> {
  const brokers = process.env.KAFKA_BROKERS;
  if (!brokers) throw new Error('KAFKA_BROKERS is not set');
  return Promise.resolve(createKafkaTransport({ brokers: brokers.split(','), clientId: 'kitsune-conformance' }));
}
