// Produces 100 keyed messages in one send() to each of 15 freshly created 3-partition topics
// and counts what landed. Usage: node fresh-topic-retry.mjs [idem]
// Without idempotence @platformatic/kafka 1.35.0 sometimes writes duplicates here: a produce
// request that fails for one partition is retried whole, re-appending the partitions that had
// succeeded. With idempotent: true the broker drops the repeats.
import { Admin, Consumer, Producer, compatibilityPartitioner, stringSerializers } from '@platformatic/kafka'
import { brokers, fresh } from './lib.mjs'

const idempotent = process.argv[2] === 'idem'
const base = { clientId: 'bench-retry', bootstrapBrokers: brokers }
let wrong = 0
for (let run = 0; run < 15; run++) {
  const topic = fresh('retry')
  const admin = new Admin(base)
  await admin.createTopics({ topics: [topic], partitions: 3, replicas: 1 })
  await admin.close()
  const producer = new Producer({ ...base, serializers: stringSerializers, acks: -1, idempotent, partitioner: compatibilityPartitioner })
  const start = performance.now()
  const error = await producer.send({ messages: Array.from({ length: 100 }, (_, i) => ({ topic, key: `key-${i}`, value: `v${i}` })) })
    .then(() => null, e => e)
  const ms = Math.round(performance.now() - start)
  await producer.close()
  const consumer = new Consumer({ ...base, groupId: fresh('retry-group') })
  const ends = (await consumer.listOffsets({ topics: [topic] })).get(topic)
  await consumer.close()
  const total = Number(ends.reduce((a, b) => a + b, 0n))
  if (total !== 100) wrong++
  console.log(`run ${run}: ${ms} ms, end offsets ${ends.join(',')} (expected 26,38,36)${error ? ` error ${error.message}` : ''}`)
}
console.log(`idempotent=${idempotent}: ${wrong} of 15 runs did not hold exactly 100 messages`)
