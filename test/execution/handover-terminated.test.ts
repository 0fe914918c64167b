/**
 * PostgreSQL ending a batch's connection at the moment the pool hands it to the batch executor
 * (a server stopping, pg_terminate_backend): the batch fails as DatabaseUnavailableError, which
 * the DB worker retries and its breaker counts, and the connection's error reaches a listener
 * instead of ending the process as an uncaught 'error' event.
 *
 * The moment is forced with a proxy (test/support/handover-proxy.ts): the server's first
 * ReadyForQuery reaches the client in the same read as the FATAL of its termination.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type pg from 'pg';
import { pino } from 'pino';
import type { Registry } from '../../src/commands/index.ts';
import { createPool } from '../../src/db/pool.ts';
import { encodeEvent, type CommandEvent } from '../../src/events/envelope.ts';
import { DatabaseUnavailableError, executeBatch, OutcomeStatuses } from '../../src/execution/index.ts';
import type { ReceivedMessage } from '../../src/transport/types.ts';
import { createUserEvent, openDatabase, registry as loadRegistry } from '../apps/db-worker/support.ts';
import { createDatabase } from '../support/database.ts';
import { startHandoverProxy, type HandoverProxy } from '../support/handover-proxy.ts';

let drop: () => Promise<void>;
let direct: pg.Pool;
let proxy: HandoverProxy;
let registry: Registry;
let offset = 0n;

const message = (event: CommandEvent): ReceivedMessage => {
  offset += 1n;
  return { id: event.id, key: event.id, value: encodeEvent(event), headers: {}, topic: 'db-events', partition: 0, offset, timestamp: 0, attempt: 1 };
};

before(async () => {
  const database = await createDatabase();
  drop = database.drop;
  direct = await openDatabase(database.dsn);
  registry = await loadRegistry();
  proxy = await startHandoverProxy(database.dsn, async (pid) => {
    await direct.query('SELECT pg_terminate_backend($1)', [pid]);
  });
});
after(async () => {
  await proxy.close();
  await direct.end();
  await drop();
});

test('a batch whose new connection is terminated as the pool hands it over fails as DatabaseUnavailableError; the next batch applies, and no error goes unheard', async (t) => {
  const unheard: unknown[] = [];
  const uncaught = (error: unknown): void => void unheard.push(error);
  const unhandled = (reason: unknown): void => void unheard.push(reason);
  process.on('uncaughtExceptionMonitor', uncaught);
  process.on('unhandledRejection', unhandled);
  t.after(() => {
    process.off('uncaughtExceptionMonitor', uncaught);
    process.off('unhandledRejection', unhandled);
  });
  const pool = createPool({ dsn: proxy.dsn, max: 2, logger: pino({ level: 'silent' }) });
  t.after(() => pool.end());

  proxy.terminateNextHandover();
  const lost = createUserEvent('handover-lost@example.com');
  await assert.rejects(executeBatch(pool, registry, [message(lost)], { maxTransientAttempts: 3 }), DatabaseUnavailableError);
  assert.equal(proxy.terminated, 1, `the connection was ended at its handover (termination failed: ${(proxy.failure as Error | undefined)?.message ?? 'no'})`);

  // Redelivered, the batch runs on a connection the pool opened in place of the dead one.
  const outcomes = await executeBatch(pool, registry, [message(lost)], { maxTransientAttempts: 3 });
  assert.deepEqual(outcomes.map((o) => o.status), [OutcomeStatuses.succeeded]);
  const { rows } = await direct.query<{ n: number }>('SELECT count(*)::int AS n FROM users WHERE email = $1', [lost.payload.email]);
  assert.equal(rows[0]?.n, 1, 'applied once');
  assert.deepEqual(unheard, [], 'no uncaught exception or unhandled rejection');
});
