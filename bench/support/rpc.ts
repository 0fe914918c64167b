/**
 * Typed request/response over Node's IPC channel, so each measured party (load generator, bare
 * baselines, Loki test server) runs in a process of its own and the orchestrator only asks it to
 * do things. A child calls `serve(handlers)`; the parent `forkChild<typeof handlers>(file)`.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../../scripts/services/state.ts';

type Handlers = Record<string, (params: never) => Promise<unknown>>;

interface Request {
  id: number;
  method: string;
  params: unknown;
}

type Response = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

export interface ForkedChild<H extends Handlers> {
  readonly pid: number;
  readonly process: ChildProcess;
  call<M extends Extract<keyof H, string>>(method: M, ...params: Parameters<H[M]>): Promise<Awaited<ReturnType<H[M]>>>;
  /** Disconnects and waits for exit (SIGKILL after 10 s). Idempotent. */
  stop(): Promise<void>;
}

/** Starts `file` (relative to the repo root) under tsx with an IPC channel; resolves once it serves. */
export async function forkChild<H extends Handlers>(file: string, execArgv: string[] = []): Promise<ForkedChild<H>> {
  const child = fork(join(repoRoot, file), [], { cwd: repoRoot, execArgv: ['--import', 'tsx', ...execArgv], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let next = 0;
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  child.once('exit', (code, signal) => {
    for (const { reject } of pending.values()) reject(new Error(`${file} exited (${signal ?? code}) with a call in flight`));
    pending.clear();
  });
  child.on('message', (message: Response | 'ready') => {
    if (message === 'ready') return;
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.ok) waiter?.resolve(message.value);
    else waiter?.reject(new Error(`${file}: ${message.error}`));
  });
  await new Promise<void>((resolveReady, reject) => {
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code} before serving`)));
    child.on('message', (message) => {
      if (message === 'ready') resolveReady();
    });
  });
  let stopping: Promise<void> | undefined;
  return {
    pid: child.pid!,
    process: child,
    call: (method, ...params) =>
      new Promise((resolveCall, reject) => {
        const id = next++;
        pending.set(id, { resolve: resolveCall as (value: unknown) => void, reject });
        child.send({ id, method, params: params[0] } satisfies Request);
      }),
    stop: () =>
      (stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.disconnect();
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      })()),
  };
}

/**
 * An error as text, with what it wraps: a client's aggregate error ("Producing messages failed")
 * says nothing until its inner errors (the broker's error code) are shown.
 */
export function describeError(error: unknown, depth = 0): string {
  if (!(error instanceof Error)) return String(error);
  const { errors, cause, apiId } = error as Error & { errors?: unknown; cause?: unknown; apiId?: unknown };
  const head = depth === 0 ? (error.stack ?? error.message) : `${error.name}: ${error.message}${typeof apiId === 'string' ? ` (${apiId})` : ''}`;
  if (depth > 4) return head;
  const inner: unknown[] = [...(Array.isArray(errors) ? (errors as unknown[]) : []), ...(cause === undefined ? [] : [cause])];
  const unique = [...new Set(inner.map((item) => describeError(item, depth + 1)))];
  return [head, ...unique.map((line) => `${'  '.repeat(depth + 1)}caused by ${line}`)].join('\n');
}

/** In the child: answers the parent's calls with `handlers`; exits when the parent disconnects. */
export function serve(handlers: Handlers, onDisconnect: () => Promise<void> = () => Promise.resolve()): void {
  if (!process.send) throw new Error('serve() needs an IPC channel: start this file with forkChild()');
  const send = (message: Response | 'ready'): void => void process.send!(message);
  process.on('message', (message: Request) => {
    const handler = handlers[message.method] as ((params: unknown) => Promise<unknown>) | undefined;
    if (!handler) return send({ id: message.id, ok: false, error: `no method ${message.method}` });
    handler(message.params).then(
      (value) => send({ id: message.id, ok: true, value }),
      (error: unknown) => send({ id: message.id, ok: false, error: describeError(error) }),
    );
  });
  process.once('disconnect', () => void onDisconnect().finally(() => process.exit(0)));
  send('ready');
}
