/**
 * The registry client's deadline covers the whole answer. A registry that never answers, or sends
 * its headers and then stalls mid-body, is "unavailable" (retryable, naming the registry), never an
 * AbortSignal error escaping as an internal error at boot. The stalling server is a loopback
 * socket the test controls: no real registry misbehaves on demand.
 */
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { ErrorCodes, KitsuneError } from '../../src/errors.ts';
import { createSchemaRegistryClient } from '../../src/schema-registry/index.ts';

const held: ServerResponse[] = [];
const server = createServer((request, response) => {
  held.push(response);
  if (request.url?.includes('/versions')) {
    // Headers and the first bytes of a JSON array, then nothing.
    response.writeHead(200, { 'content-type': 'application/vnd.schemaregistry.v1+json' });
    response.write('[1,');
  }
  // Any other path: no answer at all.
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
after(() => {
  for (const response of held) response.destroy();
  server.close();
});

const client = createSchemaRegistryClient({ url, timeoutMs: 300 });

async function unavailable(call: Promise<unknown>, what: RegExp): Promise<void> {
  const error = await call.then(() => undefined, (caught: unknown) => caught);
  assert.ok(error instanceof KitsuneError, `expected a KitsuneError, got ${String(error)}`);
  assert.equal(error.code, ErrorCodes.UNAVAILABLE);
  assert.equal(error.retryable, true);
  assert.match(error.message, what);
}

test('a registry that sends its headers and then stalls mid-body is unavailable, named, and retryable', async () => {
  await unavailable(client.versions('db-events-create_user'), /schema registry GET .*\/subjects\/db-events-create_user\/versions/);
});

test('a registry that never answers is unavailable, named, and retryable', async () => {
  await unavailable(client.schemaById(7), /schema registry GET .*\/schemas\/ids\/7/);
});
