/**
 * What buildApi(deps) is wired from: the API's explicit dependencies, in a file of their own so
 * the route modules and build.ts can all name them without importing each other.
 */
import type { FastifyBaseLogger } from 'fastify';
import type pg from 'pg';
import type { Registry as MetricsRegistry } from 'prom-client';
import type { Registry } from '../../commands/index.ts';
import type { EventIds } from '../../events/event-ids.ts';
import type { DbRecordStamp } from '../../schema-registry/index.ts';
import type { Publisher } from '../../transport/types.ts';
import type { ApiKeys } from './api-keys.ts';
import type { DlqAccess } from './console/dlq.ts';
import type { ResultWaiter } from './events.ts';
import type { ReadinessCheck } from './health.ts';

export interface ApiLimits {
  bodyLimitBytes: number;
  maxJsonDepth: number;
  logMessageMaxBytes: number;
  batchMaxItems: number;
  /** A publish not acknowledged within this gets 503 with Retry-After. */
  publishTimeoutMs: number;
}

export interface ApiDeps {
  registry: Registry;
  /** Transports coalesce concurrent publishes, so requests share broker round trips. */
  publisher: Publisher;
  topics: { dbEvents: string; appLogs: string };
  limits: ApiLimits;
  /** Names each db-events record's schema id when a schema registry is configured. */
  stampDbRecord?: DbRecordStamp | undefined;
  /** undefined: no authentication, `source` comes from the body. */
  apiKeys?: ApiKeys | undefined;
  readiness?: readonly ReadinessCheck[];
  /** Serves GET /events/:id when the API can reach PostgreSQL. */
  results?: ResultWaiter | undefined;
  /** Serves GET /logs from kitsune.logs when logs are kept in PostgreSQL (no LOKI_URL). */
  logs?: pg.Pool | undefined;
  /** With LOKI_URL, GET /logs says where the lines are: this LogQL stream selector. */
  lokiSelector?: string | undefined;
  /** KITSUNE_TRACE_URL: the console links each event's trace there. */
  traceUrl?: string | undefined;
  /** messaging.system of the producer spans: the transport's name. (Default: 'kafka') */
  messagingSystem?: string;
  /** The process's Prometheus registry, served at GET /metrics. */
  metrics?: MetricsRegistry | undefined;
  /**
   * Issues event ids, keyed by the installation's secret; every replica must share it.
   * (Default: a random secret, which suits one process alone, such as a test)
   */
  eventIds?: EventIds | undefined;
  /** GET /metrics needs an API key, when keys are on (KITSUNE_METRICS_REQUIRE_KEY). (Default: false) */
  metricsRequireKey?: boolean;
  /** The version the OpenAPI document states. (Default: package.json's) */
  version?: string;
  /** Kitsune's database: GET /events search and timelines, the console's reads. */
  pool?: pg.Pool | undefined;
  /** The dead-letter queue over HTTP (GET /dlq, POST /dlq/dry-run|replay|purge). */
  dlq?: DlqAccess | undefined;
  /** The built console served at /console; undefined: where `npm run build` puts it. */
  consoleDir?: string | undefined;
  logger?: FastifyBaseLogger | false;
  now?: () => Date;
}
