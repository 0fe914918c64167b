/**
 * replayDeadLetters on the Postgres log, without a worker: what it publishes, how fast, and where
 * it leaves the bookmark. (The end-to-end flows with a worker are in test/cli.)
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import type { Registry } from '../../src/commands/index.ts';
import { createPostgresDeadLetterLog } from '../../src/dlq/postgres-log.ts';
import { replayHeaders } from '../../src/dlq/records.ts';
import { replayDeadLetters, type ReplayDeps } from '../../src/dlq/replay.ts';
import { createPostgresTransport } from '../../src/transport/postgres/index.ts';
import type { OutgoingMessage, Transport } from '../../src/transport/types.ts';
import { createDatabase } from '../support/database.ts';
import { openDatabase, registry as loadRegistry } from '../apps/db-worker/support.ts';
import { deadLetterOf, userEvent } from './support.ts';

describe('replayDeadLetters on the Postgres log', () => {
  let pool: pg.Pool;
  let transport: Transport;
  let registry: Registry;
  let drop: () => Promise<void>;

  before(async () => {
    const database = await createDatabase();
    drop = database.drop;
    pool = await openDatabase(database.dsn);
    transport = createPostgresTransport({ pool, retention: false });
    registry = await loadRegistry();
  });
  after(async () => {
    await transport.close();
    await pool.end();
    await drop();
  });

  /** A DLQ holding `count` dead letters (plus `extra`), and deps whose publisher records what it is given. */
  async function fixture(count: number, extra: OutgoingMessage[] = []): Promise<{ deps: ReplayDeps; published: Array<{ at: number; messages: OutgoingMessage[] }> }> {
    const dbEvents = `db-events-${randomUUID()}`;
    await transport.ensureTopics([{ name: dbEvents, partitions: 1 }, { name: `${dbEvents}.dlq`, partitions: 1 }]);
    const letters = Array.from({ length: count }, (_, i) => deadLetterOf(i, userEvent(`r${i}@example.com`)).message);
    await transport.publish(`${dbEvents}.dlq`, [...letters, ...extra].map((m) => ({ id: m.id, key: m.key, value: m.value, headers: m.headers })));
    const published: Array<{ at: number; messages: OutgoingMessage[] }> = [];
    const deps: ReplayDeps = {
      log: createPostgresDeadLetterLog(pool),
      pool,
      registry,
      dlqTopic: `${dbEvents}.dlq`,
      group: `test-${randomUUID()}.dlq-replay`,
      targetTopic: dbEvents,
      publisher: {
        publish: async (topic, messages) => {
          published.push({ at: Date.now(), messages: [...messages] });
          await transport.publish(topic, messages);
        },
      },
    };
    return { deps, published };
  }

  const options = { dryRun: false, all: false, maxReplays: 3, force: false, waitMs: 0 } as const;

  test('20 dead letters at --rate 10 take about two seconds, one per 100 ms, and move the bookmark to the end', async () => {
    const { deps, published } = await fixture(20);
    const report = await replayDeadLetters(deps, { ...options, ratePerSecond: 10 });
    const span = published.at(-1)!.at - published[0]!.at;
    assert.equal(report.replayed.length, 20);
    assert.equal(published.length, 20);
    // A lower bound only: pacing can never be faster than the rate; a loaded machine may be slower.
    assert.ok(span >= 1_850, `published over ${span} ms; 10/s allows no less than 1.9 s`);
    assert.deepEqual(report.bookmark, new Map([[0, 20n]]));
    const snapshot = await deps.log.describe(deps.dlqTopic, deps.group);
    assert.equal(snapshot.partitions[0]!.committed, 20n, 'committed in the log');
    const again = await replayDeadLetters(deps, { ...options, ratePerSecond: 10 });
    assert.equal(again.replayed.length, 0, 'nothing left after the bookmark');
  });

  test('what is published is the original record with the replay headers, to the source topic', async () => {
    const { deps, published } = await fixture(1);
    await replayDeadLetters(deps, { ...options, ratePerSecond: 100 });
    const [message] = published[0]!.messages;
    const original = deadLetterOf(0, userEvent('x@example.com'));
    assert.equal(message!.headers?.[replayHeaders.count], '1');
    assert.equal(message!.headers?.traceparent, original.message.headers.traceparent);
    assert.equal(message!.headers?.['kitsune-dlq-reason'], undefined);
    const received: string[] = [];
    const subscription = await transport.subscribe(deps.targetTopic, (m) => Promise.resolve(void received.push(m.id)), { group: `check-${randomUUID()}` });
    try {
      const deadline = Date.now() + 10_000;
      while (received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    } finally {
      await subscription.close();
    }
    assert.deepEqual(received, [message!.id], 'it reached the source topic with its original id');
  });

  test('an invalid dead letter stops the bookmark in front of it while the valid ones after it are replayed', async () => {
    const broken = deadLetterOf(3, userEvent('bad@example.com', { command: 'gone_command' })).message;
    const { deps } = await fixture(3, [broken]);
    const fourth = deadLetterOf(4, userEvent('late@example.com')).message;
    await transport.publish(deps.dlqTopic, [{ id: fourth.id, key: fourth.key, value: fourth.value, headers: fourth.headers }]);
    const report = await replayDeadLetters(deps, { ...options, ratePerSecond: 1_000 });
    assert.equal(report.replayed.length, 4);
    assert.deepEqual(report.bookmark, new Map([[0, 3n]]), 'stops at the invalid one (offset 3)');
    const dry = await replayDeadLetters(deps, { ...options, dryRun: true, ratePerSecond: 1_000 });
    assert.deepEqual(dry.planned.map((p) => p.state), ['invalid', 'pending'], 'the one after it is pending again (not yet applied: no worker here)');
  });
});
