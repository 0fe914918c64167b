/**
 * Ingest throughput: POST /execute and POST /execute/batch through the real API process and the
 * real broker, beside a bare Fastify handler that answers 202 without a broker, in the same run.
 * Load comes from autocannon in this process; each server is its own process.
 *
 *   npm run bench:ingest [-- --seconds 10 --connections 100]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { down, up } from '../scripts/services/harness.ts';
import { freePort } from '../src/cli/ports.ts';
import { repoRoot } from '../scripts/services/state.ts';
import { load, type LoadResult } from './support/load.ts';

const { values: args } = parseArgs({
  options: { seconds: { type: 'string', default: '10' }, connections: { type: 'string', default: '100' }, batch: { type: 'string', default: '50' } },
});
const seconds = Number(args.seconds);
const connections = Number(args.connections);
const batchSize = Number(args.batch);

async function startProcess(command: string[], env: NodeJS.ProcessEnv, ready: RegExp): Promise<ChildProcess> {
  const child = spawn(process.execPath, command, { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  await new Promise<void>((resolveReady, reject) => {
    child.once('exit', (code) => reject(new Error(`${command.join(' ')} exited with ${code}`)));
    lines.on('line', (line) => {
      if (ready.test(line)) resolveReady();
    });
  });
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolveExit) => child.once('exit', resolveExit));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(10_000).then(() => child.kill('SIGKILL'))]);
}

let sequence = 0;
const command = (): Record<string, unknown> => {
  const n = sequence++;
  return { command: 'create_user', version: '1', payload: { name: `User ${n}`, email: `user-${n}-${process.pid}@example.com` }, log: { level: 'INFO', message: 'User created' }, metadata: { source: 'bench' } };
};

interface Row {
  target: string;
  eventsPerSecond: number;
  requestsPerSecond: number;
  p50: number;
  p95: number;
  p99: number;
  non2xx: number;
}

const row = (target: string, result: LoadResult, eventsPerRequest: number): Row => ({
  target,
  eventsPerSecond: result.requestsPerSecond * eventsPerRequest,
  requestsPerSecond: result.requestsPerSecond,
  p50: result.p50,
  p95: result.p95,
  p99: result.p99,
  non2xx: Object.entries(result.statuses).filter(([status]) => !status.startsWith('2')).reduce((sum, [, count]) => sum + count, 0) + result.errors,
});

async function main(): Promise<void> {
  const services = await up({ requireKafka: true });
  const children: ChildProcess[] = [];
  try {
    const rows: Row[] = [];
    const barePort = await freePort();
    const bare = await startProcess(['--import', 'tsx', 'bench/support/bare-server.ts'], { HTTP_PORT: String(barePort) }, /^listening/);
    children.push(bare);
    rows.push(row('bare Fastify 202 (no broker)', await load({ url: `http://127.0.0.1:${barePort}`, path: '/execute', body: () => JSON.stringify(command()), durationSeconds: seconds, connections }), 1));
    await stop(bare);

    const apiPort = await freePort();
    const suffix = randomUUID().slice(0, 8);
    const api = await startProcess(['bin/kitsune.js', 'api'], {
      HTTP_PORT: String(apiPort),
      KAFKA_BROKERS: services.kafkaBrokers,
      POSTGRES_DSN: '',
      KITSUNE_LOG_LEVEL: 'info',
      KITSUNE_TOPIC_DB_EVENTS: `bench-db-events-${suffix}`,
      KITSUNE_TOPIC_APP_LOGS: `bench-app-logs-${suffix}`,
      KITSUNE_TOPIC_DB_RESULTS: `bench-db-results-${suffix}`,
    }, /API listening/);
    children.push(api);
    const url = `http://127.0.0.1:${apiPort}`;
    // Warm the JIT and the producer's connections before measuring.
    await load({ url, path: '/execute', body: () => JSON.stringify(command()), durationSeconds: 2, connections });
    rows.push(row('kitsune POST /execute (Kafka)', await load({ url, path: '/execute', body: () => JSON.stringify(command()), durationSeconds: seconds, connections }), 1));
    const batchBody = (): string => JSON.stringify({ commands: Array.from({ length: batchSize }, command) });
    rows.push(row(`kitsune POST /execute/batch x${batchSize} (Kafka)`, await load({ url, path: '/execute/batch', body: batchBody, durationSeconds: seconds, connections: Math.max(4, connections / 10) }), batchSize));
    await stop(api);

    console.log(`\nautocannon, ${connections} connections, ${seconds} s per row; latency in ms\n`);
    console.table(rows);
    const bareRate = rows[0]!.eventsPerSecond;
    console.log(`/execute / bare handler: ${(rows[1]!.eventsPerSecond / bareRate).toFixed(2)}x   (goal: >= 15,000 events/s and >= 0.5x)`);
    const dir = join(repoRoot, 'bench', 'results');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'ingest.json'), `${JSON.stringify({ date: new Date().toISOString(), seconds, connections, batchSize, rows }, null, 2)}\n`);
  } finally {
    for (const child of children) await stop(child);
    await down(services.started);
  }
}

await main();
