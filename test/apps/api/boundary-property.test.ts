/**
 * Property: no body a client can send makes the API answer 5xx or fall over. Generated bodies:
 * hostile payloads for every registered command (test/support/hostile.ts), arbitrary JSON,
 * arbitrary bytes declared as JSON, with arbitrary Idempotency-Key headers. The memory transport
 * stands in for the broker: this is about the HTTP boundary.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { buildApi } from '../../../src/apps/api/build.ts';
import { loadRegistry } from '../../../src/commands/index.ts';
import { MemoryTransport } from '../../../src/transport/memory/index.ts';
import { repoRoot } from '../../../scripts/services/state.ts';
import { hostileBody } from '../../support/hostile.ts';

test('POST /execute answers every generated body with a status below 500, and the API still serves', async (t) => {
  const transport = new MemoryTransport();
  const topics = { dbEvents: 'db-events', appLogs: 'app-logs' };
  await transport.ensureTopics([{ name: topics.dbEvents, partitions: 3 }, { name: topics.appLogs, partitions: 1 }]);
  const registry = await loadRegistry(join(repoRoot, 'commands', 'registry.yaml'));
  const app = await buildApi({
    registry,
    publisher: transport,
    topics,
    limits: { bodyLimitBytes: 2 * 1_048_576, maxJsonDepth: 32, logMessageMaxBytes: 16_384, batchMaxItems: 50, publishTimeoutMs: 5_000 },
    logger: false,
  });
  t.after(async () => {
    await app.close();
    await transport.close();
  });
  const commands = [...registry.entries()];
  const body = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...commands).chain((entry) => hostileBody(entry.command, entry.version, entry.schema)).map((b) => b.body) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 6 }).map((value) => JSON.stringify(value) ?? 'null') },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 512 }).map((bytes) => Buffer.from(bytes).toString('latin1')) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) },
  );
  const key = fc.option(fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 300 }), { nil: undefined });
  const url = fc.constantFrom('/execute', '/execute/batch', '/execute?wait=1', '/execute?x=%00');

  await fc.assert(
    fc.asyncProperty(body, key, url, async (payload, idempotencyKey, path) => {
      const response = await app.inject({
        method: 'POST',
        url: path,
        headers: { 'content-type': 'application/json', ...(idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey }) },
        payload,
      });
      assert.ok(response.statusCode < 500, `HTTP ${response.statusCode} for ${payload.slice(0, 200)}: ${response.body.slice(0, 300)}`);
    }),
    { numRuns: 300 },
  );
  assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
});
