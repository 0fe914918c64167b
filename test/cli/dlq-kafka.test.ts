/**
 * Issue 7's acceptance on Kafka, with the real binary: `kitsune start` (KAFKA_BROKERS and
 * POSTGRES_DSN set), `kitsune send`, then a create_user that violates a constraint, its dead
 * letter, the fix, `kitsune dlq replay --dry-run` and `kitsune dlq replay`: applied exactly once.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import pg from 'pg';
import { createKafkaTransport } from '../../src/transport/kafka/index.ts';
import type { ReceivedMessage } from '../../src/transport/types.ts';
import { waitFor } from '../apps/db-worker/support.ts';
import { createDatabase } from '../support/database.ts';
import { kafkaBrokers, kafkaSkip } from '../support/services.ts';
import { dataDir, freshNames, kitsune, kitsuneJson, startKitsune, type RunningKitsune } from './support.ts';

interface Letter {
  event_id: string;
  position: string;
  command: string;
  sqlstate: string | null;
  attempts: number | null;
  source: { topic: string; partition: number; offset: string } | null;
  failed_at: string | null;
  replay_count: number;
  state: string;
  reason: string;
}

interface ReplayJson {
  would_succeed: number | null;
  would_fail: number | null;
  predictions: Array<{ event_id: string; status: string; sqlstate: string | null }> | null;
  replayed: string[];
  duplicates: string[];
  outcomes: Record<string, string> | null;
  bookmark: Record<string, string>;
}

test('on Kafka, a create_user that violates a constraint is dead-lettered, and after the fix a dry run then a replay apply it exactly once', { skip: kafkaSkip, timeout: 900_000 }, async (t) => {
  const instance: { running?: RunningKitsune } = {};
  const database = await createDatabase();
  const pool = new pg.Pool({ connectionString: database.dsn, max: 2 });
  // One hook, in order: hooks run in registration order, and the drop must come last.
  t.after(async () => {
    await instance.running?.stop();
    await pool.end();
    await database.drop();
  });
  const names = freshNames();
  const env = { ...names, KAFKA_BROKERS: kafkaBrokers().join(','), POSTGRES_DSN: database.dsn, KITSUNE_DATA_DIR: await dataDir(t) };
  const running = (instance.running = await startKitsune(t, env));
  const { url } = running;
  const users = async (email: string): Promise<Array<{ name: string }>> =>
    (await pool.query<{ name: string }>('SELECT name FROM users WHERE email = $1', [email])).rows;
  const email = `ada-${randomUUID().slice(0, 8)}@example.com`;
  const send = (name: string): Promise<{ code: number; stdout: string; stderr: string }> =>
    kitsune(['send', 'create_user', '--payload', JSON.stringify({ name, email }), '--wait', '--url', url], env);

  let eventId = '';
  await t.test('kitsune send creates the first user and prints its result', async () => {
    const first = await send('Ada');
    assert.equal(first.code, 0, first.stderr);
    assert.equal((JSON.parse(first.stdout) as { result: { status: string } }).result.status, 'succeeded');
  });

  await t.test('a second create_user with the same email is dead-lettered with SQLSTATE 23505', async () => {
    const second = await send('Ada Lovelace');
    assert.equal(second.code, 1, 'send exits 1 for a dead-lettered command');
    assert.match(second.stderr, /dead-lettered.*kitsune dlq replay/);
    eventId = (JSON.parse(second.stdout) as { id: string }).id;
    const letters = await waitFor('the dead letter', 30_000, async () => {
      const listed = await kitsuneJson<Letter[]>(['dlq', 'list'], env);
      return listed.length > 0 ? listed : undefined;
    });
    assert.equal(letters.length, 1);
    const [letter] = letters;
    assert.equal(letter!.event_id, eventId);
    assert.equal(letter!.command, 'create_user');
    assert.equal(letter!.sqlstate, '23505');
    assert.equal(letter!.attempts, 1);
    assert.equal(letter!.source?.topic, names.KITSUNE_TOPIC_DB_EVENTS);
    assert.ok(letter!.failed_at);
    assert.equal(letter!.state, 'pending');
    const shown = await kitsune(['dlq', 'show', eventId], env);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /sqlstate: +23505/);
    assert.match(shown.stdout, /"name": "Ada Lovelace"/);
    assert.match(shown.stdout, /stored result: dead_lettered/);
  });

  await t.test('before the fix, the dry run says it would fail with the same SQLSTATE and exits 1', async () => {
    const dry = await kitsuneJson<ReplayJson>(['dlq', 'replay', '--dry-run'], env, 1);
    assert.deepEqual([dry.would_succeed, dry.would_fail], [0, 1]);
    assert.equal(dry.predictions?.[0]?.sqlstate, '23505');
  });

  await t.test('after deleting the conflicting row, the dry run says it would succeed and changes nothing', async () => {
    await pool.query('DELETE FROM users WHERE email = $1', [email]);
    const dry = await kitsuneJson<ReplayJson>(['dlq', 'replay', '--dry-run'], env);
    assert.deepEqual([dry.would_succeed, dry.would_fail], [1, 0]);
    assert.equal((await users(email)).length, 0, 'the dry run rolled back');
    const { rows } = await pool.query('SELECT 1 FROM kitsune.idempotency_log WHERE event_id = $1', [eventId]);
    assert.equal(rows.length, 0, 'no idempotency row was left behind');
  });

  await t.test('kitsune dlq replay applies it once and GET /events/:id shows succeeded', async () => {
    const replay = await kitsuneJson<ReplayJson>(['dlq', 'replay', '--wait', '30'], env);
    assert.deepEqual(replay.replayed, [eventId]);
    assert.deepEqual(replay.outcomes, { [eventId]: 'succeeded' });
    assert.deepEqual(replay.bookmark, { 0: '1' });
    assert.deepEqual(await users(email), [{ name: 'Ada Lovelace' }]);
    const view = (await (await fetch(`${url}/events/${eventId}`)).json()) as { status: string };
    assert.equal(view.status, 'succeeded');
  });

  await t.test('a second replay finds nothing pending, and a forced replay of the same event is a duplicate with no effect', async () => {
    const again = await kitsuneJson<ReplayJson>(['dlq', 'replay'], env);
    assert.deepEqual(again.replayed, []);
    const listed = await kitsuneJson<Letter[]>(['dlq', 'list'], env);
    assert.deepEqual(listed, [], 'the bookmark is past it');

    // Bypass every guard of the CLI: the worker's idempotency row is what must hold.
    const transport = createKafkaTransport({ brokers: kafkaBrokers(), clientId: 'dlq-kafka-test' });
    t.after(() => transport.close());
    const results: ReceivedMessage[] = [];
    await transport.subscribe(names.KITSUNE_TOPIC_DB_RESULTS!, (m) => Promise.resolve(void results.push(m)), { group: `results-${randomUUID()}` });
    const forced = await kitsuneJson<ReplayJson>(['dlq', 'replay', '--all', '--force'], env);
    assert.deepEqual(forced.replayed, [eventId]);
    assert.deepEqual(forced.duplicates, [eventId]);
    await waitFor('the duplicate outcome', 30_000, () =>
      results.some((m) => {
        const body = JSON.parse(m.value.toString('utf8')) as { event_id: string; status: string };
        return body.event_id === eventId && body.status === 'duplicate';
      }) || undefined);
    assert.deepEqual(await users(email), [{ name: 'Ada Lovelace' }], 'still one row');
    const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM kitsune.idempotency_log WHERE event_id = $1', [eventId]);
    assert.equal(Number(rows[0]!.n), 1);
  });

  assert.equal(await running.stop(), 0, 'kitsune start exits 0 on SIGTERM');
});
