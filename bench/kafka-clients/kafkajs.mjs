// Scenarios b-e for kafkajs. Usage: node kafkajs.mjs [scenario ...]
import kafkajs from 'kafkajs'
import {
  brokers, fresh, payload, rate, roundTripMessages, runScenarios, throughputCount,
  verifyRoundTrip, waitFor
} from './lib.mjs'

const { Kafka, Partitioners, logLevel } = kafkajs
const inflight = Number(process.env.BENCH_INFLIGHT ?? 4)
const batchSize = Number(process.env.BENCH_BATCH ?? 1000)
const kafka = new Kafka({ clientId: 'bench-kafkajs', brokers, logLevel: logLevel.ERROR })

async function createTopic (partitions, prefix) {
  const topic = fresh(prefix)
  const admin = kafka.admin()
  await admin.connect()
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true })
  } finally {
    await admin.disconnect()
  }
  return topic
}

async function endOffsetsTotal (topic) {
  const admin = kafka.admin()
  await admin.connect()
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high), 0)
  } finally {
    await admin.disconnect()
  }
}

/** Reads `count` messages from a fresh group with autoCommit off, committing by hand. */
async function consumeAll (topic, count) {
  const groupId = fresh('group')
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 500 })
  const received = []
  await consumer.connect()
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    let done
    const finished = new Promise(resolve => { done = resolve })
    await consumer.run({
      autoCommit: false,
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
    const admin = kafka.admin()
    await admin.connect()
    const committed = await admin.fetchOffsets({ groupId, topics: [topic] })
    await admin.disconnect()
    return { received, committed: Object.fromEntries(committed[0].partitions.map(p => [p.partition, p.offset])) }
  } finally {
    await consumer.disconnect()
  }
}

async function roundTrip () {
  const topic = await createTopic(3, 'rt')
  const sent = roundTripMessages(topic)
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  try {
    await producer.send({ topic, acks: -1, messages: sent })
  } finally {
    await producer.disconnect()
  }
  const { received, committed } = await consumeAll(topic, sent.length)
  return { topic, messagesInTopic: await endOffsetsTotal(topic), ...verifyRoundTrip(sent, received, 3), committedOffsets: committed }
}

async function idempotent () {
  const topic = await createTopic(3, 'idem')
  const sent = roundTripMessages(topic)
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  try {
    for (let i = 0; i < sent.length; i += 10) {
      await producer.send({ topic, acks: -1, messages: sent.slice(i, i + 10) })
    }
  } finally {
    await producer.disconnect()
  }
  const { received } = await consumeAll(topic, sent.length)
  return { topic, messagesInTopic: await endOffsetsTotal(topic), ...verifyRoundTrip(sent, received, 3) }
}

async function rebalance (heartbeatInterval) {
  const topic = await createTopic(6, 'rb')
  const groupId = fresh('rb-group')
  const options = heartbeatInterval ? { sessionTimeout: 10_000, heartbeatInterval } : {}
  const owned = { A: [], B: [] }
  const events = []
  const t0 = performance.now()
  const make = async (name) => {
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 500, ...options })
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      owned[name] = payload.memberAssignment[topic] ?? []
      events.push({ t: Math.round(performance.now() - t0), consumer: name, event: 'GROUP_JOIN', partitions: owned[name] })
    })
    consumer.on(consumer.events.REBALANCING, () => events.push({ t: Math.round(performance.now() - t0), consumer: name, event: 'REBALANCING' }))
    await consumer.connect()
    await consumer.subscribe({ topics: [topic] })
    await consumer.run({ autoCommit: false, eachMessage: async () => {} })
    return consumer
  }
  const a = await make('A')
  let b
  try {
    const aloneMs = await waitFor(() => owned.A.length === 6, 60_000, 'A to own all 6 partitions')
    const joinStart = performance.now()
    b = await make('B')
    await waitFor(() => owned.A.length > 0 && owned.B.length > 0 && new Set([...owned.A, ...owned.B]).size === 6 &&
      owned.A.length + owned.B.length === 6, 60_000, 'A and B to split 6 partitions')
    const splitMs = Math.round(performance.now() - joinStart)
    const split = { A: [...owned.A].sort(), B: [...owned.B].sort() }
    const leaveStart = performance.now()
    await b.disconnect()
    const closeMs = Math.round(performance.now() - leaveStart)
    await waitFor(() => owned.A.length === 6, 60_000, 'A to take back all 6 partitions')
    const takeoverMs = Math.round(performance.now() - leaveStart)
    return { ok: true, options, aloneMs, splitMs, split, closeMs, takeoverMs, events }
  } finally {
    await b?.disconnect().catch(() => {})
    await a.disconnect()
  }
}

async function produceThroughput (idempotentProducer) {
  const topic = await createTopic(6, 'tp')
  const producer = kafka.producer(idempotentProducer
    ? { idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner }
    : { createPartitioner: Partitioners.DefaultPartitioner })
  const workers = idempotentProducer ? 1 : inflight
  const messages = Array.from({ length: throughputCount }, (_, i) => ({ key: Buffer.from(`k${i}`), value: payload }))
  await producer.connect()
  try {
    await producer.send({ topic, acks: -1, messages: messages.slice(0, 10) })
    const start = performance.now()
    let next = 0
    const worker = async () => {
      while (next < messages.length) {
        const batch = messages.slice(next, next += batchSize)
        await producer.send({ topic, acks: -1, messages: batch })
      }
    }
    await Promise.all(Array.from({ length: workers }, worker))
    const produced = rate(messages.length, performance.now() - start)
    const consumed = await consumeThroughput(topic, messages.length + 10)
    return { ok: true, topic, acks: 'all', idempotent: idempotentProducer, batchSize, inflight: workers, produce: produced, consume: consumed }
  } finally {
    await producer.disconnect()
  }
}

async function consumeThroughput (topic, count) {
  const consumer = kafka.consumer({ groupId: fresh('tp-group') })
  await consumer.connect()
  try {
    const start = performance.now()
    let n = 0
    let done
    const finished = new Promise(resolve => { done = resolve })
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await consumer.run({
      autoCommit: false,
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

await runScenarios('kafkajs@2.2.4', {
  roundTrip,
  idempotent,
  rebalanceClassic: () => rebalance(500),
  rebalanceClassicDefaults: () => rebalance(undefined),
  throughput1: () => produceThroughput(false),
  throughput2: () => produceThroughput(false),
  throughputIdempotent: () => produceThroughput(true)
})
