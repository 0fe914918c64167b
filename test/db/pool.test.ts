/**
 * createPool's clients are heard from birth: a connection PostgreSQL ends just as the pool hands
 * it over (pg_terminate_backend on the real server, forced at that moment by a proxy) fails its
 * holder's next query and is logged, instead of ending the process with an unheard 'error' event.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { pino } from 'pino';
import { createPool } from '../../src/db/pool.ts';
import { postgresDsn } from '../support/services.ts';
import { startHandoverProxy, type HandoverProxy } from '../support/handover-proxy.ts';

let admin: pg.Pool;
let proxy: HandoverProxy;

before(async () => {
  admin = new pg.Pool({ connectionString: postgresDsn(), max: 1 });
  proxy = await startHandoverProxy(postgresDsn(), async (pid) => {
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
  });
});
after(async () => {
  await proxy.close();
  await admin.end();
});

test('a client terminated as the pool hands it over fails its first query, is logged and replaced; nothing goes unheard', async (t) => {
  const unheard: unknown[] = [];
  const uncaught = (error: unknown): void => void unheard.push(error);
  process.on('uncaughtExceptionMonitor', uncaught);
  process.on('unhandledRejection', uncaught);
  t.after(() => {
    process.off('uncaughtExceptionMonitor', uncaught);
    process.off('unhandledRejection', uncaught);
  });
  const logged: Array<{ msg: string; err?: { code?: string } }> = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void logged.push(JSON.parse(line) as (typeof logged)[number]) });
  const pool = createPool({ dsn: proxy.dsn, max: 1, logger });
  t.after(() => pool.end());

  proxy.terminateNextHandover();
  const client = await pool.connect();
  await assert.rejects(client.query('SELECT 1'), /not queryable/);
  client.release();
  assert.equal(proxy.terminated, 1, `the connection was ended at its handover (termination failed: ${(proxy.failure as Error | undefined)?.message ?? 'no'})`);
  assert.deepEqual(
    logged.map((line) => [line.msg, line.err?.code]),
    [['PostgreSQL connection in use failed; its next query fails and it will be replaced', '57P01']],
  );

  // The dead client left the pool (max 1): the next one is a new, working connection.
  const { rows } = await pool.query<{ one: number }>('SELECT 1 AS one');
  assert.deepEqual(rows, [{ one: 1 }]);
  assert.deepEqual(unheard, [], 'no uncaught exception or unhandled rejection');
});
