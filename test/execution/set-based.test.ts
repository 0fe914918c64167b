/**
 * Set-based execution on a real PostgreSQL: consecutive events of an INSERT … VALUES command run as
 * one statement over unnest arrays, each event gets its own row back, order across commands is the
 * batch's order, and any failure in the set runs the batch again per event, with the same outcomes
 * the per-event path always gave.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import type { CommandEntry, Registry } from '../../src/commands/index.ts';
import { executeBatch, OutcomeStatuses } from '../../src/execution/index.ts';
import { setShapeOf } from '../../src/execution/set-based.ts';
import { createUserEvent, openDatabase, registry as loadRegistry } from '../apps/db-worker/support.ts';
import { createDatabase } from '../support/database.ts';
import { messages, watchedPool } from './support.ts';

const shapeOf = (text: string, parameters: string[]): ReturnType<typeof setShapeOf> => setShapeOf({ text, parameters } as Pick<CommandEntry, 'text' | 'parameters'>);

describe('which SQL runs as a set', () => {
  test('an INSERT … VALUES of parameters, casts and constants has a set form that keeps RETURNING', () => {
    const form = shapeOf('INSERT INTO users (name, email, tags, active)\nVALUES ($1, $2, $3::jsonb, TRUE)\nRETURNING id, name\n', ['name', 'email', 'tags']);
    assert.ok(form);
    assert.match(form.template, /SELECT kitsune_set\.p1, kitsune_set\.p2, kitsune_set\.p3::jsonb, TRUE FROM unnest\(\$1::\{type:1\}\[\], \$2::\{type:2\}\[\], \$3::\{type:3\}\[\]\) WITH ORDINALITY/);
    assert.match(form.template, /ORDER BY kitsune_set\.kitsune_position RETURNING id, name$/);
  });

  test('statements whose events could see or change each other differently as a set run per event', () => {
    const refused = [
      'UPDATE users SET name = $1 WHERE id = $2',
      'INSERT INTO users (name, email) VALUES ($1, $2) ON CONFLICT (email) DO NOTHING',
      'INSERT INTO users (name, email) VALUES ($1, $2), ($3, $4)',
      'INSERT INTO t (n, a) VALUES ((SELECT max(n) + 1 FROM t), $1)',
      'INSERT INTO t (n, a) VALUES (next_number($1), $2)',
      "INSERT INTO t (a, b) VALUES ($1, 'x')",
      'INSERT INTO t (a) VALUES ($1) -- a comment',
      'WITH x AS (SELECT 1) INSERT INTO t (a) VALUES ($1)',
      'INSERT INTO t (a) VALUES ($1) RETURNING $1',
    ];
    for (const text of refused) assert.equal(shapeOf(text, text.includes('$3') ? ['a', 'b', 'c', 'd'] : text.includes('$2') ? ['a', 'b'] : ['a']), undefined, text);
  });
});

describe('set-based execution on PostgreSQL', () => {
  let drop: () => Promise<void>;
  let pool: pg.Pool;
  let registry: Registry;
  /** The texts of every pipelined statement the executor sent, batch by batch. */
  const sent: string[][] = [];
  const message = messages();
  const watched = (): pg.Pool => watchedPool(() => pool, (what) => what.kind === 'pipeline' && sent.push(what.texts));

  const setStatementsIn = (texts: readonly string[]): number => texts.filter((text) => text.includes('kitsune_set')).length;

  before(async () => {
    const database = await createDatabase();
    drop = database.drop;
    pool = await openDatabase(database.dsn);
    registry = await loadRegistry();
  });
  after(async () => {
    await pool.end();
    await drop();
  });

  test('consecutive creates run as one statement and each event gets its own row, in batch order', async () => {
    const events = Array.from({ length: 6 }, (_, i) => createUserEvent(`set-order-${i}@example.com`));
    sent.length = 0;
    const outcomes = await executeBatch(watched(), registry, events.map(message), { maxTransientAttempts: 3 });
    assert.deepEqual(outcomes.map((o) => o.status), events.map(() => OutcomeStatuses.succeeded));
    assert.deepEqual(outcomes.map((o) => (o.rows?.[0] as { email: string }).email), events.map((e) => e.payload.email));
    assert.deepEqual(outcomes.map((o) => o.rowsAffected), events.map(() => 1));
    assert.equal(sent.map(setStatementsIn).reduce((a, b) => a + b, 0), 1, 'one set statement for the six creates');
    const { rows } = await pool.query<{ email: string; result_rows: { email: string }[] }>(
      'SELECT u.email, r.result_rows FROM users u JOIN kitsune.event_results r ON r.result_rows->0->>\'email\' = u.email WHERE u.email LIKE $1 ORDER BY u.id',
      ['set-order-%'],
    );
    assert.deepEqual(rows.map((r) => r.email), events.map((e) => e.payload.email), 'inserted in batch order, each result row its own');
  });

  test('another command between creates splits the set, so statements run in the batch order', async () => {
    const [first] = (await executeBatch(pool, registry, [message(createUserEvent('set-split-a@example.com'))], { maxTransientAttempts: 3 }));
    const id = (first!.rows![0] as { id: string }).id;
    // The update frees the email that the create after it takes: as a set before the update, the create would fail.
    const update = createUserEvent('unused', { command: 'update_user', payload: { id, email: 'set-split-moved@example.com' } });
    const events = [createUserEvent('set-split-b@example.com'), createUserEvent('set-split-c@example.com'), update, createUserEvent('set-split-a@example.com'), createUserEvent('set-split-d@example.com')];
    sent.length = 0;
    const outcomes = await executeBatch(watched(), registry, events.map(message), { maxTransientAttempts: 3 });
    assert.deepEqual(outcomes.map((o) => o.status), events.map(() => OutcomeStatuses.succeeded));
    assert.equal(sent.map(setStatementsIn).reduce((a, b) => a + b, 0), 2, 'the creates before and after the update are two sets');
  });

  test('a failure inside a set runs the batch per event: only the event at fault is dead-lettered', async () => {
    await executeBatch(pool, registry, [message(createUserEvent('set-taken@example.com'))], { maxTransientAttempts: 3 });
    const events = [createUserEvent('set-ok-1@example.com'), createUserEvent('set-taken@example.com'), createUserEvent('set-ok-2@example.com')];
    sent.length = 0;
    const outcomes = await executeBatch(watched(), registry, events.map(message), { maxTransientAttempts: 3 });
    assert.deepEqual(outcomes.map((o) => o.status), [OutcomeStatuses.succeeded, OutcomeStatuses.deadLettered, OutcomeStatuses.succeeded]);
    assert.equal(outcomes[1]!.failure?.sqlstate, '23505');
    assert.equal(sent.map(setStatementsIn).reduce((a, b) => a + b, 0), 1, 'the set was tried first');
    const { rows } = await pool.query<{ count: number }>('SELECT count(*)::int AS count FROM users WHERE email IN ($1, $2)', ['set-ok-1@example.com', 'set-ok-2@example.com']);
    assert.equal(rows[0]!.count, 2, 'the others applied exactly once');
  });
});
