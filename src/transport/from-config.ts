/**
 * Picks the transport: Kafka when KAFKA_BROKERS is set, otherwise the durable Postgres log in the
 * same database as the commands (the single-machine mode).
 */
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../config/index.ts';
import { createKafkaTransport } from './kafka/index.ts';
import { createPostgresTransport } from './postgres/index.ts';
import { deadLetterLimitBytes, recordLimitBytes } from './record-limits.ts';
import type { LagQuery, TopicSpec, Transport } from './types.ts';

export function createTransport(config: Config, pool: pg.Pool | undefined, logger: Logger): Transport {
  if (config.kafkaBrokers) {
    return createKafkaTransport({
      brokers: config.kafkaBrokers,
      clientId: config.serviceName,
      fetchMinBytes: config.kafkaFetchMinBytes,
      maxWaitTimeMs: config.kafkaFetchMaxWaitMs,
      ...(config.kafkaReplicationFactor ? { replicationFactor: config.kafkaReplicationFactor } : {}),
      lingerMs: config.kafkaLingerMs,
      // Handler failures are redelivered and reported by the worker that owns the handler, which
      // names the system at fault (a PostgreSQL outage is not a Kafka error).
      onError: (error, source) => {
        if (source === 'handler') logger.debug({ err: error, source }, 'handler failed; redelivering');
        else if (source === 'position') logger.warn({ err: error, source }, 'Kafka fetch position corrected');
        else logger.warn({ err: error, source }, 'Kafka client error; retrying');
      },
    });
  }
  if (!pool) throw new Error('the Postgres log transport needs a PostgreSQL pool (set POSTGRES_DSN or use the embedded mode)');
  return createPostgresTransport({
    pool,
    // Handler failures are redelivered and reported by the worker that owns the handler.
    onError: (error, source) =>
      source === 'handler' ? logger.debug({ err: error, source }, 'handler failed; redelivering') : logger.warn({ err: error, source }, 'Postgres log error; retrying'),
  });
}

/**
 * Kitsune's topics, with the configured partition counts and a record limit that takes the event
 * made from the largest body the API accepts (src/transport/record-limits.ts).
 */
export function kitsuneTopics(config: Config): TopicSpec[] {
  const { topics } = config;
  const records = recordLimitBytes(config.http.bodyLimitBytes);
  const deadLetters = deadLetterLimitBytes(config.http.bodyLimitBytes);
  return [
    { name: topics.dbEvents, partitions: topics.dbEventsPartitions, maxMessageBytes: records },
    { name: `${topics.dbEvents}.dlq`, partitions: 1, maxMessageBytes: deadLetters },
    { name: topics.appLogs, partitions: topics.appLogsPartitions, maxMessageBytes: records },
    { name: `${topics.appLogs}.dlq`, partitions: 1, maxMessageBytes: deadLetters },
    { name: topics.dbResults, partitions: topics.dbEventsPartitions, maxMessageBytes: records },
  ];
}

/** Kitsune's consumer groups and the topic each consumes: what the lag metrics measure. */
export function kitsuneConsumerGroups(config: Config): LagQuery[] {
  return [
    { group: `${config.groupId}.db-worker`, topic: config.topics.dbEvents },
    { group: `${config.groupId}.log-worker`, topic: config.topics.appLogs },
  ];
}
