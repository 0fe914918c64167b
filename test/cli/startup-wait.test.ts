/**
 * A role started while PostgreSQL or Kafka cannot be reached waits for it, alive and logging one
 * line per attempt that names the system, and starts when the system answers; a shutdown signal
 * ends the wait at once. The outage is a gate in front of the real server: while closed it resets
 * every connection, once open it forwards bytes both ways.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { repoRoot } from '../../scripts/services/state.ts';
import { freshDatabase } from '../support/database.ts';
import { kafkaBrokers, kafkaSkip } from '../support/services.ts';
import { cliEnv, freshNames, type Env } from './support.ts';

interface Gate {
  /** host:port of the gate. */
  address: string;
  open(): void;
}

/** A TCP gate in front of `target` (host:port), closed until open(); closed when the test ends. */
async function gate(t: TestContext, target: string): Promise<Gate> {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  let opened = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    if (!opened) {
      client.resetAndDestroy();
      return;
    }
    const upstream = createConnection({ host, port });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.on('error', () => undefined); // the other side's close ends both
    }
    client.pipe(upstream).pipe(client);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolveClose) => server.close(() => resolveClose()));
  });
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  return { address: `127.0.0.1:${address.port}`, open: () => void (opened = true) };
}

interface Role {
  process: ChildProcess;
  /** Resolves with the first JSON log line that `match` accepts, counting from the start. */
  line(what: string, match: (line: { msg?: string; system?: string }) => boolean, count?: number): Promise<void>;
  exit: Promise<number | null>;
}

/** `kitsune <role>` with JSON logs on stdout, killed when the test ends. */
function startRole(t: TestContext, role: string, env: Env): Role {
  const child = spawn(process.execPath, ['bin/kitsune.js', role], {
    cwd: repoRoot,
    env: cliEnv({ KITSUNE_LOG_FORMAT: 'json', KITSUNE_LOG_LEVEL: 'info', KITSUNE_METRICS_PORT: '0', HTTP_PORT: '0', ...freshNames(), ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Array<{ msg?: string; system?: string }> = [];
  const waiters = new Set<() => void>();
  let pending = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const complete = pending.split('\n');
    pending = complete.pop() ?? '';
    for (const text of complete) {
      try {
        lines.push(JSON.parse(text) as { msg?: string });
      } catch {
        // not a log line
      }
    }
    for (const waiter of waiters) waiter();
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  let exited: number | null | undefined;
  const exit = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit((exited = code))));
  t.after(() => {
    if (exited === undefined) child.kill('SIGKILL');
  });
  const line = (what: string, match: (line: { msg?: string; system?: string }) => boolean, count = 1): Promise<void> =>
    new Promise((resolveLine, rejectLine) => {
      const check = (): void => {
        if (lines.filter(match).length >= count) {
          waiters.delete(check);
          resolveLine();
        }
      };
      waiters.add(check);
      check();
      void exit.then((code) => {
        waiters.delete(check);
        rejectLine(new Error(`kitsune ${role} exited ${code} before ${what}:\n${stderr}\n${lines.map((l) => l.msg).join('\n')}`));
      });
    });
  return { process: child, line, exit };
}

const unreachable = (system: string) => (line: { msg?: string; system?: string }) => line.system === system && /is unreachable/.test(line.msg ?? '');

test('a DB worker started while PostgreSQL is down waits, alive, and consumes once it answers', { timeout: 120_000 }, async (t) => {
  const dsn = new URL(await freshDatabase(t));
  const postgres = gate(t, dsn.host);
  dsn.host = (await postgres).address;
  const worker = startRole(t, 'db-worker', { POSTGRES_DSN: dsn.toString() });
  await worker.line('two failed attempts', unreachable('PostgreSQL'), 2);
  assert.equal(worker.process.exitCode, null, 'still running while PostgreSQL is down');
  (await postgres).open();
  await worker.line('consuming', (line) => line.msg === 'DB worker consuming');
  worker.process.kill('SIGTERM');
  assert.equal(await worker.exit, 0);
});

test('a DB worker started while Kafka is down waits, alive, and consumes once it answers', { skip: kafkaSkip, timeout: 120_000 }, async (t) => {
  const kafka = await gate(t, kafkaBrokers()[0]!);
  const worker = startRole(t, 'db-worker', { POSTGRES_DSN: await freshDatabase(t), KAFKA_BROKERS: kafka.address });
  await worker.line('two failed attempts', unreachable('Kafka'), 2);
  assert.equal(worker.process.exitCode, null, 'still running while Kafka is down');
  kafka.open();
  await worker.line('consuming', (line) => line.msg === 'DB worker consuming');
  worker.process.kill('SIGTERM');
  assert.equal(await worker.exit, 0);
});

test('SIGTERM ends the wait: the role exits 0 without having started', { timeout: 60_000 }, async (t) => {
  const dsn = new URL(await freshDatabase(t));
  dsn.host = (await gate(t, dsn.host)).address;
  const worker = startRole(t, 'db-worker', { POSTGRES_DSN: dsn.toString() });
  await worker.line('a failed attempt', unreachable('PostgreSQL'));
  worker.process.kill('SIGTERM');
  assert.equal(await worker.exit, 0);
});
