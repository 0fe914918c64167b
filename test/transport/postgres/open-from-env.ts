/**
 * Opens the Postgres log in a child process, from the environment a test hands it
 * (POSTGRES_DSN, KITSUNE_TEST_LOG_SCHEMA, KITSUNE_TEST_LEASE_TTL_MS). Used as the conformance
 * suite's CHILD_MODULE and by child-member.ts.
 */
import { createPostgresTransport, type PostgresTransport } from '../../../src/transport/postgres/index.ts';
import { postgresDsn } from '../../support/services.ts';

export function open(): Promise<PostgresTransport> {
  const schema = process.env.KITSUNE_TEST_LOG_SCHEMA;
  if (!schema) throw new Error('KITSUNE_TEST_LOG_SCHEMA is required');
  return Promise.resolve(
    createPostgresTransport({
      connectionString: postgresDsn(),
      schema,
      leaseTtlMs: Number(process.env.KITSUNE_TEST_LEASE_TTL_MS ?? 2_000),
      pollIntervalMs: 200,
    }),
  );
}
