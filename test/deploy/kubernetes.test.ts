/**
 * deploy/kubernetes/: each overlay rendered by kustomize is valid against the Kubernetes OpenAPI
 * schemas (and KEDA's CRD), has no unknown field, and agrees with Kitsune: every variable is one
 * its configuration reads, every probe names a port the container declares and the path the role
 * serves there, every ConfigMap and Secret it references exists (or is documented as created by
 * hand), and the KEDA trigger reads the group and topic the DB workers use. That the roles really
 * answer on those paths and ports, and that the group exists on a broker, image.test.ts shows.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { repoRoot } from '../../scripts/services/state.ts';
import { imageMetadata, readDockerfile } from './support/dockerfile.ts';
import { configFrom, dbWorkerGroup, healthPort, longRunningRoles, unreadVariables, type LongRunningRole } from './support/kitsune.ts';
import { kustomize, render, schemaProblems, unknownFields, type KubeObject } from './support/kubernetes.ts';

const requireTools = process.env.KITSUNE_REQUIRE_SERVICES === '1';
const skip = kustomize ? false : 'neither kustomize nor kubectl is installed (.ci/run installs kustomize)';
if (skip && requireTools) throw new Error(`KITSUNE_REQUIRE_SERVICES=1: ${skip}`);

const dir = join(repoRoot, 'deploy', 'kubernetes');

/** The Kafka trigger's parameters in KEDA's documentation (keda.sh/docs/2.x/scalers/apache-kafka). */
const kedaKafkaParameters = new Set([
  'bootstrapServers', 'consumerGroup', 'topic', 'lagThreshold', 'activationLagThreshold', 'offsetResetPolicy', 'allowIdleConsumers',
  'scaleToZeroOnInvalidOffset', 'excludePersistentLag', 'limitToPartitionsWithLag', 'version', 'partitionLimitation', 'sasl', 'tls',
]);

// Narrow views of the fields these checks read; the schemas above vouch for the rest.
interface EnvVar { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string } } }
interface HttpProbe { httpGet?: { path: string; port: string | number } }
interface Container {
  name: string; image: string; args?: string[]; env?: EnvVar[];
  envFrom?: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>;
  ports?: Array<{ name?: string; containerPort: number }>;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  startupProbe?: HttpProbe; livenessProbe?: HttpProbe; readinessProbe?: HttpProbe;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
}
interface PodSpec {
  containers: Container[]; terminationGracePeriodSeconds?: number;
  securityContext?: { runAsUser?: number; runAsNonRoot?: boolean };
  volumes?: Array<{ name: string; configMap?: { name: string } }>;
}
interface Workload extends KubeObject { spec: { replicas?: number; selector?: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpec } } }

const byKind = <T extends KubeObject>(objects: KubeObject[], kind: string): T[] => objects.filter((o) => o.kind === kind) as T[];
const named = (objects: KubeObject[], kind: string, name: string): KubeObject | undefined => objects.find((o) => o.kind === kind && o.metadata.name === name);
const component = (w: Workload): string | undefined => w.spec.template.metadata.labels['app.kubernetes.io/component'];

/** A container's environment as Kitsune would see it: the image's ENV, envFrom, then env. */
function containerEnv(objects: KubeObject[], container: Container, imageEnv: Record<string, string>): { env: Record<string, string>; secrets: string[] } {
  const env: Record<string, string> = { ...imageEnv };
  const secrets: string[] = [];
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef) {
      const map = named(objects, 'ConfigMap', source.configMapRef.name) as (KubeObject & { data?: Record<string, string> }) | undefined;
      assert.ok(map, `${container.name}: envFrom names ConfigMap ${source.configMapRef.name}, which the overlay does not define`);
      Object.assign(env, map.data);
    }
    if (source.secretRef) secrets.push(source.secretRef.name);
  }
  for (const variable of container.env ?? []) {
    const ref = variable.valueFrom?.secretKeyRef;
    if (ref) {
      secrets.push(ref.name);
      const secret = named(objects, 'Secret', ref.name) as (KubeObject & { data?: Record<string, string> }) | undefined;
      // A Secret made outside git (prod) holds a real DSN; a stand-in checks the other values.
      const stored = secret?.data?.[ref.key];
      env[variable.name] = stored !== undefined ? Buffer.from(stored, 'base64').toString('utf8') : 'postgres://user:secret@postgres.example:5432/kitsune';
    } else {
      env[variable.name] = variable.value ?? '';
    }
  }
  return { env, secrets };
}

function probePort(container: Container, probe: HttpProbe | undefined, what: string): { path: string; port: number } {
  assert.ok(probe?.httpGet, `${container.name}: no HTTP ${what}`);
  const { path, port } = probe.httpGet;
  const resolved = typeof port === 'number' ? port : container.ports?.find((p) => p.name === port)?.containerPort;
  assert.ok(resolved, `${container.name}: the ${what} names port ${port}, which the container does not declare`);
  return { path, port: resolved };
}

describe('Kubernetes manifests', { skip }, async () => {
  if (skip) return;
  const image = imageMetadata(await readDockerfile(join(repoRoot, 'Dockerfile')), 'runtime');
  const imageEnv = image.env;
  const imageUid = Number(image.user?.split(':')[0]);
  const imageCommands = new Set(['api', 'db-worker', 'log-worker', 'migrate', 'start']);
  const deployDoc = await readFile(join(repoRoot, 'docs', 'deploy.md'), 'utf8');

  test('the registry ConfigMap is built from a copy of commands/registry.yaml that has not drifted', async () => {
    assert.equal(await readFile(join(dir, 'base', 'registry.yaml'), 'utf8'), await readFile(join(repoRoot, 'commands', 'registry.yaml'), 'utf8'), 'copy commands/registry.yaml to deploy/kubernetes/base/registry.yaml');
  });

  test('the checks below fail on a misspelled field and on a wrong type', async () => {
    const deployment = structuredClone(render(join(dir, 'overlays', 'dev')).find((o) => o.kind === 'Deployment')!) as Workload;
    (deployment.spec.template.spec.containers[0] as unknown as Record<string, unknown>).readinesProbe = {};
    (deployment.spec as Record<string, unknown>).replicas = 'three';
    assert.equal((await schemaProblems([deployment])).length, 1);
    assert.ok(unknownFields([deployment]).some((problem) => problem.includes('readinesProbe')));
  });

  for (const overlay of ['dev', 'prod'] as const) {
    describe(`overlays/${overlay}`, () => {
      const objects = render(join(dir, 'overlays', overlay));
      const workloads = [...byKind<Workload>(objects, 'Deployment'), ...byKind<Workload>(objects, 'Job')].filter((w) => w.metadata.labels?.['app.kubernetes.io/part-of'] === 'kitsune');

      test('every object is valid against its OpenAPI schema and has no field the schema does not define', async () => {
        assert.deepEqual(await schemaProblems(objects), []);
        assert.deepEqual(unknownFields(objects), []);
      });

      test('has a Deployment for each role with the design\'s replica counts, and the migration Job', () => {
        const expected = overlay === 'prod' ? { api: 3, 'db-worker': 5, 'log-worker': 2 } : { api: 1, 'db-worker': 1, 'log-worker': 1 };
        const deployments = workloads.filter((w) => w.kind === 'Deployment');
        assert.deepEqual(Object.fromEntries(deployments.map((d) => [component(d), d.spec.replicas])), expected);
        const jobs = workloads.filter((w) => w.kind === 'Job');
        assert.deepEqual(jobs.map((j) => j.spec.template.spec.containers[0]?.args), [['migrate']]);
      });

      for (const workload of workloads) {
        test(`${workload.kind} ${workload.metadata.name} runs the image as its non-root user, with variables Kitsune reads and valid values`, () => {
          const pod = workload.spec.template.spec;
          assert.equal(pod.securityContext?.runAsNonRoot, true);
          assert.equal(pod.securityContext?.runAsUser, imageUid, 'the Dockerfile USER');
          for (const container of pod.containers) {
            assert.ok(imageCommands.has(container.args?.[0] ?? ''), `${container.name}: args ${JSON.stringify(container.args)} name no kitsune command`);
            assert.equal(container.args?.[0], component(workload));
            const { env, secrets } = containerEnv(objects, container, imageEnv);
            assert.deepEqual(unreadVariables(env), [], `${container.name}: variables Kitsune does not read`);
            assert.doesNotThrow(() => configFrom(env), `${container.name}: Kitsune rejects this configuration`);
            for (const secret of secrets) {
              if (!named(objects, 'Secret', secret)) assert.match(deployDoc, new RegExp(`create secret generic ${secret} `), `Secret ${secret} is neither in the overlay nor in docs/deploy.md`);
            }
            const registry = env.KITSUNE_REGISTRY;
            if (registry) {
              const mount = container.volumeMounts?.find((m) => registry.startsWith(`${m.mountPath}/`));
              assert.ok(mount, `${container.name}: KITSUNE_REGISTRY ${registry} is not under a mounted volume`);
              const volume = pod.volumes?.find((v) => v.name === mount.name);
              const map = named(objects, 'ConfigMap', volume?.configMap?.name ?? '') as (KubeObject & { data?: Record<string, string> }) | undefined;
              assert.ok(map?.data?.[registry.slice(mount.mountPath.length + 1)], `${container.name}: ${registry} is not a key of the mounted ConfigMap`);
            }
            const { requests, limits } = container.resources ?? {};
            for (const resource of ['cpu', 'memory']) {
              assert.ok(requests?.[resource] && limits?.[resource], `${container.name}: ${resource} request and limit`);
            }
          }
        });
      }

      for (const role of longRunningRoles) {
        test(`${role}: probes, metrics port and termination grace agree with what the role serves`, () => {
          const deployment = workloads.find((w) => w.kind === 'Deployment' && component(w) === role)!;
          const container = deployment.spec.template.spec.containers[0]!;
          const config = configFrom(containerEnv(objects, container, imageEnv).env);
          const port = healthPort(role, config);
          assert.ok(port, `${role}: set KITSUNE_METRICS_PORT, so the probes and the port agree by construction`);
          const ready: Record<LongRunningRole, string> = { api: '/readyz', 'db-worker': '/healthz', 'log-worker': '/healthz' };
          assert.deepEqual(probePort(container, container.startupProbe, 'startupProbe'), { path: '/healthz', port });
          assert.deepEqual(probePort(container, container.livenessProbe, 'livenessProbe'), { path: '/healthz', port });
          assert.deepEqual(probePort(container, container.readinessProbe, 'readinessProbe'), { path: ready[role], port });
          assert.equal(deployment.spec.template.metadata.annotations?.['prometheus.io/port'], String(port));
          assert.ok(image.exposed.includes(port), `the Dockerfile EXPOSEs ${image.exposed.join(', ')}, not ${port}`);
          // The bounded part of a stop: the API's preStop pause and its requests' publish
          // deadline; the log worker's 10 s grace for pushes in flight (src/apps/log-worker/build.ts).
          const preStop = Number(container.lifecycle?.preStop?.exec?.command[1] ?? 0);
          const drainMs = role === 'api' ? config.ingest.publishTimeoutMs : role === 'log-worker' ? 10_000 : 0;
          const grace = deployment.spec.template.spec.terminationGracePeriodSeconds ?? 30;
          assert.ok(grace * 1000 >= 2 * (preStop * 1000 + drainMs), `${role}: ${grace} s grace for a ${preStop} s preStop and a ${drainMs} ms drain`);
          if (role !== 'api') assert.ok((deployment.spec.replicas ?? 1) <= (role === 'db-worker' ? config.topics.dbEventsPartitions : config.topics.appLogsPartitions), `${role}: more replicas than partitions`);
          const budgets = byKind<KubeObject & { spec: { selector: { matchLabels: Record<string, string> } } }>(objects, 'PodDisruptionBudget').filter((pdb) =>
            Object.entries(pdb.spec.selector.matchLabels).every(([k, v]) => deployment.spec.template.metadata.labels[k] === v));
          assert.equal(budgets.length, 1, `${role}: one PodDisruptionBudget selects its pods`);
        });
      }

      test('the API Service selects the API pods on their HTTP port', () => {
        const service = named(objects, 'Service', 'kitsune-api') as KubeObject & { spec: { selector: Record<string, string>; ports: Array<{ targetPort: string }> } };
        const api = workloads.find((w) => component(w) === 'api')!;
        assert.ok(Object.entries(service.spec.selector).every(([k, v]) => api.spec.template.metadata.labels[k] === v));
        assert.ok(api.spec.template.spec.containers[0]!.ports?.some((p) => p.name === service.spec.ports[0]?.targetPort));
      });

      test(overlay === 'prod' ? 'KEDA scales the DB workers on the lag of their group and topic, within the partitions' : 'has no ScaledObject (KEDA is not needed on a laptop)', () => {
        const scaled = byKind<KubeObject & { spec: { scaleTargetRef: { name: string }; minReplicaCount: number; maxReplicaCount: number; triggers: Array<{ type: string; metadata: Record<string, string> }> } }>(objects, 'ScaledObject');
        if (overlay === 'dev') return assert.deepEqual(scaled, []);
        assert.equal(scaled.length, 1);
        const { spec } = scaled[0]!;
        const target = workloads.find((w) => w.kind === 'Deployment' && w.metadata.name === spec.scaleTargetRef.name);
        assert.ok(target, `the ScaledObject targets ${spec.scaleTargetRef.name}, which is not a Kitsune Deployment`);
        assert.equal(component(target), 'db-worker');
        const config = configFrom(containerEnv(objects, target.spec.template.spec.containers[0]!, imageEnv).env);
        assert.equal(spec.triggers.length, 1);
        const { type, metadata } = spec.triggers[0]!;
        assert.equal(type, 'kafka');
        assert.deepEqual(Object.keys(metadata).filter((key) => !kedaKafkaParameters.has(key)), [], 'parameters KEDA does not document');
        assert.equal(metadata.bootstrapServers, config.kafkaBrokers?.join(','));
        assert.equal(metadata.consumerGroup, dbWorkerGroup(config));
        assert.equal(metadata.topic, config.topics.dbEvents);
        assert.match(metadata.lagThreshold ?? '', /^[1-9]\d*$/);
        assert.ok(spec.minReplicaCount >= 1 && spec.minReplicaCount <= spec.maxReplicaCount);
        assert.ok(spec.maxReplicaCount <= config.topics.dbEventsPartitions, 'more DB workers than db-events partitions would sit idle');
      });
    });
  }
});
