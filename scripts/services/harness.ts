/**
 * Starts, reuses and stops the real services that tests, benchmarks and people run Kitsune
 * against. Services named in the environment (KAFKA_BROKERS, POSTGRES_DSN,
 * KITSUNE_SCHEMA_REGISTRY_URL) are used as they are and never stopped; the ones started here are
 * recorded with their PIDs and stopped by PID. The schema registry only starts when asked for.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startEmbeddedPostgres, stopByPid } from '../../src/db/embedded.ts';
import { stillRuns } from './ownership.ts';
import { kafkaUnavailableReason, startKafka } from './kafka.ts';
import { schemaRegistryUnavailableReason, startSchemaRegistry } from './schema-registry.ts';
import { freePort } from '../../src/cli/ports.ts';
import { readState, servicesDir, writeState, type KafkaState, type ServicesState } from './state.ts';

export interface Services {
  /** Bootstrap address, or undefined when no broker can run here (see kafkaSkipReason). */
  kafkaBrokers?: string;
  kafkaSkipReason?: string;
  postgresDsn: string;
  /** PID of the broker when this harness runs it (tests pause it with SIGSTOP). */
  kafkaPid?: number;
  /** Confluent-compatible API root, when asked for and one runs here (see schemaRegistrySkipReason). */
  schemaRegistryUrl?: string;
  schemaRegistrySkipReason?: string;
  /** What this call started (and so what `down` will stop). */
  started: ServiceName[];
}

export type ServiceName = 'kafka' | 'postgres' | 'schema-registry';

export interface UpOptions {
  /** A missing java/mvn throws instead of skipping Kafka. */
  requireKafka: boolean;
  /** Start (or reuse) a schema registry too; `'required'` throws when none can run here. */
  schemaRegistry?: boolean | 'required';
  /** Kafka nodes to start; a running cluster of another size is an error. (Default: reuse any, else 1) */
  brokers?: number;
}

const log = (line: string): void => void process.stderr.write(`services: ${line}\n`);

/**
 * Brings up whatever the environment does not already name. Idempotent: processes recorded by an
 * earlier `up` that are still alive are reused. With `requireKafka`, a missing java/mvn throws.
 */
export async function up(options: UpOptions): Promise<Services> {
  const started: Services['started'] = [];
  const state: ServicesState = await readState(servicesDir());
  // The registry takes a while to boot; it starts beside Kafka and PostgreSQL, not after them.
  const registry = bringUpSchemaRegistry(options, state, started);
  try {
    const [services, registryFields] = await Promise.all([bringUp(options, state, started), registry]);
    return { ...services, ...registryFields };
  } catch (error) {
    await registry.catch(() => undefined);
    await down(started);
    throw error;
  }
}

async function bringUpSchemaRegistry(
  options: UpOptions,
  state: ServicesState,
  started: Services['started'],
): Promise<Pick<Services, 'schemaRegistryUrl' | 'schemaRegistrySkipReason'>> {
  if (!options.schemaRegistry) return {};
  const fromEnv = process.env.KITSUNE_SCHEMA_REGISTRY_URL;
  if (fromEnv) {
    log('schema registry: using KITSUNE_SCHEMA_REGISTRY_URL from the environment');
    return { schemaRegistryUrl: fromEnv };
  }
  if (state.schemaRegistry && stillRuns(state.schemaRegistry.pid, registryMark)) {
    log(`schema registry: reusing pid ${state.schemaRegistry.pid}`);
    return { schemaRegistryUrl: state.schemaRegistry.url };
  }
  const reason = schemaRegistryUnavailableReason();
  if (reason && options.schemaRegistry === 'required') throw new Error(`a schema registry is required but ${reason}`);
  if (reason) return { schemaRegistrySkipReason: reason };
  const t0 = Date.now();
  const registry = await startSchemaRegistry(servicesDir());
  state.schemaRegistry = registry;
  await writeState(servicesDir(), state);
  started.push('schema-registry');
  log(`schema registry: started Apicurio Registry ${registry.version} (pid ${registry.pid}) at ${registry.url} in ${Date.now() - t0} ms`);
  return { schemaRegistryUrl: registry.url };
}

async function bringUp(options: UpOptions, state: ServicesState, started: Services['started']): Promise<Services> {
  const dir = servicesDir();

  let postgresDsn = process.env.POSTGRES_DSN;
  if (postgresDsn) {
    log('PostgreSQL: using POSTGRES_DSN from the environment');
  } else if (state.postgres && stillRuns(state.postgres.pid, state.postgres.dataDir)) {
    postgresDsn = state.postgres.dsn;
    log(`PostgreSQL: reusing pid ${state.postgres.pid}`);
  } else {
    const t0 = Date.now();
    const dataDir = join(dir, 'postgres-data');
    const pg = await startEmbeddedPostgres({
      dataDir,
      port: await freePort(),
      detached: true,
      logFile: join(dir, 'postgres.log'),
    });
    state.postgres = { pid: pg.pid, dsn: pg.dsn, dataDir: pg.dataDir, logFile: pg.logFile };
    await writeState(dir, state);
    postgresDsn = pg.dsn;
    started.push('postgres');
    log(`PostgreSQL: started pid ${pg.pid} on port ${pg.port} in ${Date.now() - t0} ms`);
  }

  let kafkaBrokers = process.env.KAFKA_BROKERS;
  let kafkaSkipReason: string | undefined;
  if (kafkaBrokers) {
    log('Kafka: using KAFKA_BROKERS from the environment');
  } else if (state.kafka && kafkaPids(state.kafka).every((pid) => stillRuns(pid, dir))) {
    const running = kafkaPids(state.kafka).length;
    if (options.brokers !== undefined && options.brokers !== running) {
      throw new Error(`Kafka already runs with ${running} broker(s), not ${options.brokers}: \`npm run services -- down\` first`);
    }
    kafkaBrokers = state.kafka.brokers;
    log(`Kafka: reusing pid ${kafkaPids(state.kafka).join(', ')}`);
  } else {
    kafkaSkipReason = kafkaUnavailableReason();
    if (kafkaSkipReason && options.requireKafka) throw new Error(`Kafka is required but ${kafkaSkipReason}`);
    if (!kafkaSkipReason) {
      const t0 = Date.now();
      const kafka = await startKafka(dir, { brokers: options.brokers ?? 1 });
      state.kafka = kafka;
      await writeState(dir, state);
      kafkaBrokers = kafka.brokers;
      started.push('kafka');
      log(`Kafka: started pid ${kafkaPids(kafka).join(', ')} at ${kafka.brokers} in ${Date.now() - t0} ms`);
    }
  }

  return {
    postgresDsn,
    started,
    ...(kafkaBrokers ? { kafkaBrokers } : {}),
    // Only a single broker this harness runs may be paused by tests, even when named in the environment.
    ...(state.kafka && !state.kafka.nodes && state.kafka.brokers === kafkaBrokers && stillRuns(state.kafka.pid, dir) ? { kafkaPid: state.kafka.pid } : {}),
    ...(kafkaSkipReason ? { kafkaSkipReason } : {}),
  };
}

/** Stops the processes recorded by `up`, by PID (Kafka first: it may hold no PostgreSQL state). */
export async function down(only?: ServiceName[]): Promise<void> {
  const dir = servicesDir();
  const state = await readState(dir);
  if (state.schemaRegistry && (!only || only.includes('schema-registry'))) {
    await stopIfStillRuns('schema registry', state.schemaRegistry.pid, registryMark, 'SIGTERM');
    delete state.schemaRegistry;
    await writeState(dir, state);
  }
  if (state.kafka && (!only || only.includes('kafka'))) {
    const { kafka } = state;
    await Promise.all(kafkaPids(kafka).map((pid) => stopIfStillRuns('Kafka', pid, dir, 'SIGTERM')));
    for (const dataDir of kafka.nodes?.map((node) => node.dataDir) ?? [kafka.dataDir]) await rm(dataDir, { recursive: true, force: true });
    delete state.kafka;
    await writeState(dir, state);
  }
  if (state.postgres && (!only || only.includes('postgres'))) {
    await stopIfStillRuns('PostgreSQL', state.postgres.pid, state.postgres.dataDir, 'SIGINT');
    delete state.postgres;
    await writeState(dir, state);
  }
}

/** The registry runs from its release's folder in the cache. */
const registryMark = 'apicurio-registry';

/** Stops `pid` when it still is the service `up` started; a PID now used by another process is left alone. */
async function stopIfStillRuns(name: string, pid: number, mark: string, signal: NodeJS.Signals): Promise<void> {
  if (!stillRuns(pid, mark)) {
    log(`${name}: pid ${pid} is no longer the one started here; nothing to stop`);
    return;
  }
  log(`${name}: stopping pid ${pid}`);
  await stopByPid(pid, signal);
}

/** Every node's PID: one for a single broker. */
const kafkaPids = (kafka: KafkaState): number[] => kafka.nodes?.map((node) => node.pid) ?? [kafka.pid];

/** Shell lines for `eval "$(npm run -s services -- up)"`. */
export function exportLines(services: Services): string {
  const quote = (value: string): string => `'${value.replaceAll("'", `'\\''`)}'`;
  const lines = [`export POSTGRES_DSN=${quote(services.postgresDsn)}`];
  if (services.kafkaBrokers) lines.unshift(`export KAFKA_BROKERS=${quote(services.kafkaBrokers)}`);
  if (services.schemaRegistryUrl) lines.push(`export KITSUNE_SCHEMA_REGISTRY_URL=${quote(services.schemaRegistryUrl)}`);
  return `${lines.join('\n')}\n`;
}
