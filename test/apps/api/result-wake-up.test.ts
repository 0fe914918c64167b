import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { ResultWaiter } from '../../../src/apps/api/events.ts';
import type { EventView } from '../../../src/contract/http.ts';
import { suitePool } from '../../support/database.ts';
import { openDatabase } from '../db-worker/support.ts';

describe('GET /events/:id?wait result wake-ups', () => {
  const database = suitePool(openDatabase);

  /** Stores a succeeded result for `id` and, when `notify`, announces it as the DB worker does. */
  async function commitResult(id: string, notify: boolean): Promise<void> {
    const client = await database().connect();
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

  /** Waits for a fresh id with `waiter`, commits its result after `delayMs`, and returns what the wait answered. */
  async function waitThroughCommit(waiter: ResultWaiter, notify: boolean, delayMs: number): Promise<{ id: string; view: EventView }> {
    try {
      const id = randomUUID();
      const waiting = waiter.wait(id, 20_000);
      // Let the first lookup find nothing (and the listener start) before the result exists.
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      await commitResult(id, notify);
      return { id, view: await waiting };
    } finally {
      await waiter.close();
    }
  }

  test('a waiter is answered by the announcement of a commit, not by its fallback poll', async () => {
    // A fallback poll far beyond the wait: only the notification can answer in time.
    const { id, view } = await waitThroughCommit(new ResultWaiter(database(), { pollMs: 600_000 }), true, 500);
    assert.equal(view.status, 'succeeded');
    assert.equal(view.id, id);
  });

  test('without an announcement the fallback poll still finds the result', async () => {
    const { view } = await waitThroughCommit(new ResultWaiter(database(), { pollMs: 50 }), false, 200);
    assert.equal(view.status, 'succeeded');
  });
});
