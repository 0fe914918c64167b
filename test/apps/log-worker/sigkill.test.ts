import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { createKafkaTransport } from '../../../src/transport/kafka/index.ts';
import { repoRoot } from '../../../scripts/services/state.ts';
import { decodePush } from '../../support/loki/decode.ts';
import { background } from '../../support/background.ts';
import { startLokiServer } from '../../support/loki/index.ts';
import { kafkaBrokers, kafkaSkip } from '../../support/services.ts';
import { appLogRecord, logEvent, storedCounts, waitFor } from './helpers.ts';

const total = 6_000;

interface Child {
  process: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `kitsune log-worker` in its own process, as an operator runs it. */
function startWorker(env: NodeJS.ProcessEnv): Child {
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'kitsune.js'), 'log-worker'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { process: child, output: () => output.slice(-4_000), exited };
}

interface FreezingProxy {
  url: string;
  /**
   * From now on, the first push Loki answers 2xx is the barrier: its answer, and every answer after
   * it, is held back until release(). Resolves with the event ids of that push once Loki stored it.
   */
  freezeAfterNextStoredPush(): Promise<ReadonlySet<string>>;
  /** Answers held pushes (their worker may be gone) and forwards normally again. */
  release(): void;
  /** Event ids of every push forwarded since the last release(). */
  forwardedSinceRelease(): ReadonlySet<string>;
  close(): Promise<void>;
}

/** The event ids in a push body, from each entry's structured metadata (as the worker writes it). */
async function eventIdsOf(req: IncomingMessage, body: Buffer): Promise<string[]> {
  const push = await decodePush({ body, size: body.length }, req.headers, 64 * 1024 * 1024);
  return push.streams.flatMap((stream) => stream.entries.map((entry) => entry.metadata.get('event_id') ?? ''));
}

/**
 * Forwards pushes to Loki and can freeze: the window in which Loki has stored lines but the worker
 * does not know it yet, so it has not committed their offsets. A kill inside that window must make
 * the restarted worker push those very lines again. The freeze is a barrier, not a delay: nothing
 * is answered until release(), so no timing decides whether the window was hit.
 */
async function startFreezingProxy(target: string): Promise<FreezingProxy> {
  let armed: ((ids: ReadonlySet<string>) => void) | undefined;
  let frozen = false;
  const held: Array<() => void> = [];
  let forwarded = new Set<string>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        const ids = await eventIdsOf(req, body);
        for (const id of ids) forwarded.add(id);
        const headers: Record<string, string> = {};
        for (const name of ['content-type', 'content-encoding', 'x-scope-orgid']) {
          const value = req.headers[name];
          if (typeof value === 'string') headers[name] = value;
        }
        const answer = await fetch(`${target}${req.url ?? '/'}`, { method: req.method ?? 'POST', headers, body });
        const text = await answer.text();
        const reply = (): void => void res.writeHead(answer.status, { 'content-type': 'text/plain' }).end(text);
        if (armed && answer.ok && ids.length > 0) {
          frozen = true;
          armed(new Set(ids));
          armed = undefined;
        }
        if (frozen) held.push(reply);
        else reply();
      })().catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    freezeAfterNextStoredPush: () => new Promise((resolve) => (armed = resolve)),
    release: () => {
      frozen = false;
      forwarded = new Set();
      for (const reply of held.splice(0)) reply();
    },
    forwardedSinceRelease: () => forwarded,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe('kitsune log-worker killed with SIGKILL mid-stream', { skip: kafkaSkip }, () => {
  test('after a restart every line is in Loki exactly once: redelivered lines are identical, so Loki drops the repeats', async (t) => {
    const topic = `app-logs-${randomUUID()}`;
    const loki = await startLokiServer();
    t.after(() => loki.close());
    const proxy = await startFreezingProxy(loki.url);
    t.after(() => proxy.close());
    const transport = createKafkaTransport({ brokers: kafkaBrokers(), clientId: 'log-worker-sigkill' });
    t.after(() => transport.close());
    await transport.ensureTopics([
      { name: topic, partitions: 3 },
      { name: `${topic}.dlq`, partitions: 1 },
    ]);

    const { POSTGRES_DSN: _unused, ...inherited } = process.env;
    const env: NodeJS.ProcessEnv = {
      ...inherited,
      KAFKA_BROKERS: kafkaBrokers().join(','),
      KAFKA_GROUP_ID: `sigkill-${randomUUID()}`,
      KITSUNE_TOPIC_APP_LOGS: topic,
      LOKI_URL: proxy.url,
      KITSUNE_LOKI_BATCH_WAIT_MS: '100',
      KITSUNE_LOG_LEVEL: 'warn',
      KITSUNE_METRICS_PORT: '0', // several workers at once: a shared port would refuse the second
    };
    const children: Child[] = [];
    t.after(() => {
      for (const child of children) if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
    });

    const events = Array.from({ length: total }, (_, i) => logEvent(i));
    const publish = async (from: number, to: number): Promise<void> => {
      for (let i = from; i < to; i += 250) {
        await transport.publish(topic, events.slice(i, i + 250).map((event) => appLogRecord(event)));
        await sleep(100);
      }
    };

    const first = startWorker(env);
    children.push(first);
    const stored = (): number => storedCounts(loki.entries()).size;
    await publish(0, total / 3);
    await waitFor('the first worker to store the first third of the lines', () => stored() >= total / 3, 60_000, () => `(${stored()} stored)\n${first.output()}`);
    // Kill it while Loki has stored a push whose answer the worker has not seen: those offsets
    // are not committed, so the restarted worker must push the same lines again. The rest is
    // published only now, so a push after the freeze is armed is certain; events keep flowing
    // while the worker is killed and restarted.
    const freeze = proxy.freezeAfterNextStoredPush();
    const publishing = background(publish(total / 3, total));
    const inWindow = await freeze;
    first.process.kill('SIGKILL');
    const killed = await first.exited;
    assert.equal(killed.signal, 'SIGKILL');
    const atKill = stored();
    proxy.release();

    const second = startWorker(env);
    children.push(second);
    await publishing;
    await waitFor('every line in Loki', () => stored() >= total, 90_000, () => `(${stored()} of ${total})\n${second.output()}`);
    // Loki has every line; the redelivered ones may still be on their way (Loki drops them as repeats).
    const repushed = (): number => [...inWindow].filter((id) => proxy.forwardedSinceRelease().has(id)).length;
    await waitFor('the lines of the push cut short by the kill to be pushed again', () => repushed() === inWindow.size, 90_000, () => `(${repushed()} of ${inWindow.size})\n${second.output()}`);
    second.process.kill('SIGKILL');
    await second.exited;

    const counts = storedCounts(loki.entries());
    assert.deepEqual(new Set(counts.keys()), new Set(events.map((event) => event.id)), 'no line lost');
    assert.deepEqual([...counts].filter(([, n]) => n !== 1), [], 'no line stored twice');
    const stats = loki.stats();
    assert.equal(stats.acceptedEntries, total);
    assert.equal(stats.rejectedEntries.size, 0);
    assert.ok(stats.duplicateEntries >= inWindow.size, `Loki dropped the ${inWindow.size} repeated lines as duplicates (${stats.duplicateEntries})`);
    t.diagnostic(`killed with ${atKill} of ${total} lines stored and ${inWindow.size} unanswered; Loki dropped ${stats.duplicateEntries} identical redelivered entries`);
  });
});
