import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, test, type TestContext } from 'node:test';
import pg from 'pg';
import { checkRegistry, formatCheckFailure, loadRegistry, parseRegistry, type CommandEntry } from '../../src/commands/index.ts';
import { ErrorCodes, KitsuneError } from '../../src/errors.ts';
import { postgresDsn } from '../support/services.ts';

const shippedRegistry = fileURLToPath(new URL('../../commands/registry.yaml', import.meta.url));
const usersMigration = fileURLToPath(new URL('../../migrations/0001_users.sql', import.meta.url));

/** A pool whose sessions see only a fresh schema with the users migration applied; dropped after the test. */
async function usersSchema(t: TestContext): Promise<pg.Pool> {
  const schema = `t_${randomUUID().replaceAll('-', '')}`;
  const admin = new pg.Client({ connectionString: postgresDsn() });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const pool = new pg.Pool({ connectionString: postgresDsn(), options: `-c search_path=${schema}`, max: 2 });
  t.after(async () => {
    await pool.query(`DROP SCHEMA ${schema} CASCADE`);
    await pool.end();
  });
  await pool.query(await readFile(usersMigration, 'utf8'));
  return pool;
}

function entryOf(registry: { get(command: string, version: string): CommandEntry | undefined }, command: string): CommandEntry {
  const entry = registry.get(command, '1');
  assert.ok(entry, `${command} version 1 is registered`);
  return entry;
}

const idSchema = '{ type: object, additionalProperties: false, required: [id], properties: { id: { type: [integer, string] } } }';

describe('checkRegistry against PostgreSQL', () => {
  test('prepares every statement of the shipped registry on the users migration without a failure', async (t) => {
    const pool = await usersSchema(t);
    assert.deepEqual(await checkRegistry(await loadRegistry(shippedRegistry), pool), []);
  });

  test('reports a typo in a column as SQLSTATE 42703, on the registry line that has it', async (t) => {
    const pool = await usersSchema(t);
    const registry = parseRegistry(
      [
        'commands:', // 1
        '  rename_user:', // 2
        '    versions:', // 3
        '      1:', // 4
        '        entity_key: id', // 5
        `        schema: ${idSchema}`, // 6
        '        sql: |', // 7
        '          UPDATE users', // 8
        "             SET nmae = 'x'", // 9
        '           WHERE id = :id', // 10
      ].join('\n'),
      'typo.yaml',
    );
    const failures = await checkRegistry(registry, pool);
    assert.deepEqual(
      failures.map((failure) => [failure.command, failure.version, failure.sqlstate, failure.line]),
      [['rename_user', '1', '42703', 9]],
    );
    assert.match(failures[0]?.message ?? '', /nmae/);
    assert.match(formatCheckFailure(failures[0] ?? assert.fail()), /^typo\.yaml:9: command rename_user version 1: .*nmae.* \(SQLSTATE 42703\)/);
  });

  test('reports every failing statement, not only the first, and passes the good ones', async (t) => {
    const pool = await usersSchema(t);
    const registry = parseRegistry(
      [
        'commands:',
        '  a_missing_table:',
        `    versions: { 1: { entity_key: id, schema: ${idSchema}, sql: 'DELETE FROM no_such_table WHERE id = :id' } }`,
        '  b_untyped_parameter:',
        `    versions: { 1: { entity_key: id, schema: ${idSchema}, sql: 'SELECT 1 WHERE :id IS NULL' } }`,
        '  c_fine:',
        `    versions: { 1: { entity_key: id, schema: ${idSchema}, sql: 'SELECT name FROM users WHERE id = :id' } }`,
        '  d_syntax:',
        `    versions: { 1: { entity_key: id, schema: ${idSchema}, sql: 'SELEC name FROM users WHERE id = :id' } }`,
      ].join('\n'),
      'many.yaml',
    );
    const failures = await checkRegistry(registry, pool);
    assert.deepEqual(
      failures.map((failure) => [failure.command, failure.sqlstate]),
      [
        ['a_missing_table', '42P01'],
        ['b_untyped_parameter', '42P18'],
        ['d_syntax', '42601'],
      ],
    );
  });

  test('leaves no prepared statement behind on the session it used', async (t) => {
    const pool = await usersSchema(t);
    const registry = parseRegistry(
      ['commands:', `  bad: { versions: { 1: { entity_key: id, schema: ${idSchema}, sql: 'SELECT nope FROM users WHERE id = :id' } } }`].join('\n'),
      'bad.yaml',
    );
    const client = await pool.connect();
    try {
      assert.deepEqual(await checkRegistry(await loadRegistry(shippedRegistry), client), []);
      assert.equal((await checkRegistry(registry, client)).length, 1);
      const { rows } = await client.query<{ count: string }>('SELECT count(*) FROM pg_prepared_statements');
      assert.equal(rows[0]?.count, '0');
    } finally {
      client.release();
    }
  });

  test('throws a retryable UNAVAILABLE error when the database cannot be reached', async (t) => {
    const port = await closedPort();
    const pool = new pg.Pool({ host: '127.0.0.1', port, user: 'nobody', database: 'none', connectionTimeoutMillis: 2_000 });
    t.after(() => pool.end());
    await assert.rejects(checkRegistry(await loadRegistry(shippedRegistry), pool), (error: unknown) => {
      assert.ok(error instanceof KitsuneError);
      assert.equal(error.code, ErrorCodes.UNAVAILABLE);
      assert.equal(error.retryable, true);
      return true;
    });
  });
});

describe('the shipped commands on PostgreSQL', () => {
  test('create_user, update_user and delete_user run with bound values and return their rows', async (t) => {
    const pool = await usersSchema(t);
    const registry = await loadRegistry(shippedRegistry);
    const create = entryOf(registry, 'create_user');
    const payload = { name: "Sahil O'Brien", email: 'sahil@example.com' };
    assert.deepEqual(create.validate(payload), { ok: true });
    const created = await pool.query<{ id: string; name: string; email: string; created_at: Date }>(create.text, create.bind(payload));
    assert.equal(created.rowCount, 1);
    const row = created.rows[0] ?? assert.fail('no row returned');
    assert.match(row.id, /^[1-9][0-9]*$/);
    assert.equal(row.name, "Sahil O'Brien");
    assert.equal(row.email, 'sahil@example.com');
    assert.ok(row.created_at instanceof Date);

    // The id comes back as a string (bigint); update_user takes it as given and keeps the unset email.
    const update = entryOf(registry, 'update_user');
    const change = { id: row.id, name: 'Sahil' };
    assert.deepEqual(update.validate(change), { ok: true });
    const updated = await pool.query<{ name: string; email: string }>(update.text, update.bind(change));
    assert.deepEqual(
      updated.rows.map((r) => [r.name, r.email]),
      [['Sahil', 'sahil@example.com']],
    );

    const remove = entryOf(registry, 'delete_user');
    const deleted = await pool.query<{ id: string }>(remove.text, remove.bind({ id: Number(row.id) }));
    assert.deepEqual(deleted.rows, [{ id: row.id }]);
    const { rowCount } = await pool.query('SELECT 1 FROM users');
    assert.equal(rowCount, 0);
  });

  test('a second create_user with the same email fails with unique violation 23505', async (t) => {
    const pool = await usersSchema(t);
    const create = entryOf(await loadRegistry(shippedRegistry), 'create_user');
    const payload = { name: 'A', email: 'same@example.com' };
    await pool.query(create.text, create.bind(payload));
    await assert.rejects(pool.query(create.text, create.bind(payload)), (error: { code?: string }) => error.code === '23505');
  });
});

describe('migrations/0001_users.sql', () => {
  test('refuses an email of the wrong shape or length even when the payload schema is bypassed', async (t) => {
    const pool = await usersSchema(t);
    for (const email of ['no-at-sign', 'two words@example.com', `${'x'.repeat(250)}@example.com`]) {
      await assert.rejects(
        pool.query('INSERT INTO users (name, email) VALUES ($1, $2)', ['A', email]),
        (error: { code?: string; constraint?: string }) => error.code === '23514' && error.constraint === 'users_email_shape',
        email,
      );
    }
  });
});

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  assert.ok(address !== null && typeof address === 'object');
  return address.port;
}
