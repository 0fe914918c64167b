/**
 * deploy/compose.yaml, as `docker-compose config` resolves it (Debian's docker-compose validates
 * the file against the Compose schema without a Docker engine): every variable given to Kitsune is
 * one its configuration reads and accepts, every health check and port is the one the role serves,
 * the start order waits on health, the addresses are services of the file, Prometheus scrapes every
 * role, and every mounted file exists. That the roles answer on those ports, image.test.ts shows.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { repoRoot } from '../../scripts/services/state.ts';
import { imageMetadata, readDockerfile } from './support/dockerfile.ts';
import { configFrom, healthPort, longRunningRoles, unreadVariables } from './support/kitsune.ts';

const requireTools = process.env.KITSUNE_REQUIRE_SERVICES === '1';
const installed = spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0;
const skip = installed ? false : "docker-compose is not installed (.ci/run installs Debian's docker-compose)";
if (skip && requireTools) throw new Error(`KITSUNE_REQUIRE_SERVICES=1: ${skip}`);

const file = join(repoRoot, 'deploy', 'compose.yaml');

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string | number | null>;
  ports?: Array<{ published: number; target: number }>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test?: string[]; disable?: boolean };
  volumes?: string[];
}

function composeConfig(path: string): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync('docker-compose', ['-f', path, 'config'], { encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A health check that runs something (docker-compose writes `disable: true` as test: [NONE]). */
const checksHealth = (service: Service): boolean => !service.healthcheck?.disable && (service.healthcheck?.test?.[0] ?? 'NONE') !== 'NONE';

const asStrings = (env: Service['environment']): Record<string, string> => Object.fromEntries(Object.entries(env ?? {}).map(([k, v]) => [k, String(v ?? '')]));

describe('deploy/compose.yaml', { skip }, async () => {
  if (skip) return;
  const resolved = composeConfig(file);
  const services = (parse(resolved.stdout) as { services?: Record<string, Service> } | null)?.services ?? {};
  const image = imageMetadata(await readDockerfile(join(repoRoot, 'Dockerfile')), 'runtime');
  const kitsune = Object.entries(services).filter(([, service]) => service.build?.context === repoRoot);
  const role = (name: string): Service => services[name] ?? assert.fail(`no service ${name}`);
  const envOf = (service: Service): Record<string, string> => ({ ...image.env, ...asStrings(service.environment) });

  test('docker-compose config accepts it, and rejects a misspelled key', async (t) => {
    assert.equal(resolved.code, 0, resolved.stderr);
    const dir = await mkdtemp(join(tmpdir(), 'kitsune-compose-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'compose.yaml'), 'services:\n  api:\n    image: kitsune:local\n    healthchek:\n      test: ["CMD", "true"]\n');
    const typo = composeConfig(join(dir, 'compose.yaml'));
    assert.notEqual(typo.code, 0);
    assert.match(typo.stderr, /healthchek/);
  });

  test('the Kitsune services are built from this repository and run the image\'s commands', () => {
    assert.deepEqual(kitsune.map(([name]) => name).sort(), ['api', 'db-worker', 'log-worker', 'migrate']);
    for (const [name, service] of kitsune) {
      assert.equal(service.build?.dockerfile, 'Dockerfile');
      assert.equal(service.image, 'kitsune:local');
      assert.deepEqual(service.command, [name]);
    }
  });

  test('every variable given to Kitsune is one it reads, and Kitsune accepts the values', () => {
    for (const [name, service] of kitsune) {
      const env = envOf(service);
      assert.deepEqual(unreadVariables(env), [], `${name}: variables Kitsune does not read`);
      assert.doesNotThrow(() => configFrom(env), `${name}: Kitsune rejects this configuration`);
    }
  });

  test('each role\'s health check is the image\'s, on a port the role listens on and the image exposes', () => {
    assert.equal(checksHealth(role('migrate')), false, 'a one-shot command has no health');
    for (const name of longRunningRoles) {
      const service = role(name);
      assert.deepEqual(service.healthcheck?.test, ['CMD', ...image.healthcheck]);
      const port = healthPort(name, configFrom(envOf(service)));
      assert.ok(port && image.exposed.includes(port), `${name}: serves /healthz on ${port}; the image exposes ${image.exposed.join(', ')}`);
    }
    assert.deepEqual(role('api').ports?.map((p) => p.target), [configFrom(envOf(role('api'))).http.port]);
  });

  test('the roles start once Kafka and PostgreSQL are healthy and migrate has finished', () => {
    for (const name of longRunningRoles) {
      const needs = role(name).depends_on ?? {};
      assert.equal(needs.kafka?.condition, 'service_healthy', name);
      assert.equal(needs.postgres?.condition, 'service_healthy', name);
      assert.equal(needs.migrate?.condition, 'service_completed_successfully', name);
    }
    assert.equal(role('migrate').depends_on?.postgres?.condition, 'service_healthy');
    for (const [name, service] of Object.entries(services)) {
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        const target = role(dependency);
        if (condition === 'service_healthy') assert.ok(checksHealth(target), `${name} waits for ${dependency} to be healthy, which has no health check`);
      }
    }
  });

  test('Kitsune\'s addresses are services of this file, and Kafka advertises the address the roles use', () => {
    for (const [name, service] of kitsune) {
      const config = configFrom(envOf(service));
      for (const broker of config.kafkaBrokers ?? []) {
        assert.ok(services[broker.split(':')[0]!], `${name}: broker ${broker}`);
        assert.ok(String(role('kafka').environment?.KAFKA_ADVERTISED_LISTENERS).split(',').some((listener) => listener.endsWith(`//${broker}`)), `Kafka does not advertise ${broker}`);
      }
      for (const url of [config.postgresDsn, config.lokiUrl]) {
        if (url) assert.ok(services[new URL(url).hostname], `${name}: ${new URL(url).hostname} is not a service`);
      }
    }
    const postgres = asStrings(role('postgres').environment);
    const dsn = new URL(configFrom(envOf(role('api'))).postgresDsn ?? '');
    assert.deepEqual([dsn.username, dsn.password, dsn.pathname.slice(1)], [postgres.POSTGRES_USER, postgres.POSTGRES_PASSWORD, postgres.POSTGRES_DB]);
  });

  test('every file mounted from the repository exists, and Prometheus scrapes every role where it serves /metrics', async () => {
    const mounts = Object.values(services).flatMap((service) => (service.volumes ?? []).map((volume) => volume.split(':')));
    const binds = mounts.filter(([source]) => source?.startsWith('/'));
    for (const [source] of binds) assert.ok(existsSync(source!), `${source} is mounted but does not exist`);
    const prometheusFile = binds.find(([, target]) => target === '/etc/prometheus/prometheus.yml')?.[0];
    assert.ok(prometheusFile, 'Prometheus gets its configuration from the repository');
    const prometheus = parse(await readFile(prometheusFile, 'utf8')) as { scrape_configs: Array<{ job_name: string; dns_sd_configs?: Array<{ names: string[]; port: number }> }> };
    for (const name of longRunningRoles) {
      const port = healthPort(name, configFrom(envOf(role(name))));
      const scraped = prometheus.scrape_configs.some((job) => job.dns_sd_configs?.some((sd) => sd.names.includes(name) && sd.port === port));
      assert.ok(scraped, `no scrape job finds ${name} on port ${port}`);
    }
    if (spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0) {
      execFileSync('promtool', ['check', 'config', '--syntax-only', prometheusFile], { stdio: 'pipe' });
    }
  });

  test('Grafana\'s provisioned data sources point at services of this file', async () => {
    const provisioning = (role('grafana').volumes ?? []).map((volume) => volume.split(':')).find(([, target]) => target === '/etc/grafana/provisioning')?.[0];
    const folder = provisioning && join(provisioning, 'datasources');
    if (!folder || !existsSync(folder)) return; // nothing provisioned: nothing to point anywhere
    for (const name of await readdir(folder)) {
      const { datasources } = parse(await readFile(join(folder, name), 'utf8')) as { datasources?: Array<{ name: string; url?: string }> };
      for (const source of datasources ?? []) {
        if (source.url) assert.ok(services[new URL(source.url).hostname], `data source ${source.name}: ${source.url} is not a service of compose.yaml`);
      }
    }
  });
});
