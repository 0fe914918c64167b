/**
 * Test fixtures for the Postgres log: a fresh schema per test (dropped afterwards), transports on
 * pools whose connections carry a unique application_name (so a test can find and terminate
 * exactly its own backends), and an admin pool for assertions and fault injection.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { createPostgresTransport, type PostgresTransport, type PostgresTransportOptions } from '../../../src/transport/postgres/index.ts';
import type { OutgoingMessage, ReceivedMessage } from '../../../src/transport/types.ts';
import { postgresDsn } from '../../support/services.ts';

export interface LogFixture {
  schema: string;
  /** Not used by any transport: for assertions and for terminating the transports' backends. */
  admin: pg.Pool;
  /** A transport on its own pool (to `dsn`), closed and its pool ended after the test. */
  open(options?: Partial<PostgresTransportOptions>, dsn?: string): PostgresTransport & { applicationName: string; pool: pg.Pool };
  /** Errors the transports reported through onError, in order. */
  errors: Array<{ error: Error; source: string }>;
  /** `schema.table`, quoted, for raw SQL in assertions. */
  table(name: string): string;
}

export const freshSchema = (): string => `log_${randomUUID().replaceAll('-', '')}`;
export const fresh = (prefix: string): string => `${prefix}-${randomUUID()}`;

export function logFixture(t: TestContext): LogFixture {
  const schema = freshSchema();
  const admin = new pg.Pool({ connectionString: postgresDsn(), max: 4 });
  const opened: Array<{ transport: PostgresTransport; pool: pg.Pool }> = [];
  t.after(async () => {
    for (const { transport } of opened) await transport.close();
    for (const { pool } of opened) if (!pool.ended) await pool.end();
    await admin.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
    await admin.end();
  });
  let count = 0;
  const errors: LogFixture['errors'] = [];
  return {
    schema,
    admin,
    errors,
    table: (name) => `${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(name)}`,
    open(options = {}, dsn = postgresDsn()) {
      const applicationName = `${schema}-${++count}`;
      const pool = new pg.Pool({ connectionString: dsn, application_name: applicationName, max: 8, connectionTimeoutMillis: 10_000 });
      const transport = createPostgresTransport({ pool, schema, onError: (error, source) => errors.push({ error, source }), ...options });
      opened.push({ transport, pool });
      return Object.assign(transport, { applicationName, pool });
    },
  };
}

export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    await sleep(20);
  }
}

export function message(seq: number, key?: string): OutgoingMessage {
  return { id: `m-${seq}-${randomUUID()}`, key, value: Buffer.from(String(seq)), headers: { seq: String(seq) } };
}

export const seqOf = (m: ReceivedMessage): number => Number(m.headers.seq);
