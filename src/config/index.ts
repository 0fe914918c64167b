/**
 * Kitsune's configuration: the only module that reads process.env. Everything is validated at
 * startup and every problem is reported at once. The seed's names are kept (HTTP_PORT,
 * KAFKA_BROKERS, KAFKA_GROUP_ID, POSTGRES_DSN, LOKI_URL); everything newer is KITSUNE_*.
 * A `.env` file in the working directory is read first, without overriding the environment.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ErrorCodes, KitsuneError } from '../errors.ts';

/** Where the command schemas are registered, and how db-events records name theirs. */
export interface SchemaRegistryConfig {
  /** KITSUNE_SCHEMA_REGISTRY_URL without credentials: the Confluent API's root (Apicurio: `.../apis/ccompat/v7`). */
  url: string;
  /**
   * KITSUNE_SCHEMA_REGISTRY_USERNAME and KITSUNE_SCHEMA_REGISTRY_PASSWORD, or `user:password@` in
   * the URL: HTTP basic auth. (Default: unset)
   */
  username: string | undefined;
  password: string | undefined;
  /**
   * KITSUNE_SCHEMA_REGISTRY_WIRE_FORMAT: `header` keeps db-events values plain JSON and names the
   * schema in the `kitsune-schema-id` header; `confluent` also prefixes each value with Confluent's
   * magic byte 0 and the 4-byte schema id, for consumers that expect it. (Default: 'header')
   */
  wireFormat: 'header' | 'confluent';
  /** KITSUNE_SCHEMA_REGISTRY_TIMEOUT_MS: a registry request unanswered within this fails. (Default: 10_000) */
  timeoutMs: number;
}

export interface Config {
  http: {
    /** HTTP_PORT. (Default: 8080) */
    port: number;
    /** KITSUNE_HTTP_HOST: listen address; set 0.0.0.0 in containers. (Default: '127.0.0.1') */
    host: string;
    /** KITSUNE_BODY_LIMIT_BYTES: larger requests get 413. (Default: 1_048_576) */
    bodyLimitBytes: number;
    /** KITSUNE_MAX_JSON_DEPTH: deeper request bodies get 400. (Default: 32) */
    maxJsonDepth: number;
  };
  /** KAFKA_BROKERS, comma separated; unset means the embedded Postgres log. (Default: unset) */
  kafkaBrokers: string[] | undefined;
  /** KAFKA_GROUP_ID: prefix of the consumer groups (`<id>.db-worker`, `<id>.log-worker`). (Default: 'kitsune') */
  groupId: string;
  /**
   * KITSUNE_KAFKA_FETCH_MIN_BYTES: a worker's fetch answers once this much is ready, or after
   * KITSUNE_KAFKA_FETCH_MAX_WAIT_MS. Fetching after every produce request (1 byte) cost the log
   * worker 0.29 cores at 1,000 events/s end to end; 64 KiB within 50 ms, 0.17 (docs/performance.md).
   * (Default: 65_536)
   */
  kafkaFetchMinBytes: number;
  /** KITSUNE_KAFKA_FETCH_MAX_WAIT_MS: the most a fetch waits for more data; the latency it adds while traffic is light. (Default: 50) */
  kafkaFetchMaxWaitMs: number;
  /**
   * KITSUNE_KAFKA_REPLICATION_FACTOR: replicas of each topic Kitsune creates; with 3 or more,
   * `min.insync.replicas` is 2, so an acknowledged event survives the loss of a broker. Existing
   * topics keep theirs. (Default: the cluster's broker count, at most 3)
   */
  kafkaReplicationFactor: number | undefined;
  /**
   * KITSUNE_KAFKA_LINGER_MS: how long a produce request waits for more records, and only while
   * publishes arrive faster than this (a lone request is sent at once). Each produce request costs
   * the API a fixed amount of CPU, so at moderate rates fewer, fuller requests cost less per event
   * (docs/performance.md); 0 sends on the next turn of the event loop. (Default: 10)
   */
  kafkaLingerMs: number;
  /** POSTGRES_DSN; unset means an embedded server under dataDir. (Default: unset) */
  postgresDsn: string | undefined;
  /** LOKI_URL; unset means logs are kept in PostgreSQL and served at GET /logs. (Default: unset) */
  lokiUrl: string | undefined;
  /**
   * KITSUNE_TRACE_URL: where the console links an event's trace, an http(s) URL in which
   * `{trace_id}` stands for the trace id (Grafana's Explore on Tempo, Jaeger's /trace/{trace_id}).
   * (Default: unset; the console shows the id without a link)
   */
  traceUrl: string | undefined;
  /** KITSUNE_LOKI_TENANT: sent as X-Scope-OrgID. (Default: unset) */
  lokiTenant: string | undefined;
  /** KITSUNE_LOKI_BATCH_BYTES: a stream's pending lines are pushed once they reach this many bytes. (Default: 1_048_576) */
  lokiBatchBytes: number;
  /** KITSUNE_LOKI_BATCH_WAIT_MS: longest a line waits for its batch to fill before it is pushed. (Default: 1_000) */
  lokiBatchWaitMs: number;
  /** KITSUNE_LOKI_TIMEOUT_MS: a push Loki has not answered within this is abandoned and retried. (Default: 10_000) */
  lokiTimeoutMs: number;
  /**
   * KITSUNE_LOKI_COMPRESSION: `gzip`, or `none` for a Loki on the same host or network, where
   * compressing costs the worker more CPU than the bytes it saves. (Default: 'gzip')
   */
  lokiCompression: 'gzip' | 'none';
  /**
   * KITSUNE_SCHEMA_REGISTRY_URL and its settings: register each command version's schema there at
   * boot and validate consumed events by schema id; unset means the YAML is the only registry.
   * (Default: unset)
   */
  schemaRegistry: SchemaRegistryConfig | undefined;
  /** KITSUNE_DATA_DIR: the embedded server's data and state. (Default: './.kitsune') */
  dataDir: string;
  /** KITSUNE_REGISTRY: the command registry file. (Default: './commands/registry.yaml') */
  registryPath: string;
  /** KITSUNE_MIGRATIONS_DIR: the user's own migrations, applied after Kitsune's. (Default: './migrations') */
  migrationsDir: string;
  topics: {
    /** KITSUNE_TOPIC_DB_EVENTS (Default: 'db-events') */
    dbEvents: string;
    /** KITSUNE_TOPIC_APP_LOGS (Default: 'app-logs') */
    appLogs: string;
    /** KITSUNE_TOPIC_DB_RESULTS (Default: 'db-results') */
    dbResults: string;
    /** KITSUNE_DB_EVENTS_PARTITIONS (Default: 6) */
    dbEventsPartitions: number;
    /** KITSUNE_APP_LOGS_PARTITIONS (Default: 3) */
    appLogsPartitions: number;
  };
  ingest: {
    /** KITSUNE_PUBLISH_TIMEOUT_MS: a request whose event is not acknowledged in time gets 503. (Default: 5_000) */
    publishTimeoutMs: number;
    /** KITSUNE_LOG_MESSAGE_MAX_BYTES (Default: 16_384) */
    logMessageMaxBytes: number;
    /** KITSUNE_BATCH_MAX_ITEMS: most commands in one POST /execute/batch. (Default: 500) */
    batchMaxItems: number;
    /** KITSUNE_API_KEYS_FILE: YAML file of API keys; unset means no authentication. (Default: unset) */
    apiKeysFile: string | undefined;
    /**
     * KITSUNE_EVENT_ID_SECRET: hex, at least 32 bytes; keys the HMAC of event ids. Unset, the one
     * created in Kitsune's schema at the first migration is used: set this only where an API cannot
     * read it, and to the same value on every replica. (Default: unset)
     */
    eventIdSecret: Buffer | undefined;
    /** KITSUNE_METRICS_REQUIRE_KEY: with API keys on, GET /metrics of the API needs a key too. (Default: false) */
    metricsRequireKey: boolean;
  };
  /**
   * KITSUNE_METRICS_PORT: where a standalone worker serves /metrics (the API serves it on its own
   * port). 0 disables it. (Default: 9464 for db-worker, 9465 for log-worker)
   */
  metricsPort: number | undefined;
  /**
   * KITSUNE_API_METRICS: `false` makes `kitsune api` record no metrics and serve no /metrics, to
   * measure what they cost (bench/observability.ts). (Default: true)
   */
  apiMetrics: boolean;
  /**
   * KITSUNE_STARTUP_WAIT_MS: how long a role that starts while PostgreSQL or Kafka is unreachable
   * waits for it (alive, not ready, one log line per attempt) before it exits with code 7 or 8;
   * 0 exits at the first failure, for a supervisor that restarts it. (Default: 300_000)
   */
  startupWaitMs: number;
  /** KITSUNE_LOG_LEVEL: pino level of Kitsune's own logs. (Default: 'info') */
  logLevel: string;
  /**
   * KITSUNE_LOG_FORMAT: `json` (one object per line, for collectors), `pretty` (for people), or
   * `auto`: pretty when stdout is a terminal, JSON otherwise. (Default: 'auto')
   */
  logFormat: 'auto' | 'json' | 'pretty';
  /** KITSUNE_SERVICE_NAME: the `service` label and resource name. (Default: 'kitsune') */
  serviceName: string;
  /**
   * OpenTelemetry tracing, on when OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
   * is set (and neither OTEL_SDK_DISABLED=true nor OTEL_TRACES_EXPORTER=none says otherwise). The
   * SDK reads the other OTEL_* variables itself. (Default: undefined, off)
   */
  tracing: { protocol: 'http/protobuf' | 'http/json' } | undefined;
}

export const configDefaults = {
  port: 8080,
  host: '127.0.0.1',
  bodyLimitBytes: 1_048_576,
  maxJsonDepth: 32,
  groupId: 'kitsune',
  lokiBatchBytes: 1_048_576,
  lokiBatchWaitMs: 1_000,
  lokiTimeoutMs: 10_000,
  lokiCompression: 'gzip',
  kafkaFetchMinBytes: 65_536,
  kafkaFetchMaxWaitMs: 50,
  kafkaLingerMs: 10,
  dataDir: './.kitsune',
  registryPath: './commands/registry.yaml',
  migrationsDir: './migrations',
  dbEvents: 'db-events',
  appLogs: 'app-logs',
  dbResults: 'db-results',
  dbEventsPartitions: 6,
  appLogsPartitions: 3,
  publishTimeoutMs: 5_000,
  startupWaitMs: 300_000,
  logMessageMaxBytes: 16_384,
  batchMaxItems: 500,
  logLevel: 'info',
  logFormat: 'auto',
  serviceName: 'kitsune',
  schemaRegistryWireFormat: 'header',
  schemaRegistryTimeoutMs: 10_000,
} as const satisfies Record<string, string | number>;

type Env = Readonly<Record<string, string | undefined>>;

const logLevels = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);
const topicName = /^[a-zA-Z0-9._-]{1,249}$/;

/** Reads `.env` (if present) into process.env without overriding what is already set. */
export function loadDotEnv(path = resolve('.env')): void {
  if (existsSync(path)) process.loadEnvFile(path);
}

/** Builds the configuration from `env`, or throws one INVALID_CONFIG error naming every problem. */
export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const text = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = text(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer from ${min} to ${max} (got '${raw}')`);
      return fallback;
    }
    return value;
  };
  const boolean = (name: string, fallback: boolean): boolean => {
    const raw = text(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (raw === 'true' || raw === 'false') return raw === 'true';
    problems.push(`${name} must be true or false (got '${raw}')`);
    return fallback;
  };
  /** One of `allowed`; unset or anything else is `fallback` (and, for anything else, a problem). */
  const choice = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => {
    const raw = text(name);
    if (raw === undefined) return fallback;
    if ((allowed as readonly string[]).includes(raw)) return raw as T;
    problems.push(`${name} must be ${allowed.slice(0, -1).join(', ')} or ${allowed.at(-1)} (got '${raw}')`);
    return fallback;
  };
  const secret = (name: string): Buffer | undefined => {
    const raw = text(name);
    if (raw === undefined) return undefined;
    if (!/^(?:[0-9a-fA-F]{2}){32,}$/.test(raw)) {
      problems.push(`${name} must be at least 64 hex characters (32 bytes), e.g. from \`openssl rand -hex 32\``);
      return undefined;
    }
    return Buffer.from(raw, 'hex');
  };
  const topic = (name: string, fallback: string): string => {
    const value = text(name) ?? fallback;
    if (!topicName.test(value)) problems.push(`${name} is not a valid topic name: '${value}'`);
    return value;
  };
  const url = (name: string): string | undefined => {
    const value = text(name);
    if (value === undefined) return undefined;
    try {
      const parsed = new URL(value);
      if (!['http:', 'https:', 'postgres:', 'postgresql:'].includes(parsed.protocol)) throw new Error(parsed.protocol);
    } catch {
      problems.push(`${name} is not a valid URL: '${value}'`);
    }
    return value;
  };

  const traceUrl = (): string | undefined => {
    const value = text('KITSUNE_TRACE_URL');
    if (value === undefined) return undefined;
    if (!value.includes('{trace_id}')) problems.push(`KITSUNE_TRACE_URL must hold {trace_id} where the trace id goes (got '${value}')`);
    else if (!/^https?:$/.test(URL.parse(value.replaceAll('{trace_id}', '0'))?.protocol ?? '')) problems.push(`KITSUNE_TRACE_URL is not an http or https URL: '${value}'`);
    return value;
  };

  const brokers = text('KAFKA_BROKERS')
    ?.split(',')
    .map((broker) => broker.trim())
    .filter((broker) => broker !== '');
  for (const broker of brokers ?? []) {
    if (!/^[^\s:]+:\d{1,5}$/.test(broker) && !/^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(broker)) {
      problems.push(`KAFKA_BROKERS entry '${broker}' is not host:port`);
    }
  }
  const schemaRegistry = (): SchemaRegistryConfig | undefined => {
    const raw = url('KITSUNE_SCHEMA_REGISTRY_URL');
    const wireFormat = choice('KITSUNE_SCHEMA_REGISTRY_WIRE_FORMAT', ['header', 'confluent'], configDefaults.schemaRegistryWireFormat);
    const timeoutMs = integer('KITSUNE_SCHEMA_REGISTRY_TIMEOUT_MS', configDefaults.schemaRegistryTimeoutMs, 100, 600_000);
    if (raw === undefined || !URL.canParse(raw)) return undefined;
    // fetch() refuses URLs that carry credentials: move them to the Authorization header.
    const parsed = new URL(raw);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') problems.push(`KITSUNE_SCHEMA_REGISTRY_URL must be http or https (got '${parsed.protocol}')`);
    const username = text('KITSUNE_SCHEMA_REGISTRY_USERNAME') ?? (parsed.username === '' ? undefined : decodeURIComponent(parsed.username));
    const password = text('KITSUNE_SCHEMA_REGISTRY_PASSWORD') ?? (parsed.password === '' ? undefined : decodeURIComponent(parsed.password));
    parsed.username = '';
    parsed.password = '';
    return {
      url: parsed.href.replace(/\/+$/, ''),
      username,
      password,
      wireFormat,
      timeoutMs,
    };
  };

  const logLevel = text('KITSUNE_LOG_LEVEL') ?? configDefaults.logLevel;
  if (!logLevels.has(logLevel)) problems.push(`KITSUNE_LOG_LEVEL must be one of ${[...logLevels].join(', ')} (got '${logLevel}')`);
  const logFormat = choice('KITSUNE_LOG_FORMAT', ['auto', 'json', 'pretty'], configDefaults.logFormat);

  const otlpEndpoint = text('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') ?? text('OTEL_EXPORTER_OTLP_ENDPOINT');
  const otlpProtocol = text('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ?? text('OTEL_EXPORTER_OTLP_PROTOCOL') ?? 'http/protobuf';
  const tracingOff = text('OTEL_SDK_DISABLED')?.toLowerCase() === 'true' || text('OTEL_TRACES_EXPORTER')?.toLowerCase() === 'none';
  if (otlpEndpoint !== undefined && !tracingOff) {
    if (otlpProtocol !== 'http/protobuf' && otlpProtocol !== 'http/json') {
      problems.push(`OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf or http/json (got '${otlpProtocol}'; Kitsune does not ship the gRPC exporter)`);
    }
    url(text('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') === undefined ? 'OTEL_EXPORTER_OTLP_ENDPOINT' : 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  }

  const config: Config = {
    http: {
      port: integer('HTTP_PORT', configDefaults.port, 0, 65_535),
      host: text('KITSUNE_HTTP_HOST') ?? configDefaults.host,
      bodyLimitBytes: integer('KITSUNE_BODY_LIMIT_BYTES', configDefaults.bodyLimitBytes, 1_024, 64 * 1_048_576),
      maxJsonDepth: integer('KITSUNE_MAX_JSON_DEPTH', configDefaults.maxJsonDepth, 2, 256),
    },
    kafkaBrokers: brokers && brokers.length > 0 ? brokers : undefined,
    groupId: text('KAFKA_GROUP_ID') ?? configDefaults.groupId,
    kafkaFetchMinBytes: integer('KITSUNE_KAFKA_FETCH_MIN_BYTES', configDefaults.kafkaFetchMinBytes, 1, 16 * 1_048_576),
    kafkaFetchMaxWaitMs: integer('KITSUNE_KAFKA_FETCH_MAX_WAIT_MS', configDefaults.kafkaFetchMaxWaitMs, 1, 30_000),
    kafkaReplicationFactor: text('KITSUNE_KAFKA_REPLICATION_FACTOR') === undefined ? undefined : integer('KITSUNE_KAFKA_REPLICATION_FACTOR', 1, 1, 32),
    kafkaLingerMs: integer('KITSUNE_KAFKA_LINGER_MS', configDefaults.kafkaLingerMs, 0, 1_000),
    postgresDsn: url('POSTGRES_DSN'),
    lokiUrl: url('LOKI_URL'),
    traceUrl: traceUrl(),
    lokiTenant: text('KITSUNE_LOKI_TENANT'),
    lokiBatchBytes: integer('KITSUNE_LOKI_BATCH_BYTES', configDefaults.lokiBatchBytes, 1_024, 64 * 1_048_576),
    lokiBatchWaitMs: integer('KITSUNE_LOKI_BATCH_WAIT_MS', configDefaults.lokiBatchWaitMs, 0, 60_000),
    lokiTimeoutMs: integer('KITSUNE_LOKI_TIMEOUT_MS', configDefaults.lokiTimeoutMs, 100, 600_000),
    lokiCompression: choice('KITSUNE_LOKI_COMPRESSION', ['gzip', 'none'], configDefaults.lokiCompression),
    schemaRegistry: schemaRegistry(),
    dataDir: resolve(text('KITSUNE_DATA_DIR') ?? configDefaults.dataDir),
    registryPath: resolve(text('KITSUNE_REGISTRY') ?? configDefaults.registryPath),
    migrationsDir: resolve(text('KITSUNE_MIGRATIONS_DIR') ?? configDefaults.migrationsDir),
    topics: {
      dbEvents: topic('KITSUNE_TOPIC_DB_EVENTS', configDefaults.dbEvents),
      appLogs: topic('KITSUNE_TOPIC_APP_LOGS', configDefaults.appLogs),
      dbResults: topic('KITSUNE_TOPIC_DB_RESULTS', configDefaults.dbResults),
      dbEventsPartitions: integer('KITSUNE_DB_EVENTS_PARTITIONS', configDefaults.dbEventsPartitions, 1, 10_000),
      appLogsPartitions: integer('KITSUNE_APP_LOGS_PARTITIONS', configDefaults.appLogsPartitions, 1, 10_000),
    },
    ingest: {
      publishTimeoutMs: integer('KITSUNE_PUBLISH_TIMEOUT_MS', configDefaults.publishTimeoutMs, 100, 600_000),
      logMessageMaxBytes: integer('KITSUNE_LOG_MESSAGE_MAX_BYTES', configDefaults.logMessageMaxBytes, 64, 1_048_576),
      batchMaxItems: integer('KITSUNE_BATCH_MAX_ITEMS', configDefaults.batchMaxItems, 1, 10_000),
      apiKeysFile: text('KITSUNE_API_KEYS_FILE'),
      eventIdSecret: secret('KITSUNE_EVENT_ID_SECRET'),
      metricsRequireKey: boolean('KITSUNE_METRICS_REQUIRE_KEY', false),
    },
    metricsPort: text('KITSUNE_METRICS_PORT') === undefined ? undefined : integer('KITSUNE_METRICS_PORT', 0, 0, 65_535),
    apiMetrics: boolean('KITSUNE_API_METRICS', true),
    startupWaitMs: integer('KITSUNE_STARTUP_WAIT_MS', configDefaults.startupWaitMs, 0, 86_400_000),
    logLevel,
    logFormat,
    serviceName: text('KITSUNE_SERVICE_NAME') ?? configDefaults.serviceName,
    tracing: otlpEndpoint !== undefined && !tracingOff ? { protocol: otlpProtocol === 'http/json' ? 'http/json' : 'http/protobuf' } : undefined,
  };
  if (config.ingest.apiKeysFile && !existsSync(config.ingest.apiKeysFile)) {
    problems.push(`KITSUNE_API_KEYS_FILE does not exist: ${config.ingest.apiKeysFile}`);
  }
  if (problems.length > 0) {
    throw new KitsuneError(ErrorCodes.INVALID_CONFIG, `invalid configuration:\n  - ${problems.join('\n  - ')}`, { retryable: false });
  }
  return config;
}
