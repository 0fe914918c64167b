/**
 * The ambiguous-commit proxy in a process of its own: the runner's event loop also drives the
 * load and the Loki test server, and on a loaded machine a proxy sharing it made the DB worker
 * behind it time out while connecting. Started with IPC; the child prints nothing.
 *
 * Messages: child → parent `{ dsn }` once listening, `{ dropped: n }` after each cut;
 * parent → child `'arm'`.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startPgProxy } from './pg-proxy.ts';

/** What the runner holds of the proxy process. */
export interface PgProxyProcess {
  readonly dsn: string;
  /** Connections cut right after a forwarded COMMIT so far. */
  readonly ambiguousCommits: number;
  /** Cuts the next connection that commits; resolves once it did. */
  armCommitDrop(): Promise<void>;
  /** Stops the process by PID. */
  close(): Promise<void>;
}

type FromChild = { dsn: string } | { dropped: number };

export async function startPgProxyProcess(targetDsn: string): Promise<PgProxyProcess> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [targetDsn], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const waiting: Array<() => void> = [];
  let ambiguousCommits = 0;
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  const dsn = await new Promise<string>((resolveDsn, rejectDsn) => {
    child.once('exit', (code) => rejectDsn(new Error(`the proxy process exited with ${code} before listening`)));
    child.on('message', (message: FromChild) => {
      if ('dsn' in message) resolveDsn(message.dsn);
      else {
        ambiguousCommits = message.dropped;
        waiting.shift()?.();
      }
    });
  });
  return {
    dsn,
    get ambiguousCommits() {
      return ambiguousCommits;
    },
    armCommitDrop() {
      const dropped = new Promise<void>((resolveDrop) => waiting.push(resolveDrop));
      child.send('arm');
      return dropped;
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

// Run as the child: proxy to argv's DSN until told to stop.
if (process.argv[1] === fileURLToPath(import.meta.url) && process.send) {
  const send = process.send.bind(process);
  const proxy = await startPgProxy(process.argv[2]!);
  process.on('message', (message) => {
    if (message === 'arm') void proxy.armCommitDrop().then(() => send({ dropped: proxy.ambiguousCommits }));
  });
  process.on('SIGTERM', () => void proxy.close().then(() => process.exit(0)));
  // The runner gone means nobody will stop this one.
  process.on('disconnect', () => void proxy.close().then(() => process.exit(0)));
  send({ dsn: proxy.dsn });
}
