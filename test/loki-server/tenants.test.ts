import assert from 'node:assert/strict';
import { test } from 'node:test';
import { noAuthTenant } from '../support/loki/index.ts';
import { linesOf, nowNs, push, queryRange, startLoki, stream } from './helpers.ts';

const kitsune = { service: 'kitsune' };

test('tenants are kept apart for writes and reads', async (t) => {
  const loki = await startLoki(t, { requireTenant: true });
  const ts = nowNs();

  await push(loki, [stream(kitsune, [ts, 'for team a'])], { tenant: 'team-a' });
  await push(loki, [stream(kitsune, [ts, 'for team b'])], { tenant: 'team-b' });

  assert.deepEqual(linesOf(await queryRange(loki, '{service="kitsune"}', { tenant: 'team-a' })), ['for team a']);
  assert.deepEqual(linesOf(await queryRange(loki, '{service="kitsune"}', { tenant: 'team-b' })), ['for team b']);
  assert.deepEqual(linesOf(await queryRange(loki, '{service="kitsune"}', { tenant: 'team-c' })), []);
  assert.deepEqual(
    loki.entries('team-a').map((entry) => entry.line),
    ['for team a'],
  );
  assert.deepEqual(new Set(loki.entries().map((entry) => entry.tenant)), new Set(['team-a', 'team-b']));
});

test('the same entry pushed by two tenants is stored for each, not deduplicated across them', async (t) => {
  const loki = await startLoki(t);
  const body = [stream(kitsune, [nowNs(), 'same line'])];

  await push(loki, body, { tenant: 'team-a' });
  await push(loki, body, { tenant: 'team-b' });

  assert.equal(loki.entries().length, 2);
});

test('without requireTenant a request lacking X-Scope-OrgID belongs to the fake tenant', async (t) => {
  const loki = await startLoki(t);

  const answer = await push(loki, [stream(kitsune, [nowNs(), 'anonymous'])]);

  assert.equal(answer.status, 204);
  assert.equal(noAuthTenant, 'fake');
  assert.deepEqual(
    loki.entries(noAuthTenant).map((entry) => entry.line),
    ['anonymous'],
  );
  assert.deepEqual(linesOf(await queryRange(loki, '{service="kitsune"}')), ['anonymous']);
});

test('with requireTenant a push or query without X-Scope-OrgID is 401 no org id, as Loki with auth enabled answers', async (t) => {
  const loki = await startLoki(t, { requireTenant: true });

  const pushed = await push(loki, [stream(kitsune, [nowNs(), 'anonymous'])]);
  const queried = await queryRange(loki, '{service="kitsune"}');

  assert.equal(pushed.status, 401);
  assert.equal(pushed.text, 'no org id\n');
  assert.equal(queried.status, 401);
  assert.deepEqual(loki.entries(), []);
});

test('several tenants in one push, or an invalid tenant ID, is refused with 400', async (t) => {
  const loki = await startLoki(t, { requireTenant: true });
  const body = [stream(kitsune, [nowNs(), 'x'])];
  const cases = new Map([
    ['team-a|team-b', 'multiple org IDs present'],
    ['team/a', "tenant ID 'team/a' contains unsupported character '/'"],
    ['..', "tenant ID is '.' or '..'"],
    ['t'.repeat(151), 'tenant ID is too long: max 150 characters'],
  ]);

  for (const [tenant, message] of cases) {
    const answer = await push(loki, body, { tenant });
    assert.equal(answer.status, 400, tenant);
    assert.equal(answer.text, `${message}\n`);
  }
  assert.deepEqual(loki.entries(), []);
});
