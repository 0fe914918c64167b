/**
 * Apache Kafka 4.x in KRaft mode from Maven Central jars: one node, or a cluster of several
 * (each node both broker and controller, a static controller quorum of all of them).
 *
 * `services/kafka/pom.xml` names the broker; `mvn dependency:build-classpath` resolves it and its
 * runtime dependencies into ~/.m2 (cached there across runs) and prints the classpath, which is
 * cached beside the state keyed by the pom's hash. Storage is formatted with
 * `kafka.tools.StorageTool format` and each node runs with `java` and a modest heap.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort } from '../../src/cli/ports.ts';
import { repoRoot, type KafkaNodeState, type KafkaState } from './state.ts';

const run = promisify(execFile);
const pomFile = join(repoRoot, 'services', 'kafka', 'pom.xml');

/** Why a broker cannot be started here, or undefined when `java` and `mvn` are both on the PATH. */
export function kafkaUnavailableReason(): string | undefined {
  const missing = ['java', 'mvn'].filter((tool) => {
    const probe = spawnSync(tool, [tool === 'java' ? '-version' : '--version'], { stdio: 'ignore' });
    return probe.error !== undefined || probe.status !== 0;
  });
  if (missing.length === 0) return undefined;
  return `${missing.join(' and ')} not found on PATH (the test broker runs Apache Kafka from Maven Central jars)`;
}

export async function classpath(dir: string): Promise<string> {
  const pomHash = createHash('sha256').update(await readFile(pomFile)).digest('hex');
  const cacheFile = join(dir, 'kafka.classpath');
  if (existsSync(cacheFile)) {
    const [hash, cached] = (await readFile(cacheFile, 'utf8')).split('\n');
    const firstJar = cached?.split(':')[0];
    if (hash === pomHash && cached && firstJar && existsSync(firstJar)) return cached;
  }
  const outFile = join(dir, 'kafka.classpath.tmp');
  await run('mvn', ['-q', '-B', '-f', pomFile, 'dependency:build-classpath', `-Dmdep.outputFile=${outFile}`], {
    maxBuffer: 16 * 1024 * 1024,
  }).catch((error: unknown) => {
    const output = error as { stdout?: string; stderr?: string };
    throw new Error(`mvn could not resolve the Kafka broker:\n${output.stdout ?? ''}${output.stderr ?? ''}`, {
      cause: error,
    });
  });
  const resolved = (await readFile(outFile, 'utf8')).trim();
  await writeFile(cacheFile, `${pomHash}\n${resolved}`);
  await rm(outFile, { force: true });
  return resolved;
}

/**
 * Kafka's cluster ids are 16 random bytes in unpadded base64url. Like Kafka's own Uuid.randomUuid,
 * an id that starts with '-' is drawn again: command-line parsers read it as an option.
 */
export function newClusterId(random: (size: number) => Buffer = randomBytes): string {
  for (;;) {
    const id = random(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** Replication of Kafka's internal topics and of topics created without a factor: the cluster's size, at most 3. */
const replicationFor = (nodes: number): number => Math.min(3, nodes);
/** One replica may be down and writes with acks=all still succeed; one node has only itself. */
const minInsyncFor = (nodes: number): number => Math.max(1, Math.min(2, nodes - 1));

interface NodeAddress {
  nodeId: number;
  port: number;
  controllerPort: number;
}

function serverProperties(node: NodeAddress & { dataDir: string }, cluster: readonly NodeAddress[]): string {
  const replication = replicationFor(cluster.length);
  const minInsync = minInsyncFor(cluster.length);
  const quorum =
    cluster.length === 1
      ? `controller.quorum.bootstrap.servers=127.0.0.1:${node.controllerPort}`
      : `controller.quorum.voters=${cluster.map((n) => `${n.nodeId}@127.0.0.1:${n.controllerPort}`).join(',')}`;
  return [
    'process.roles=broker,controller',
    `node.id=${node.nodeId}`,
    quorum,
    `listeners=PLAINTEXT://127.0.0.1:${node.port},CONTROLLER://127.0.0.1:${node.controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${node.port}`,
    'controller.listener.names=CONTROLLER',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'inter.broker.listener.name=PLAINTEXT',
    `log.dirs=${node.dataDir}`,
    // Internal topics are replicated like Kitsune's own (DESIGN.md §8).
    `offsets.topic.replication.factor=${replication}`,
    'offsets.topic.num.partitions=6',
    `transaction.state.log.replication.factor=${replication}`,
    `transaction.state.log.min.isr=${minInsync}`,
    `share.coordinator.state.topic.replication.factor=${replication}`,
    `share.coordinator.state.topic.min.isr=${minInsync}`,
    `default.replication.factor=${replication}`,
    `min.insync.replicas=${minInsync}`,
    // A replica that lost its leader may not become leader: an acknowledged write is never lost.
    'unclean.leader.election.enable=false',
    // Tests join and leave groups constantly; do not wait 3 s for more members.
    'group.initial.rebalance.delay.ms=0',
    // Kitsune creates its topics with explicit partition counts; a typo must not create one.
    'auto.create.topics.enable=false',
    'num.partitions=3',
    '',
  ].join('\n');
}

const log4jProperties = [
  'status = warn',
  'appender.out.type = Console',
  'appender.out.name = out',
  'appender.out.layout.type = PatternLayout',
  'appender.out.layout.pattern = [%d] %p %m (%c)%n',
  'rootLogger.level = info',
  'rootLogger.appenderRef.out.ref = out',
  'logger.kafka.name = org.apache.kafka',
  'logger.kafka.level = warn',
  'logger.server.name = kafka.server',
  'logger.server.level = info',
  '',
].join('\n');

/**
 * Heap per node. One broker gets room for benchmarks; a cluster's nodes share a 2-core machine
 * with ten Kitsune processes, so each gets less and C1 only (less JIT work while it starts).
 */
const jvmFlags = (nodes: number): string[] =>
  nodes === 1
    ? ['-Xms256m', '-Xmx768m', '-XX:+UseG1GC']
    : ['-Xms96m', '-Xmx384m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1'];

export interface StartKafkaOptions {
  /** Nodes in the cluster, each broker and controller. (Default: 1) */
  brokers?: number;
  /** (Default: 120_000 ms) */
  readyTimeoutMs?: number;
}

/** Formats fresh storage and starts every node detached; resolves once each reports itself started. */
export async function startKafka(dir: string, options: StartKafkaOptions = {}): Promise<KafkaState> {
  const count = options.brokers ?? 1;
  if (!Number.isInteger(count) || count < 1) throw new Error(`brokers must be a positive integer, got ${count}`);
  await mkdir(dir, { recursive: true });
  const cp = await classpath(dir);
  const log4jFile = join(dir, 'kafka-log4j2.properties');
  await writeFile(log4jFile, log4jProperties);
  const addresses: NodeAddress[] = [];
  for (let nodeId = 1; nodeId <= count; nodeId++) addresses.push({ nodeId, port: await freePort(), controllerPort: await freePort() });
  // One node keeps the file names it always had; a cluster's nodes each get a suffix.
  const name = (base: string, nodeId: number): string => (count === 1 ? base : `${base}-${nodeId}`);
  const nodes: KafkaNodeState[] = addresses.map((address) => ({
    ...address,
    pid: 0,
    dataDir: join(dir, name('kafka-data', address.nodeId)),
    logFile: join(dir, `${name('kafka', address.nodeId)}.log`),
    configFile: join(dir, `${name('server', address.nodeId)}.properties`),
  }));
  const clusterId = newClusterId();
  await Promise.all(
    nodes.map(async (node) => {
      // The controllers store their endpoints in the metadata log, so nodes on new ports need new
      // storage; test data is disposable.
      await rm(node.dataDir, { recursive: true, force: true });
      await writeFile(node.configFile, serverProperties(node, addresses));
      await formatStorage(cp, log4jFile, node.configFile, clusterId, count === 1);
      await writeFile(node.logFile, '');
    }),
  );
  try {
    // Started together: a node of a cluster waits for a quorum of controllers before it is up.
    await Promise.all(
      nodes.map(async (node) => {
        const pid = await startKafkaNode({ classpath: cp, log4jFile, heapFlags: jvmFlags(count) }, node, options.readyTimeoutMs);
        node.pid = pid;
      }),
    );
  } catch (error) {
    for (const node of nodes) if (node.pid > 0) process.kill(node.pid, 'SIGKILL');
    throw error;
  }
  const first = nodes[0]!;
  return {
    pid: first.pid,
    brokers: nodes.map((node) => `127.0.0.1:${node.port}`).join(','),
    dataDir: first.dataDir,
    logFile: first.logFile,
    ...(count > 1 ? { nodes, classpath: cp, log4jFile, jvm: jvmFlags(count) } : {}),
  };
}

/** `--cluster-id=<id>` in one argument, so no id can be taken for an option. */
export async function formatStorage(cp: string, log4jFile: string, configFile: string, clusterId: string, standalone: boolean): Promise<void> {
  const jvm = ['-cp', cp, `-Dlog4j2.configurationFile=${log4jFile}`];
  await run('java', [...jvm, 'kafka.tools.StorageTool', 'format', ...(standalone ? ['--standalone'] : []), `--cluster-id=${clusterId}`, '-c', configFile]);
}

export interface KafkaLaunch {
  classpath: string;
  log4jFile: string;
  heapFlags: readonly string[];
}

/**
 * Starts one node on its existing storage (a first start, or a restart after it was killed) and
 * resolves with its PID once its log says it started. Appends to the node's log file.
 */
export async function startKafkaNode(launch: KafkaLaunch, node: KafkaNodeState, readyTimeoutMs = 120_000): Promise<number> {
  const from = existsSync(node.logFile) ? (await stat(node.logFile)).size : 0;
  const out = await open(node.logFile, 'a');
  const jvm = ['-cp', launch.classpath, `-Dlog4j2.configurationFile=${launch.log4jFile}`];
  const child = spawn('java', [...launch.heapFlags, '-Djava.awt.headless=true', ...jvm, 'kafka.Kafka', node.configFile], {
    detached: true,
    stdio: ['ignore', out.fd, out.fd],
  });
  await out.close();
  child.unref();
  let exited: string | undefined;
  child.once('error', (error: NodeJS.ErrnoException) => (exited = `could not be started (${error.code ?? error.message})`));
  child.once('exit', (code, signal) => (exited = `exited with ${signal ?? `code ${code}`}`));

  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    const log = (await readFile(node.logFile)).subarray(from).toString('utf8');
    // Set: the broker logged that it started.
    if (log.includes('Kafka Server started')) return child.pid!;
    if (exited !== undefined) throw new Error(`Kafka node ${node.nodeId} (java) ${exited} during startup; see ${node.logFile}`);
    if (Date.now() > deadline) {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      throw new Error(`Kafka node ${node.nodeId} did not start within ${readyTimeoutMs} ms; see ${node.logFile}`);
    }
    await sleep(100);
  }
}
