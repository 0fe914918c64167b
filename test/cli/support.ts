/**
 * Running the real `kitsune` binary (node bin/kitsune.js, cwd = repo root) as a user would: one
 * command to completion, or `kitsune start` in the background until the test ends. Every test
 * gets its own data directory, database, topics and group prefix through the environment.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { repoRoot } from '../../scripts/services/state.ts';

export type Env = Record<string, string | undefined>;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The environment of a CLI run: the test's own variables on a copy of the process environment
 * stripped of everything Kitsune reads, so the runner's KAFKA_BROKERS or POSTGRES_DSN never leak
 * into a test that means to run without them.
 */
export function cliEnv(own: Env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(KITSUNE_|KAFKA_|POSTGRES_DSN$|LOKI_URL$|HTTP_PORT$)/.test(name)) env[name] = value;
  }
  for (const [name, value] of Object.entries(own)) if (value !== undefined) env[name] = value;
  return env;
}

/**
 * Runs `kitsune <args>` to completion (from the repository's root, or from `options.cwd`). The time
 * limits here and in startKitsune only catch a hang: on a machine loaded by other work one CLI
 * start takes seconds, and a test makes dozens.
 */
export function kitsune(args: string[], env: Env, timeoutMs = 180_000, options: { cwd?: string } = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [join(repoRoot, 'bin/kitsune.js'), ...args], {
    cwd: options.cwd ?? repoRoot,
    env: cliEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolveRun, rejectRun) => {
    child.on('error', rejectRun);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolveRun({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

/** `kitsune <args> --json`, parsed; fails with the command's output when the exit code is not `expectCode`. */
export async function kitsuneJson<T>(args: string[], env: Env, expectCode = 0): Promise<T> {
  const result = await kitsune([...args, '--json'], env);
  if (result.code !== expectCode) {
    throw new Error(`kitsune ${args.join(' ')} exited ${result.code}, expected ${expectCode}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  }
  return JSON.parse(result.stdout) as T;
}

export interface RunningKitsune {
  url: string;
  process: ChildProcess;
  /** SIGTERM to its PID, then waits for it to exit; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `kitsune start` and resolves once it printed its URL; stopped by PID when the test ends. */
export async function startKitsune(t: TestContext, env: Env, timeoutMs = 180_000): Promise<RunningKitsune> {
  const child = spawn(process.execPath, ['bin/kitsune.js', 'start'], {
    cwd: repoRoot,
    env: cliEnv({ HTTP_PORT: '0', KITSUNE_LOG_LEVEL: 'warn', ...env }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  let exited: number | null | undefined;
  const exit = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit((exited = code))));
  const stop = async (): Promise<number | null> => {
    if (exited === undefined && child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
    return exit;
  };
  t.after(stop);
  const url = await new Promise<string>((resolveUrl, rejectUrl) => {
    const timer = setTimeout(() => rejectUrl(new Error(`kitsune start was not ready within ${timeoutMs} ms:\n${stderr}`)), timeoutMs);
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      const ready = /Kitsune is ready at (http:\/\/\S+)/.exec(stderr);
      if (ready) {
        clearTimeout(timer);
        resolveUrl(ready[1]!);
      }
    });
    void exit.then((code) => {
      clearTimeout(timer);
      rejectUrl(new Error(`kitsune start exited with ${code} before it was ready:\n${stderr}`));
    });
  });
  return { url, process: child, stop };
}

/** A temporary data directory (KITSUNE_DATA_DIR), removed when the test ends. */
export async function dataDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kitsune-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Fresh topic names and group prefix, so concurrent test files never share them. */
export function freshNames(): Env {
  const suffix = randomUUID().slice(0, 8);
  return {
    KAFKA_GROUP_ID: `cli-${suffix}`,
    KITSUNE_TOPIC_DB_EVENTS: `db-events-${suffix}`,
    KITSUNE_TOPIC_APP_LOGS: `app-logs-${suffix}`,
    KITSUNE_TOPIC_DB_RESULTS: `db-results-${suffix}`,
  };
}
