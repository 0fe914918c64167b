import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventIds } from '../../src/events/event-ids.ts';
import { newEventId } from '../../src/events/ids.ts';
import { randomBytesPooled } from '../../src/events/random.ts';
import { childTraceparent, parseTraceparent } from '../../src/observability/trace-context.ts';

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-([0-9a-f])[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const ids = new EventIds(Buffer.alloc(32, 7));

test('an idempotency key gives the same id for the same source, another for another source, and another under another secret', () => {
  const id = ids.idempotent('billing', 'order-42');
  assert.equal(id, ids.idempotent('billing', 'order-42'));
  assert.equal(uuid.exec(id)?.[1], '8');
  assert.notEqual(id, ids.idempotent('payroll', 'order-42'));
  assert.notEqual(ids.idempotent('a', 'bc'), ids.idempotent('ab', 'c'), 'source and key cannot run into each other');
  assert.notEqual(new EventIds(Buffer.alloc(32, 8)).idempotent('billing', 'order-42'), id, 'without the secret the id cannot be computed');
});

test('an id says which source it was issued to, and nothing else passes for one', () => {
  for (const id of [ids.idempotent('billing', 'order-42'), ids.idempotent('billing', newEventId())]) {
    assert.equal(ids.issuedTo(id, 'billing'), true);
    assert.equal(ids.issuedTo(id.toUpperCase(), 'billing'), true, 'in either case');
    assert.equal(ids.issuedTo(id, 'payroll'), false, 'not to another source');
    assert.equal(new EventIds(Buffer.alloc(32, 8)).issuedTo(id, 'billing'), false, 'not under another secret');
    const flipped = `${id.slice(0, 35)}${id[35] === '0' ? '1' : '0'}`;
    assert.equal(ids.issuedTo(flipped, 'billing'), false, 'not with one digit changed');
  }
  assert.equal(ids.issuedTo(newEventId(), 'billing'), false, 'not a UUIDv7');
  assert.equal(ids.issuedTo('not-a-uuid', 'billing'), false);
  assert.throws(() => new EventIds(Buffer.alloc(16)), /at least 32 bytes/);
});


test('new event ids are UUIDv7: unique, and ordered by their millisecond', () => {
  const ids = Array.from({ length: 5_000 }, (_, i) => newEventId(1_800_000_000_000 + Math.floor(i / 10)));
  assert.equal(new Set(ids).size, ids.length);
  for (const id of ids) assert.equal(uuid.exec(id)?.[1], '7', id);
  const prefixes = ids.map((id) => id.slice(0, 13));
  assert.deepEqual(prefixes, [...prefixes].sort(), 'the timestamp prefix sorts in time order');
});

test('the random pool hands out fresh bytes across refills', () => {
  const seen = new Set(Array.from({ length: 2_000 }, () => randomBytesPooled(16).toString('hex')));
  assert.equal(seen.size, 2_000, '2,000 draws of 16 bytes (about four refills of the pool) never repeat');
  const a = randomBytesPooled(8);
  a.fill(0);
  assert.notDeepEqual(randomBytesPooled(8), a, 'callers get copies, not views of the pool');
});

test('a child traceparent continues the caller\'s trace and a missing one starts a new trace', () => {
  const parent = parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
  assert.ok(parent);
  const child = parseTraceparent(childTraceparent(parent));
  assert.equal(child?.traceId, parent.traceId);
  assert.notEqual(child?.spanId, parent.spanId);
  assert.equal(parseTraceparent('00-00000000000000000000000000000000-00f067aa0ba902b7-01'), undefined, 'an all-zero trace id is invalid');
  assert.deepEqual(parseTraceparent(' 00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01 '), parent, 'another producer may send upper case and spaces');
  assert.equal(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0'), undefined);
  assert.match(childTraceparent(undefined), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
});
