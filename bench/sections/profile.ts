/**
 * Profiles (not part of the table), each role under node --cpu-prof with one workload per
 * profile, so each summary says what that workload spends its time on: `kitsune api` under
 * /execute saturation, `kitsune db-worker` draining create_user events, `kitsune log-worker`
 * draining app-logs into the Loki test server, and `kitsune start` (embedded) taking end-to-end
 * traffic at 1,000 events/s. Beside each profile, window.json holds the measured part (ms since
 * the process was spawned), and the summary counts only the samples inside it, so start-up
 * (tsx compiling, modules loading) does not dilute the figures. Profiling costs throughput; the
 * figures recorded here are for reading the profiles against, not for the table.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from '../../src/cli/ports.ts';
import { benchTopics, createDatabase, deleteTopics } from '../support/infra.ts';
import type { LokiChild } from '../support/loki-child.ts';
import { spawnRole } from '../support/processes.ts';
import { forkChild } from '../support/rpc.ts';
import type { Context } from './context.ts';
import { drainWithDbWorker, publishCreateUsers } from './db-worker.ts';
import { endToEndStep } from './e2e.ts';
import { embeddedPostgresPid } from './embedded.ts';
import { apiEnv } from './ingest.ts';
import { drainWithLogWorker } from './log-worker.ts';

async function saveWindow(dir: string, window: { fromMs: number; toMs: number }): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'window.json'), `${JSON.stringify(window)}\n`);
}

export async function profileSection(ctx: Context): Promise<void> {
  const { settings: s } = ctx;
  const seconds = Math.max(10, s.saturationSeconds);
  const figures: Record<string, number> = {};

  const apiTopics = benchTopics(`bench-${ctx.runId}-prof`);
  try {
    const port = await freePort();
    const dir = join(ctx.profileDir, 'api');
    const api = ctx.track(await spawnRole('api', apiEnv(ctx, port, apiTopics), dir));
    try {
      const load = await ctx.load();
      const url = `http://127.0.0.1:${port}`;
      await load.call('saturate', { url, kind: 'execute', batchSize: 1, seconds: s.warmSeconds, connections: s.connections });
      ctx.log(`profiling kitsune api: POST /execute at saturation for ${seconds} s`);
      const fromMs = Date.now() - api.spawnedAt;
      const window = ctx.cpu('profile: kitsune api (--cpu-prof), /execute at saturation', { measured: { 'kitsune api': [api.pid] } });
      const sat = await load.call('saturate', { url, kind: 'execute', batchSize: 1, seconds, connections: s.connections });
      window(sat.eventsPerSecond);
      await saveWindow(dir, { fromMs, toMs: Date.now() - api.spawnedAt });
      figures.apiEventsPerSecond = sat.eventsPerSecond;
    } finally {
      await api.stop();
    }
  } finally {
    await deleteTopics(ctx.brokers, apiTopics.all);
  }

  const database = await createDatabase(ctx.services.postgresDsn, `kitsune_bench_${ctx.runId}_prof`);
  const topics = benchTopics(`bench-${ctx.runId}-profdbw`);
  try {
    await publishCreateUsers(ctx, topics, `${ctx.runId}.prof`, s.dbWorkerEvents);
    const dir = join(ctx.profileDir, 'db-worker');
    const drained = await drainWithDbWorker(ctx, database, topics, s.dbWorkerEvents, { cpuLabel: 'profile: kitsune db-worker (--cpu-prof), draining', profileDir: dir });
    await saveWindow(dir, drained.window);
    figures.dbWorkerCommandsPerSecond = drained.commandsPerSecond;
  } finally {
    await deleteTopics(ctx.brokers, topics.all);
    await database.drop();
  }

  const loki = ctx.track(await forkChild<LokiChild>('bench/support/loki-child.ts'));
  try {
    const dir = join(ctx.profileDir, 'log-worker');
    const drained = await drainWithLogWorker(ctx, loki, s.logLines, { label: 'profile: kitsune log-worker (--cpu-prof), draining', profileDir: dir });
    await saveWindow(dir, drained.window);
    figures.logWorkerLinesPerSecond = drained.linesPerSecond;
  } finally {
    await loki.stop();
  }

  const startPort = await freePort();
  ctx.log('profiling kitsune start (embedded) at 1,000 events/s end to end');
  const dir = join(ctx.profileDir, 'start');
  const start = ctx.track(await spawnRole('start', { HTTP_PORT: String(startPort), KITSUNE_DATA_DIR: ctx.embeddedDataDir }, dir));
  try {
    const load = await ctx.load();
    const url = `http://127.0.0.1:${startPort}`;
    await endToEndStep(ctx, load, url, 500, s.warmSeconds);
    const fromMs = Date.now() - start.spawnedAt;
    const run = await endToEndStep(ctx, load, url, 1_000, s.e2eSeconds, {
      label: 'profile: kitsune start (--cpu-prof), embedded, 1,000 events/s',
      pids: { measured: { 'kitsune start': [start.pid] }, postgres: await embeddedPostgresPid(ctx.embeddedDataDir) },
    });
    await saveWindow(dir, { fromMs, toMs: fromMs + s.e2eSeconds * 1000 });
    figures.embeddedAchievedAt1000 = run.achieved;
    figures.embeddedE2eP99At1000 = Math.round(run.e2e.p99);
  } finally {
    await start.stop(60_000);
  }
  ctx.results.profile = figures;
}
