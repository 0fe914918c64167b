import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { ResultWaiter } from '../../../src/apps/api/events.ts';
import { createDatabase } from '../../support/database.ts';
import { openDatabase } from '../db-worker/support.ts';

describe('GET /events/:id?wait result wake-ups', () => {
  let pool: pg.Pool;
  let drop: () => Promise<void>;

  before(async () => {
    const database = await createDatabase();
    drop = database.drop;
    pool = await openDatabase(database.dsn);
  });
  after(async () => {
    await pool.end();
    await drop();
  });

  /** Stores a succeeded result for `id` and, when `notify`, announces it as the DB worker does. */
  async function commitResult(id: string, notify: boolean): Promise<void> {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO kitsune.event_results (event_id, status, command, version, source, idempotency_key, result_rows, rows_affected, attempts, source_topic, source_partition, source_offset)
         VALUES ($1::uuid, 'succeeded', 'create_user', '1', 'test', $1::text, '[]', 1, 1, 'db-events', 0, 0)`,
        [id],
      );
      if (notify) await client.query('NOTIFY kitsune_results');
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  }

  test('a waiter is answered by the announcement of a commit, not by its fallback poll', async () => {
    // A fallback poll far beyond the wait: only the notification can answer in time.
    const waiter = new ResultWaiter(pool, { pollMs: 600_000 });
    try {
      const id = randomUUID();
      const waiting = waiter.wait(id, 20_000);
      // Let the first lookup find nothing and the listener start.
      await new Promise((resolve) => setTimeout(resolve, 500));
      await commitResult(id, true);
      const view = await waiting;
      assert.equal(view.status, 'succeeded');
      assert.equal(view.id, id);
    } finally {
      await waiter.close();
    }
  });

  test('without an announcement the fallback poll still finds the result', async () => {
    const waiter = new ResultWaiter(pool, { pollMs: 50 });
    try {
      const id = randomUUID();
      const waiting = waiter.wait(id, 20_000);
      await new Promise((resolve) => setTimeout(resolve, 200));
      await commitResult(id, false);
      assert.equal((await waiting).status, 'succeeded');
    } finally {
      await waiter.close();
    }
  });
});
