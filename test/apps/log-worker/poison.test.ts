/**
 * Records on app-logs from another producer, in embedded mode (the Postgres log and the
 * PostgreSQL sink): each bad one is dead-lettered with its reason and the good line after it on
 * the same partition is stored. The dead-letter topic lives in PostgreSQL too, so the dead
 * letter itself must hold nothing PostgreSQL refuses.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test, type TestContext } from 'node:test';
import pg from 'pg';
import { createLogWorker } from '../../../src/apps/log-worker/build.ts';
import { createPostgresSink } from '../../../src/apps/log-worker/postgres-sink.ts';
import { kitsuneMigrationsDir, migrate } from '../../../src/db/migrate.ts';
import { encodeEvent, type CommandEvent } from '../../../src/events/envelope.ts';
import { dlqHeaders } from '../../../src/transport/dead-letter.ts';
import { createPostgresTransport } from '../../../src/transport/postgres/index.ts';
import type { ReceivedMessage } from '../../../src/transport/types.ts';
import { createDatabase } from '../../support/database.ts';
import { logEvent, waitFor } from './helpers.ts';

async function embeddedLogWorker(t: TestContext) {
  const database = await createDatabase();
  const pool = new pg.Pool({ connectionString: database.dsn, max: 8 });
  await migrate(pool, [{ dir: kitsuneMigrationsDir, scope: 'kitsune' }]);
  const transport = createPostgresTransport({ pool, retention: false });
  const topic = `app-logs-${randomUUID()}`;
  // One partition: the bad record and the good one after it share it, as the same entity's would.
  await transport.ensureTopics([{ name: topic, partitions: 1 }, { name: `${topic}.dlq`, partitions: 1 }]);
  const worker = createLogWorker({ subscriber: transport, publisher: transport, sink: createPostgresSink({ pool }), topic, group: `log-worker-${topic}` });
  await worker.start();
  const dlq: ReceivedMessage[] = [];
  await transport.subscribe(`${topic}.dlq`, (message) => Promise.resolve(void dlq.push(message)), { group: `reader-${randomUUID()}` });
  t.after(async () => {
    await worker.stop();
    await transport.close();
    await pool.end();
    await database.drop();
  });
  return { pool, transport, topic, dlq };
}

const poisons: Array<{ name: string; field: RegExp; apply: (event: CommandEvent) => void }> = [
  { name: 'a NUL in metadata.timestamp', field: /metadata\.timestamp/, apply: (e) => void (e.metadata.timestamp = '2026-01-01\u0000') },
  { name: 'a NUL in metadata.source', field: /metadata\.source/, apply: (e) => void (e.metadata.source = 'svc\u0000') },
  { name: 'a lone surrogate in log.message', field: /log\.message/, apply: (e) => void (e.log.message = 'half \uDC00 a pair') },
  // Date.parse reads this as July 2001: only ISO 8601 is a timestamp.
  { name: "a metadata.timestamp of 'not a date 7'", field: /metadata\.timestamp is not an ISO 8601/, apply: (e) => void (e.metadata.timestamp = 'not a date 7') },
];

describe('log worker on the Postgres log: records PostgreSQL cannot store', () => {
  for (const { name, field, apply } of poisons) {
    test(`${name} is dead-lettered with its reason, and the next line on its partition is stored`, async (t) => {
      const { pool, transport, topic, dlq } = await embeddedLogWorker(t);
      const bad = logEvent(1);
      apply(bad);
      const good = logEvent(2);
      await transport.publish(topic, [
        { id: bad.id, value: encodeEvent(bad) },
        { id: good.id, value: encodeEvent(good) },
      ]);
      const stored = async (): Promise<boolean> => (await pool.query('SELECT 1 FROM kitsune.logs WHERE event_id = $1', [good.id])).rowCount === 1;
      await waitFor(`the good line ${good.id} stored`, stored, 30_000);
      await waitFor(`the bad record ${bad.id} in the DLQ`, () => dlq.some((m) => m.id === bad.id), 10_000);
      const letter = dlq.find((m) => m.id === bad.id)!;
      assert.match(letter.headers[dlqHeaders.reason] ?? '', field);
      assert.ok(letter.value.equals(encodeEvent(bad)), 'the DLQ keeps the original bytes');
      const { rowCount } = await pool.query('SELECT 1 FROM kitsune.logs WHERE event_id = $1', [bad.id]);
      assert.equal(rowCount, 0, 'the bad line is not stored (changed) in kitsune.logs');
    });
  }
});
