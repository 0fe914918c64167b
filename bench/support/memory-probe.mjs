// Where a process's memory is at its peak, for bench:compare's memory rounds: preloaded with
// NODE_OPTIONS=--import=<this file>, it samples V8's heap spaces and process.memoryUsage() every
// 50 ms and, at exit, writes the sample taken at the highest RSS (and each figure's own maximum)
// to $KITSUNE_MEMORY_PROBE_DIR/<pid>.json. With KITSUNE_MEMORY_PROBE_GC=1 it also records every
// garbage collection (v8.GCProfiler, which changes nothing in how the heap is collected): how
// many of each kind and their time, and what a full (mark-compact) collection found still live,
// so the heap at the peak splits into what was live and what was garbage not yet collected.
// Plain JavaScript: it runs before any loader.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';
import { setInterval } from 'node:timers';
import { GCProfiler, getHeapSpaceStatistics } from 'node:v8';

const dir = process.env.KITSUNE_MEMORY_PROBE_DIR;
const mb = (bytes) => Math.round(bytes / 1_048_576);

/** Folds GCProfiler records into counts, times and the largest live set a full collection found. */
function gcSummary() {
  const summary = { byType: {}, fullCollections: [] };
  const space = (stats, name) => stats.heapSpaceStatistics.find((s) => s.spaceName === name)?.spaceUsedSize ?? 0;
  const fold = (records) => {
    for (const { gcType, cost, beforeGC, afterGC } of records) {
      const kind = (summary.byType[gcType] ??= { count: 0, ms: 0 });
      kind.count += 1;
      kind.ms += cost / 1000;
      if (gcType !== 'MarkSweepCompact') continue;
      summary.fullCollections.push({
        at: Math.round(process.uptime() * 10) / 10,
        usedBefore: mb(beforeGC.heapStatistics.usedHeapSize),
        usedAfter: mb(afterGC.heapStatistics.usedHeapSize),
        oldBefore: mb(space(beforeGC, 'old_space')),
        oldAfter: mb(space(afterGC, 'old_space')),
        externalAfter: mb(afterGC.heapStatistics.externalMemory),
        heapTotalBefore: mb(beforeGC.heapStatistics.totalHeapSize),
      });
    }
  };
  let profiler = new GCProfiler();
  profiler.start();
  const flush = () => {
    fold(profiler.stop()?.statistics ?? []);
    profiler = new GCProfiler();
    profiler.start();
  };
  return { summary, flush };
}

if (dir) {
  const sample = () => {
    const usage = process.memoryUsage();
    const spaces = Object.fromEntries(getHeapSpaceStatistics().map((space) => [space.space_name, mb(space.space_size)]));
    return { rss: mb(usage.rss), heapTotal: mb(usage.heapTotal), heapUsed: mb(usage.heapUsed), external: mb(usage.external), arrayBuffers: mb(usage.arrayBuffers), ...spaces };
  };
  const gc = process.env.KITSUNE_MEMORY_PROBE_GC === '1' ? gcSummary() : undefined;
  let atPeak = sample();
  const maxima = { ...atPeak };
  let ticks = 0;
  const timer = setInterval(() => {
    const now = sample();
    if (now.rss > atPeak.rss) atPeak = { ...now, at: Math.round(process.uptime() * 10) / 10 };
    for (const [name, value] of Object.entries(now)) maxima[name] = Math.max(maxima[name] ?? 0, value);
    if (gc && ++ticks % 20 === 0) gc.flush();
  }, 50);
  timer.unref();
  process.on('exit', () => {
    gc?.flush();
    for (const kind of Object.values(gc?.summary.byType ?? {})) kind.ms = Math.round(kind.ms);
    writeFileSync(join(dir, `${process.pid}.json`), `${JSON.stringify({ argv: process.argv.slice(2), execArgv: process.execArgv, atPeakRss: atPeak, maxima, gc: gc?.summary })}\n`);
  });
}
