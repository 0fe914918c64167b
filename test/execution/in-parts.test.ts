/**
 * A batch the fast path failed on runs again in parts, on a real PostgreSQL: halves on the fast
 * path, small parts on the careful path. The event at fault must be the only one dead-lettered or
 * retried, every other event must apply once and in order, and only a small part may run event by
 * event (the careful path costs five round trips per event, the reason for parts at all).
 *
 * planned_step (test/fixtures/app) fails with a planned SQLSTATE and counts its runs in a
 * sequence, which a rollback does not undo: the count says how often the batch ran the event.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import type { Registry } from '../../src/commands/index.ts';
import type { CommandEvent } from '../../src/events/envelope.ts';
import { EventRetryError, executeBatch, OutcomeStatuses } from '../../src/execution/index.ts';
import { openTestAppDatabase, testAppRegistry, testEvent } from '../apps/db-worker/support.ts';
import { createDatabase } from '../support/database.ts';
import { messages, watchedPool } from './support.ts';

describe('a batch the fast path failed on, run again in parts', () => {
  let drop: () => Promise<void>;
  let pool: pg.Pool;
  let registry: Registry;
  /** Every statement text the executor sent, simple queries and pipelined ones alike. */
  const sent: string[] = [];
  const message = messages();
  const watched = (): pg.Pool => watchedPool(() => pool, (what) => sent.push(...(what.kind === 'query' ? [what.text] : what.texts)));

  /** A planned_step that fails with `sqlstate` on every run, and the sequence that counts its runs. */
  const failingStep = async (sqlstate: string): Promise<{ event: CommandEvent; runs: () => Promise<number> }> => {
    const key = `in-parts-${randomUUID()}`;
    const sequence = `runs_${randomUUID().replaceAll('-', '')}`;
    await pool.query(`CREATE SEQUENCE ${sequence}`);
    await pool.query('INSERT INTO planned_failures (key, sqlstate, times, runs) VALUES ($1, $2, $3, $4)', [key, sqlstate, 1_000_000, sequence]);
    const runs = async (): Promise<number> => Number((await pool.query<{ last_value: string; is_called: boolean }>(`SELECT last_value, is_called FROM ${sequence}`)).rows.map((r) => (r.is_called ? r.last_value : 0))[0]);
    return { event: testEvent('planned_step', { key }), runs };
  };

  /** `count` ledger appends to a fresh account, with `step` at `at`. */
  const batchAround = (step: CommandEvent, at: number, count: number): { account: string; events: CommandEvent[] } => {
    const account = `in-parts-${randomUUID()}`;
    const events = Array.from({ length: count }, (_, i) => testEvent('ledger_append', { account, amount: i + 1 }));
    events.splice(at, 0, step);
    return { account, events };
  };

  const ledger = async (account: string): Promise<number[]> =>
    (await pool.query<{ amount: number }>('SELECT amount FROM ledger WHERE account = $1 ORDER BY id', [account])).rows.map((row) => Number(row.amount));

  const carefulEvents = (): number => sent.filter((text) => text === 'SAVEPOINT event').length;
  /** The careful path may take a small part of a batch: at most 5 % of it. */
  const assertFewCareful = (batch: number): void => assert.ok(carefulEvents() <= batch / 20, `${carefulEvents()} of ${batch} events ran the careful way`);

  before(async () => {
    const database = await createDatabase();
    drop = database.drop;
    pool = await openTestAppDatabase(database.dsn);
    registry = await testAppRegistry();
  });
  after(async () => {
    await pool.end();
    await drop();
  });

  test('one event that fails for good among 300: it alone is dead-lettered, the rest apply once and in order, and only a small part runs event by event', async () => {
    const step = await failingStep('22012');
    const { account, events } = batchAround(step.event, 137, 299);
    sent.length = 0;
    const outcomes = await executeBatch(watched(), registry, events.map(message), { maxTransientAttempts: 3 });

    assert.deepEqual(
      outcomes.map((o, i) => (o.status === OutcomeStatuses.succeeded ? 'ok' : `${i}:${o.status}:${o.failure?.sqlstate}`)).filter((s) => s !== 'ok'),
      ['137:dead_lettered:22012'],
    );
    assert.deepEqual(await ledger(account), Array.from({ length: 299 }, (_, i) => i + 1), 'every append once, in batch order');
    assertFewCareful(300);
    // Once on the whole batch, once per halving down to a part of at most 8, once on the careful path.
    assert.ok((await step.runs()) <= Math.ceil(Math.log2(300 / 8)) + 2, `the failing event ran ${await step.runs()} times`);
  });

  test('an event that fails transiently stops the batch there: the events before it commit, those after it wait for the redelivery', async () => {
    const step = await failingStep('40001');
    const { account, events } = batchAround(step.event, 200, 299);
    sent.length = 0;
    const failed = await executeBatch(watched(), registry, events.map(message), { maxTransientAttempts: 3 }).then(
      () => assert.fail('the batch should have stopped at the event that failed transiently'),
      (error: unknown) => error,
    );
    assert.ok(failed instanceof EventRetryError, `an EventRetryError, got ${String(failed)}`);
    assert.equal(failed.index, 200);
    assert.equal(failed.outcomes.length, 200);
    assert.ok(failed.outcomes.every((o) => o.status === OutcomeStatuses.succeeded));
    assert.deepEqual(await ledger(account), Array.from({ length: 200 }, (_, i) => i + 1), 'the 200 appends before it, once each; none after it');
    assertFewCareful(300);
    const attempts = await pool.query<{ attempts: number }>('SELECT attempts FROM kitsune.event_attempts WHERE event_id = $1', [step.event.id]);
    assert.equal(attempts.rows[0]?.attempts, 1, 'its failed attempt is counted, outside the rolled-back work');
  });

  test('a batch with the same key twice still applies it once: the second is a duplicate', async () => {
    const account = `in-parts-${randomUUID()}`;
    const events = Array.from({ length: 40 }, (_, i) => testEvent('ledger_append', { account, amount: i + 1 }));
    events.push({ ...events[5]!, id: events[5]!.id });
    sent.length = 0;
    const outcomes = await executeBatch(watched(), registry, events.map(message), { maxTransientAttempts: 3 });
    assert.equal(outcomes.at(-1)?.status, OutcomeStatuses.duplicate);
    assert.equal(outcomes.filter((o) => o.status === OutcomeStatuses.succeeded).length, 40);
    assert.deepEqual(await ledger(account), Array.from({ length: 40 }, (_, i) => i + 1));
    assertFewCareful(41);
  });
});
