/**
 * `kitsune dlq` on the Postgres log (no KAFKA_BROKERS), with the real binary: the acceptance flow
 * of issue 7, then the loop guard, re-validation against a changed registry, the replay lock and
 * purge.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import pg from 'pg';
import { createPostgresTransport } from '../../src/transport/postgres/index.ts';
import type { ReceivedMessage } from '../../src/transport/types.ts';
import { waitFor } from '../apps/db-worker/support.ts';
import { createDatabase } from '../support/database.ts';
import { dataDir, freshNames, kitsune, kitsuneJson, startKitsune, type Env, type RunningKitsune } from './support.ts';

interface Letter {
  event_id: string;
  position: string;
  sqlstate: string | null;
  replay_count: number;
  state: string;
  detail: string | null;
}

interface ReplayJson {
  would_succeed: number | null;
  would_fail: number | null;
  replayed: string[];
  duplicates: string[];
  outcomes: Record<string, string> | null;
  states: Record<string, number>;
}

interface Instance {
  env: Env;
  url: string;
  pool: pg.Pool;
  users(email: string): Promise<string[]>;
  /** Sends create_user through `kitsune send --wait`; resolves with the event id. */
  createUser(name: string, email: string): Promise<{ id: string; code: number }>;
}

/** `kitsune start` on the Postgres log in a fresh database, torn down in order when the test ends. */
async function instance(t: TestContext): Promise<Instance> {
  const started: { running?: RunningKitsune } = {};
  const database = await createDatabase();
  const pool = new pg.Pool({ connectionString: database.dsn, max: 2 });
  t.after(async () => {
    await started.running?.stop();
    await pool.end();
    await database.drop();
  });
  const env: Env = { ...freshNames(), POSTGRES_DSN: database.dsn, KITSUNE_DATA_DIR: await dataDir(t) };
  const running = (started.running = await startKitsune(t, env));
  const url = running.url;
  return {
    env,
    url,
    pool,
    users: async (email) => (await pool.query<{ name: string }>('SELECT name FROM users WHERE email = $1 ORDER BY id', [email])).rows.map((r) => r.name),
    createUser: async (name, email) => {
      const sent = await kitsune(['send', 'create_user', '--payload', JSON.stringify({ name, email }), '--wait', '--url', url], env);
      return { id: (JSON.parse(sent.stdout) as { id: string }).id, code: sent.code };
    },
  };
}

const pendingLetters = (env: Env): Promise<Letter[]> => kitsuneJson<Letter[]>(['dlq', 'list'], env);

test('on the Postgres log, a constraint violation is dead-lettered, and after the fix a dry run then a replay apply it exactly once', { timeout: 900_000 }, async (t) => {
  const kit = await instance(t);
  const email = `grace-${randomUUID().slice(0, 8)}@example.com`;
  assert.equal((await kit.createUser('Grace', email)).code, 0);
  const failed = await kit.createUser('Grace Hopper', email);
  assert.equal(failed.code, 1, 'dead-lettered');

  const letters = await waitFor('the dead letter', 120_000, async () => ((await pendingLetters(kit.env)).length > 0 ? pendingLetters(kit.env) : undefined));
  assert.equal(letters.length, 1);
  assert.equal(letters[0]!.event_id, failed.id);
  assert.equal(letters[0]!.sqlstate, '23505');

  const before = await kitsuneJson<ReplayJson>(['dlq', 'replay', '--dry-run'], kit.env, 1);
  assert.deepEqual([before.would_succeed, before.would_fail], [0, 1]);

  await kit.pool.query('DELETE FROM users WHERE email = $1', [email]);
  const dry = await kitsune(['dlq', 'replay', '--dry-run'], kit.env);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /would succeed: 1\n {2}would fail: {4}0/);
  assert.deepEqual(await kit.users(email), [], 'the dry run changed nothing');

  const replay = await kitsuneJson<ReplayJson>(['dlq', 'replay', '--wait', '30'], kit.env);
  assert.deepEqual(replay.outcomes, { [failed.id]: 'succeeded' });
  assert.deepEqual(await kit.users(email), ['Grace Hopper']);

  assert.deepEqual((await kitsuneJson<ReplayJson>(['dlq', 'replay'], kit.env)).replayed, [], 'a second replay finds nothing');
  const transport = createPostgresTransport({ pool: kit.pool, retention: false });
  t.after(() => transport.close());
  const results: ReceivedMessage[] = [];
  await transport.subscribe(kit.env.KITSUNE_TOPIC_DB_RESULTS!, (m) => Promise.resolve(void results.push(m)), { group: `results-${randomUUID()}` });
  const forced = await kitsuneJson<ReplayJson>(['dlq', 'replay', '--all', '--force'], kit.env);
  assert.deepEqual(forced.duplicates, [failed.id]);
  await waitFor('the duplicate outcome', 120_000, () =>
    results.some((m) => {
      const body = JSON.parse(m.value.toString('utf8')) as { event_id: string; status: string };
      return body.event_id === failed.id && body.status === 'duplicate';
    }) || undefined);
  assert.deepEqual(await kit.users(email), ['Grace Hopper'], 'still one row after a forced second replay');
});

test('the loop guard holds an event replayed three times, re-validation holds events the registry no longer accepts, and purge drops what is left', { timeout: 900_000 }, async (t) => {
  const kit = await instance(t);
  const email = `linus-${randomUUID().slice(0, 8)}@example.com`;
  await kit.createUser('Linus', email);
  const failing = await kit.createUser('Linus T', email);
  await waitFor('the dead letter', 120_000, async () => ((await pendingLetters(kit.env)).length > 0 ? true : undefined));

  await t.test('each replay of an event that still fails brings it back with its replay count raised', async () => {
    for (let round = 1; round <= 3; round++) {
      const replay = await kitsuneJson<ReplayJson>(['dlq', 'replay', '--wait', '30'], kit.env, 1);
      assert.deepEqual(replay.outcomes, { [failing.id]: 'dead_lettered' }, `round ${round}`);
      const letters = await waitFor(`dead letter of round ${round}`, 120_000, async () => {
        const listed = await pendingLetters(kit.env);
        return listed.some((l) => l.replay_count === round) ? listed : undefined;
      });
      assert.equal(letters.length, 1, 'only the newest dead letter of the event is pending');
    }
  });

  await t.test('the fourth replay is refused by the loop guard until --force', async () => {
    const [letter] = await pendingLetters(kit.env);
    assert.equal(letter!.state, 'exhausted');
    const held = await kitsune(['dlq', 'replay'], kit.env);
    assert.equal(held.code, 1);
    assert.match(held.stdout, /held by the loop guard/);
    assert.match(held.stdout, /--force/);
    const forced = await kitsune(['dlq', 'replay', '--force', '--wait', '30'], kit.env);
    assert.equal(forced.code, 1, forced.stderr);
    assert.match(forced.stdout, /outcomes: 0 succeeded, 1 failed again/);
    assert.match(forced.stdout, new RegExp(`${failing.id} create_user v1 failed again: duplicate key value violates unique constraint .*\\(SQLSTATE 23505\\)`), 'with its reason');
  });

  await t.test('an event whose version left the registry is reported as not replayable, with the known versions', async () => {
    await waitFor('the fifth dead letter', 120_000, async () => ((await pendingLetters(kit.env)).some((l) => l.replay_count === 4) ? true : undefined));
    const registry = join(kit.env.KITSUNE_DATA_DIR!, 'registry-v2.yaml');
    await writeFile(registry, registryWithOnlyVersion2);
    const env = { ...kit.env, KITSUNE_REGISTRY: registry };
    const [letter] = await pendingLetters(env);
    assert.equal(letter!.state, 'invalid');
    assert.match(letter!.detail ?? '', /create_user has no version 1 in the current registry \(known: 2\)/);
    const replay = await kitsune(['dlq', 'replay', '--force'], env);
    assert.equal(replay.code, 1);
    assert.match(replay.stdout, /not replayable under the current registry/);
  });

  await t.test('a replay while another holds the lock is refused with what to do', async () => {
    const holder = await kit.pool.connect();
    try {
      await holder.query("SELECT pg_advisory_lock(hashtext('kitsune.dlq-replay'), hashtext($1))", [`${kit.env.KAFKA_GROUP_ID}.dlq-replay/${kit.env.KITSUNE_TOPIC_DB_EVENTS}.dlq`]);
      const refused = await kitsune(['dlq', 'replay', '--force'], kit.env);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /another `kitsune dlq replay` or `purge` is running/);
    } finally {
      holder.release(true);
    }
  });

  await t.test('purge without --yes only says what it would drop; with --yes the DLQ is empty and the records stay listed as handled', async () => {
    const preview = await kitsune(['dlq', 'purge'], kit.env);
    assert.equal(preview.code, 1);
    assert.match(preview.stdout, /would purge 1 dead letter/);
    assert.match(preview.stdout, /--yes/);
    assert.equal((await pendingLetters(kit.env)).length, 1, 'nothing dropped');
    const early = await kitsune(['dlq', 'purge', '--before', '2000-01-01T00:00:00Z', '--yes'], kit.env);
    assert.match(early.stdout, /nothing to purge/);
    const purged = await kitsune(['dlq', 'purge', '--yes'], kit.env);
    assert.equal(purged.code, 0, purged.stderr);
    assert.deepEqual(await pendingLetters(kit.env), []);
    const all = await kitsuneJson<Letter[]>(['dlq', 'list', '--all'], kit.env);
    assert.equal(all.length, 5, 'the first failure and the dead letters of its four replays');
    assert.ok(all.every((l) => l.state === 'handled'));
  });
});

const registryWithOnlyVersion2 = `commands:
  create_user:
    versions:
      2:
        entity_key: email
        returning: true
        schema:
          type: object
          additionalProperties: false
          required: [name, email]
          properties:
            name: { type: string }
            email: { type: string }
        sql: INSERT INTO users (name, email) VALUES (:name, :email) RETURNING id
`;
