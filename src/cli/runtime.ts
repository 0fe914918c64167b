/**
 * What every role needs, built once from the configuration: logger, PostgreSQL pool (the user's
 * server, or the embedded one in `kitsune start`), migrations, transport, registry. `close()`
 * releases them in reverse order.
 */
import type pg from 'pg';
import type { Logger } from 'pino';
import { loadRegistry, type Registry } from '../commands/index.ts';
import type { Config } from '../config/index.ts';
import { migrate, migrationFolders } from '../db/migrate.ts';
import { createPool } from '../db/pool.ts';
import { createLogger } from '../observability/logger.ts';
import { openSchemaRegistry, type SchemaRegistryRuntime } from '../schema-registry/index.ts';
import { startTracing } from '../observability/tracing.ts';
import { createTransport, kitsuneTopics } from '../transport/from-config.ts';
import type { Transport } from '../transport/types.ts';
import { startEmbeddedInstance, type EmbeddedInstance } from './embedded.ts';
import { CliError, ExitCodes } from './exit-codes.ts';
import { listenForShutdown } from './shutdown.ts';
import { brokerFailure, databaseFailure, describeDsn, describeUrl, isBrokerUnreachable, isUnreachable, registryFailure } from './startup-errors.ts';
import { StartupWaitStopped, untilReachable, type StartupWaitOptions } from './startup-wait.ts';

export interface Runtime {
  config: Config;
  logger: Logger;
  pool: pg.Pool | undefined;
  transport: Transport;
  registry: Registry;
  /** The command schemas in KITSUNE_SCHEMA_REGISTRY_URL, registered at boot; undefined without it. */
  schemaRegistry: SchemaRegistryRuntime | undefined;
  /** True when PostgreSQL is the embedded server this process started. */
  embedded: boolean;
  /** That server and this process's claim on the data directory, when embedded. */
  instance: EmbeddedInstance | undefined;
  /** Runs `closer` first on close(): what a role starts on top of the runtime (workers, the API). */
  defer(closer: () => Promise<void>): void;
  /** Releases everything in reverse order of opening; idempotent. */
  close(): Promise<void>;
}

export interface RuntimeOptions {
  role: string;
  /** Start an embedded PostgreSQL when POSTGRES_DSN is unset (`kitsune start`). */
  allowEmbedded: boolean;
  /** The role cannot work without PostgreSQL. */
  needsPostgres: boolean;
}

/** Bad usage (exit 2); kept here for the modules that import it from the runtime. */
export { UsageError } from './exit-codes.ts';

/**
 * Opens what `options.role` needs, cheapest check first: the registry (so a wrong folder fails
 * before anything starts), the embedded PostgreSQL or POSTGRES_DSN, migrations, the transport. A
 * failure closes what was opened and throws a CliError naming the fix and its exit code.
 */
export async function openRuntime(config: Config, options: RuntimeOptions): Promise<Runtime> {
  const pretty = config.logFormat === 'pretty' || (config.logFormat === 'auto' && process.stdout.isTTY === true);
  const logger = createLogger({ level: config.logLevel, service: config.serviceName, role: options.role, pretty });
  const closers: Array<() => Promise<void>> = [];
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      for (const closer of closers.reverse()) await closer().catch((error: unknown) => logger.warn({ err: error }, 'error while closing'));
    })());
  const command = options.role;
  // Every role listens for SIGTERM before it opens the runtime; the signal also ends a start-up wait.
  const shutdown = new AbortController();
  void listenForShutdown().then(() => shutdown.abort());
  const waiting: StartupWaitOptions = { maxMs: config.startupWaitMs, logger, signal: shutdown.signal };
  const stopped = (error: unknown, fail: (error: unknown) => CliError): CliError =>
    error instanceof StartupWaitStopped ? new CliError(ExitCodes.ok, `kitsune ${command}: ${error.message}`, { cause: error }) : fail(error);
  try {
    const { tracing } = config;
    if (tracing) {
      const started = startTracing({ ...tracing, serviceName: config.serviceName, role: options.role });
      closers.push(() => started.shutdown());
    }
    const registry = await loadRegistry(config.registryPath).catch((error: unknown) => {
      throw registryFailure(error, config, command);
    });
    let dsn = config.postgresDsn;
    let embedded = false;
    let instance: EmbeddedInstance | undefined;
    if (!dsn && (options.needsPostgres || !config.kafkaBrokers)) {
      if (!options.allowEmbedded) {
        throw new CliError(
          ExitCodes.config,
          `kitsune ${command}: set POSTGRES_DSN${config.kafkaBrokers ? '' : ' (and KAFKA_BROKERS for Kafka)'}, or run \`kitsune start\`, which runs an embedded PostgreSQL`,
        );
      }
      const started = await startEmbeddedInstance(config, command, logger);
      closers.push(() => started.stop());
      instance = started;
      dsn = started.dsn;
      embedded = true;
    }
    const pool = dsn ? createPool({ dsn, applicationName: `kitsune-${options.role}`, logger, max: 20 }) : undefined;
    if (pool && dsn) {
      closers.push(() => pool.end());
      // The embedded server was just started by this process: nothing to wait for.
      const applied = await untilReachable('PostgreSQL', () => migrate(pool, migrationFolders(config.migrationsDir)), isUnreachable, embedded ? { ...waiting, maxMs: 0 } : waiting).catch(
        (error: unknown) => {
          throw stopped(error, (e) => databaseFailure(e, dsn, embedded, command));
        },
      );
      if (applied.length > 0) logger.info({ applied }, 'migrations applied');
    }
    const schemaRegistry = config.schemaRegistry ? await openSchemaRegistry(config.schemaRegistry, registry, config.topics.dbEvents) : undefined;
    if (schemaRegistry) {
      const { added, existing } = schemaRegistry.registration;
      logger.info({ url: schemaRegistry.client.url, added, existing }, 'command schemas registered in the schema registry');
    }
    const transport = createTransport(config, pool, logger);
    closers.push(() => transport.close());
    const topics = (): Promise<void> => transport.ensureTopics(kitsuneTopics(config));
    await (config.kafkaBrokers ? untilReachable('Kafka', topics, isBrokerUnreachable, waiting) : topics()).catch((error: unknown) => {
      throw stopped(error, (e) => (config.kafkaBrokers ? brokerFailure(e, config, command) : databaseFailure(e, dsn ?? '', embedded, command)));
    });
    // One line that says what this role works with, so an operator reading the log knows where it points.
    logger.info(
      {
        database: dsn ? `${describeDsn(dsn)}${embedded ? ' (embedded)' : ''}` : 'none',
        broker: config.kafkaBrokers ? `Kafka ${config.kafkaBrokers.join(',')}` : 'the Postgres log in the database',
        logs: config.lokiUrl ? `Loki ${describeUrl(config.lokiUrl)}` : 'PostgreSQL (kitsune.logs)',
        registry: config.registryPath,
        commands: registry.list().length,
      },
      `kitsune ${command}: connected`,
    );
    const defer = (closer: () => Promise<void>): void => void closers.push(closer);
    return { config, logger, pool, transport, registry, schemaRegistry, embedded, instance, defer, close };
  } catch (error) {
    await close();
    throw error;
  }
}
