/**
 * What every role needs, built once from the configuration: logger, PostgreSQL pool (the user's
 * server, or the embedded one in `kitsune start`), migrations, transport, registry. `close()`
 * releases them in reverse order.
 */
import { createHash } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import type { Logger } from 'pino';
import { loadRegistry, type Registry } from '../commands/index.ts';
import type { Config } from '../config/index.ts';
import { reachableByOthers, startEmbeddedPostgres, stopByPid } from '../db/embedded.ts';
import { migrate, migrationFolders } from '../db/migrate.ts';
import { createPool } from '../db/pool.ts';
import { createLogger } from '../observability/logger.ts';
import { openSchemaRegistry, type SchemaRegistryRuntime } from '../schema-registry/index.ts';
import { createTransport, kitsuneTopics } from '../transport/from-config.ts';
import type { Transport } from '../transport/types.ts';
import { freePort } from './ports.ts';

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
  close(): Promise<void>;
}

export interface RuntimeOptions {
  role: string;
  /** Start an embedded PostgreSQL when POSTGRES_DSN is unset (`kitsune start`). */
  allowEmbedded: boolean;
  /** The role cannot work without PostgreSQL. */
  needsPostgres: boolean;
}

export class UsageError extends Error {}

/**
 * Where the embedded cluster lives: `<dataDir>/postgres`, unless we are root and the `postgres`
 * user (which PostgreSQL runs as) cannot enter its parents, as in a checkout under /root. Then
 * a directory under /var/lib/kitsune named after the data directory, so each checkout keeps its
 * own data across restarts.
 */
function embeddedDataDir(dataDir: string): string {
  const preferred = join(dataDir, 'postgres');
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root || reachableByOthers(preferred)) return preferred;
  return join('/var/lib/kitsune', createHash('sha256').update(dataDir).digest('hex').slice(0, 16), 'postgres');
}

export async function openRuntime(config: Config, options: RuntimeOptions): Promise<Runtime> {
  const logger = createLogger({ level: config.logLevel, service: config.serviceName, role: options.role });
  const closers: Array<() => Promise<void>> = [];
  const close = async (): Promise<void> => {
    for (const closer of closers.reverse()) await closer().catch((error: unknown) => logger.warn({ err: error }, 'error while closing'));
  };
  try {
    let dsn = config.postgresDsn;
    let embedded = false;
    if (!dsn && (options.needsPostgres || !config.kafkaBrokers)) {
      if (!options.allowEmbedded) {
        throw new UsageError(
          `kitsune ${options.role}: set POSTGRES_DSN${config.kafkaBrokers ? '' : ' (and KAFKA_BROKERS for Kafka)'}, or run \`kitsune start\`, which runs an embedded PostgreSQL`,
        );
      }
      const started = Date.now();
      const dataDir = embeddedDataDir(config.dataDir);
      if (dataDir !== join(config.dataDir, 'postgres')) {
        logger.warn({ dataDir }, "the 'postgres' user cannot enter the data directory's parents; keeping the embedded cluster here instead");
      }
      await mkdir(config.dataDir, { recursive: true });
      const server = await startEmbeddedPostgres({ dataDir, port: await freePort(), logFile: join(config.dataDir, 'postgres.log') });
      closers.push(() => stopByPid(server.pid, 'SIGINT'));
      dsn = server.dsn;
      embedded = true;
      await writeFile(join(config.dataDir, 'embedded.json'), `${JSON.stringify({ dsn: server.dsn, postgresPid: server.pid, kitsunePid: process.pid })}\n`);
      closers.push(() => rm(join(config.dataDir, 'embedded.json'), { force: true }));
      logger.info({ dataDir, ms: Date.now() - started }, 'embedded PostgreSQL started');
    }
    const pool = dsn ? createPool({ dsn, applicationName: `kitsune-${options.role}`, logger, max: 20 }) : undefined;
    if (pool) {
      closers.push(() => pool.end());
      const applied = await migrate(pool, migrationFolders(config.migrationsDir));
      if (applied.length > 0) logger.info({ applied }, 'migrations applied');
    }
    const registry = await loadRegistry(config.registryPath);
    const schemaRegistry = config.schemaRegistry ? await openSchemaRegistry(config.schemaRegistry, registry, config.topics.dbEvents) : undefined;
    if (schemaRegistry) {
      const { added, existing } = schemaRegistry.registration;
      logger.info({ url: schemaRegistry.client.url, added, existing }, 'command schemas registered in the schema registry');
    }
    const transport = createTransport(config, pool, logger);
    closers.push(() => transport.close());
    await transport.ensureTopics(kitsuneTopics(config));
    return { config, logger, pool, transport, registry, schemaRegistry, embedded, close };
  } catch (error) {
    await close();
    throw error;
  }
}
