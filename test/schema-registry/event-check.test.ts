/**
 * The DB worker's check of consumed records by the schema id they name, against schemas held by
 * a real registry: validation errors, Confluent framing, ids of other versions, unknown ids, and
 * fetch-by-id caching.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isRetryable } from '../../src/errors.ts';
import { frame, schemaIdHeader } from '../../src/events/wire-format.ts';
import { freePort } from '../../src/cli/ports.ts';
import { createEventSchemaCheck, registerCommandSchemas, type SchemaRegistryClient } from '../../src/schema-registry/index.ts';
import type { ReceivedMessage } from '../../src/transport/types.ts';
import { schemaRegistrySkip } from '../support/services.ts';
import { freshTopic, testClient, userRegistry } from './support.ts';

let offset = 0n;
function record(body: unknown, headers: Record<string, string> = {}, value: Buffer = Buffer.from(JSON.stringify(body))): ReceivedMessage {
  offset += 1n;
  return { topic: 'db-events', partition: 0, offset, id: `db-events/0/${offset}`, key: 'k', value, headers, timestamp: Date.now(), attempt: 1 };
}

function userEvent(version: string, payload: Record<string, unknown>): Record<string, unknown> {
  return {
    id: '0192c4d0-0000-7000-8000-000000000001',
    command: 'create_user',
    version,
    payload,
    log: { level: 'INFO', message: 'x' },
    metadata: { idempotency_key: 'k', timestamp: '2026-01-01T00:00:00Z', source: 'kcat' },
  };
}

/** The real client, counting schema fetches by id. */
function countingClient(): SchemaRegistryClient & { fetches: number[] } {
  const client = testClient();
  const fetches: number[] = [];
  return Object.assign(Object.create(client) as SchemaRegistryClient, {
    fetches,
    schemaById: (id: number) => {
      fetches.push(id);
      return client.schemaById(id);
    },
  });
}

async function setUp() {
  const topic = freshTopic();
  const registry = userRegistry({ 1: {}, 2: { extra: 'team: { type: string }' } });
  const registration = await registerCommandSchemas(registry, testClient(), topic);
  const ids = { v1: registration.schemas.get('create_user\u00001')!.id, v2: registration.schemas.get('create_user\u00002')!.id };
  return { registration, ids };
}

describe('checking consumed records by schema id', { skip: schemaRegistrySkip() }, () => {
  test('passes a record that matches the schema its header names, and rejects one that breaks it with the validation error', async () => {
    const { registration, ids } = await setUp();
    const check = createEventSchemaCheck(testClient(), registration);
    const good = record(userEvent('1', { name: 'Ada', email: 'ada@example.com' }), { [schemaIdHeader]: String(ids.v1) });
    const bad = record(userEvent('1', { name: 'Ada', email: 'not an email' }), { [schemaIdHeader]: String(ids.v1) });
    const rejected = await check([good, bad]);
    assert.deepEqual([...rejected.keys()], [bad]);
    assert.equal(rejected.get(bad)!.code, 'KITSUNE_INVALID_MESSAGE');
    assert.equal(rejected.get(bad)!.reason, `does not match its schema (id ${ids.v1}): /payload/email must match format "email"`);
  });

  test('reads the schema id from Confluent\'s wire format as well', async () => {
    const { registration, ids } = await setUp();
    const check = createEventSchemaCheck(testClient(), registration);
    const framed = (payload: Record<string, unknown>): ReceivedMessage =>
      record(undefined, {}, frame(ids.v2, Buffer.from(JSON.stringify(userEvent('2', payload)))));
    const good = framed({ name: 'Ada', email: 'ada@example.com', team: 'core' });
    const bad = framed({ name: 'Ada', email: 'ada@example.com', team: 7 });
    const rejected = await check([good, bad]);
    assert.deepEqual([...rejected.keys()], [bad]);
    assert.match(rejected.get(bad)!.reason, /\/payload\/team must be string/);
  });

  test('rejects a record naming another version\'s schema, even when its value would satisfy it', async () => {
    const { registration, ids } = await setUp();
    const check = createEventSchemaCheck(testClient(), registration);
    const mislabelled = record(userEvent('1', { name: 'Ada', email: 'ada@example.com' }), { [schemaIdHeader]: String(ids.v2) });
    const rejected = await check([mislabelled]);
    assert.match(rejected.get(mislabelled)!.reason, new RegExp(`^names schema id ${ids.v2}, which is not the schema of create_user v1 \\(id ${ids.v1} in `));
  });

  test('rejects an id the registry does not have, and a header that is not an id', async () => {
    const { registration } = await setUp();
    const check = createEventSchemaCheck(testClient(), registration);
    const unknown = record(userEvent('1', { name: 'Ada', email: 'ada@example.com' }), { [schemaIdHeader]: '999999999' });
    const garbage = record(userEvent('1', { name: 'Ada', email: 'ada@example.com' }), { [schemaIdHeader]: 'seven' });
    const rejected = await check([unknown, garbage]);
    assert.match(rejected.get(unknown)!.reason, /^schema id 999999999 is not in the schema registry at /);
    assert.equal(rejected.get(garbage)!.reason, `header ${schemaIdHeader} is not a schema id: 'seven'`);
  });

  test('leaves a record that names no schema to the worker\'s own check', async () => {
    const { registration } = await setUp();
    const check = createEventSchemaCheck(testClient(), registration);
    assert.equal((await check([record(userEvent('1', { name: '' }))])).size, 0);
  });

  test('fetches a schema it did not register once, however many records name it', async () => {
    const { registration, ids } = await setUp();
    // A worker that booted with only v1 meets v2 records: it fetches v2's schema, once.
    const v1Only = { ...registration, schemas: new Map([...registration.schemas].filter(([key]) => key.endsWith('\u00001'))) };
    const client = countingClient();
    const check = createEventSchemaCheck(client, v1Only);
    const batch = (): ReceivedMessage[] =>
      Array.from({ length: 20 }, (_, i) => record(userEvent('2', { name: 'Ada', email: `a${i}@example.com`, team: 'core' }), { [schemaIdHeader]: String(ids.v2) }));
    assert.equal((await check(batch())).size, 0);
    assert.equal((await check(batch())).size, 0);
    assert.deepEqual(client.fetches, [ids.v2]);
  });

  test('fails retryably, dead-lettering nothing, when the registry cannot be reached for an unknown id', async () => {
    const { registration } = await setUp();
    const unreachable = testClient(`http://127.0.0.1:${await freePort()}/apis/ccompat/v7`);
    const check = createEventSchemaCheck(unreachable, registration);
    const message = record(userEvent('1', { name: 'Ada', email: 'ada@example.com' }), { [schemaIdHeader]: '999999998' });
    await assert.rejects(check([message]), (error: unknown) => {
      assert.ok(isRetryable(error), String(error));
      return true;
    });
  });
});
