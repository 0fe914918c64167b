/**
 * The dry run is the DB worker's executeBatch inside a transaction that is rolled back: it must
 * predict what the worker would do, in order, and leave nothing behind. Against real PostgreSQL.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { executeBatch } from '../../src/execution/index.ts';
import type { Registry } from '../../src/commands/index.ts';
import { dryRun } from '../../src/dlq/dry-run.ts';
import { suitePool } from '../support/database.ts';
import { openDatabase, registry as loadRegistry } from '../apps/db-worker/support.ts';
import { deadLetterOf, userEvent } from './support.ts';

describe('dry run', () => {
  let registry: Registry;
  const database = suitePool(async (dsn) => {
    const opened = await openDatabase(dsn);
    await opened.query("INSERT INTO users (name, email) VALUES ('Taken', 'taken@example.com')");
    return opened;
  });

  before(async () => {
    registry = await loadRegistry();
  });

  const count = async (sql: string): Promise<number> => Number((await database().query<{ n: string }>(sql)).rows[0]!.n);
  const snapshot = async (): Promise<number[]> =>
    Promise.all([
      count('SELECT count(*) AS n FROM users'),
      count('SELECT count(*) AS n FROM kitsune.idempotency_log'),
      count('SELECT count(*) AS n FROM kitsune.event_results'),
      count('SELECT count(*) AS n FROM kitsune.event_attempts'),
    ]);

  test('predicts each event in DLQ order, each seeing the effects of those before it, and commits nothing', async () => {
    const before = await snapshot();
    const fresh = userEvent('fresh@example.com');
    const taken = userEvent('taken@example.com');
    const sameAsFresh = userEvent('fresh@example.com');
    const outcomes = await dryRun(database(), registry, [deadLetterOf(0, fresh), deadLetterOf(1, taken), deadLetterOf(2, sameAsFresh)]);
    assert.deepEqual(outcomes.map((o) => o.status), ['succeeded', 'dead_lettered', 'dead_lettered']);
    assert.deepEqual(outcomes.map((o) => o.sqlstate), [undefined, '23505', '23505'], 'the third collides with the first, as it would in the worker');
    assert.match(outcomes[1]!.reason ?? '', /users_email_key/);
    assert.deepEqual(await snapshot(), before, 'users, idempotency rows, results and attempts are as they were');
  });

  test('an event that already took effect is predicted as a duplicate', async () => {
    const applied = userEvent('applied@example.com');
    const letter = deadLetterOf(0, applied);
    await executeBatch(database(), registry, [letter.message], { maxTransientAttempts: 10 });
    const [outcome] = await dryRun(database(), registry, [letter]);
    assert.equal(outcome!.status, 'duplicate');
  });

  test('a row lock held elsewhere is reported as transient after the lock timeout, not waited on', async () => {
    const holder = await database().connect();
    try {
      await holder.query('BEGIN');
      await holder.query("INSERT INTO users (name, email) VALUES ('Locker', 'locked@example.com')");
      // 55P03 (lock_not_available) comes only from the lock timeout: waiting on the lock would
      // have blocked until the ROLLBACK below.
      const [outcome] = await dryRun(database(), registry, [deadLetterOf(0, userEvent('locked@example.com'))]);
      assert.equal(outcome!.transient, true);
      assert.equal(outcome!.sqlstate, '55P03');
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
  });
});
