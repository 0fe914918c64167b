/**
 * Summarises V8 CPU profiles (.cpuprofile, as written by node --cpu-prof): where the samples were
 * when taken (self time), by function and by package, and inclusive time of Kitsune's own
 * functions. Self time is the sum of each sample's time delta, so it is exact to the sampling
 * interval rather than an estimate from hit counts.
 *
 *   npx tsx bench/profile.ts <file.cpuprofile | directory> [--top 25]
 *
 * A window.json beside a profile ({ fromMs, toMs } after the process started) limits the summary
 * to that part; `npm run bench -- --profile` writes one for each workload and calls
 * summariseProfiles() on its profile directory.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { transformSync } from 'esbuild';
import { repoRoot } from '../scripts/services/state.ts';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface Summary {
  file: string;
  /** The part of the profile summarised, when cut to the measured window. */
  window?: { fromMs: number; toMs: number };
  /** Sampled wall time, ms. */
  totalMs: number;
  /** Time not idle, ms: what the percentages are of. */
  busyMs: number;
  functions: Array<{ name: string; where: string; selfMs: number }>;
  packages: Array<{ name: string; selfMs: number }>;
  /** Kitsune's own functions (src/), inclusive of what they call. */
  inclusive: Array<{ name: string; where: string; totalMs: number }>;
}

/** Where a frame's code lives: a package name, a path under the repo, `node:…` or a V8 pseudo-frame. */
function packageOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return url.startsWith('node:internal/deps/') ? url.slice('node:internal/deps/'.length).split('/')[0]! : 'node: (core)';
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const modules = path.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const parts = path.slice(modules + 'node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  const inRepo = sourcePath(relative(repoRoot, path));
  return inRepo.startsWith('..') ? path : inRepo.split('/').slice(0, 3).join('/');
}

/** The compiled build (dist/X.js) is reported as the source it came from (src/X.ts). */
function sourcePath(inRepo: string): string {
  return inRepo.startsWith('dist/') && inRepo.endsWith('.js') ? `src/${inRepo.slice('dist/'.length, -'.js'.length)}.ts` : inRepo;
}

const base64 = new Map([...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'].map((c, i) => [c, i]));

/** Source-map `mappings` → per generated line, [generated column, original line] pairs in order. */
function decodeMappings(mappings: string): Array<Array<[number, number]>> {
  const lines: Array<Array<[number, number]>> = [];
  let sourceLine = 0;
  for (const line of mappings.split(';')) {
    const segments: Array<[number, number]> = [];
    let column = 0;
    for (const segment of line.split(',')) {
      if (segment === '') continue;
      const values: number[] = [];
      let value = 0;
      let shift = 0;
      for (const char of segment) {
        const digit = base64.get(char)!;
        value += (digit & 31) << shift;
        if (digit & 32) shift += 5;
        else {
          values.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      column += values[0]!;
      if (values.length >= 4) {
        sourceLine += values[2]!;
        segments.push([column, sourceLine]);
      }
    }
    lines.push(segments);
  }
  return lines;
}

/**
 * Run from source, Kitsune's TypeScript goes through tsx, which hands V8 esbuild's
 * whitespace-minified output, so a profile's positions are columns in that output. Transforming
 * the file again with tsx's options gives the same output and its source map, which maps them
 * back to lines. Run from the build, tsc's own source maps do it.
 */
const sourceMaps = new Map<string, Array<Array<[number, number]>> | undefined>();

function originalLine(path: string, line: number, column: number): number | undefined {
  if (!sourceMaps.has(path) && path.endsWith('.js')) {
    // The compiled build: tsc wrote the source map beside the file.
    try {
      const { mappings } = JSON.parse(readFileSync(`${path}.map`, 'utf8')) as { mappings: string };
      sourceMaps.set(path, decodeMappings(mappings));
    } catch {
      sourceMaps.set(path, undefined);
    }
  }
  if (!sourceMaps.has(path)) {
    try {
      const { map } = transformSync(readFileSync(path, 'utf8'), {
        target: `node${process.versions.node}`,
        loader: 'ts',
        format: 'esm',
        sourcemap: 'external',
        minifyWhitespace: true,
        keepNames: true,
        sourcefile: path,
      });
      sourceMaps.set(path, decodeMappings((JSON.parse(map) as { mappings: string }).mappings));
    } catch {
      sourceMaps.set(path, undefined);
    }
  }
  const segments = sourceMaps.get(path)?.[line];
  if (!segments) return undefined;
  let found: number | undefined;
  for (const [generated, source] of segments) {
    if (generated > column) break;
    found = source;
  }
  return found === undefined ? undefined : found + 1;
}

function where(frame: CallFrame): string {
  if (frame.url === '') return '';
  const path = frame.url.startsWith('file://') ? fileURLToPath(frame.url) : frame.url;
  const modules = path.lastIndexOf('node_modules/');
  if (modules >= 0) return `${path.slice(modules + 'node_modules/'.length)}:${frame.lineNumber + 1}`;
  const inRepo = relative(repoRoot, path);
  if (inRepo.startsWith('..')) return `${path}:${frame.lineNumber + 1}`;
  const mapped = path.endsWith('.ts') || inRepo !== sourcePath(inRepo);
  const line = mapped ? originalLine(path, frame.lineNumber, frame.columnNumber) : frame.lineNumber + 1;
  return `${sourcePath(inRepo)}:${line ?? `?col${frame.columnNumber}`}`;
}

const nameOf = (frame: CallFrame): string => frame.functionName || '(anonymous)';

/** Only samples taken between `window.fromMs` and `window.toMs` after the profile started count. */
export function summarise(file: string, profile: CpuProfile, top = 25, window?: { fromMs: number; toMs: number }): Summary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const self = new Map<string, { name: string; where: string; selfMs: number }>();
  const packages = new Map<string, number>();
  const inclusive = new Map<string, { name: string; where: string; totalMs: number }>();
  let totalMs = 0;
  let idleMs = 0;
  let atMs = 0;
  profile.samples.forEach((id, i) => {
    // timeDeltas[i] is the time since the previous sample; charge it to this sample.
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    atMs += ms;
    if (window && (atMs < window.fromMs || atMs > window.toMs)) return;
    const node = byId.get(id);
    if (!node) return;
    totalMs += ms;
    if (node.callFrame.functionName === '(idle)') {
      idleMs += ms;
      return;
    }
    const key = `${nameOf(node.callFrame)} ${where(node.callFrame)}`;
    const entry = self.get(key) ?? { name: nameOf(node.callFrame), where: where(node.callFrame), selfMs: 0 };
    entry.selfMs += ms;
    self.set(key, entry);
    const pkg = packageOf(node.callFrame);
    packages.set(pkg, (packages.get(pkg) ?? 0) + ms);
    // Inclusive: every distinct src/ function on this sample's stack.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!.callFrame;
      const w = where(frame);
      if (!w.startsWith('src/')) continue;
      const k = `${nameOf(frame)} ${w}`;
      if (seen.has(k)) continue;
      seen.add(k);
      const e = inclusive.get(k) ?? { name: nameOf(frame), where: w, totalMs: 0 };
      e.totalMs += ms;
      inclusive.set(k, e);
    }
  });
  return {
    file,
    ...(window ? { window } : {}),
    totalMs,
    busyMs: totalMs - idleMs,
    functions: [...self.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, top),
    packages: [...packages].map(([name, selfMs]) => ({ name, selfMs })).sort((a, b) => b.selfMs - a.selfMs).slice(0, 15),
    inclusive: [...inclusive.values()].sort((a, b) => b.totalMs - a.totalMs).slice(0, 15),
  };
}

export function formatSummary(summary: Summary): string {
  const pct = (ms: number): string => `${((ms / summary.busyMs) * 100).toFixed(1).padStart(5)}%`;
  const lines = [
    `${relative(repoRoot, summary.file)}: ${(summary.totalMs / 1000).toFixed(1)} s sampled` +
      (summary.window ? ` (the measured window, ${(summary.window.fromMs / 1000).toFixed(1)}–${(summary.window.toMs / 1000).toFixed(1)} s after spawn)` : '') +
      `, ${(summary.busyMs / 1000).toFixed(1)} s busy (${((summary.busyMs / summary.totalMs) * 100).toFixed(0)}% of one core); percentages are of busy time`,
    '',
    '  self time by package',
    ...summary.packages.map((p) => `  ${pct(p.selfMs)}  ${p.name}`),
    '',
    '  top functions by self time',
    ...summary.functions.map((f) => `  ${pct(f.selfMs)}  ${f.name}  ${f.where}`),
    '',
    "  Kitsune's functions, inclusive time",
    ...summary.inclusive.map((f) => `  ${pct(f.totalMs)}  ${f.name}  ${f.where}`),
  ];
  return lines.join('\n');
}

async function profileFiles(path: string): Promise<string[]> {
  if (!(await stat(path)).isDirectory()) return [path];
  const entries = await readdir(path, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.cpuprofile')).map((e) => join(e.parentPath, e.name)).sort();
}

/** Every .cpuprofile under `path`, summarised. */
export async function summariseProfiles(path: string, top = 25): Promise<string> {
  const files = await profileFiles(path);
  if (files.length === 0) return `no .cpuprofile files under ${path}`;
  const parts: string[] = [];
  for (const file of files) {
    const windowFile = join(dirname(file), 'window.json');
    const window = existsSync(windowFile) ? (JSON.parse(await readFile(windowFile, 'utf8')) as { fromMs: number; toMs: number }) : undefined;
    parts.push(formatSummary(summarise(file, JSON.parse(await readFile(file, 'utf8')) as CpuProfile, top, window)));
  }
  return parts.join('\n\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } });
  if (positionals.length === 0) {
    process.stderr.write('usage: tsx bench/profile.ts <file.cpuprofile | directory> [--top 25]\n');
    process.exit(2);
  }
  for (const path of positionals) process.stdout.write(`${await summariseProfiles(path, Number(values.top))}\n\n`);
}
