/**
 * A group member in its own process, to be SIGKILLed by leases.test.ts. It subscribes to
 * CHILD_TOPIC in CHILD_GROUP, prints `assigned <partitions>` whenever its partitions change and
 * `handling <seq>` as each handler starts; handlers never finish, so nothing is ever committed.
 */
import { open } from './open-from-env.ts';

const { CHILD_TOPIC, CHILD_GROUP } = process.env;
if (!CHILD_TOPIC || !CHILD_GROUP) throw new Error('CHILD_TOPIC and CHILD_GROUP are required');

const transport = await open();
const subscription = await transport.subscribe(
  CHILD_TOPIC,
  (message) => {
    process.stdout.write(`handling ${message.headers.seq}\n`);
    return new Promise<void>(() => undefined);
  },
  { group: CHILD_GROUP },
);
let last = '';
setInterval(() => {
  const assigned = subscription.assignedPartitions().join(',');
  if (assigned !== last) process.stdout.write(`assigned ${(last = assigned)}\n`);
}, 20);
