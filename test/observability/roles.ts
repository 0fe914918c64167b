/**
 * Kitsune's roles as separate processes (`kitsune api`, `kitsune db-worker`, `kitsune log-worker`)
 * on the real broker and PostgreSQL, each on a fixed port chosen once, so a role stopped and
 * started again is scraped at the same address.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../../src/cli/ports.ts';
import { repoRoot } from '../../scripts/services/state.ts';
import { cliEnv, type Env } from '../cli/support.ts';

export type RoleName = 'api' | 'db-worker' | 'log-worker';

export interface Role {
  readonly name: RoleName;
  /** `127.0.0.1:<port>`: the API's HTTP port, or the worker's metrics port. */
  readonly target: string;
  readonly running: boolean;
  /** Everything the current process wrote to stdout and stderr (its JSON log lines). */
  output(): string;
  /** Starts the process and resolves once it listens. */
  start(): Promise<void>;
  /** Stops it by PID (SIGTERM, then SIGKILL after 20 s) and resolves when it exited. Idempotent. */
  stop(): Promise<void>;
}

const readyMessage: Record<RoleName, string> = { api: 'API listening', 'db-worker': 'metrics listening', 'log-worker': 'metrics listening' };

export async function role(t: { after(fn: () => unknown): void }, name: RoleName, env: Env): Promise<Role> {
  const port = await freePort();
  const portEnv: Env = name === 'api' ? { HTTP_PORT: String(port) } : { KITSUNE_METRICS_PORT: String(port) };
  let child: ChildProcess | undefined;
  let output = '';
  let exited: Promise<void> = Promise.resolve();
  const stop = async (): Promise<void> => {
    const current = child;
    if (!current) return;
    child = undefined;
    if (current.exitCode === null && current.signalCode === null && current.pid !== undefined) process.kill(current.pid, 'SIGTERM');
    const timer = setTimeout(() => current.pid !== undefined && current.exitCode === null && process.kill(current.pid, 'SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  };
  t.after(stop);
  return {
    name,
    target: `127.0.0.1:${port}`,
    get running() {
      return child !== undefined;
    },
    stop,
    output: () => output,
    async start() {
      if (child) return;
      const started = spawn(process.execPath, ['bin/kitsune.js', name], {
        cwd: repoRoot,
        env: cliEnv({ KITSUNE_LOG_LEVEL: 'info', ...env, ...portEnv }),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = started;
      exited = new Promise((resolveExit) => started.once('exit', () => resolveExit()));
      output = '';
      await new Promise<void>((resolveReady, rejectReady) => {
        const timer = setTimeout(() => rejectReady(new Error(`kitsune ${name} did not listen within 60 s:\n${output}`)), 60_000);
        const onData = (chunk: Buffer): void => {
          output += chunk.toString('utf8');
          if (output.includes(`"msg":"${readyMessage[name]}"`)) {
            clearTimeout(timer);
            resolveReady();
          }
        };
        started.stdout.on('data', onData);
        started.stderr.on('data', onData);
        void exited.then(() => {
          clearTimeout(timer);
          rejectReady(new Error(`kitsune ${name} exited before it listened:\n${output}`));
        });
      });
      // Keep reading, so a chatty process never blocks on a full pipe; the last 4 MB are kept.
      const keep = (chunk: Buffer): void => {
        output = (output + chunk.toString('utf8')).slice(-4 * 1_048_576);
      };
      started.stdout.removeAllListeners('data').on('data', keep);
      started.stderr.removeAllListeners('data').on('data', keep);
    },
  };
}
