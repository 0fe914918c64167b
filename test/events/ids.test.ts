import assert from 'node:assert/strict';
import { test } from 'node:test';
import { idempotentEventId, newEventId } from '../../src/events/ids.ts';
import { randomBytesPooled } from '../../src/events/random.ts';
import { childTraceparent, parseTraceparent } from '../../src/observability/trace-context.ts';

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-([0-9a-f])[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('an idempotency key gives the same UUIDv5 for the same source, and another for another source', () => {
  const id = idempotentEventId('billing', 'order-42');
  assert.equal(id, idempotentEventId('billing', 'order-42'));
  assert.equal(uuid.exec(id)?.[1], '5');
  assert.notEqual(id, idempotentEventId('payroll', 'order-42'));
  assert.notEqual(idempotentEventId('a', 'bc'), idempotentEventId('ab', 'c'), 'source and key cannot run into each other');
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
  assert.match(childTraceparent(undefined), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
});
