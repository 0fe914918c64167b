import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { postgresDsn } from '../support/services.ts';

describe('PostgreSQL test server', () => {
  const pool = new pg.Pool({ connectionString: postgresDsn(), max: 4 });
  const schema = `t_${randomUUID().replaceAll('-', '')}`;

  before(async () => {
    await pool.query(`CREATE SCHEMA ${schema}`);
    await pool.query(`CREATE TABLE ${schema}.users (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE)`);
  });
  after(async () => {
    await pool.query(`DROP SCHEMA ${schema} CASCADE`);
    await pool.end();
  });

  test('is a real PostgreSQL server, version 14 or later', async () => {
    const { rows } = await pool.query<{ server_version_num: string }>('SHOW server_version_num');
    assert.ok(Number(rows[0]?.server_version_num) >= 140000, `server_version_num ${rows[0]?.server_version_num}`);
  });

  test('commits durably: synchronous_commit is not off', async () => {
    const { rows } = await pool.query<{ synchronous_commit: string }>('SHOW synchronous_commit');
    assert.notEqual(rows[0]?.synchronous_commit, 'off');
  });

  test('binds parameters, enforces constraints and reports SQLSTATE', async () => {
    const inserted = await pool.query<{ id: string }>(`INSERT INTO ${schema}.users (email) VALUES ($1) RETURNING id`, [
      "o'brien@example.com",
    ]);
    assert.equal(inserted.rowCount, 1);
    await assert.rejects(
      pool.query(`INSERT INTO ${schema}.users (email) VALUES ($1)`, ["o'brien@example.com"]),
      (error: { code?: string }) => error.code === '23505',
    );
  });

  test('rolls back a transaction as a unit', async () => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`INSERT INTO ${schema}.users (email) VALUES ('rolled-back@example.com')`);
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    const { rowCount } = await pool.query(`SELECT 1 FROM ${schema}.users WHERE email = 'rolled-back@example.com'`);
    assert.equal(rowCount, 0);
  });
});
