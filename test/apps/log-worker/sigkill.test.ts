import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { createKafkaTransport } from '../../../src/transport/kafka/index.ts';
import { repoRoot } from '../../../scripts/services/state.ts';
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

interface HoldingProxy {
  url: string;
  /** While > 0, Loki's answer to each push is held back this long after Loki stored it. */
  holdMs: number;
  /** Pushes Loki has answered whose answer the proxy is holding back. */
  holding: number;
  close(): Promise<void>;
}

/**
 * Forwards pushes to Loki and can hold back its answers: the window in which lines are stored but
 * the worker does not know it yet, so has not committed their offsets. A kill then forces a
 * redelivery of lines Loki already has.
 */
async function startHoldingProxy(target: string): Promise<HoldingProxy> {
  const proxy: HoldingProxy = { url: '', holdMs: 0, holding: 0, close: () => Promise.resolve() };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void (async () => {
        const headers: Record<string, string> = {};
        for (const name of ['content-type', 'content-encoding', 'x-scope-orgid']) {
          const value = req.headers[name];
          if (typeof value === 'string') headers[name] = value;
        }
        const answer = await fetch(`${target}${req.url ?? '/'}`, { method: req.method ?? 'POST', headers, body: Buffer.concat(chunks) });
        const text = await answer.text();
        if (proxy.holdMs > 0) {
          proxy.holding += 1;
          await sleep(proxy.holdMs);
        }
        res.writeHead(answer.status, { 'content-type': 'text/plain' }).end(text);
      })().catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return proxy;
}

describe('kitsune log-worker killed with SIGKILL mid-stream', { skip: kafkaSkip }, () => {
  test('after a restart every line is in Loki exactly once: redelivered lines are identical, so Loki drops the repeats', async (t) => {
    const topic = `app-logs-${randomUUID()}`;
    const loki = await startLokiServer();
    t.after(() => loki.close());
    const proxy = await startHoldingProxy(loki.url);
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

    // Events keep flowing while the worker is killed and restarted.
    const events = Array.from({ length: total }, (_, i) => logEvent(i));
    const publishing = (async () => {
      for (let i = 0; i < total; i += 250) {
        await transport.publish(topic, events.slice(i, i + 250).map((event) => appLogRecord(event)));
        await sleep(100);
      }
    })();

    const first = startWorker(env);
    children.push(first);
    const stored = (): number => storedCounts(loki.entries()).size;
    await waitFor('the first worker to store a third of the lines', () => stored() >= total / 3, 60_000, () => `(${stored()} stored)\n${first.output()}`);
    // Kill it while Loki has stored a push whose answer the worker has not seen: those offsets
    // are not committed, so the restarted worker pushes the same lines again.
    proxy.holdMs = 10_000;
    await waitFor('a push stored by Loki and not yet answered', () => proxy.holding > 0, 30_000);
    first.process.kill('SIGKILL');
    const killed = await first.exited;
    assert.equal(killed.signal, 'SIGKILL');
    const atKill = stored();
    proxy.holdMs = 0;

    const second = startWorker(env);
    children.push(second);
    await publishing;
    await waitFor('every line in Loki', () => stored() >= total, 90_000, () => `(${stored()} of ${total})\n${second.output()}`);
    second.process.kill('SIGKILL');
    await second.exited;

    const counts = storedCounts(loki.entries());
    assert.deepEqual(new Set(counts.keys()), new Set(events.map((event) => event.id)), 'no line lost');
    assert.deepEqual([...counts].filter(([, n]) => n !== 1), [], 'no line stored twice');
    const stats = loki.stats();
    assert.equal(stats.acceptedEntries, total);
    assert.equal(stats.rejectedEntries.size, 0);
    assert.ok(stats.duplicateEntries > 0, 'lines stored before the kill were pushed again after the restart');
    t.diagnostic(`killed with ${atKill} of ${total} lines stored; Loki dropped ${stats.duplicateEntries} identical redelivered entries`);
  });
});
