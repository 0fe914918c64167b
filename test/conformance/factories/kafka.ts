/**
 * Opens a Kafka transport on the test broker; used in-process and by consumer-child.ts. With the
 * producer linger the roles run with (KITSUNE_KAFKA_LINGER_MS's default), so the guarantees are
 * checked with publishes coalescing across turns of the event loop.
 */
import { createKafkaTransport } from '../../../src/transport/kafka/index.ts';
import { configDefaults } from '../../../src/config/index.ts';
import type { Transport } from '../../../src/transport/types.ts';

export function open(): Promise<Transport> {
  const brokers = process.env.KAFKA_BROKERS;
  if (!brokers) throw new Error('KAFKA_BROKERS is not set');
  return Promise.resolve(createKafkaTransport({ brokers: brokers.split(','), clientId: 'kitsune-conformance', lingerMs: configDefaults.kafkaLingerMs }));
}
