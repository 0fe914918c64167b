/**
 * The measured processes: `kitsune <role>` exactly as users run it (node bin/kitsune.js, configured
 * by environment), each spawned here, watched for its ready line, sampled for memory, and stopped
 * by its own PID with SIGTERM (its graceful path, which also writes a --cpu-prof profile).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { transformSync } from 'esbuild';
import { repoRoot } from '../../scripts/services/state.ts';

export interface Memory {
  /** VmHWM: the peak resident set since the process started, in MB. */
  peakMb: number;
  /** VmRSS: resident now, in MB. */
  rssMb: number;
}

/** Reads /proc/<pid>/status (Linux); undefined where there is no procfs or the process is gone. */
export function memoryOf(pid: number): Memory | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    const peak = kb('VmHWM');
    const rss = kb('VmRSS');
    return Number.isFinite(peak) ? { peakMb: peak / 1024, rssMb: rss / 1024 } : undefined;
  } catch {
    return undefined;
  }
}

export interface Spawned {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Date.now() at spawn(), to place its log lines' timestamps on a timeline. */
  readonly spawnedAt: number;
  /** Wall clock from spawn() to the ready line. */
  readonly readyMs: number;
  /** Memory sampled when the ready line arrived. */
  readonly atReady: Memory | undefined;
  /** Parsed JSON log lines seen so far (pino), for fields like the embedded server's start time. */
  readonly logLines: ReadonlyArray<Record<string, unknown>>;
  memory(): Memory | undefined;
  /** SIGTERM, wait for exit (SIGKILL after `graceMs`); resolves with the exit code. Idempotent. */
  stop(graceMs?: number): Promise<number | null>;
}

export interface SpawnOptions {
  /** The executable. (Default: this Node) */
  command?: string;
  /** Arguments after the executable, e.g. ['bin/kitsune.js', 'api'] after `node`. */
  args: string[];
  env: Record<string, string>;
  /** A stdout line that means "ready". */
  ready: RegExp;
  /** Node flags before the script, e.g. --cpu-prof. */
  nodeFlags?: string[];
  /** (Default: 120_000 ms) */
  timeoutMs?: number;
  label: string;
}

/**
 * Variables the benchmarked processes must not inherit from the caller's shell or a .env file
 * (they would point a role at another broker or database). Each section sets what it needs.
 */
const controlled = ['KAFKA_BROKERS', 'POSTGRES_DSN', 'LOKI_URL', 'KAFKA_GROUP_ID'];

/**
 * One event-id secret for every role this bench run starts: an API without POSTGRES_DSN (the
 * ingest sections) cannot read the installation's secret from the database, and every replica
 * must derive the same ids.
 */
const eventIdSecret = randomBytes(32).toString('hex');

function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('KITSUNE_') && !controlled.includes(name)) base[name] = value;
  }
  // An empty value counts as unset for Kitsune's config and keeps .env from filling it in.
  for (const name of controlled) base[name] = '';
  return { ...base, KITSUNE_LOG_LEVEL: 'info', KITSUNE_EVENT_ID_SECRET: eventIdSecret, ...env };
}

export async function spawnProcess(options: SpawnOptions): Promise<Spawned> {
  const started = process.hrtime.bigint();
  const spawnedAt = Date.now();
  const child = spawn(options.command ?? process.execPath, [...(options.nodeFlags ?? []), ...options.args], {
    cwd: repoRoot,
    env: childEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tail: string[] = [];
  const logLines: Array<Record<string, unknown>> = [];
  const remember = (line: string): void => {
    tail.push(line);
    if (tail.length > 40) tail.shift();
  };
  // Both pipes are read for the process's whole life, or a chatty process would block on write.
  createInterface({ input: child.stderr }).on('line', remember);
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  const readyMs = await new Promise<number>((resolveReady, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${options.label} was not ready within ${options.timeoutMs ?? 120_000} ms:\n${tail.join('\n')}`));
    }, options.timeoutMs ?? 120_000);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${options.label} exited with ${code} before it was ready:\n${tail.join('\n')}`));
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      remember(line);
      if (line.startsWith('{') && logLines.length < 200) {
        try {
          logLines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // not a log line
        }
      }
      if (options.ready.test(line)) {
        clearTimeout(timer);
        resolveReady(Number(process.hrtime.bigint() - started) / 1e6);
      }
    });
  });
  const pid = child.pid!;
  const atReady = memoryOf(pid);
  let stopping: Promise<number | null> | undefined;
  return {
    pid,
    child,
    spawnedAt,
    readyMs,
    atReady,
    logLines,
    memory: () => memoryOf(pid),
    stop: (graceMs = 30_000) =>
      (stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
        child.kill('SIGTERM');
        const code = await Promise.race([exited, sleep(graceMs).then(() => 'timeout' as const)]);
        if (code !== 'timeout') return code;
        process.stderr.write(`bench: ${options.label} (pid ${pid}) did not exit within ${graceMs} ms of SIGTERM; killing it\n${tail.join('\n')}\n`);
        child.kill('SIGKILL');
        return exited;
      })()),
  };
}

/**
 * Runs `node bin/kitsune.js <args>` to its end, configured like the roles; rejects with its
 * output's tail when it exits other than 0. For set-up, never for a measured process.
 */
export function runKitsune(args: string[], env: Record<string, string>): Promise<void> {
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'kitsune.js'), ...args], { cwd: repoRoot, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const keep = (chunk: Buffer): void => {
    output.push(chunk.toString('utf8'));
    if (output.length > 40) output.shift();
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  return new Promise((resolveRun, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      code === 0 ? resolveRun() : reject(new Error(`kitsune ${args.join(' ')} exited with ${signal ?? code}:\n${output.join('').slice(-2_000)}`)),
    );
  });
}

/** The pino line each role prints once it serves or consumes. */
export const readyLines = {
  api: /"msg":"API listening"/,
  'db-worker': /"msg":"DB worker consuming"/,
  'log-worker': /"msg":"log worker started"/,
  start: /"msg":"Kitsune is ready"/,
} as const;

export type Role = keyof typeof readyLines;

/**
 * Starts `kitsune <role>`; with `profileDir`, under --cpu-prof (written when it exits). `root` is
 * the checkout whose bin/kitsune.js runs (Default: this one; bench/compare.ts passes another
 * commit's tree).
 */
export function spawnRole(role: Role, env: Record<string, string>, profileDir?: string, root = repoRoot): Promise<Spawned> {
  const nodeFlags = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${role}.cpuprofile`] : [];
  return spawnProcess({ args: [join(root, 'bin', 'kitsune.js'), role], env, ready: readyLines[role], nodeFlags, label: `kitsune ${role}` });
}

/** The bare Fastify baseline (bench/support/bare-server.ts) on `port`. */
/**
 * The bare Fastify baseline, compiled to JavaScript first (esbuild, as tsx would) and run by plain
 * node, since Kitsune's roles run their compiled build too: its memory and start-up then carry no
 * TypeScript loader either. The file goes under bench/results/ so that `fastify` resolves.
 */
export function spawnBareServer(port: number): Promise<Spawned> {
  const source = join(repoRoot, 'bench', 'support', 'bare-server.ts');
  const compiled = join(repoRoot, 'bench', 'results', 'bare-server.mjs');
  mkdirSync(dirname(compiled), { recursive: true });
  writeFileSync(compiled, transformSync(readFileSync(source, 'utf8'), { loader: 'ts', format: 'esm', target: `node${process.versions.node}` }).code);
  return spawnProcess({ args: [compiled], env: { HTTP_PORT: String(port) }, ready: /^listening/, label: 'bare Fastify server' });
}
