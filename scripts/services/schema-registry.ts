/**
 * Apicurio Registry, a real Confluent-compatible schema registry, from Maven Central alone.
 *
 * `services/schema-registry/pom.xml` names the artifact; `mvn dependency:unpack-dependencies`
 * resolves it into ~/.m2 and unpacks it once into a cache directory outside the checkout
 * (`$XDG_CACHE_HOME/kitsune`, default `~/.cache/kitsune`), shared by every checkout on the machine.
 *
 * Which release runs depends on the Java found (docs/decisions/0014-schema-registry.md): 3.3.3
 * needs Java 21+ (JAVA_HOME, `java` on the PATH, or a JDK under /usr/lib/jvm); on Java 17 it is
 * 2.6.13.Final. Both keep their data in memory and serve the Confluent API at /apis/ccompat/v7.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort } from '../../src/cli/ports.ts';
import { repoRoot, type SchemaRegistryState } from './state.ts';

const run = promisify(execFile);
const pomFile = join(repoRoot, 'services', 'schema-registry', 'pom.xml');

interface Release {
  version: string;
  minJava: number;
  /** The jar to run, relative to the unpacked directory. */
  jar: string;
  /** Apicurio 2.x's ccompat `PUT /config/<subject>` cannot relax a global rule, so 2.x runs without one. */
  globalRule: boolean;
}

const releases: readonly Release[] = [
  { version: '3.3.3', minJava: 21, jar: 'quarkus-run.jar', globalRule: true },
  { version: '2.6.13.Final', minJava: 17, jar: 'apicurio-registry-app-2.6.13.Final-runner.jar', globalRule: false },
];

/** The Confluent API's root under an Apicurio base URL. */
const ccompatPath = '/apis/ccompat/v7';

/** The major version `java -version` reports, or undefined when the binary does not run. */
function javaMajor(java: string): number | undefined {
  const probe = spawnSync(java, ['-version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) return undefined;
  const match = /version "(\d+)(?:\.(\d+))?/.exec(`${probe.stderr}${probe.stdout}`);
  if (!match) return undefined;
  // Java 8 and older report "1.8.0_x".
  return match[1] === '1' ? Number(match[2]) : Number(match[1]);
}

/** Every java binary worth trying, most specific first. */
function javaCandidates(): string[] {
  const found = [process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : undefined, 'java'];
  const jvms = '/usr/lib/jvm';
  if (existsSync(jvms)) for (const name of readdirSync(jvms).sort().reverse()) found.push(join(jvms, name, 'bin', 'java'));
  return [...new Set(found.filter((path): path is string => path !== undefined))];
}

/**
 * The newest release some Java here can run, and that Java; undefined when none can.
 * KITSUNE_TEST_APICURIO_VERSION=2.6.13.Final forces the Java 17 release (CI runs the suite on both).
 */
function pickRelease(): { release: Release; java: string; javaMajor: number } | undefined {
  const javas = javaCandidates().flatMap((java) => {
    const major = javaMajor(java);
    return major === undefined ? [] : [{ java, major }];
  });
  const forced = process.env.KITSUNE_TEST_APICURIO_VERSION;
  for (const release of releases.filter((candidate) => !forced || candidate.version === forced)) {
    const java = javas.find((candidate) => candidate.major >= release.minJava);
    if (java) return { release, java: java.java, javaMajor: java.major };
  }
  return undefined;
}

/** Why no registry can be started here, or undefined when one can. */
export function schemaRegistryUnavailableReason(): string | undefined {
  const mvn = spawnSync('mvn', ['--version'], { stdio: 'ignore' });
  if (mvn.error !== undefined || mvn.status !== 0) return 'mvn not found on PATH (the test schema registry is Apicurio Registry from Maven Central)';
  if (!pickRelease()) return 'no Java 17 or newer found (JAVA_HOME, PATH, /usr/lib/jvm) for Apicurio Registry';
  return undefined;
}

const cacheRoot = (): string => join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'kitsune');

/** Unpacks the release once per machine; concurrent checkouts race on a rename, and one wins. */
async function unpacked(release: Release): Promise<string> {
  const dir = join(cacheRoot(), `apicurio-registry-${release.version}`);
  if (existsSync(join(dir, release.jar))) return dir;
  const staging = `${dir}.${process.pid}.tmp`;
  const cleanUp = (): Promise<unknown> => Promise.all([rm(staging, { recursive: true, force: true }), rm(`${staging}.markers`, { recursive: true, force: true })]);
  await cleanUp();
  await mkdir(staging, { recursive: true });
  const args = ['-q', '-B', '-f', pomFile, 'dependency:unpack-dependencies', `-Dapicurio.version=${release.version}`, `-DoutputDirectory=${staging}`];
  await run('mvn', args, { maxBuffer: 16 * 1024 * 1024 }).catch(async (error: unknown) => {
    await cleanUp();
    const output = error as { stdout?: string; stderr?: string };
    throw new Error(`mvn could not fetch Apicurio Registry ${release.version}:\n${output.stdout ?? ''}${output.stderr ?? ''}`, { cause: error });
  });
  await rm(`${staging}.markers`, { recursive: true, force: true });
  if (!existsSync(join(staging, release.jar))) {
    await cleanUp();
    throw new Error(`Apicurio Registry ${release.version} unpacked without ${release.jar}`);
  }
  try {
    await rename(staging, dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
    await cleanUp();
  }
  return dir;
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

/** Starts the registry detached; resolves once its Confluent API answers. */
export async function startSchemaRegistry(dir: string, readyTimeoutMs = 180_000): Promise<SchemaRegistryState> {
  const picked = pickRelease();
  if (!picked) throw new Error(schemaRegistryUnavailableReason() ?? 'no Java for Apicurio Registry');
  const { release, java } = picked;
  await mkdir(dir, { recursive: true });
  const home = await unpacked(release);
  const [port, managementPort] = [await freePort(), await freePort()];
  const logFile = join(dir, 'schema-registry.log');
  const out = await open(logFile, 'w');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    QUARKUS_HTTP_HOST: '127.0.0.1',
    QUARKUS_HTTP_PORT: String(port),
    QUARKUS_MANAGEMENT_HOST: '127.0.0.1',
    QUARKUS_MANAGEMENT_PORT: String(managementPort),
    // Confluent's default; Apicurio's own is NONE. Kitsune sets each of its subjects' level itself.
    ...(release.globalRule ? { APICURIO_RULES_GLOBAL_COMPATIBILITY: 'BACKWARD' } : {}),
  };
  const child = spawn(java, ['-Xms64m', '-Xmx384m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-jar', release.jar], {
    cwd: home,
    env,
    detached: true,
    stdio: ['ignore', out.fd, out.fd],
  });
  await out.close();
  child.unref();
  let exited: string | undefined;
  child.once('error', (error: NodeJS.ErrnoException) => (exited = `could not be started with ${java} (${error.code ?? error.message})`));
  child.once('exit', (code, signal) => (exited = `exited with ${signal ?? `code ${code}`}`));

  const url = `http://127.0.0.1:${port}${ccompatPath}`;
  const deadline = Date.now() + readyTimeoutMs;
  while (!(await answers(`${url}/subjects`))) {
    if (exited !== undefined) throw new Error(`Apicurio Registry ${exited} during startup; see ${logFile}`);
    if (Date.now() > deadline) {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      throw new Error(`Apicurio Registry did not answer within ${readyTimeoutMs} ms; see ${logFile}`);
    }
    await sleep(200);
  }
  // Set: the registry answered.
  return { pid: child.pid!, url, version: release.version, java, logFile };
}

