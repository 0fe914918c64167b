/**
 * A single-node Apache Kafka 4.x broker in KRaft mode, from Maven Central jars.
 *
 * `services/kafka/pom.xml` names the broker; `mvn dependency:build-classpath` resolves it and its
 * runtime dependencies into ~/.m2 (cached there across runs) and prints the classpath, which is
 * cached beside the state keyed by the pom's hash. Storage is formatted with
 * `kafka.tools.StorageTool format --standalone` and the broker runs with `java` and a modest heap.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort } from '../../src/cli/ports.ts';
import { repoRoot, type KafkaState } from './state.ts';

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

async function classpath(dir: string): Promise<string> {
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

/** Kafka's cluster ids are 16 random bytes in unpadded base64url. */
const newClusterId = (): string => randomBytes(16).toString('base64url');

function serverProperties(p: { dataDir: string; port: number; controllerPort: number }): string {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.bootstrap.servers=127.0.0.1:${p.controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${p.port},CONTROLLER://127.0.0.1:${p.controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${p.port}`,
    'controller.listener.names=CONTROLLER',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'inter.broker.listener.name=PLAINTEXT',
    `log.dirs=${p.dataDir}`,
    // One node: every internal topic has one replica.
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=6',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
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

/** Formats fresh storage and starts the broker detached; resolves once it reports itself started. */
export async function startKafka(dir: string, readyTimeoutMs = 120_000): Promise<KafkaState> {
  await mkdir(dir, { recursive: true });
  const cp = await classpath(dir);
  const [port, controllerPort] = [await freePort(), await freePort()];
  const dataDir = join(dir, 'kafka-data');
  const logFile = join(dir, 'kafka.log');
  const configFile = join(dir, 'server.properties');
  const log4jFile = join(dir, 'kafka-log4j2.properties');
  // The standalone controller stores its own endpoint in the metadata log, so a broker on new
  // ports needs new storage; test data is disposable.
  await rm(dataDir, { recursive: true, force: true });
  await writeFile(configFile, serverProperties({ dataDir, port, controllerPort }));
  await writeFile(log4jFile, log4jProperties);

  const jvm = ['-cp', cp, `-Dlog4j2.configurationFile=${log4jFile}`];
  await run('java', [...jvm, 'kafka.tools.StorageTool', 'format', '--standalone', '-t', newClusterId(), '-c', configFile]);

  const out = await open(logFile, 'w');
  const child = spawn(
    'java',
    ['-Xms256m', '-Xmx768m', '-XX:+UseG1GC', '-Djava.awt.headless=true', ...jvm, 'kafka.Kafka', configFile],
    { detached: true, stdio: ['ignore', out.fd, out.fd] },
  );
  await out.close();
  child.unref();
  let exited: string | undefined;
  child.once('error', (error: NodeJS.ErrnoException) => (exited = `could not be started (${error.code ?? error.message})`));
  child.once('exit', (code, signal) => (exited = `exited with ${signal ?? `code ${code}`}`));

  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    const log = await readFile(logFile, 'utf8');
    if (log.includes('Kafka Server started')) break;
    if (exited !== undefined) throw new Error(`Kafka (java) ${exited} during startup; see ${logFile}`);
    if (Date.now() > deadline) {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      throw new Error(`Kafka did not start within ${readyTimeoutMs} ms; see ${logFile}`);
    }
    await sleep(100);
  }
  // Set: the broker logged that it started.
  return { pid: child.pid!, brokers: `127.0.0.1:${port}`, dataDir, logFile };
}
