/**
 * Property: whatever a client puts in a payload, the SQL PostgreSQL receives for a command is
 * exactly the registered statement, with the payload's values bound. Read off the wire: the DB
 * worker reaches PostgreSQL through a proxy that parses the protocol (test/faults/pg-wire.ts),
 * so every Parse and Bind it sends is seen as PostgreSQL sees it, a Bind of a statement prepared
 * earlier under a name included.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type pg from 'pg';
import { buildApi } from '../../../src/apps/api/build.ts';
import { createDbWorker, type DbWorker } from '../../../src/apps/db-worker/worker.ts';
import { bindParameters } from '../../../src/commands/bind.ts';
import type { Registry } from '../../../src/commands/index.ts';
import type { Transport } from '../../../src/transport/types.ts';
import { startPgProxy, type PgProxy } from '../../faults/pg-proxy.ts';
import { bindValuesOf, sqlOf, statementNameOf } from '../../faults/pg-wire.ts';
import { createDatabase } from '../../support/database.ts';
import { hostileBody } from '../../support/hostile.ts';
import { kafkaSkip } from '../../support/services.ts';
import { freshTopics, openDatabase, openKafka, registry as loadShippedRegistry, silentLogger, waitFor } from './support.ts';

describe('SQL sent for any payload', { skip: kafkaSkip }, () => {
  const topics = freshTopics();
  let drop: () => Promise<void>;
  let pool: pg.Pool;
  let proxiedPool: pg.Pool;
  let proxy: PgProxy;
  let transport: Transport;
  let registry: Registry;
  let worker: DbWorker;
  /** Per statement sent through the proxy: its text, then the values of the Bind that follows it. */
  const sent: Array<{ text: string; values: Array<string | null> | undefined; name?: string | undefined }> = [];

  before(async () => {
    const database = await createDatabase();
    drop = database.drop;
    pool = await openDatabase(database.dsn);
    proxy = await startPgProxy(database.dsn);
    // Statements the worker prepared under a name: later Binds of them come without a Parse.
    const prepared = new Map<string, string>();
    proxy.onMessage((message) => {
      const text = sqlOf(message);
      const name = statementNameOf(message);
      if (text !== undefined) {
        if (name) prepared.set(name, text);
        sent.push({ text, values: undefined, name });
      }
      const values = bindValuesOf(message);
      if (values === undefined) return;
      const last = sent.at(-1);
      if (last && last.values === undefined && last.name === name) last.values = values;
      else if (name && prepared.has(name)) sent.push({ text: prepared.get(name)!, values, name });
    });
    proxiedPool = await openDatabase(proxy.dsn);
    transport = await openKafka(topics);
    registry = await loadShippedRegistry();
    worker = createDbWorker({ transport, pool: proxiedPool, registry, topics, group: `bound-sql-${randomUUID()}`, logger: silentLogger });
    await worker.start();
  });
  after(async () => {
    await worker.stop();
    await transport.close();
    await proxiedPool.end();
    await proxy.close();
    await pool.end();
    await drop();
  });

  test('is the registered statement with the values bound, never text built from them', async (t) => {
    const app = await buildApi({
      registry,
      publisher: transport,
      topics: { dbEvents: topics.dbEvents, appLogs: topics.dbResults },
      limits: { bodyLimitBytes: 4 * 1_048_576, maxJsonDepth: 16, logMessageMaxBytes: 1024, batchMaxItems: 10, publishTimeoutMs: 10_000 },
      logger: false,
    });
    t.after(() => app.close());
    const commands = [...registry.entries()].map((entry) => ({ command: entry.command, version: entry.version }));
    let bindingsChecked = 0;
    const example = (command: string, payload: Record<string, unknown>, marker: string): [{ command: string; version: string; request: { body: string; marker: string } }] => [
      { command, version: '1', request: { body: JSON.stringify({ command, version: '1', payload }), marker } },
    ];

    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...commands).chain((c) => hostileBody(c.command, c.version, registry.get(c.command, c.version)!.schema).map((request) => ({ ...c, request }))), async ({ command, version, request }) => {
        const { marker } = request;
        const response = await app.inject({ method: 'POST', url: '/execute', headers: { 'content-type': 'application/json' }, payload: request.body });
        assert.ok(response.statusCode < 500, `HTTP ${response.statusCode}: ${response.body.slice(0, 300)}`);
        if (response.statusCode !== 202) return;
        const { id } = response.json<{ id: string }>();
        const outcome = await waitFor(`the outcome of ${id}`, 60_000, async () => {
          const { rows } = await pool.query<{ status: string }>('SELECT status FROM kitsune.event_results WHERE event_id = $1', [id]);
          return rows[0]?.status;
        });
        const entry = registry.get(command, version)!;
        // No statement ever carries a payload's text.
        for (const statement of sent) assert.ok(!statement.text.includes(marker), `payload text reached the SQL: ${statement.text.slice(0, 200)}`);
        if (outcome !== 'succeeded') return;
        const parsed = JSON.parse(request.body) as { payload: Record<string, unknown> };
        const expected = bindParameters(entry.parameters, parsed.payload).map((value) => (value === null ? null : typeof value === 'string' ? value : JSON.stringify(value)));
        const matching = sent.filter((statement) => statement.text === entry.text);
        assert.ok(matching.length > 0, `the registered statement of ${command} v${version} was not sent`);
        assert.ok(
          matching.some((statement) => JSON.stringify(statement.values) === JSON.stringify(expected)),
          `no Bind carried ${JSON.stringify(expected).slice(0, 200)}`,
        );
        bindingsChecked++;
        sent.length = 0;
      }),
      {
        numRuns: 40,
        // Always among the runs: statements that do run, with values a string-built query would execute.
        examples: [
          example('create_user', { name: "zqk1q'); DROP TABLE users; --", email: 'zqk1q@example.com' }, 'zqk1q'),
          example('update_user', { id: 1, name: 'zqk2q $1 :name \\ \'' }, 'zqk2q'),
        ],
      },
    );
    assert.ok(bindingsChecked >= 2, `only ${bindingsChecked} runs reached PostgreSQL`);
  });
});
