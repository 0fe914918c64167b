/**
 * A consumer in its own process, for the conformance suite's SIGKILL test. It opens the transport
 * through CHILD_MODULE's `open()`, handles CHILD_TOPIC slowly as a member of CHILD_GROUP, and
 * prints `ack <seq>` as each handler finishes, until it is killed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Transport } from '../../src/transport/types.ts';

const { CHILD_MODULE, CHILD_TOPIC, CHILD_GROUP } = process.env;
if (!CHILD_MODULE || !CHILD_TOPIC || !CHILD_GROUP) throw new Error('CHILD_MODULE, CHILD_TOPIC and CHILD_GROUP are required');

const factory = (await import(CHILD_MODULE)) as { open(): Promise<Transport> };
const transport = await factory.open();
await transport.subscribe(
  CHILD_TOPIC,
  async (message) => {
    // Slow enough that messages are fetched but unfinished when the kill lands.
    await sleep(3);
    process.stdout.write(`ack ${message.headers.seq}\n`);
  },
  { group: CHILD_GROUP, maxBatchSize: 50 },
);
