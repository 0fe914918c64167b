/**
 * A fresh database per test file on the shared test server: migrations, users and idempotency
 * rows of one test never meet another's. Dropped after, once the connections closed by the test
 * are gone; FORCE then ends stray ones.
 */
import { randomUUID } from 'node:crypto';
import { after, before, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { postgresDsn } from './services.ts';

/** How long a drop waits for the database's connections to close before FORCE ends them. */
const closeWithinMs = 2_000;

async function connectionsTo(client: pg.Client, database: string): Promise<number> {
  const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [database]);
  return rows[0]?.n ?? 0;
}

export async function createDatabase(): Promise<{ dsn: string; drop: () => Promise<void> }> {
  const name = `kitsune_test_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  const admin = new pg.Client({ connectionString: postgresDsn() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(postgresDsn());
  url.pathname = `/${name}`;
  return {
    dsn: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: postgresDsn() });
      await client.connect();
      try {
        // pg's Pool.end() resolves before its idle connections have closed: a FORCE drop at once
        // could end one of them first, and its 'error' would reach a pool without a listener.
        const deadline = Date.now() + closeWithinMs;
        while (Date.now() < deadline && (await connectionsTo(client, name)) > 0) await sleep(20);
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** A fresh database dropped when the test (or suite, via `after`) ends. */
export async function freshDatabase(t: Pick<TestContext, 'after'>): Promise<string> {
  const { dsn, drop } = await createDatabase();
  t.after(drop);
  return dsn;
}

/**
 * A pool on a fresh database for a describe() block: opened by `open` before the first test,
 * ended and dropped after the last. Returns the pool's getter (it exists once `before` ran).
 */
export function suitePool(open: (dsn: string) => Promise<pg.Pool>): () => pg.Pool {
  let pool: pg.Pool | undefined;
  let drop: (() => Promise<void>) | undefined;
  before(async () => {
    const database = await createDatabase();
    drop = database.drop;
    pool = await open(database.dsn);
  });
  after(async () => {
    await pool?.end();
    await drop?.();
  });
  return () => {
    if (!pool) throw new Error('the suite pool is opened in before(); use it inside tests');
    return pool;
  };
}
