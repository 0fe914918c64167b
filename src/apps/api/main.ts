/**
 * Wires the API from a runtime (config, transport, pool, registry) and listens. stop() stops
 * accepting, lets in-flight requests finish (their publishes included) and closes the server.
 */
import type { Registry } from 'prom-client';
import type { Runtime } from '../../cli/runtime.ts';
import { eventIdSecret } from '../../db/installation.ts';
import { createKafkaDeadLetterLog } from '../../dlq/kafka-log.ts';
import { createPostgresDeadLetterLog } from '../../dlq/postgres-log.ts';
import { EventIds } from '../../events/event-ids.ts';
import { kitsuneTopics } from '../../transport/from-config.ts';
import { loadApiKeys } from './api-keys.ts';
import { buildApi } from './build.ts';
import { ResultWaiter } from './events.ts';
import type { ReadinessCheck } from './health.ts';

export interface RunningApi {
  url: string;
  /** Graceful stop; idempotent. */
  stop(): Promise<void>;
}

export async function startApi(runtime: Runtime, metrics?: Registry, extraReadiness: ReadinessCheck[] = []): Promise<RunningApi> {
  const { config, transport, pool, registry, logger } = runtime;
  const apiKeys = config.ingest.apiKeysFile ? await loadApiKeys(config.ingest.apiKeysFile) : undefined;
  // Without Kafka the events travel through the Postgres log in the database: there is no broker
  // apart from it to report, and "broker: ok, database: down" would be a contradiction.
  const readiness: ReadinessCheck[] = [
    ...(config.kafkaBrokers ? [{ name: 'broker', check: () => transport.ensureTopics(kitsuneTopics(config)) }] : []),
    ...(pool ? [{ name: 'database', check: async () => void (await pool.query('SELECT 1')) }] : []),
    ...extraReadiness,
  ];
  const eventIds = new EventIds(await eventIdSecret(config.ingest.eventIdSecret, pool));
  const app = await buildApi({
    registry,
    publisher: transport,
    messagingSystem: transport.name,
    topics: { dbEvents: config.topics.dbEvents, appLogs: config.topics.appLogs },
    limits: { ...config.ingest, bodyLimitBytes: config.http.bodyLimitBytes, maxJsonDepth: config.http.maxJsonDepth },
    stampDbRecord: runtime.schemaRegistry?.stamp,
    apiKeys,
    readiness,
    results: pool ? new ResultWaiter(pool) : undefined,
    logs: config.lokiUrl ? undefined : pool,
    lokiSelector: config.lokiUrl ? `{service="${config.serviceName}"}` : undefined,
    metrics,
    metricsRequireKey: config.ingest.metricsRequireKey,
    eventIds,
    traceUrl: config.traceUrl,
    pool,
    // The same DLQ and replay group as `kitsune dlq`, so the console and the CLI share one bookmark and one lock.
    dlq: pool
      ? {
          deps: {
            log: config.kafkaBrokers ? createKafkaDeadLetterLog({ brokers: config.kafkaBrokers, clientId: `${config.serviceName}-api` }) : createPostgresDeadLetterLog(pool),
            pool,
            registry,
            dlqTopic: `${config.topics.dbEvents}.dlq`,
            group: `${config.groupId}.dlq-replay`,
          },
          publisher: transport,
          targetTopic: config.topics.dbEvents,
        }
      : undefined,
    logger: logger.child({ component: 'http' }),
  });
  const url = await app.listen({ port: config.http.port, host: config.http.host });
  logger.info({ url, commands: registry.list().length, auth: apiKeys ? 'api-keys' : 'open' }, 'API listening');
  let stopping: Promise<void> | undefined;
  return { url, stop: () => (stopping ??= app.close()) };
}
