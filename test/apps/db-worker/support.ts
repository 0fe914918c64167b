/**
 * A DB worker on the real broker and a fresh database, with helpers to publish raw events and
 * read back rows, results and dead letters.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { pino } from 'pino';
import { loadRegistry, type Registry } from '../../../src/commands/index.ts';
import { migrate, migrationFolders } from '../../../src/db/migrate.ts';
import { createPool } from '../../../src/db/pool.ts';
import { encodeEvent, eventHeaders, type CommandEvent } from '../../../src/events/envelope.ts';
import { newEventId } from '../../../src/events/ids.ts';
import { createKafkaTransport } from '../../../src/transport/kafka/index.ts';
import { createPostgresTransport } from '../../../src/transport/postgres/index.ts';
import type { ReceivedMessage, Transport } from '../../../src/transport/types.ts';
import { repoRoot } from '../../../scripts/services/state.ts';
import { kafkaBrokers } from '../../support/services.ts';

export interface Topics {
  dbEvents: string;
  dbResults: string;
}

export const freshTopics = (): Topics => {
  const suffix = randomUUID();
  return { dbEvents: `db-events-${suffix}`, dbResults: `db-results-${suffix}` };
};

export async function openDatabase(dsn: string): Promise<pg.Pool> {
  const pool = createPool({ dsn, max: 10, logger: pino({ level: 'silent' }) });
  await migrate(pool, migrationFolders(join(repoRoot, 'migrations')));
  return pool;
}

export const registry = (): Promise<Registry> => loadRegistry(join(repoRoot, 'commands', 'registry.yaml'));

/** The test application: commands that exist to test the DB worker (ledger_append, planned_step). */
export const testApp = { registry: join(repoRoot, 'test', 'fixtures', 'app', 'registry.yaml'), migrations: join(repoRoot, 'test', 'fixtures', 'app', 'migrations') };

export async function openTestAppDatabase(dsn: string): Promise<pg.Pool> {
  const pool = createPool({ dsn, max: 10, logger: pino({ level: 'silent' }) });
  await migrate(pool, migrationFolders(testApp.migrations));
  return pool;
}

export const testAppRegistry = (): Promise<Registry> => loadRegistry(testApp.registry);

/** An event of the test application's commands, keyed and stamped as the API would. */
export function testEvent(command: 'ledger_append' | 'planned_step', payload: Record<string, unknown>): CommandEvent {
  const id = newEventId();
  return {
    id,
    command,
    version: '1',
    payload,
    log: { level: 'INFO', message: command },
    metadata: { idempotency_key: id, timestamp: new Date().toISOString(), source: 'test' },
  };
}

export async function openKafka(topics: Topics): Promise<Transport> {
  const transport = createKafkaTransport({ brokers: kafkaBrokers(), clientId: 'db-worker-test' });
  await transport.ensureTopics([
    { name: topics.dbEvents, partitions: 6 },
    { name: `${topics.dbEvents}.dlq`, partitions: 1 },
    { name: topics.dbResults, partitions: 6 },
  ]);
  return transport;
}

export function createUserEvent(email: string, overrides: Partial<CommandEvent> = {}): CommandEvent {
  const id = newEventId();
  return {
    id,
    command: 'create_user',
    version: '1',
    payload: { name: `User ${email}`, email },
    log: { level: 'INFO', message: 'User created' },
    metadata: { idempotency_key: id, timestamp: new Date().toISOString(), source: 'test' },
    ...overrides,
  };
}

/** The registry's entity key: email for create_user, account or key for the test commands, id otherwise. */
function entityKey(event: CommandEvent): string {
  const { email, id, account, key } = event.payload;
  if (typeof email === 'string') return email;
  if (typeof account === 'string') return account;
  if (typeof key === 'string') return key;
  return typeof id === 'string' || typeof id === 'number' ? String(id) : event.id;
}

export async function publishEvents(transport: Transport, topic: string, events: readonly CommandEvent[]): Promise<void> {
  await transport.publish(
    topic,
    events.map((event) => ({
      id: event.id,
      key: entityKey(event),
      value: encodeEvent(event),
      headers: { [eventHeaders.command]: event.command, [eventHeaders.version]: event.version },
    })),
  );
}

export async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** Records everything on `topic` from the beginning, through a fresh group. */
export async function collect(transport: Transport, topic: string): Promise<ReceivedMessage[]> {
  const seen: ReceivedMessage[] = [];
  await transport.subscribe(topic, (message) => Promise.resolve(void seen.push(message)), { group: `collector-${randomUUID()}` });
  return seen;
}

export const silentLogger = pino({ level: 'silent' });

export type TransportKind = 'kafka' | 'postgres';

/**
 * The DB worker's topics on either engine: Kafka (the test broker), or the Postgres log in the
 * worker's own database, as `kitsune start` runs it.
 */
export async function openTransport(kind: TransportKind, pool: pg.Pool, topics: Topics): Promise<Transport> {
  if (kind === 'kafka') return openKafka(topics);
  const transport = createPostgresTransport({ pool, retention: false });
  await transport.ensureTopics([
    { name: topics.dbEvents, partitions: 6 },
    { name: `${topics.dbEvents}.dlq`, partitions: 1 },
    { name: topics.dbResults, partitions: 6 },
  ]);
  return transport;
}
