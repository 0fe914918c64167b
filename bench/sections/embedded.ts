/**
 * The embedded mode, as `npm start` runs it with nothing configured: one `kitsune start` process
 * (API, DB worker and log worker), an embedded PostgreSQL it starts itself, the Postgres log as
 * the transport and logs kept in PostgreSQL. End-to-end steps at rising fixed rates show where it
 * stops keeping up; then saturation of POST /execute. Baselines are the Kafka-mode figures of the
 * same run.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from '../../src/cli/ports.ts';
import { spawnRole } from '../support/processes.ts';
import { keptUp } from '../support/report.ts';
import type { Context, EndToEnd } from './context.ts';
import { endToEndStep } from './e2e.ts';

/** What `kitsune start` records beside the data about the embedded server (a child of it). */
async function embeddedServer(dataDir: string): Promise<{ dsn: string; postgresPid: number } | undefined> {
  try {
    return JSON.parse(await readFile(join(dataDir, 'embedded.json'), 'utf8')) as { dsn: string; postgresPid: number };
  } catch {
    return undefined;
  }
}

export async function embeddedPostgresPid(dataDir: string): Promise<number[]> {
  const server = await embeddedServer(dataDir);
  return server ? [server.postgresPid] : [];
}

export async function embeddedSection(ctx: Context): Promise<void> {
  const { settings: s } = ctx;
  const port = await freePort();
  ctx.log(`kitsune start, embedded (data in ${ctx.embeddedDataDir})`);
  const start = ctx.track(await spawnRole('start', { HTTP_PORT: String(port), KITSUNE_DATA_DIR: ctx.embeddedDataDir }));
  try {
    const url = `http://127.0.0.1:${port}`;
    const load = await ctx.load();
    const server = await embeddedServer(ctx.embeddedDataDir);
    const pids = { measured: { 'kitsune start': [start.pid] }, postgres: server ? [server.postgresPid] : [] };
    ctx.log('ready; warming it up at 500 events/s');
    await endToEndStep(ctx, load, url, 500, s.warmSeconds);
    const rates = [...new Set([...s.fixedRates, ...s.embeddedSteps])].sort((a, b) => a - b);
    const runs: EndToEnd[] = [];
    const steps: Array<{ target: number; kept: boolean; why: string }> = [];
    let fellBehind = false;
    for (const rate of rates) {
      // The table's fixed rates run even above a step that fell behind, except with --quick: a
      // step the mode cannot keep up with only lengthens the run while its backlog is answered.
      if (fellBehind && (s.quick || !s.fixedRates.includes(rate))) {
        steps.push({ target: rate, kept: false, why: 'not run: a lower rate did not keep up' });
        continue;
      }
      ctx.log(`embedded end to end at ${rate} events/s for ${s.e2eSeconds} s`);
      const last = rate === rates[rates.length - 1];
      const run = await endToEndStep(ctx, load, url, rate, s.e2eSeconds, { label: `e2e (embedded): ${rate} events/s`, pids }, server?.dsn, !(s.quick && last));
      runs.push(run);
      const outcome = keptUp(run);
      steps.push({ target: rate, ...outcome });
      ctx.log(`  ${outcome.kept ? 'kept up' : 'fell behind'}: ${outcome.why}`);
      fellBehind ||= !outcome.kept;
    }
    let sustained = 0;
    for (const step of steps) {
      if (!step.kept) break;
      sustained = step.target;
    }

    ctx.log('embedded: /execute at saturation');
    const window = ctx.cpu('embedded: /execute at saturation', pids);
    const sat = await load.call('saturate', { url, kind: 'execute', batchSize: 1, seconds: s.saturationSeconds, connections: s.connections });
    window(sat.eventsPerSecond);
    const failed = Object.entries(sat.statuses).reduce((sum, [status, count]) => (status.startsWith('2') ? sum : sum + count), sat.errors);
    ctx.results.embedded = { saturation: { eventsPerSecond: sat.eventsPerSecond, latency: sat.latency, failed }, runs, sustained, steps };
    const memory = start.memory();
    if (memory && start.atReady) ctx.results.memory.start = { peakMb: memory.peakMb, readyMb: start.atReady.rssMb, under: 'the embedded end-to-end steps and saturation' };
  } finally {
    await start.stop(60_000);
  }
}
