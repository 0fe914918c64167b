/**
 * The fault suite's own services, in its run folder and stopped by PID: a 3-node Kafka cluster,
 * PostgreSQL, the Loki test server (in this process, so its faults are scripted directly) and the
 * ambiguous-commit proxy in front of PostgreSQL (a process of its own). The fault methods act on them by PID.
 */
import { Admin } from '@platformatic/kafka';
import { join } from 'node:path';
import { startKafka, startKafkaNode, type KafkaLaunch } from '../../scripts/services/kafka.ts';
import type { KafkaNodeState, KafkaState } from '../../scripts/services/state.ts';
import { freePort } from '../../src/cli/ports.ts';
import { isAlive, startEmbeddedPostgres, stopByPid } from '../../src/db/embedded.ts';
import { startLokiServer, type LokiTestServer } from '../support/loki/index.ts';
import { startPgProxyProcess, type PgProxyProcess } from './pg-proxy-process.ts';

export interface FaultServices {
  readonly brokers: string[];
  readonly kafka: KafkaState & { nodes: KafkaNodeState[] };
  readonly loki: LokiTestServer;
  readonly proxy: PgProxyProcess;
  /** PostgreSQL, directly. */
  readonly postgresDsn: string;
  postgresPid: number;
  /** SIGKILL of one node; resolves once it is gone. */
  killBroker(nodeId: number): Promise<void>;
  /** Starts a killed node again on its storage; resolves once it reports itself started. */
  restartBroker(nodeId: number): Promise<void>;
  pauseBroker(nodeId: number): void;
  resumeBroker(nodeId: number): void;
  /** The node leading `partition` of `topic` now. */
  leaderOf(topic: string, partition: number): Promise<number>;
  /** The node coordinating consumer group `group` now (its offsets and membership). */
  coordinatorOf(group: string): Promise<number>;
  /** PostgreSQL's immediate shutdown (SIGQUIT: no checkpoint, crash recovery at the next start). */
  stopPostgresImmediately(): Promise<void>;
  restartPostgres(): Promise<void>;
  close(): Promise<void>;
}

export async function startFaultServices(dir: string, brokers = 3): Promise<FaultServices> {
  const pgOptions = { dataDir: join(dir, 'postgres-data'), port: await freePort(), detached: true, logFile: join(dir, 'postgres.log'), readyTimeoutMs: 180_000 };
  const [kafka, pg, loki] = await Promise.all([startKafka(join(dir, 'kafka'), { brokers, readyTimeoutMs: 300_000 }), startEmbeddedPostgres(pgOptions), startLokiServer()]);
  if (!kafka.nodes || !kafka.classpath || !kafka.log4jFile || !kafka.jvm) throw new Error('the fault suite needs a Kafka cluster of several nodes');
  const nodes = kafka.nodes;
  const launch: KafkaLaunch = { classpath: kafka.classpath, log4jFile: kafka.log4jFile, heapFlags: kafka.jvm };
  const proxy = await startPgProxyProcess(pg.dsn);
  const node = (nodeId: number): KafkaNodeState => {
    const found = nodes.find((candidate) => candidate.nodeId === nodeId);
    if (!found) throw new Error(`no Kafka node ${nodeId}`);
    return found;
  };
  /** A fresh client per question, on the nodes alive now: a kept one could hold stale answers. */
  const withAdmin = async <T>(ask: (admin: Admin) => Promise<T>): Promise<T> => {
    const live = nodes.filter((each) => isAlive(each.pid)).map((each) => `127.0.0.1:${each.port}`);
    const admin = new Admin({ clientId: 'kitsune-faults-observer', bootstrapBrokers: live });
    try {
      return await ask(admin);
    } finally {
      await admin.close();
    }
  };
  const services: FaultServices = {
    brokers: kafka.brokers.split(','),
    kafka: { ...kafka, nodes },
    loki,
    proxy,
    postgresDsn: pg.dsn,
    postgresPid: pg.pid,
    async killBroker(nodeId) {
      await stopByPid(node(nodeId).pid, 'SIGKILL');
    },
    async restartBroker(nodeId) {
      const target = node(nodeId);
      target.pid = await startKafkaNode(launch, target, 300_000);
    },
    pauseBroker: (nodeId) => process.kill(node(nodeId).pid, 'SIGSTOP'),
    resumeBroker: (nodeId) => process.kill(node(nodeId).pid, 'SIGCONT'),
    leaderOf: (topic, partition) =>
      withAdmin(async (admin) => {
        const metadata = await admin.metadata({ topics: [topic], forceUpdate: true });
        const leader = metadata.topics.get(topic)?.partitions[partition]?.leader;
        if (leader === undefined || leader < 0) throw new Error(`${topic}/${partition} has no leader`);
        return leader;
      }),
    coordinatorOf: (group) =>
      withAdmin(async (admin) => {
        const [found] = await admin.findCoordinator({ keyType: 0, keys: [group] });
        if (!found || found.nodeId < 0) throw new Error(`group ${group} has no coordinator`);
        return found.nodeId;
      }),
    async stopPostgresImmediately() {
      await stopByPid(services.postgresPid, 'SIGQUIT');
    },
    async restartPostgres() {
      services.postgresPid = (await startEmbeddedPostgres(pgOptions)).pid;
    },
    async close() {
      await proxy.close();
      await loki.close();
      // A paused node would never act on SIGTERM.
      for (const each of nodes) if (isAlive(each.pid)) process.kill(each.pid, 'SIGCONT');
      await Promise.all(nodes.map((each) => stopByPid(each.pid, 'SIGTERM')));
      await stopByPid(services.postgresPid, 'SIGINT');
    },
  };
  return services;
}
