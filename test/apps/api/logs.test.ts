import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { buildApi } from '../../../src/apps/api/build.ts';
import type { LogPage } from '../../../src/contract/http.ts';
import type { LogLine } from '../../../src/apps/log-worker/log-line.ts';
import { createPostgresSink } from '../../../src/apps/log-worker/postgres-sink.ts';
import { loadRegistry } from '../../../src/commands/index.ts';
import { kitsuneMigrationsDir, migrate } from '../../../src/db/migrate.ts';
import type { LogLevel } from '../../../src/events/envelope.ts';
import { newEventId } from '../../../src/events/ids.ts';
import { repoRoot } from '../../../scripts/services/state.ts';
import { createDatabase } from '../../support/database.ts';

const base = Date.parse('2026-03-01T12:00:00.000Z');
const minute = 60_000;

function line(minutes: number, level: LogLevel, command: string, source: string, message: string): LogLine {
  const timestampMs = base + minutes * minute;
  const eventId = newEventId(timestampMs);
  return { eventId, timestampMs, level, command, version: '1', source, message, idempotencyKey: eventId, traceId: undefined };
}

const lines: LogLine[] = [
  line(0, 'INFO', 'create_user', 'svc-a', 'User created'),
  line(1, 'WARN', 'create_user', 'svc-a', 'Slow insert: TIMEOUT close'),
  line(2, 'ERROR', 'delete_user', 'svc-b', 'delete failed: timeout'),
  line(3, 'INFO', 'update_user', 'svc-b', 'progress 100% done'),
  line(4, 'INFO', 'update_user', 'svc-a', 'progress 1000 done'),
  line(5, 'DEBUG', 'create_user', 'svc-b', 'field user_name set'),
  line(6, 'INFO', 'create_user', 'svc-a', 'field username set'),
  // Three lines in the same millisecond: pages must split them without loss or repeat.
  line(7, 'INFO', 'create_user', 'svc-a', 'tie one'),
  line(7, 'INFO', 'create_user', 'svc-a', 'tie two'),
  line(7, 'INFO', 'create_user', 'svc-a', 'tie three'),
];

describe('GET /logs against real PostgreSQL', () => {
  let pool: pg.Pool;
  let drop: () => Promise<void>;
  let app: FastifyInstance;

  const get = async (query: string): Promise<{ status: number; body: LogPage & { error?: { code: string; field?: string } } }> => {
    const response = await app.inject({ method: 'GET', url: `/logs${query}` });
    return { status: response.statusCode, body: response.json() };
  };
  const messages = (page: LogPage): string[] => page.logs.map((log) => log.message);

  before(async () => {
    const database = await createDatabase();
    drop = database.drop;
    pool = new pg.Pool({ connectionString: database.dsn, max: 4 });
    await migrate(pool, [{ dir: kitsuneMigrationsDir, scope: 'kitsune' }]);
    const sink = createPostgresSink({ pool });
    assert.deepEqual(await sink.write(lines), []);
    await sink.close();
    app = await buildApi({
      registry: await loadRegistry(join(repoRoot, 'commands', 'registry.yaml')),
      publisher: { publish: () => Promise.resolve() },
      topics: { dbEvents: 'db-events', appLogs: 'app-logs' },
      limits: { bodyLimitBytes: 65_536, maxJsonDepth: 16, logMessageMaxBytes: 1_024, batchMaxItems: 10, publishTimeoutMs: 1_000 },
      logs: pool,
      logger: false,
    });
  });
  after(async () => {
    await app.close();
    await pool.end();
    await drop();
  });

  test('lists lines newest first with every field of the event', async () => {
    const { status, body } = await get('?limit=3');
    assert.equal(status, 200);
    assert.equal(body.logs.length, 3);
    assert.deepEqual(body.logs.map((log) => log.timestamp), Array.from({ length: 3 }, () => new Date(base + 7 * minute).toISOString()));
    const newestOther = (await get('?command=update_user&limit=1')).body.logs[0];
    const source = lines[4]!;
    assert.deepEqual(newestOther, {
      event_id: source.eventId,
      timestamp: new Date(source.timestampMs).toISOString(),
      level: 'INFO',
      command: 'update_user',
      version: '1',
      source: 'svc-a',
      message: 'progress 1000 done',
      idempotency_key: source.eventId,
      trace_id: null,
    });
  });

  test('filters by level (one or several, any case), command and source', async () => {
    assert.deepEqual(messages((await get('?level=error')).body), ['delete failed: timeout']);
    assert.deepEqual(messages((await get('?level=WARN,error')).body), ['delete failed: timeout', 'Slow insert: TIMEOUT close']);
    assert.deepEqual(messages((await get('?command=update_user')).body), ['progress 1000 done', 'progress 100% done']);
    assert.deepEqual(messages((await get('?source=svc-b&level=INFO')).body), ['progress 100% done']);
  });

  test('filters by event id: the line of that event, any case; an unknown event has none (keys off: nothing to hide)', async () => {
    const wanted = lines[2]!;
    const { status, body } = await get(`?event_id=${wanted.eventId.toUpperCase()}`);
    assert.equal(status, 200);
    assert.deepEqual(body.logs.map((log) => [log.event_id, log.message]), [[wanted.eventId, 'delete failed: timeout']]);
    assert.equal(body.next_cursor, null);
    assert.deepEqual(messages((await get(`?event_id=${wanted.eventId}&source=svc-a`)).body), [], 'the other filters still apply');
    assert.deepEqual((await get(`?event_id=${newEventId(base)}`)).body, { logs: [], next_cursor: null });
  });

  test('filters by a time range that includes from and excludes to', async () => {
    const from = new Date(base + 2 * minute).toISOString();
    const to = new Date(base + 4 * minute).toISOString();
    assert.deepEqual(messages((await get(`?from=${from}&to=${to}`)).body), ['progress 100% done', 'delete failed: timeout']);
    assert.deepEqual(messages((await get('?to=2026-03-01T12:01:00%2B00:00')).body), ['User created'], 'an offset zone works too');
    assert.deepEqual(messages((await get('?to=2026-03-01t12:01:00z')).body), ['User created'], 'lower-case t and z, as RFC 3339 allows');
    const reversed = await get(`?from=${to}&to=${from}`);
    assert.equal(reversed.status, 200);
    assert.deepEqual(reversed.body, { logs: [], next_cursor: null }, 'a range that ends before it starts is empty');
  });

  test('filters by text as a case-insensitive substring in which % and _ are plain characters', async () => {
    assert.deepEqual(messages((await get('?text=timeout')).body), ['delete failed: timeout', 'Slow insert: TIMEOUT close']);
    assert.deepEqual(messages((await get('?text=100%25')).body), ['progress 100% done']);
    assert.deepEqual(messages((await get('?text=user_name')).body), ['field user_name set']);
  });

  test('pages with the cursor through every line exactly once, lines of the same instant included', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor === null ? '?limit=2' : `?limit=2&cursor=${cursor}`;
      const { status, body } = await get(query);
      assert.equal(status, 200);
      seen.push(...body.logs.map((log) => log.event_id));
      cursor = body.next_cursor;
      pages += 1;
    } while (cursor !== null);
    assert.equal(pages, 5);
    assert.equal(seen.length, lines.length);
    assert.deepEqual(new Set(seen), new Set(lines.map((l) => l.eventId)));
    const filtered = await get('?command=create_user&limit=5');
    assert.equal(filtered.body.logs.length, 5);
    const rest = await get(`?command=create_user&limit=5&cursor=${filtered.body.next_cursor}`);
    assert.deepEqual(messages(rest.body), ['Slow insert: TIMEOUT close', 'User created']);
    assert.equal(rest.body.next_cursor, null);
  });

  test('bad parameters get 400 invalid_request naming the parameter at fault', async () => {
    const cases: Array<[string, string]> = [
      ['?lvl=INFO', '/lvl'],
      ['?level=LOUD', '/level'],
      ['?limit=0', '/limit'],
      ['?limit=5000', '/limit'],
      ['?limit=ten', '/limit'],
      ['?from=2026-03-01T12:00:00', '/from'],
      ['?from=yesterday', '/from'],
      ['?cursor=bm90LWEtY3Vyc29y', '/cursor'],
      ['?command=a&command=b', '/command'],
      [`?text=${'x'.repeat(300)}`, '/text'],
      // PostgreSQL text cannot hold NUL: this was a 500 (invalid byte sequence for encoding "UTF8": 0x00).
      ['?command=%00', '/command'],
      ['?text=a%00', '/text'],
      ['?event_id=not-an-id', '/event_id'],
    ];
    for (const [query, field] of cases) {
      const { status, body } = await get(query);
      assert.equal(status, 400, query);
      assert.equal(body.error?.code, 'invalid_request', query);
      assert.equal(body.error?.field, field, query);
    }
  });
});
