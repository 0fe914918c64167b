/**
 * `npm run test:faults:coordinator`: a consumer group survives the loss of its group coordinator.
 *
 * On its own 3-node cluster (not the shared test broker: a node is killed): a Kitsune
 * subscription commits; the node coordinating its group is SIGKILLed, and once the cluster has
 * moved the group to another node, started again on its storage. Commits must resume on the
 * new coordinator, the committed offsets must never go backwards, every record must be handled,
 * and nothing may throw out of the Kafka client into the process.
 *
 * Not part of `npm test`: three brokers and a broker restart take a minute or more on a shared
 * machine. The fault step of `.ci/run` runs it beside `npm run test:faults`.
 */
import { Admin } from '@platformatic/kafka';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { kafkaUnavailableReason, startKafka, startKafkaNode, type KafkaLaunch } from '../../scripts/services/kafka.ts';
import type { KafkaNodeState } from '../../scripts/services/state.ts';
import { isAlive, stopByPid } from '../../src/db/embedded.ts';
import { createKafkaTransport, type KafkaTransport } from '../../src/transport/kafka/index.ts';
import type { Subscription } from '../../src/transport/types.ts';

const requireServices = process.env.KITSUNE_REQUIRE_SERVICES === '1';
const unavailable = kafkaUnavailableReason();
if (unavailable && requireServices) throw new Error(`Kafka is required (KITSUNE_REQUIRE_SERVICES=1) but ${unavailable}`);

const topic = `coordinator-${randomUUID()}`;
const group = `coordinator-group-${randomUUID()}`;
const partitions = 3;
/** Far above the session timeout (10 s) and a broker's fencing (9 s): only a wedged client misses it. */
const resumeDeadlineMs = 120_000;

let dir: string;
let nodes: KafkaNodeState[];
let launch: KafkaLaunch;
let brokers: string[];
const uncaught: Error[] = [];
const onUncaught = (error: Error): void => void uncaught.push(error);

before(async () => {
  if (unavailable) return;
  dir = await mkdtemp(join(tmpdir(), 'kitsune-coordinator-'));
  const kafka = await startKafka(join(dir, 'kafka'), { brokers: 3, readyTimeoutMs: 300_000 });
  if (!kafka.nodes || !kafka.classpath || !kafka.log4jFile || !kafka.jvm) throw new Error('expected a cluster of 3 nodes');
  nodes = kafka.nodes;
  launch = { classpath: kafka.classpath, log4jFile: kafka.log4jFile, heapFlags: kafka.jvm };
  brokers = kafka.brokers.split(',');
  // The client's timers and socket callbacks run outside any promise: a throw there would end the
  // process. Recorded here so the test can say so instead of dying with it.
  process.on('uncaughtException', onUncaught);
});

after(async () => {
  process.off('uncaughtException', onUncaught);
  if (!nodes) return;
  await Promise.all(nodes.filter((node) => isAlive(node.pid)).map((node) => stopByPid(node.pid, 'SIGKILL')));
  await rm(dir, { recursive: true, force: true });
});

/** A fresh client per look: a long-lived one could itself hold on to a stale coordinator. */
async function withAdmin<T>(use: (admin: Admin) => Promise<T>): Promise<T> {
  const live = nodes.filter((node) => isAlive(node.pid)).map((node) => `127.0.0.1:${node.port}`);
  const admin = new Admin({ clientId: 'kitsune-test-coordinator', bootstrapBrokers: live, retries: 1, timeout: 5_000 });
  try {
    return await use(admin);
  } finally {
    await admin.close().catch(() => undefined);
  }
}

async function liveNodeIds(): Promise<number[]> {
  return withAdmin(async (admin) => [...(await admin.metadata({ topics: [], forceUpdate: true })).brokers.keys()]);
}

async function coordinatorOf(groupId: string): Promise<number> {
  return withAdmin(async (admin) => {
    const [found] = await admin.findCoordinator({ keyType: 0, keys: [groupId] });
    if (!found || found.nodeId < 0) throw new Error(`no coordinator for ${groupId} yet`);
    return found.nodeId;
  });
}

/** Every committed offset seen, per partition, to check that none ever went backwards. */
const seenCommits = new Map<number, bigint[]>();

async function committed(): Promise<bigint> {
  const offsets = await withAdmin((admin) =>
    admin.listConsumerGroupOffsets({ groups: [{ groupId: group, topics: [{ name: topic, partitionIndexes: [0, 1, 2] }] }] }),
  );
  let total = 0n;
  for (const { partitionIndex, committedOffset } of offsets[0]?.topics[0]?.partitions ?? []) {
    const seen = seenCommits.get(partitionIndex) ?? [];
    if (committedOffset >= 0n) seen.push(committedOffset);
    seenCommits.set(partitionIndex, seen);
    if (committedOffset > 0n) total += committedOffset;
  }
  return total;
}

/** Polls `probe` until it holds; a failing probe (a broker still electing) counts as not yet. */
async function until(what: string, deadlineMs: number, probe: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    if (await Promise.resolve().then(probe).catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${deadlineMs} ms`);
    await sleep(250);
  }
}

async function publish(transport: KafkaTransport, from: number, count: number): Promise<void> {
  const messages = Array.from({ length: count }, (_, i) => ({ id: `record-${from + i}`, key: `entity-${(from + i) % 17}`, value: Buffer.from(String(from + i)) }));
  await transport.publish(topic, messages);
}

test('commits resume on the new group coordinator after the old one is killed and restarted', { skip: unavailable ?? false, timeout: 900_000 }, async (t) => {
  // The group's coordinator leads none of the topic's partitions: fetching never fails, so only
  // the group requests (heartbeats, commits) meet the loss, as a worker's did in the fault suite.
  // (A failed fetch ends the client's stream, and the subscription starts over on its own.)
  let victim = -1;
  await until('the group has a coordinator', resumeDeadlineMs, async () => (victim = await coordinatorOf(group)) > 0);
  const others = nodes.map((node) => node.nodeId).filter((nodeId) => nodeId !== victim);
  const assignments = Array.from({ length: partitions }, (_, partition) => ({ partition, brokers: [others[partition % 2]!, others[(partition + 1) % 2]!, victim] }));
  await withAdmin((admin) => admin.createTopics({ topics: [topic], assignments, configs: [{ name: 'min.insync.replicas', value: '2' }] }));

  const reported: Array<{ error: Error; source: string }> = [];
  const transport = createKafkaTransport({ brokers, onError: (error, source) => void reported.push({ error, source }) });
  t.after(() => transport.close());
  await transport.ensureTopics([{ name: topic, partitions }]);

  const handled = new Set<string>();
  const subscription: Subscription = await transport.subscribe(topic, (message) => Promise.resolve(void handled.add(message.value.toString())), { group });
  t.after(() => subscription.close());

  await publish(transport, 0, 60);
  await until('the first records committed', resumeDeadlineMs, async () => (await committed()) === 60n);
  assert.equal(await coordinatorOf(group), victim, 'the coordinator did not move before the kill');

  const node = nodes.find((candidate) => candidate.nodeId === victim);
  assert.ok(node, `the coordinator ${victim} is one of the cluster's nodes`);
  await stopByPid(node.pid, 'SIGKILL');
  await until('the group moved to another node', resumeDeadlineMs, async () => (await coordinatorOf(group)) !== victim);
  await until('the cluster no longer lists the killed node', resumeDeadlineMs, async () => !(await liveNodeIds()).includes(victim));
  // Records to commit while the node is down: the subscription's client must meet the loss (a
  // failed commit or heartbeat) before the node comes back, or the restart would hide it.
  await publish(transport, 60, 30);
  await until('the client met the loss of its coordinator', resumeDeadlineMs, () => uncaught.length > 0 || reported.some((r) => r.source !== 'handler'));
  node.pid = await startKafkaNode(launch, node, 300_000);

  await publish(transport, 90, 30);
  await until('commits resumed after the restart', resumeDeadlineMs, async () => (await committed()) === 120n).catch((error: Error) => {
    const last = reported.slice(-3).map((r) => `${r.source}: ${r.error.message}`);
    throw new Error(`${error.message}; uncaught: ${uncaught.map((e) => `${e.name}: ${e.message}`).join(' | ') || 'none'}; last client errors: ${last.join(' | ') || 'none'}`);
  });

  assert.deepEqual(uncaught.map((error) => `${error.name}: ${error.message}`), [], 'nothing thrown out of the Kafka client into the process');
  assert.equal(handled.size, 120, 'every record was handled at least once');
  for (const [partition, seen] of seenCommits) {
    const sorted = [...seen].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    assert.deepEqual(seen, sorted, `partition ${partition}'s committed offset never went backwards`);
  }
});
