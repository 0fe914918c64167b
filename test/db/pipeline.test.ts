import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pg from 'pg';
import { forgetPreparedStatements, PipelineError, runPipeline } from '../../src/db/pipeline.ts';
import { suitePool } from '../support/database.ts';

describe('runPipeline', () => {
  const database = suitePool(async (dsn) => {
    const opened = new pg.Pool({ connectionString: dsn, max: 2 });
    await opened.query('CREATE TABLE items (id bigserial PRIMARY KEY, name text NOT NULL UNIQUE, tags text[], doc jsonb, flag boolean, n int)');
    return opened;
  });

  /** Runs `body` on a checked-out client and counts the ReadyForQuery messages (one per Sync) it received. */
  async function withClient<T>(body: (client: pg.PoolClient) => Promise<T>): Promise<{ value: T; syncs: number }> {
    const client = await database().connect();
    let syncs = 0;
    const connection = (client as unknown as { connection: pg.Connection }).connection;
    const count = (): void => void syncs++;
    connection.on('readyForQuery', count);
    try {
      return { value: await body(client), syncs };
    } finally {
      connection.off('readyForQuery', count);
      client.release();
    }
  }

  test('runs every statement in one round trip and answers in order, parsed as client.query parses', async () => {
    const { value: results, syncs } = await withClient((client) =>
      runPipeline(client, [
        { text: 'INSERT INTO items (name, n) VALUES ($1, $2) RETURNING id, n', values: ['first', 7] },
        { text: 'INSERT INTO items (name) VALUES ($1)', values: ['second'] },
        { text: "SELECT count(*)::int AS total, now() AS at, '{\"a\":1}'::jsonb AS doc FROM items WHERE name = ANY($1)", values: [['first', 'second']] },
        { text: 'UPDATE items SET flag = true WHERE name IN ($1, $2)', values: ['first', 'second'] },
      ]),
    );
    assert.equal(syncs, 1, 'one Sync for the whole pipeline');
    assert.deepEqual(
      results.map((r) => [r.command, r.rowCount]),
      [['INSERT', 1], ['INSERT', 1], ['SELECT', 1], ['UPDATE', 2]],
    );
    const returned = results[0]!.rows[0]!;
    assert.equal(typeof returned['id'], 'string', 'bigint parses to a string, as pg does');
    assert.equal(returned['n'], 7);
    const selected = results[2]!.rows[0]!;
    assert.equal(selected['total'], 2);
    assert.ok(selected['at'] instanceof Date);
    assert.deepEqual(selected['doc'], { a: 1 });
    assert.deepEqual(results[1]!.rows, []);
  });

  test('binds values exactly as client.query binds them', async () => {
    const values = ['bound', ['x', "o'neil"], { nested: [1, null] }, false, null];
    const text = 'INSERT INTO items (name, tags, doc, flag, n) VALUES ($1, $2, $3, $4, $5) RETURNING name, tags, doc, flag, n';
    const { value: piped } = await withClient((client) => runPipeline(client, [{ text, values }]));
    const direct = await database().query(text.replace('$1', "$1 || '-direct'"), values);
    assert.deepEqual({ ...piped[0]!.rows[0], name: 'bound-direct' }, direct.rows[0]);
  });

  test('arrays arrive in PostgreSQL element for element, whatever their strings hold', async () => {
    const texts = ['', 'NULL', 'a,b', '{braces}', 'quote"inside', 'back\\slash', '\\"both"\\', "o'neil", 'tab\there', 'new\nline', 'émoji 🦊', ' padded '];
    const bytes = [Buffer.from([0, 1, 254, 255]), Buffer.alloc(0), null];
    const { value: results } = await withClient((client) =>
      runPipeline(client, [
        { text: 'SELECT $1::text[] AS texts, $2::bytea[] AS bytes, $3::int8[] AS numbers, $4::bool[] AS flags', values: [[...texts, null], bytes, [1, null, 9007199254740993n], [true, false]] },
      ]),
    );
    const row = results[0]!.rows[0]!;
    assert.deepEqual(row['texts'], [...texts, null]);
    assert.deepEqual(row['bytes'], bytes);
    assert.deepEqual(row['numbers'], ['1', null, '9007199254740993']);
    assert.deepEqual(row['flags'], [true, false]);
  });

  test('a failing statement rejects with its index and its SQLSTATE; the statements after it are skipped', async () => {
    await database().query("INSERT INTO items (name) VALUES ('taken')");
    const { value: outcome, syncs } = await withClient(async (client) => {
      await client.query('BEGIN');
      const error = await runPipeline(client, [
        { text: 'INSERT INTO items (name) VALUES ($1)', values: ['before-the-failure'] },
        { text: 'INSERT INTO items (name) VALUES ($1)', values: ['taken'] },
        { text: 'INSERT INTO items (name) VALUES ($1)', values: ['after-the-failure'] },
      ]).catch((e: unknown) => e);
      const aborted = await client.query('SELECT 1').catch((e: { code?: string }) => e.code);
      await client.query('ROLLBACK');
      const usable = await client.query<{ one: number }>('SELECT 1 AS one');
      return { error, aborted, usable: usable.rows[0]?.one };
    });
    assert.ok(outcome.error instanceof PipelineError);
    assert.equal(outcome.error.index, 1);
    assert.equal((outcome.error.cause as { code?: string }).code, '23505');
    assert.deepEqual(outcome.error.results.map((r) => r.command), ['INSERT'], 'the results of the statements before it are kept');
    assert.equal(outcome.aborted, '25P02', 'the transaction is aborted, as after any failed statement');
    assert.equal(outcome.usable, 1, 'the client is usable after ROLLBACK');
    assert.equal(syncs, 5, 'BEGIN, the pipeline, the refused SELECT, ROLLBACK, SELECT');
    const { rows } = await database().query("SELECT name FROM items WHERE name LIKE '%-the-failure'");
    assert.deepEqual(rows, []);
  });

  test('outside a transaction the statements commit or roll back together', async () => {
    const error = await withClient((client) =>
      runPipeline(client, [
        { text: 'INSERT INTO items (name) VALUES ($1)', values: ['implicit-1'] },
        { text: 'INSERT INTO items (name) VALUES ($1)', values: [null] },
      ]).catch((e: unknown) => e),
    );
    assert.equal((error.value as PipelineError).index, 1);
    assert.equal(((error.value as PipelineError).cause as { code?: string }).code, '23502');
    const { rowCount } = await database().query("SELECT 1 FROM items WHERE name = 'implicit-1'");
    assert.equal(rowCount, 0);
  });

  test('a value pg cannot encode fails the pipeline before anything is sent; the client stays usable', async () => {
    const circular: Record<string, unknown> = {};
    circular['self'] = circular;
    const { value } = await withClient(async (client) => {
      const error = await runPipeline(client, [{ text: 'SELECT $1::jsonb', values: [circular] }]).catch((e: unknown) => e);
      const next = await runPipeline<{ one: number }>(client, [{ text: 'SELECT 1 AS one' }]);
      return { error, one: next[0]!.rows[0]!.one };
    });
    assert.ok(value.error instanceof PipelineError);
    assert.equal(value.one, 1);
  });

  test('an empty pipeline resolves to no results without a round trip', async () => {
    const { value, syncs } = await withClient((client) => runPipeline(client, []));
    assert.deepEqual(value, []);
    assert.equal(syncs, 0);
  });
  test('a named statement is parsed once per connection, and only once the server confirmed its Parse', async () => {
    await withClient(async (client) => {
      const connection = (client as unknown as { connection: pg.Connection }).connection;
      const parses: number[] = [];
      const countParse = (): void => void parses.push(1);
      connection.on('parseComplete', countParse);
      const named = { name: 'test_count_items', text: 'SELECT count(*)::int AS n FROM items WHERE n = $1' };
      const prepared = async (): Promise<string[]> => (await client.query<{ name: string }>('SELECT name FROM pg_prepared_statements')).rows.map((r) => r.name);
      try {
        // It fails before its Parse is reached: the server skips the Parse, so nothing is recorded.
        await assert.rejects(runPipeline(client, [{ text: 'SELECT 1/0' }, { ...named, values: [1] }]), PipelineError);
        assert.deepEqual(await prepared(), []);
        parses.length = 0;
        const first = await runPipeline(client, [{ ...named, values: [1] }, { ...named, values: [2] }]);
        const second = await runPipeline(client, [{ ...named, values: [3] }]);
        assert.deepEqual([...first, ...second].map((r) => r.rowCount), [1, 1, 1]);
        assert.equal(parses.length, 1, 'one Parse for three executions on the connection');
        assert.deepEqual(await prepared(), ['test_count_items']);
        await assert.rejects(runPipeline(client, [{ name: named.name, text: 'SELECT 2' }]), /another text/);

        await forgetPreparedStatements(client);
        assert.deepEqual(await prepared(), []);
        parses.length = 0;
        await runPipeline(client, [{ ...named, values: [4] }]);
        assert.equal(parses.length, 1, 'parsed again after being forgotten');
      } finally {
        connection.off('parseComplete', countParse);
        await forgetPreparedStatements(client);
      }
    });
  });
});
