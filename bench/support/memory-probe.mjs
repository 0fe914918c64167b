// Where a process's memory is at its peak, for bench:compare's memory rounds: preloaded with
// NODE_OPTIONS=--import=<this file>, it samples V8's heap spaces and process.memoryUsage() every
// 50 ms and, at exit, writes the sample taken at the highest RSS (and each figure's own maximum)
// to $KITSUNE_MEMORY_PROBE_DIR/<pid>.json. Plain JavaScript: it runs before any loader.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';
import { setInterval } from 'node:timers';
import { getHeapSpaceStatistics } from 'node:v8';

const dir = process.env.KITSUNE_MEMORY_PROBE_DIR;
if (dir) {
  const mb = (bytes) => Math.round(bytes / 1_048_576);
  const sample = () => {
    const usage = process.memoryUsage();
    const spaces = Object.fromEntries(getHeapSpaceStatistics().map((space) => [space.space_name, mb(space.space_size)]));
    return { rss: mb(usage.rss), heapTotal: mb(usage.heapTotal), heapUsed: mb(usage.heapUsed), external: mb(usage.external), arrayBuffers: mb(usage.arrayBuffers), ...spaces };
  };
  let atPeak = sample();
  const maxima = { ...atPeak };
  const timer = setInterval(() => {
    const now = sample();
    if (now.rss > atPeak.rss) atPeak = now;
    for (const [name, value] of Object.entries(now)) maxima[name] = Math.max(maxima[name] ?? 0, value);
  }, 50);
  timer.unref();
  process.on('exit', () => {
    writeFileSync(join(dir, `${process.pid}.json`), `${JSON.stringify({ argv: process.argv.slice(2), execArgv: process.execArgv, atPeakRss: atPeak, maxima })}\n`);
  });
}
