import { after } from 'node:test';
import pg from 'pg';
import { createPostgresTransport, postgresFeatures } from '../../src/transport/postgres/index.ts';
import { postgresDsn } from '../support/services.ts';
import { freshSchema } from '../transport/postgres/helpers.ts';
import { transportConformance } from './transport.ts';

// One schema for the whole suite (the suite isolates by topic and group names), dropped at the end.
const schema = freshSchema();
// Short leases so the SIGKILL test's takeover takes ~3 s rather than the default ~13 s.
const leaseTtlMs = 2_000;

transportConformance('postgres', postgresFeatures, () =>
  Promise.resolve({
    open: () => Promise.resolve(createPostgresTransport({ connectionString: postgresDsn(), schema, leaseTtlMs, pollIntervalMs: 200 })),
    child: {
      module: new URL('../transport/postgres/open-from-env.ts', import.meta.url).href,
      env: { KITSUNE_TEST_LOG_SCHEMA: schema, KITSUNE_TEST_LEASE_TTL_MS: String(leaseTtlMs) },
    },
  }),
);

after(async () => {
  const admin = new pg.Pool({ connectionString: postgresDsn(), max: 1 });
  await admin.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
  await admin.end();
});
