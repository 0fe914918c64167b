/**
 * The fault suite's own services, in its run folder and stopped by PID: a 3-node Kafka cluster,
 * PostgreSQL and the Loki test server (in this process, so its faults can be scripted directly).
 */
import { join } from 'node:path';
import { startKafka } from '../../scripts/services/kafka.ts';
import type { KafkaNodeState, KafkaState } from '../../scripts/services/state.ts';
import { freePort } from '../../src/cli/ports.ts';
import { isAlive, startEmbeddedPostgres, stopByPid } from '../../src/db/embedded.ts';
import { startLokiServer, type LokiTestServer } from '../support/loki/index.ts';

export interface FaultServices {
  readonly brokers: string[];
  readonly kafka: KafkaState & { nodes: KafkaNodeState[] };
  readonly loki: LokiTestServer;
  readonly postgresDsn: string;
  postgresPid: number;
  close(): Promise<void>;
}

export async function startFaultServices(dir: string, brokers = 3): Promise<FaultServices> {
  const pgOptions = { dataDir: join(dir, 'postgres-data'), port: await freePort(), detached: true, logFile: join(dir, 'postgres.log'), readyTimeoutMs: 180_000 };
  const [kafka, pg, loki] = await Promise.all([startKafka(join(dir, 'kafka'), { brokers, readyTimeoutMs: 300_000 }), startEmbeddedPostgres(pgOptions), startLokiServer()]);
  if (!kafka.nodes) throw new Error('the fault suite needs a Kafka cluster of several nodes');
  const nodes = kafka.nodes;
  const services: FaultServices = {
    brokers: kafka.brokers.split(','),
    kafka: { ...kafka, nodes },
    loki,
    postgresDsn: pg.dsn,
    postgresPid: pg.pid,
    async close() {
      await loki.close();
      // A paused node would never act on SIGTERM.
      for (const each of nodes) if (isAlive(each.pid)) process.kill(each.pid, 'SIGCONT');
      await Promise.all(nodes.map((each) => stopByPid(each.pid, 'SIGTERM')));
      await stopByPid(services.postgresPid, 'SIGINT');
    },
  };
  return services;
}
