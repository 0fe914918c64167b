import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate } from 'node:timers/promises';
import pg from 'pg';
import { freshDatabase } from '../support/database.ts';
import { startPgProxy } from './pg-proxy.ts';
import { bindValuesOf, FrontendMessageReader, isCommit, sqlOf } from './pg-wire.ts';

test('the wire reader finds messages however the bytes are split, and reads Query, Parse and Bind', () => {
  const startup = Buffer.alloc(8);
  startup.writeInt32BE(8, 0);
  startup.writeInt32BE(196_608, 4);
  const typed = (type: string, body: Buffer): Buffer => {
    const header = Buffer.alloc(5);
    header.write(type, 0);
    header.writeInt32BE(body.length + 4, 1);
    return Buffer.concat([header, body]);
  };
  const query = typed('Q', Buffer.from('COMMIT\0'));
  const parse = typed('P', Buffer.concat([Buffer.from('\0SELECT $1, $2\0'), Buffer.from([0, 0])]));
  const value = Buffer.from("it's; $1");
  const lengths = Buffer.alloc(10);
  lengths.writeInt16BE(0, 0); // no format codes
  lengths.writeInt16BE(2, 2); // two values
  lengths.writeInt32BE(value.length, 4);
  const nullValue = Buffer.alloc(4);
  nullValue.writeInt32BE(-1, 0);
  const bind = typed('B', Buffer.concat([Buffer.from('\0\0'), lengths.subarray(0, 8), value, nullValue, Buffer.from([0, 0])]));
  const stream = Buffer.concat([startup, query, parse, bind]);
  for (const cut of [1, 3, 9, 14, stream.length - 1]) {
    const reader = new FrontendMessageReader();
    const messages = [...reader.push(stream.subarray(0, cut)), ...reader.push(stream.subarray(cut))];
    assert.deepEqual(messages.map((m) => m.type), ['', 'Q', 'P', 'B'], `split at ${cut}`);
    assert.equal(sqlOf(messages[1]!), 'COMMIT');
    assert.equal(sqlOf(messages[2]!), 'SELECT $1, $2');
    assert.deepEqual(bindValuesOf(messages[3]!), ["it's; $1", null]);
  }
  assert.ok(isCommit('commit') && isCommit(' END TRANSACTION;') && !isCommit('COMMIT PREPARED \'x\'') && !isCommit('SELECT 1'));
});

test('an armed proxy forwards COMMIT, then cuts the connection: the client errs, the transaction committed', async (t) => {
  const dsn = await freshDatabase(t);
  const proxy = await startPgProxy(dsn);
  t.after(() => proxy.close());
  const direct = new pg.Client({ connectionString: dsn });
  await direct.connect();
  await direct.query('CREATE TABLE ambiguous (n int)');

  const client = new pg.Client({ connectionString: proxy.dsn });
  client.on('error', () => undefined);
  await client.connect();
  await client.query('BEGIN');
  await client.query('INSERT INTO ambiguous VALUES (1)');
  const dropped = proxy.armCommitDrop();
  await assert.rejects(client.query('COMMIT'), /Connection terminated|ECONNRESET/);
  await dropped;
  assert.equal(proxy.ambiguousCommits, 1);
  // The outcome is settled once the server process of that connection is gone.
  const backend = (client as unknown as { processID: number }).processID;
  while ((await direct.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [backend])).rowCount !== 0) await setImmediate();
  // PostgreSQL read the COMMIT before the end of input: the row is there.
  const { rows } = await direct.query<{ n: number }>('SELECT n FROM ambiguous');
  assert.deepEqual(rows, [{ n: 1 }]);

  // Disarmed again: the next transaction commits and answers normally.
  const again = new pg.Client({ connectionString: proxy.dsn });
  await again.connect();
  await again.query('BEGIN');
  await again.query('INSERT INTO ambiguous VALUES (2)');
  await again.query('COMMIT');
  assert.equal((await direct.query<{ n: number }>('SELECT count(*)::int AS n FROM ambiguous')).rows[0]?.n, 2);
  // Closed here, before the database is dropped (hooks run after the test body).
  await Promise.all([again.end(), direct.end()]);
});
