/**
 * Cold start: wall clock from spawn() to the "Kitsune is ready" line of `kitsune start` in the
 * embedded mode with a warm data directory (initdb already done, as on every start after the
 * first), the median of a few starts, running the compiled build as an installed Kitsune does.
 * Baseline: the same spawn-to-listening time of the bare Fastify server compiled to JavaScript
 * and run by the same Node, the floor any Node HTTP service here pays.
 */
import { existsSync } from 'node:fs';
import { freePort } from '../../src/cli/ports.ts';
import { spawnBareServer, spawnRole } from '../support/processes.ts';
import type { Context } from './context.ts';

export async function coldStartSection(ctx: Context): Promise<void> {
  const env = async (): Promise<Record<string, string>> => ({ HTTP_PORT: String(await freePort()), KITSUNE_DATA_DIR: ctx.embeddedDataDir });
  if (!existsSync(ctx.embeddedDataDir)) {
    ctx.log('first start: initialising the embedded data directory (not measured)');
    await ctx.track(await spawnRole('start', await env())).stop(60_000);
  }
  const kitsuneMs: number[] = [];
  const embeddedPostgresMs: number[] = [];
  const bareMs: number[] = [];
  const timelines: Array<Record<string, number>> = [];
  for (let i = 0; i < ctx.settings.coldStarts; i++) {
    const start = ctx.track(await spawnRole('start', await env()));
    kitsuneMs.push(start.readyMs);
    const pg = start.logLines.find((line) => line.msg === 'embedded PostgreSQL started');
    if (typeof pg?.ms === 'number') embeddedPostgresMs.push(pg.ms);
    // Where the time goes: each startup line's timestamp, from spawn(). Before the first line
    // is Node, tsx compiling (cached after the first run) and loading the modules.
    const timeline: Record<string, number> = {};
    for (const line of start.logLines) {
      if (typeof line.msg === 'string' && typeof line.time === 'string') timeline[line.msg] ??= Date.parse(line.time) - start.spawnedAt;
    }
    if (typeof pg?.ms === 'number') timeline['(embedded PostgreSQL start took)'] = pg.ms;
    timelines.push(timeline);
    ctx.log(`kitsune start ready in ${Math.round(start.readyMs)} ms: ${Object.entries(timeline).map(([msg, ms]) => `${msg} ${ms}`).join(', ')}`);
    await start.stop(60_000);

    const bare = ctx.track(await spawnBareServer(await freePort()));
    bareMs.push(bare.readyMs);
    await bare.stop();
  }
  ctx.results.coldStart = { kitsuneMs, bareMs, embeddedPostgresMs, timelines };
}
