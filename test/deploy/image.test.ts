/**
 * The Dockerfile without Docker: its build stage's commands (install, compile, prune) run in a
 * throw-away folder, its runtime stage's files are assembled from their COPY lines, and the
 * result runs every role with the image's ENTRYPOINT (tini), ENV and HEALTHCHECK against the
 * test's real Kafka and PostgreSQL. See support/dockerfile.ts for what a replay can and cannot show.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, chown, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import dockerignore from '@balena/dockerignore';
import { validate } from 'dockerfile-utils';
import pg from 'pg';
import { repoRoot } from '../../scripts/services/state.ts';
import { freePort } from '../../src/cli/ports.ts';
import { freshNames } from '../cli/support.ts';
import { freshDatabase } from '../support/database.ts';
import { kafkaBrokers, kafkaSkip } from '../support/services.ts';
import { Admin } from '@platformatic/kafka';
import { argumentsOf, execForm, imageMetadata, readDockerfile, replayStage, stage, type ParsedDockerfile, type StageResult } from './support/dockerfile.ts';
import { configFrom, dbWorkerGroup } from './support/kitsune.ts';
import { isolated, probe, runRole, startRole, type ImageTree } from './support/roles.ts';

const log = (line: string): void => void process.stderr.write(`image: ${line}\n`);

describe('the Dockerfile', () => {
  let dockerfile: ParsedDockerfile;
  before(async () => {
    dockerfile = await readDockerfile(join(repoRoot, 'Dockerfile'));
  });

  test('has no problem a Dockerfile linter reports, and the three stages the replay knows', () => {
    assert.deepEqual(validate(dockerfile.text).map((problem) => `line ${problem.range.start.line + 1}: ${JSON.stringify(problem.message)}`), []);
    assert.deepEqual(dockerfile.stages.map((s) => `${s.name} from ${s.from}`), ['base from node:24-bookworm-slim', 'build from node:24-bookworm-slim', 'runtime from base']);
  });

  test('the OS layer installs the init the entry point starts, and the runtime stage runs no command', () => {
    const osRuns = stage(dockerfile, 'base').instructions.filter((i) => i.getKeyword() === 'RUN').map(argumentsOf);
    assert.equal(osRuns.length, 1);
    assert.match(osRuns[0]!, /apt-get install -y --no-install-recommends tini\b/);
    const runtime = stage(dockerfile, 'runtime').instructions;
    assert.deepEqual(runtime.filter((i) => i.getKeyword() === 'RUN'), [], 'a RUN in the runtime stage would not be replayed');
    const entrypoint = execForm(runtime.find((i) => i.getKeyword() === 'ENTRYPOINT')!);
    assert.deepEqual(entrypoint.slice(0, 2), ['tini', '--']);
  });

  test('.dockerignore keeps local state and secrets out of the build context', async () => {
    const rules = dockerignore.default().add(await readFile(join(repoRoot, '.dockerignore'), 'utf8'));
    for (const path of ['node_modules/pg/index.js', 'dist/cli/index.js', '.env', '.kitsune/postgres/PG_VERSION', 'bench/results/latest.json', '.git/HEAD', 'deploy/compose.yaml']) {
      assert.ok(rules.ignores(path), `${path} would be sent to the Docker daemon`);
    }
  });
});

describe('the image, replayed in a throw-away folder', { skip: kafkaSkip }, () => {
  let work: string;
  let tree: ImageTree;
  let healthcheck: string[];

  before(async () => {
    const dockerfile = await readDockerfile(join(repoRoot, 'Dockerfile'));
    work = await mkdtemp(join(tmpdir(), 'kitsune-image-'));
    await chmod(work, 0o755); // the roles run as nobody
    const started = Date.now();
    const done = new Map<string, StageResult>();
    const options = { context: repoRoot, into: work, runIn: ['build'], done, log };
    await replayStage(dockerfile, 'build', options);
    const runtime = await replayStage(dockerfile, 'runtime', options);
    log(`build and runtime stages replayed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const metadata = imageMetadata(dockerfile, 'runtime');
    tree = { dir: join(runtime.root, runtime.workdir), entrypoint: metadata.entrypoint, env: runtime.env };
    healthcheck = metadata.healthcheck;
  }, { timeout: 900_000 });

  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('holds the compiled build and production dependencies only', async () => {
    const manifest = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    await stat(join(tree.dir, 'dist', 'cli', 'index.js'));
    for (const name of Object.keys(manifest.dependencies)) await stat(join(tree.dir, 'node_modules', name, 'package.json'));
    const devLeft = [];
    for (const name of Object.keys(manifest.devDependencies)) {
      if (await stat(join(tree.dir, 'node_modules', name)).then(() => true, () => false)) devLeft.push(name);
    }
    assert.deepEqual(devLeft, [], 'dev dependencies left in the image');
    assert.deepEqual((await readdir(tree.dir)).sort(), ['commands', 'deploy', 'dist', 'migrations', 'node_modules', 'package.json']);
    const size = (path: string): string => execFileSync('du', ['-sh', '--apparent-size', path], { encoding: 'utf8' }).split('\t')[0]!;
    log(`runtime tree: ${size(tree.dir)} (node_modules ${size(join(tree.dir, 'node_modules'))}, dist ${size(join(tree.dir, 'dist'))})`);
  });

  test('migrate applies the migrations, and a second run finds nothing to do', async (t) => {
    const dsn = await freshDatabase(t);
    const first = await runRole(tree, ['migrate'], { POSTGRES_DSN: dsn });
    assert.equal(first.code, 0, first.output);
    assert.match(first.output, /applied \S+users/);
    const second = await runRole(tree, ['migrate'], { POSTGRES_DSN: dsn });
    assert.equal(second.code, 0, second.output);
    assert.match(second.output, /up to date/);
  });

  test('start runs everything in one container with its embedded PostgreSQL, as the image\'s user', { timeout: 300_000 }, async (t) => {
    const dataDir = await mkdtemp(join(tmpdir(), 'kitsune-image-data-'));
    t.after(() => rm(dataDir, { recursive: true, force: true }));
    if (isolated) await chown(dataDir, 65534, 65534); // the image's KITSUNE_DATA_DIR belongs to its user
    const port = await freePort();
    const env = { HTTP_PORT: String(port), KITSUNE_HTTP_HOST: '127.0.0.1', KITSUNE_DATA_DIR: dataDir, KITSUNE_LOG_LEVEL: 'warn' };
    const start = await startRole(t, tree, 'start', port, env);
    assert.equal(await probe(port, '/readyz'), 200);
    assert.equal(await probe(port, '/console/'), 200, 'the image serves the console built in its build stage');
    const check = await runRole({ ...tree, entrypoint: [] }, healthcheck, { ...env, KITSUNE_METRICS_PORT: '0' }, 30_000);
    assert.equal(check.code, 0, check.output);
    const { code } = await start.stop();
    assert.equal(code, 0, start.output());
  });

  test('api, db-worker and log-worker start, pass the HEALTHCHECK, apply a command and stop cleanly on SIGTERM', { timeout: 600_000 }, async (t) => {
    const dsn = await freshDatabase(t);
    const base = { POSTGRES_DSN: dsn, KAFKA_BROKERS: kafkaBrokers().join(','), KITSUNE_HTTP_HOST: '127.0.0.1', KITSUNE_LOG_LEVEL: 'warn', ...freshNames() };
    const [apiPort, dbMetrics, logMetrics, unused] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const roles = [
      // The HEALTHCHECK probes HTTP_PORT and the metrics port: the one a role does not use is
      // pointed at a port nothing listens on, so only the role itself can make the check pass.
      { role: 'api', port: apiPort, env: { ...base, HTTP_PORT: String(apiPort), KITSUNE_METRICS_PORT: String(unused) } },
      { role: 'db-worker', port: dbMetrics, env: { ...base, HTTP_PORT: String(unused), KITSUNE_METRICS_PORT: String(dbMetrics) } },
      { role: 'log-worker', port: logMetrics, env: { ...base, HTTP_PORT: String(unused), KITSUNE_METRICS_PORT: String(logMetrics) } },
    ];
    const running = [];
    const metrics = new Map<string, number>();
    for (const { role, port, env } of roles) {
      running.push(await startRole(t, tree, role, port, env));
      const check = await runRole({ ...tree, entrypoint: [] }, healthcheck, env, 30_000);
      assert.equal(check.code, 0, `HEALTHCHECK of ${role}: ${check.output}`);
      metrics.set(role, await probe(port, '/metrics'));
    }
    for (const role of ['api', 'db-worker', 'log-worker']) assert.equal(metrics.get(role), 200, `${role} serves /metrics where Prometheus is told to scrape it`);
    assert.equal(await probe(apiPort, '/readyz'), 200);

    const email = `image-${randomUUID()}@example.com`;
    const response = await fetch(`http://127.0.0.1:${apiPort}/execute`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ command: 'create_user', version: '1', payload: { name: 'Image', email }, log: { level: 'INFO', message: 'from the image' } }),
    });
    assert.equal(response.status, 202, await response.text());
    const pool = new pg.Pool({ connectionString: dsn, max: 1 });
    const deadline = Date.now() + 120_000;
    try {
      while ((await pool.query('SELECT 1 FROM users WHERE email = $1', [email])).rowCount === 0) {
        assert.ok(Date.now() < deadline, 'the DB worker did not apply the command within 120 s');
        await sleep(100);
      }
    } finally {
      await pool.end(); // before the database is dropped, which would end its connection under it
    }

    // What KEDA's Kafka trigger reads: the committed offsets of the group the DB workers use.
    const config = configFrom({ ...tree.env, ...roles[1]!.env });
    const admin = new Admin({ clientId: 'image-test', bootstrapBrokers: kafkaBrokers() });
    t.after(() => admin.close());
    const committed = async (): Promise<number> => {
      const [group] = await admin.listConsumerGroupOffsets({ groups: [dbWorkerGroup(config)] });
      const partitions = group?.topics.find((topic) => topic.name === config.topics.dbEvents)?.partitions ?? [];
      return partitions.filter((partition) => partition.committedOffset > 0n).length;
    };
    while ((await committed()) === 0) {
      assert.ok(Date.now() < deadline, `no offsets committed by ${dbWorkerGroup(config)} on ${config.topics.dbEvents}`);
      await sleep(200);
    }

    for (const role of running.reverse()) {
      const { code, ms } = await role.stop();
      log(`${role.role} stopped on SIGTERM in ${ms} ms`);
      assert.equal(code, 0, `${role.role} exit code after SIGTERM:\n${role.output()}`);
    }
    const down = await runRole({ ...tree, entrypoint: [] }, healthcheck, roles[0]!.env, 30_000);
    assert.equal(down.code, 1, 'the HEALTHCHECK fails once nothing answers');
  });
});
