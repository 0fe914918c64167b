/**
 * Kitsune's processes for the fault suite: `kitsune api|db-worker|log-worker` children, each with
 * its own port and log file, started, signalled and restarted by PID. Ready means answering:
 * an API's /readyz is 200, a worker's /metrics (served once it consumes) answers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../src/cli/ports.ts';
import { repoRoot } from '../../scripts/services/state.ts';

export type RoleName = 'api' | 'db-worker' | 'log-worker';

export interface RoleProcess {
  readonly role: RoleName;
  /** `api-1`, `db-worker-3`, ... */
  readonly name: string;
  /** HTTP port (API) or metrics port (workers). */
  port: number;
  readonly env: Readonly<Record<string, string>>;
  child: ChildProcess | undefined;
  /** Resolves when the current child exited. */
  exited: Promise<void>;
}

const kitsuneBin = join(repoRoot, 'bin', 'kitsune.js');

export class Roles {
  readonly #dir: string;
  readonly #all = new Map<string, RoleProcess>();
  /** Children this runner signalled or is stopping: their exit is no crash. */
  readonly #expected = new WeakSet<ChildProcess>();
  #stopping = false;
  /** Processes that exited without being told to: each one a finding, restarted as a supervisor would. */
  readonly crashes: Array<{ name: string; t: number; how: string }> = [];

  constructor(dir: string) {
    this.#dir = dir;
  }

  get all(): RoleProcess[] {
    return [...this.#all.values()];
  }

  byRole(role: RoleName): RoleProcess[] {
    return this.all.filter((process) => process.role === role);
  }

  get(name: string): RoleProcess {
    const found = this.#all.get(name);
    if (!found) throw new Error(`no process ${name}`);
    return found;
  }

  /** Adds and starts `<role>-<n>`; resolves once it is ready. */
  async add(role: RoleName, env: Readonly<Record<string, string>>, readyTimeoutMs: number): Promise<RoleProcess> {
    // Named and registered before the first await: processes added together get distinct names.
    const name = `${role}-${this.byRole(role).length + 1}`;
    const process: RoleProcess = { role, name, port: 0, env, child: undefined, exited: Promise.resolve() };
    this.#all.set(name, process);
    process.port = await freePort();
    await this.start(process, readyTimeoutMs);
    return process;
  }

  /**
   * (Re)starts a process whose child is gone; resolves once it is ready. As a supervisor would, a
   * process that exits while starting (a dependency still coming back, say) is started again
   * until the deadline.
   */
  async start(role: RoleProcess, readyTimeoutMs: number): Promise<void> {
    const deadline = Date.now() + readyTimeoutMs;
    const logPath = join(this.#dir, `${role.name}.log`);
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.#startOnce(role, deadline);
      if (outcome === 'ready') {
        this.#supervise(role, readyTimeoutMs);
        return;
      }
      if (outcome === 'timeout') throw new Error(`${role.name} was not ready within ${readyTimeoutMs} ms; see ${logPath}`);
      if (Date.now() > deadline) throw new Error(`${role.name} exited during start-up ${attempt} times (last: ${outcome}); see ${logPath}`);
      // Backs off as a supervisor would, so a role waiting on PostgreSQL does not spin.
      await sleep(Math.min(5_000, 500 * attempt));
    }
  }

  #supervise(role: RoleProcess, readyTimeoutMs: number): void {
    const child = role.child;
    if (!child) return;
    child.once('exit', (code, signal) => {
      if (this.#stopping || this.#expected.has(child)) return;
      this.crashes.push({ name: role.name, t: Date.now(), how: signal ?? `code ${code}` });
      void sleep(1_000)
        .then(() => (this.#stopping ? undefined : this.start(role, readyTimeoutMs)))
        .catch(() => undefined);
    });
  }

  /** 'ready', 'timeout', or how the process exited while starting. */
  async #startOnce(role: RoleProcess, deadline: number): Promise<string> {
    const log = await open(join(this.#dir, `${role.name}.log`), 'a');
    const portEnv = role.role === 'api' ? { HTTP_PORT: String(role.port), KITSUNE_METRICS_PORT: '0' } : { KITSUNE_METRICS_PORT: String(role.port) };
    const child = spawn(process.execPath, [kitsuneBin, role.role], {
      cwd: repoRoot,
      env: { ...process.env, ...role.env, ...portEnv },
      stdio: ['ignore', log.fd, log.fd],
    });
    await log.close();
    role.child = child;
    role.exited = new Promise((resolveExit) => {
      if (child.exitCode !== null || child.signalCode !== null) resolveExit();
      else child.once('exit', () => resolveExit());
    });
    const path = role.role === 'api' ? '/readyz' : '/metrics';
    let gone = false;
    void role.exited.then(() => (gone = true));
    for (;;) {
      if (gone) return `exit ${child.exitCode ?? child.signalCode}`;
      const ready = await fetch(`http://127.0.0.1:${role.port}${path}`, { signal: AbortSignal.timeout(2_000) }).then(
        (response) => response.ok,
        () => false,
      );
      if (ready) return 'ready';
      if (Date.now() > deadline) return 'timeout';
      await sleep(100);
    }
  }

  /** Sends `signal` to the process's PID and waits until it has exited. */
  async signal(role: RoleProcess, signal: NodeJS.Signals): Promise<void> {
    const pid = role.child?.pid;
    if (pid === undefined || role.child?.exitCode !== null || role.child.signalCode !== null) return;
    this.#expected.add(role.child);
    process.kill(pid, signal);
    await role.exited;
  }

  /** SIGTERM to every process still running, by PID; SIGKILL for any still there after `graceMs`. */
  async stopAll(graceMs = 30_000): Promise<void> {
    this.#stopping = true;
    await Promise.all(
      this.all.map(async (role) => {
        const child = role.child;
        if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await role.exited;
        clearTimeout(timer);
      }),
    );
  }
}
