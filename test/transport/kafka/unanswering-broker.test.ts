/**
 * A broker that stopped answering but still accepts connections (a paused process, a frozen
 * host) must not stall Kitsune while the rest of the cluster serves. The silent broker is a TCP
 * server that reads every request and never answers, listed first among the bootstrap brokers,
 * where a client sends the requests any broker can answer.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { Producer, stringSerializers } from '@platformatic/kafka';
import { createKafkaTransport } from '../../../src/transport/kafka/index.ts';
import { answering, answeringFirst } from '../../../src/transport/kafka/unanswering-brokers.ts';
import { kafkaBrokers, kafkaSkip } from '../../support/services.ts';

/** Accepts connections, reads whatever comes, never writes a byte. */
async function silentBroker(): Promise<{ address: string; connections: () => number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    address: `127.0.0.1:${port}`,
    connections: () => connections,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

test('with no broker marked, brokers keep the configured order', () => {
  const brokers = [{ host: 'a', port: 1 }, { host: 'b', port: 2 }];
  assert.deepEqual(answeringFirst(brokers), brokers);
});

describe('a bootstrap broker that accepts connections and never answers', { skip: kafkaSkip }, () => {
  test('costs one timed-out request: the next ones go to the brokers that answer', async (t) => {
    const silent = await silentBroker();
    t.after(() => silent.close());
    const topic = `silent-broker-${randomUUID()}`;
    const transport = createKafkaTransport({ brokers: kafkaBrokers(), clientId: 'kitsune-silent-broker' });
    t.after(() => transport.close());
    await transport.ensureTopics([{ name: topic, partitions: 2 }]);

    // The silent broker first, where the client sends the requests any broker can answer, and
    // a short request timeout so that its cost is small (the client's default is 30 s).
    const options = { clientId: 'kitsune-silent-broker', bootstrapBrokers: [silent.address, ...kafkaBrokers()], requestTimeout: 1_000, retries: 0 };
    const send = (producer: Producer<string, string, string, string>, i: number) =>
      producer.send({ messages: [{ topic, key: `k-${i}`, value: String(i) }] }).then(
        () => 'sent',
        (error: unknown) => (error instanceof Error ? error.message : String(error)),
      );
    const attempts = async (producer: Producer<string, string, string, string>): Promise<string[]> => {
      const outcomes: string[] = [];
      for (let i = 0; i < 3; i++) outcomes.push(await send(producer, i));
      return outcomes;
    };

    const unguarded = new Producer({ ...options, serializers: stringSerializers });
    t.after(() => unguarded.close());
    const before = await attempts(unguarded);
    assert.ok(!before.includes('sent'), `without the guard every attempt goes to the silent broker first: ${before.join(' | ')}`);

    const guarded = answering(new Producer({ ...options, clientId: 'kitsune-silent-broker-guarded', serializers: stringSerializers }));
    t.after(() => guarded.close());
    const after = await attempts(guarded);
    assert.deepEqual(after.slice(1), ['sent', 'sent'], `after one timeout the answering brokers are asked: ${after.join(' | ')}`);
    assert.ok(silent.connections() > 0, 'the silent broker was tried');
  });
});
