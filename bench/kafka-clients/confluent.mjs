// Scenarios b-e for @confluentinc/kafka-javascript (its KafkaJS-compatible API).
// It only installs where its native build succeeds: see README.md. Usage: node confluent.mjs [scenario ...]
import confluent from '@confluentinc/kafka-javascript'
import {
  brokers, fresh, payload, rate, roundTripMessages, runScenarios, throughputCount,
  verifyRoundTrip, waitFor
} from './lib.mjs'

const { Kafka, logLevel } = confluent.KafkaJS
const inflight = Number(process.env.BENCH_INFLIGHT ?? 4)
const batchSize = Number(process.env.BENCH_BATCH ?? 1000)
const kafka = new Kafka({ kafkaJS: { clientId: 'bench-confluent', brokers, logLevel: logLevel.ERROR } })

async function withAdmin (fn) {
  const admin = kafka.admin()
  await admin.connect()
  try { return await fn(admin) } finally { await admin.disconnect() }
}

async function createTopic (partitions, prefix) {
  const topic = fresh(prefix)
  await withAdmin(admin => admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }] }))
  return topic
}

const endOffsetsTotal = topic => withAdmin(async admin =>
  (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high), 0))

/** Reads `count` messages from a fresh group with autoCommit off, committing by hand. */
async function consumeAll (topic, count) {
  const groupId = fresh('group')
  const consumer = kafka.consumer({ kafkaJS: { groupId, fromBeginning: true, autoCommit: false, maxWaitTimeInMs: 500 } })
  const received = []
  await consumer.connect()
  try {
    await consumer.subscribe({ topics: [topic] })
    let done
    const finished = new Promise(resolve => { done = resolve })
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        received.push({
          partition,
          key: message.key.toString(),
          value: message.value.toString(),
          headers: Object.fromEntries(Object.entries(message.headers).map(([k, v]) => [k, v.toString()]))
        })
        await consumer.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }])
        if (received.length === count) done()
      }
    })
    await Promise.race([finished, waitFor(() => false, 60_000, 'messages').catch(e => e)])
    const committed = await consumer.committed([0, 1, 2].map(partition => ({ topic, partition })))
    return { received, committed: Object.fromEntries(committed.map(p => [p.partition, p.offset])) }
  } finally {
    await consumer.disconnect()
  }
}

async function produceAndCheck (producerConfig, batch) {
  const topic = await createTopic(3, 'rt')
  const sent = roundTripMessages(topic)
  const producer = kafka.producer(producerConfig)
  await producer.connect()
  try {
    // send() rewrites the message objects it is given (value to Buffer, headers to an array), so pass copies.
    for (let i = 0; i < sent.length; i += batch) {
      await producer.send({ topic, messages: sent.slice(i, i + batch).map(m => ({ ...m, headers: { ...m.headers } })) })
    }
  } finally {
    await producer.disconnect()
  }
  const { received, committed } = await consumeAll(topic, sent.length)
  return { topic, messagesInTopic: await endOffsetsTotal(topic), ...verifyRoundTrip(sent, received, 3), committedOffsets: committed }
}

async function rebalance (heartbeatInterval) {
  const topic = await createTopic(6, 'rb')
  const groupId = fresh('rb-group')
  const options = heartbeatInterval ? { sessionTimeout: 10_000, heartbeatInterval } : {}
  const events = []
  const t0 = performance.now()
  const make = async (name) => {
    const consumer = kafka.consumer({
      kafkaJS: { groupId, autoCommit: false, maxWaitTimeInMs: 500, ...options },
      rebalance_cb: (err, assignment, fns) => {
        events.push({ t: Math.round(performance.now() - t0), consumer: name, event: err.code === -175 ? 'assign' : err.code === -174 ? 'revoke' : String(err.code), lost: fns.assignmentLost(), partitions: assignment.map(p => p.partition) })
      }
    })
    await consumer.connect()
    await consumer.subscribe({ topics: [topic] })
    await consumer.run({ eachMessage: async () => {} })
    return consumer
  }
  const owned = (c) => c.assignment().map(a => a.partition)
  const a = await make('A')
  let b
  try {
    const aloneMs = await waitFor(() => owned(a).length === 6, 60_000, 'A to own all 6 partitions')
    const joinStart = performance.now()
    b = await make('B')
    await waitFor(() => owned(a).length > 0 && owned(b).length > 0 && new Set([...owned(a), ...owned(b)]).size === 6 &&
      owned(a).length + owned(b).length === 6, 60_000, 'A and B to split 6 partitions')
    const splitMs = Math.round(performance.now() - joinStart)
    const split = { A: owned(a).sort(), B: owned(b).sort() }
    const leaveStart = performance.now()
    await b.disconnect()
    b = undefined
    const closeMs = Math.round(performance.now() - leaveStart)
    await waitFor(() => owned(a).length === 6, 60_000, 'A to take back all 6 partitions')
    const takeoverMs = Math.round(performance.now() - leaveStart)
    return { ok: true, options, rebalanceProtocol: a.rebalanceProtocol(), aloneMs, splitMs, split, closeMs, takeoverMs, events }
  } finally {
    await b?.disconnect().catch(() => {})
    await a.disconnect()
  }
}

async function produceThroughput (idempotent) {
  const topic = await createTopic(6, 'tp')
  const producer = kafka.producer({ kafkaJS: { acks: -1, idempotent } })
  const messages = Array.from({ length: throughputCount }, (_, i) => ({ key: Buffer.from(`k${i}`), value: payload }))
  await producer.connect()
  try {
    await producer.send({ topic, messages: messages.slice(0, 10) })
    const start = performance.now()
    let next = 0
    // librdkafka queues and batches internally and keeps ordering with idempotence on,
    // so concurrent send() calls are safe in both modes.
    const worker = async () => {
      while (next < messages.length) {
        const batch = messages.slice(next, next += batchSize)
        await producer.send({ topic, messages: batch })
      }
    }
    await Promise.all(Array.from({ length: inflight }, worker))
    const produced = rate(messages.length, performance.now() - start)
    const consumed = await consumeThroughput(topic, messages.length + 10)
    return { ok: true, topic, acks: 'all', idempotent, batchSize, inflight, produce: produced, consume: consumed }
  } finally {
    await producer.disconnect()
  }
}

async function consumeThroughput (topic, count) {
  const consumer = kafka.consumer({ kafkaJS: { groupId: fresh('tp-group'), fromBeginning: true, autoCommit: false } })
  await consumer.connect()
  try {
    const start = performance.now()
    let n = 0
    let done
    const finished = new Promise(resolve => { done = resolve })
    await consumer.subscribe({ topics: [topic] })
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) if (message.value.length !== payload.length) throw new Error('bad payload')
        n += batch.messages.length
        if (n >= count) done()
      }
    })
    await finished
    return { ...rate(count, performance.now() - start), messagesInTopic: await endOffsetsTotal(topic) }
  } finally {
    await consumer.disconnect()
  }
}

await runScenarios('@confluentinc/kafka-javascript@1.10.1', {
  roundTrip: () => produceAndCheck({ kafkaJS: { acks: -1 } }, 100),
  idempotent: () => produceAndCheck({ kafkaJS: { acks: -1, idempotent: true } }, 10),
  rebalanceClassic: () => rebalance(500),
  rebalanceClassicDefaults: () => rebalance(undefined),
  throughput1: () => produceThroughput(false),
  throughput2: () => produceThroughput(false),
  throughputIdempotent: () => produceThroughput(true)
})
