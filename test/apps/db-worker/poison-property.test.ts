/**
 * Property: whatever another producer writes to db-events, interleaved with good events on the
 * same partition, every good event succeeds, every bad record is in the DLQ once with a reason,
 * no batch fails (a bad record is never a reason to retry), and the worker keeps consuming.
 * On Kafka and on the Postgres log. fast-check prints the seed and path of a failing run;
 * KITSUNE_FC_SEED=<seed> replays it,
 * KITSUNE_FC_RUNS=<n> searches longer.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type pg from 'pg';
import { pino } from 'pino';
import { createDbWorker, type DbWorker } from '../../../src/apps/db-worker/worker.ts';
import { dlqHeaders } from '../../../src/transport/dead-letter.ts';
import type { ReceivedMessage, Transport } from '../../../src/transport/types.ts';
import { createDatabase } from '../../support/database.ts';
import { recordSequence, type RawRecord } from '../../support/poison.ts';
import { kafkaSkip } from '../../support/services.ts';
import { collect, freshTopics, openDatabase, openTransport, registry, waitFor, type TransportKind } from './support.ts';

const seed = process.env.KITSUNE_FC_SEED === undefined ? undefined : Number(process.env.KITSUNE_FC_SEED);
/** Kept small so the suite stays fast; KITSUNE_FC_RUNS=200 for a longer search. */
const numRuns = Number(process.env.KITSUNE_FC_RUNS ?? 8);

for (const kind of ['kafka', 'postgres'] as const satisfies readonly TransportKind[]) {
  describe(`DB worker on ${kind === 'kafka' ? 'Kafka' : 'the Postgres log'}: arbitrary records from any producer`, { skip: kind === 'kafka' ? kafkaSkip : false }, () => {
    const topics = freshTopics();
    let drop: () => Promise<void>;
    let pool: pg.Pool;
    let transport: Transport;
    let worker: DbWorker;
    let dlq: ReceivedMessage[];
    const warnings: Array<{ msg: string }> = [];

    before(async () => {
      const database = await createDatabase();
      drop = database.drop;
      pool = await openDatabase(database.dsn);
      transport = await openTransport(kind, pool, topics);
      const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line) as { msg: string }) });
      worker = createDbWorker({ transport, pool, registry: await registry(), topics, group: `db-worker-${topics.dbEvents}`, logger });
      await worker.start();
      dlq = await collect(transport, `${topics.dbEvents}.dlq`);
    });
    after(async () => {
      await worker.stop();
      await transport.close();
      await pool.end();
      await drop();
    });

    test('every good event succeeds, every bad record is dead-lettered once with a reason, no batch fails', async () => {
      const statuses = async (ids: readonly string[]): Promise<Map<string, string>> => {
        const { rows } = await pool.query<{ event_id: string; status: string }>('SELECT event_id::text, status FROM kitsune.event_results WHERE event_id = ANY($1::uuid[])', [ids]);
        return new Map(rows.map((row) => [row.event_id, row.status]));
      };
      await fc.assert(
        fc.asyncProperty(recordSequence, async (records: RawRecord[]) => {
          // One entity key for the whole sequence: every record lands on the same partition, in order.
          const key = `entity-${randomUUID()}`;
          await transport.publish(topics.dbEvents, records.map((r) => ({ id: r.id, key, value: r.value })));
          const good = records.filter((r) => r.db === 'ok');
          const bad = records.filter((r) => r.db === 'dead');
          await waitFor('every good event to succeed and every bad one in the DLQ', 60_000, async () => {
            const done = await statuses(good.map((r) => r.eventId!));
            const allGood = good.every((r) => done.get(r.eventId!) === 'succeeded');
            return allGood && bad.every((r) => dlq.some((m) => m.id === r.id)) ? true : undefined;
          });
          for (const record of bad) {
            const letters = dlq.filter((m) => m.id === record.id);
            assert.equal(letters.length, 1, `one dead letter for ${record.description.slice(0, 200)}`);
            assert.ok((letters[0]!.headers[dlqHeaders.reason] ?? '').length > 0, 'with a reason');
            assert.ok(letters[0]!.value.equals(record.value), 'with the raw bytes');
          }
          const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM users WHERE email = ANY($1)', [good.map((r) => r.email!)]);
          assert.equal(Number(rows[0]!.n), good.length, 'each good event applied once');
          assert.deepEqual(warnings.filter((w) => w.msg !== 'event dead-lettered').map((w) => w.msg), [], 'no batch failed, nothing else went wrong');
        }),
        { numRuns, ...(seed === undefined ? {} : { seed }), endOnFailure: true },
      );
      assert.equal(worker.breakerState, 'closed');
    });
  });
}
