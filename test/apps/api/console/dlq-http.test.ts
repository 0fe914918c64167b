/**
 * The console's endpoints on a real `kitsune start` (PostgreSQL from the test harness, the
 * Postgres log): a constraint violation found by filter, dry-run, fixed, replayed over HTTP; its
 * timeline; lookup by idempotency key; purge. The same code as `kitsune dlq` (test/cli/dlq-*),
 * reached through HTTP.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import pg from 'pg';
import { waitFor } from '../../db-worker/support.ts';
import { createDatabase } from '../../../support/database.ts';
import { dataDir, freshNames, startKitsune } from '../../../cli/support.ts';

interface Letter {
  position: string;
  event_id: string;
  state: string;
  sqlstate: string | null;
  command: string | null;
  reason: string;
}

interface Listing {
  exists: boolean;
  total: number;
  matched: number;
  letters: Letter[];
  counts: { by_reason: Array<{ value: string; count: number }>; by_sqlstate: Array<{ value: string; count: number }> };
}

test('over HTTP: a dead letter is listed by filter, dry-run, fixed, dry-run again, replayed and followed to success; another is purged', { timeout: 900_000 }, async (t) => {
  const database = await createDatabase();
  const pool = new pg.Pool({ connectionString: database.dsn, max: 2 });
  const kitsune = await startKitsune(t, { ...freshNames(), POSTGRES_DSN: database.dsn, KITSUNE_DATA_DIR: await dataDir(t), KITSUNE_TRACE_URL: 'https://traces.example/trace/{trace_id}?from=kitsune' });
  t.after(async () => {
    await kitsune.stop();
    await pool.end();
    await database.drop();
  });
  const call = async <T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const response = await fetch(`${kitsune.url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as T };
  };
  const createUser = async (name: string, email: string, key: string): Promise<string> => {
    const sent = await call<{ id: string }>('POST', '/execute', { command: 'create_user', version: '1', payload: { name, email }, log: { level: 'INFO', message: 'dlq-http' }, metadata: { idempotency_key: key, source: 'console-test' } });
    assert.equal(sent.status, 202);
    return sent.body.id;
  };
  const outcome = (id: string, status: string) =>
    waitFor(`event ${id} ${status}`, 120_000, async () => {
      const { body } = await call<{ events: Array<{ status: string }> }>('GET', `/events?ids=${id}`);
      return body.events[0]?.status === status ? true : undefined;
    });

  const email = `http-${randomUUID().slice(0, 8)}@example.com`;
  const first = await createUser('Ada', email, `first-${email}`);
  await outcome(first, 'succeeded');
  const second = await createUser('Ada again', email, `second-${email}`);
  await outcome(second, 'dead_lettered');

  // Found by key: the same id the 202 named.
  const byKey = await call<{ events: Array<{ id: string; status: string }> }>('GET', `/events?idempotency_key=${encodeURIComponent(`second-${email}`)}&source=console-test`);
  assert.equal(byKey.status, 200);
  assert.deepEqual(byKey.body.events.map((e) => [e.id, e.status]), [[second, 'dead_lettered']]);
  const noSource = await call<{ error: { code: string; field: string } }>('GET', `/events?idempotency_key=x`);
  assert.deepEqual([noSource.status, noSource.body.error.code, noSource.body.error.field], [400, 'invalid_request', '/source']);

  // The timeline says what happened, step by step.
  const timeline = await call<{ status: string; live: boolean; steps: Array<{ kind: string; summary: string }>; logs: unknown[] }>('GET', `/events/${second}/timeline`);
  assert.equal(timeline.status, 200);
  assert.equal(timeline.body.live, false);
  assert.deepEqual(timeline.body.steps.map((s) => s.kind), ['accepted', 'produced', 'dead_lettered']);
  assert.match(timeline.body.steps[2]!.summary, /users_email_key.*SQLSTATE 23505/);
  const applied = await call<{ steps: Array<{ kind: string }> }>('GET', `/events/${first}/timeline`);
  assert.deepEqual(applied.body.steps.map((s) => s.kind), ['accepted', 'produced', 'executed']);
  // Its log line carries its trace id (the log worker stores it on its own time), linked by KITSUNE_TRACE_URL.
  const traced = await waitFor('the log line in the timeline', 120_000, async () => {
    const { body } = await call<{ trace_id: string | null; trace_url: string | null }>('GET', `/events/${first}/timeline`);
    return body.trace_id === null ? undefined : body;
  });
  assert.match(traced.trace_id!, /^[0-9a-f]{32}$/);
  assert.equal(traced.trace_url, `https://traces.example/trace/${traced.trace_id}?from=kitsune`);

  // Listed, counted, filtered.
  const all = await waitFor('the dead letter in GET /dlq', 60_000, async () => {
    const { body } = await call<Listing>('GET', '/dlq');
    return body.total > 0 ? body : undefined;
  });
  assert.equal(all.total, 1);
  assert.deepEqual(all.counts.by_sqlstate, [{ value: '23505', count: 1 }]);
  assert.match(all.counts.by_reason[0]!.value, /users_email_key/);
  const [letter] = all.letters;
  assert.equal(letter!.event_id, second);
  assert.equal((await call<Listing>('GET', '/dlq?sqlstate=23505&command=create_user&reason=EMAIL_KEY')).body.matched, 1);
  assert.equal((await call<Listing>('GET', '/dlq?sqlstate=23503')).body.matched, 0);
  assert.equal((await call<Listing>('GET', `/dlq?to=${encodeURIComponent('2000-01-01T00:00:00Z')}`)).body.matched, 0);
  const badState = await call<{ error: { field: string } }>('GET', '/dlq?state=lost');
  assert.deepEqual([badState.status, badState.body.error.field], [400, '/state']);

  // Dry run: would fail as it is; after the fix, would succeed; nothing changes either time.
  type DryRun = { outcomes: Array<{ event_id: string; would: string; error: string | null; error_sqlstate: string | null }> };
  const before = await call<DryRun>('POST', '/dlq/dry-run', { ids: [letter!.position] });
  assert.equal(before.status, 200);
  assert.deepEqual(before.body.outcomes.map((o) => [o.event_id, o.would, o.error_sqlstate]), [[second, 'fail', '23505']]);
  await pool.query('UPDATE users SET email = $1 WHERE email = $2', [`moved-${email}`, email]);
  const after = await call<DryRun>('POST', '/dlq/dry-run', { ids: [second] });
  assert.deepEqual(after.body.outcomes.map((o) => [o.event_id, o.would]), [[second, 'succeed']]);
  assert.equal((await pool.query('SELECT 1 FROM users WHERE email = $1', [email])).rowCount, 0, 'a dry run applies nothing');

  const oldOutcome = await call<{ events: Array<{ completed_at: string }> }>('GET', `/events?ids=${second}`);
  const replay = await call<{ since: string; replayed: Array<{ event_id: string }>; held: unknown[] }>('POST', '/dlq/replay', { ids: [second] });
  assert.equal(replay.status, 200);
  assert.deepEqual(replay.body.replayed.map((r) => r.event_id), [second]);
  // The old outcome predates the replay's `since`; the new one does not.
  assert.ok(Date.parse(oldOutcome.body.events[0]!.completed_at) < Date.parse(replay.body.since), 'the dead-lettered outcome is older than the replay');
  await outcome(second, 'succeeded');
  const newOutcome = await call<{ events: Array<{ completed_at: string }> }>('GET', `/events?ids=${second}`);
  assert.ok(Date.parse(newOutcome.body.events[0]!.completed_at) >= Date.parse(replay.body.since), 'the replay\'s outcome is stamped at or after since');
  assert.deepEqual((await pool.query<{ name: string }>('SELECT name FROM users WHERE email = $1', [email])).rows, [{ name: 'Ada again' }]);
  assert.equal((await call<Listing>('GET', '/dlq')).body.total, 0, 'the bookmark moved past the replayed letter');

  // Purge: previewed, then done; the letter is no longer pending.
  const third = await createUser('Ada thrice', email, `third-${email}`);
  await outcome(third, 'dead_lettered');
  await waitFor('the new dead letter', 60_000, async () => ((await call<Listing>('GET', '/dlq')).body.total === 1 ? true : undefined));
  const preview = await call<{ executed: boolean; dropped: number }>('POST', '/dlq/purge', { dry_run: true });
  assert.deepEqual([preview.body.executed, preview.body.dropped], [false, 1]);
  assert.equal((await call<Listing>('GET', '/dlq')).body.total, 1, 'a preview drops nothing');
  const purged = await call<{ executed: boolean; dropped: number }>('POST', '/dlq/purge', {});
  assert.deepEqual([purged.body.executed, purged.body.dropped], [true, 1]);
  assert.equal((await call<Listing>('GET', '/dlq')).body.total, 0);

  const badIds = await call<{ error: { field: string } }>('POST', '/dlq/replay', { ids: [] });
  assert.deepEqual([badIds.status, badIds.body.error.field], [400, '/ids']);
});
