import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { ReceivedMessage, Subscription } from '../../../src/transport/types.ts';
import { background } from '../../support/background.ts';
import { postgresDsn } from '../../support/services.ts';
import { fresh, logFixture, message, seqOf, waitFor } from './helpers.ts';
import { startTcpProxy } from './tcp-proxy.ts';

test('members rebalance as they join and leave, never sharing a partition and never redelivering', async (t) => {
  const log = logFixture(t);
  // Joins and leaves rebalance at once (not at the next heartbeat), so a long lease costs nothing
  // here; a short one could expire under a loaded machine's stalls and make two owners.
  const transports = [log.open({ leaseTtlMs: 15_000 }), log.open({ leaseTtlMs: 15_000 }), log.open({ leaseTtlMs: 15_000 })];
  const topic = fresh('rebalance');
  const group = fresh('g');
  await transports[0]!.ensureTopics([{ name: topic, partitions: 6 }]);
  const received: ReceivedMessage[] = [];
  const members: Subscription[] = [];
  const join = async (i: number): Promise<void> => {
    members.push(await transports[i]!.subscribe(topic, (m) => {
      received.push(m);
      return sleep(1);
    }, { group, maxBatchSize: 20 }));
  };
  const shares = (): number[][] => members.map((member) => [...member.assignedPartitions()]);
  const overlaps: string[] = [];
  const sampler = setInterval(() => {
    const all = shares().flat();
    if (new Set(all).size !== all.length) overlaps.push(JSON.stringify(shares()));
  }, 5);
  t.after(() => clearInterval(sampler));
  let seq = 0;
  let publishing = true;
  const publisher = background(
    (async () => {
      while (publishing) {
        await transports[0]!.publish(topic, Array.from({ length: 10 }, () => message(seq++, `k${seq % 13}`)));
        await sleep(10);
      }
    })(),
  );
  const settled = (sizes: number[]) => () =>
    JSON.stringify(shares().map((share) => share.length).filter((size) => size > 0).sort()) === JSON.stringify(sizes);

  await join(0);
  await waitFor(settled([6]), 30_000, () => JSON.stringify(shares()));
  await join(1);
  await waitFor(settled([3, 3]), 30_000, () => JSON.stringify(shares()));
  await join(2);
  await waitFor(settled([2, 2, 2]), 30_000, () => JSON.stringify(shares()));
  await members[1]!.close();
  await waitFor(settled([3, 3]), 30_000, () => JSON.stringify(shares()));
  publishing = false;
  await publisher;

  await waitFor(() => new Set(received.map(seqOf)).size === seq, 30_000, () => `${new Set(received.map(seqOf)).size}/${seq}`);
  assert.deepEqual(overlaps, [], 'no partition was ever held by two members');
  assert.equal(received.length, seq, 'a clean handover commits before releasing, so nothing is delivered twice');
  const { rows } = await log.admin.query(`SELECT partition FROM ${log.table('leases')} WHERE group_name = $1`, [group]);
  assert.equal(rows.length, 6);
});

test('a SIGKILLed member keeps its partitions until its lease expires, then another member takes them all', async (t) => {
  const log = logFixture(t);
  // Long enough that the live child's heartbeats (every third of it) keep its leases on a loaded machine.
  const leaseTtlMs = 6_000;
  const transport = log.open({ leaseTtlMs });
  const topic = fresh('takeover');
  const group = fresh('g');
  await transport.ensureTopics([{ name: topic, partitions: 3 }]);
  await transport.publish(topic, Array.from({ length: 30 }, (_, i) => message(i)));

  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./child-member.ts', import.meta.url))], {
    env: { ...process.env, KITSUNE_TEST_LOG_SCHEMA: log.schema, KITSUNE_TEST_LEASE_TTL_MS: String(leaseTtlMs), CHILD_TOPIC: topic, CHILD_GROUP: group },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => child.kill('SIGKILL'));
  let assigned = '';
  let handling = 0;
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line.startsWith('assigned ')) assigned = line.slice('assigned '.length);
    if (line.startsWith('handling ')) handling++;
  });
  await waitFor(() => assigned === '0,1,2' && handling === 3, 20_000, () => `child assigned "${assigned}", handling ${handling}`);

  // The child's handlers never finish, so it cannot hand partitions over while it lives.
  const received: ReceivedMessage[] = [];
  const subscription = await transport.subscribe(topic, (m) => {
    received.push(m);
    return Promise.resolve();
  }, { group });
  await sleep(leaseTtlMs);
  assert.deepEqual(subscription.assignedPartitions(), [], 'a live member keeps its leases');

  child.kill('SIGKILL');
  const killedAt = Date.now();
  await waitFor(() => subscription.assignedPartitions().length === 3, 10 * leaseTtlMs, () => `${subscription.assignedPartitions().join(',')}`);
  t.diagnostic(`taken over ${Date.now() - killedAt} ms after the kill (lease ${leaseTtlMs} ms)`);
  await waitFor(() => received.length === 30, 30_000, () => `${received.length}/30`);
  assert.deepEqual(received.map(seqOf).sort((a, b) => a - b), Array.from({ length: 30 }, (_, i) => i), 'nothing the child held was lost');
});

test('a commit from a member whose lease was taken over is refused', async (t) => {
  const log = logFixture(t);
  // Long lease: the heartbeat stays out of the way, so the commit statement itself must fence.
  const transport = log.open({ leaseTtlMs: 60_000 });
  const topic = fresh('fenced');
  const group = fresh('g');
  await transport.ensureTopics([{ name: topic, partitions: 1 }]);
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolveGate) => (release = resolveGate));
  let started = false;
  const subscription = await transport.subscribe(topic, async () => {
    started = true;
    await gate;
  }, { group });
  await transport.publish(topic, [message(1)]);
  await waitFor(() => started, 30_000, () => 'the handler to start');

  // Another member takes the lease (as after an expiry) and commits offset 42.
  await log.admin.query(
    `UPDATE ${log.table('leases')} SET member_id = 'intruder', token = 'stolen', expires_at = now() + interval '1 hour'
     WHERE group_name = $1 AND topic = $2`,
    [group, topic],
  );
  await log.admin.query(`INSERT INTO ${log.table('offsets')} (group_name, topic, partition, next_offset) VALUES ($1, $2, 0, 42)`, [group, topic]);
  release();

  const refused = (): boolean => log.errors.some(({ source, error }) => source === 'commit' && /refused/.test(error.message));
  // The member drops the partition and reports the refusal; either may be seen first.
  await waitFor(() => subscription.assignedPartitions().length === 0 && refused(), 30_000, () => 'the member to give the partition up and report the refused commit');
  const { rows } = await log.admin.query<{ next_offset: string }>(
    `SELECT next_offset FROM ${log.table('offsets')} WHERE group_name = $1 AND topic = $2`,
    [group, topic],
  );
  assert.equal(rows[0]?.next_offset, '42', 'the new owner’s commit stands');
  assert.ok(refused(), 'the refusal is reported');
});

test('a member whose lease was taken stops consuming that partition at its next heartbeat', async (t) => {
  const log = logFixture(t);
  const transport = log.open({ leaseTtlMs: 900, pollIntervalMs: 50 });
  const topic = fresh('stolen');
  const group = fresh('g');
  await transport.ensureTopics([{ name: topic, partitions: 1 }]);
  const received: ReceivedMessage[] = [];
  const subscription = await transport.subscribe(topic, (m) => {
    received.push(m);
    return Promise.resolve();
  }, { group });
  assert.deepEqual(subscription.assignedPartitions(), [0]);
  await log.admin.query(
    `UPDATE ${log.table('leases')} SET member_id = 'intruder', token = 'stolen', expires_at = now() + interval '1 hour'
     WHERE group_name = $1 AND topic = $2`,
    [group, topic],
  );
  await waitFor(() => subscription.assignedPartitions().length === 0, 30_000, () => 'the lease loss to be noticed');
  await transport.publish(topic, [message(1)]);
  await sleep(500);
  assert.deepEqual(received, []);
});

test('a member cut off from the database drops its partitions once its lease may have expired, and rejoins after', async (t) => {
  const log = logFixture(t);
  const proxy = await startTcpProxy(postgresDsn());
  t.after(() => proxy.close());
  const leaseTtlMs = 6_000;
  const cutOff = log.open({ leaseTtlMs }, proxy.dsn);
  const healthy = log.open({ leaseTtlMs });
  const topic = fresh('partitioned');
  const group = fresh('g');
  await cutOff.ensureTopics([{ name: topic, partitions: 2 }]);
  const first = await cutOff.subscribe(topic, () => Promise.resolve(), { group });
  assert.deepEqual(first.assignedPartitions(), [0, 1]);

  proxy.cut();
  const cutAt = Date.now();
  const second = await healthy.subscribe(topic, () => Promise.resolve(), { group });
  await waitFor(() => first.assignedPartitions().length === 0, 10 * leaseTtlMs, () => first.assignedPartitions().join(','));
  // Its last heartbeat was at most a third of the lease before the cut, so it held on for at least
  // two thirds of one (a lower bound: a loaded machine only makes it later).
  assert.ok(Date.now() - cutAt >= leaseTtlMs * 0.6, 'it kept them while its lease was surely still valid');
  await waitFor(() => second.assignedPartitions().length === 2, 10 * leaseTtlMs, () => second.assignedPartitions().join(','));
  assert.ok(log.errors.some(({ source }) => source === 'membership'), 'the failures were reported, not thrown');

  proxy.restore();
  await waitFor(
    () => first.assignedPartitions().length === 1 && second.assignedPartitions().length === 1,
    10 * leaseTtlMs,
    () => `${first.assignedPartitions().join(',')} | ${second.assignedPartitions().join(',')}`,
  );
});
