/**
 * A produce the broker wrote but whose answer never reached the client (the broker was killed
 * right after replicating it) must not make the next publish vanish. The race is forced: the
 * publisher's producer is wrapped as the client creates it (the client announces instances on
 * its diagnostics channel), and the answer to its first Produce request is replaced by a
 * timeout, after the broker stored the batch.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { TimeoutError, type Connection, type Producer } from '@platformatic/kafka';
import { createKafkaTransport } from '../../../src/transport/kafka/index.ts';
import type { ReceivedMessage } from '../../../src/transport/types.ts';
import { kafkaBrokers, kafkaSkip } from '../../support/services.ts';

const instances = 'plt:kafka:instances';
const produceApiKey = 0;
type Send = (...args: unknown[]) => unknown;

/** Loses the answer to the first Produce request of the next producer created. */
function loseFirstProduceAnswer(): { lost: () => number; stop: () => void } {
  let lost = 0;
  let armed = true;
  const onInstance = (message: unknown): void => {
    const { type, instance } = message as { type: string; instance: Producer<unknown, unknown, unknown, unknown> };
    if (type !== 'producer' || !armed) return;
    instance.connections.on('connect', ({ connection }: { connection: Connection }) => {
      const send = connection.send.bind(connection) as Send;
      Object.defineProperty(connection, 'send', {
        value: (...args: unknown[]) => {
          const reply = args.at(-1) as (error: unknown, payload: unknown) => void;
          if (args[0] === produceApiKey && armed) {
            armed = false;
            args[args.length - 1] = (error: unknown, payload: unknown) => {
              if (error) return reply(error, payload);
              lost += 1;
              // Written and acknowledged by the broker; the client never hears of it.
              reply(new TimeoutError('Request timed out'), undefined);
            };
          }
          return send(...args);
        },
        configurable: true,
        writable: true,
      });
    });
  };
  subscribe(instances, onInstance);
  return { lost: () => lost, stop: () => unsubscribe(instances, onInstance) };
}

describe('a produce whose answer was lost after the broker wrote it', { skip: kafkaSkip }, () => {
  test('fails that publish, and the next publish is stored, not taken for a retry of it', async (t) => {
    const topic = `lost-answer-${randomUUID()}`;
    const setup = createKafkaTransport({ brokers: kafkaBrokers(), clientId: 'kitsune-lost-answer-setup' });
    await setup.ensureTopics([{ name: topic, partitions: 1 }]);
    await setup.close();

    const lose = loseFirstProduceAnswer();
    t.after(() => lose.stop());
    const transport = createKafkaTransport({ brokers: kafkaBrokers(), clientId: 'kitsune-lost-answer' });
    t.after(() => transport.close());
    const one = (id: string) => [{ id, key: 'same-key', value: Buffer.from(id) }];

    await assert.rejects(transport.publish(topic, one('first')), /did not accept/);
    assert.equal(lose.lost(), 1, 'the first produce was stored and its answer lost');
    // One record to the same partition, as the lost batch was: the same sequence numbers if reused.
    await transport.publish(topic, one('second'));

    const received: ReceivedMessage[] = [];
    await transport.subscribe(topic, (message) => Promise.resolve(void received.push(message)), { group: `reader-${randomUUID()}` });
    const deadline = Date.now() + 30_000;
    while (!received.some((m) => m.id === 'second') && Date.now() < deadline) await sleep(20);
    assert.deepEqual(received.map((m) => m.id), ['first', 'second'], 'both records are on the topic, once each');
  });
});
