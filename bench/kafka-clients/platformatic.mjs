// Scenarios b-e for @platformatic/kafka. Usage: node platformatic.mjs [scenario ...]
import { once } from 'node:events'
import {
  Admin, Consumer, Producer, ProduceAcks, compatibilityPartitioner,
  stringDeserializers, stringSerializers
} from '@platformatic/kafka'
import {
  brokers, fresh, payload, rate, roundTripMessages, runScenarios, throughputCount,
  verifyRoundTrip, waitFor
} from './lib.mjs'

const inflight = Number(process.env.BENCH_INFLIGHT ?? 4)
const batchSize = Number(process.env.BENCH_BATCH ?? 1000)
const client = (role) => ({ clientId: `bench-${role}`, bootstrapBrokers: brokers })

async function createTopic (partitions, prefix) {
  const topic = fresh(prefix)
  const admin = new Admin(client('admin'))
  try {
    await admin.createTopics({ topics: [topic], partitions, replicas: 1 })
  } finally {
    await admin.close()
  }
  return topic
}

/** Reads `count` messages from a fresh group, committing each one by hand. */
async function consumeAll (topic, count, deserializers = stringDeserializers) {
  const consumer = new Consumer({
    ...client('consumer'), groupId: fresh('group'), deserializers, autocommit: false, maxWaitTime: 500
  })
  const received = []
  try {
    const stream = await consumer.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest' })
    for await (const message of stream) {
      received.push(message)
      if (received.length === count) break
    }
    // Manual commit: commit the next offset to read for each partition's last message.
    const last = new Map()
    for (const m of received) last.set(m.partition, m)
    for (const m of last.values()) await m.commit()
    const committed = await consumer.listCommittedOffsets({
      topics: [{ topic, partitions: [...last.keys()] }]
    })
    const ends = (await consumer.listOffsets({ topics: [topic] })).get(topic)
    await stream.close()
    return { received, messagesInTopic: Number(ends.reduce((a, b) => a + b, 0n)), committed: Object.fromEntries([...committed.get(topic).entries()].map(([p, o]) => [p, String(o)])) }
  } finally {
    await consumer.close(true)
  }
}

function plain (message) {
  return { key: message.key, value: message.value, partition: message.partition, headers: Object.fromEntries(message.headers) }
}

async function roundTrip (partitioner) {
  const topic = await createTopic(3, 'rt')
  const sent = roundTripMessages(topic)
  const producer = new Producer({ ...client('producer'), serializers: stringSerializers, acks: ProduceAcks.ALL, partitioner })
  try {
    await producer.send({ messages: sent.map(m => ({ ...m, topic })) })
  } finally {
    await producer.close()
  }
  const { received, committed, messagesInTopic } = await consumeAll(topic, sent.length)
  return { topic, messagesInTopic, ...verifyRoundTrip(sent, received.map(plain), 3), committedOffsets: committed }
}

async function idempotent () {
  const topic = await createTopic(3, 'idem')
  const sent = roundTripMessages(topic)
  const producer = new Producer({ ...client('idempotent'), serializers: stringSerializers, idempotent: true, acks: ProduceAcks.ALL })
  let producerId
  let rejectsAcks1
  try {
    for (let i = 0; i < sent.length; i += 10) {
      await producer.send({ messages: sent.slice(i, i + 10).map(m => ({ ...m, topic })) })
    }
    producerId = String(producer.producerId)
    rejectsAcks1 = await producer.send({ messages: [{ topic, key: 'x', value: 'y' }], acks: ProduceAcks.LEADER })
      .then(() => false, error => `${error.code}: ${error.message}`)
  } finally {
    await producer.close()
  }
  const { received, messagesInTopic } = await consumeAll(topic, sent.length)
  return { topic, messagesInTopic, producerId, rejectsAcks1, ...verifyRoundTrip(sent, received.map(plain), 3) }
}

const assigned = (consumer) => (consumer.assignments ?? []).flatMap(a => a.partitions)

async function rebalance (groupProtocol) {
  const topic = await createTopic(6, 'rb')
  const groupId = fresh('rb-group')
  const options = groupProtocol === 'consumer'
    ? { groupProtocol: 'consumer' }
    : groupProtocol === 'classic-defaults' ? {} : { sessionTimeout: 10_000, heartbeatInterval: 500 }
  const events = []
  const make = (name) => {
    const consumer = new Consumer({ ...client(`rb-${name}`), groupId, autocommit: false, maxWaitTime: 500, ...options })
    for (const event of ['consumer:group:join', 'consumer:group:leave', 'consumer:group:rebalance']) {
      consumer.on(event, payload => events.push({ t: Math.round(performance.now() - t0), consumer: name, event, partitions: payload?.assignments?.flatMap(a => a.partitions) }))
    }
    return consumer
  }
  const t0 = performance.now()
  const a = make('A')
  const b = make('B')
  try {
    const streamA = await a.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest' })
    streamA.resume()
    const aloneMs = await waitFor(() => assigned(a).length === 6, 30_000, 'A to own all 6 partitions')
    const joinStart = performance.now()
    const streamB = await b.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest' })
    streamB.resume()
    await waitFor(() => assigned(a).length > 0 && assigned(b).length > 0 && assigned(a).length + assigned(b).length === 6 &&
      new Set([...assigned(a), ...assigned(b)]).size === 6, 60_000, 'A and B to split 6 partitions')
    const splitMs = Math.round(performance.now() - joinStart)
    const split = { A: assigned(a).sort(), B: assigned(b).sort() }
    const leaveStart = performance.now()
    await b.close(true)
    const closeMs = Math.round(performance.now() - leaveStart)
    await waitFor(() => assigned(a).length === 6, 60_000, 'A to take back all 6 partitions')
    const takeoverMs = Math.round(performance.now() - leaveStart)
    return { ok: true, groupProtocol: groupProtocol ?? 'classic', options, aloneMs, splitMs, split, closeMs, takeoverMs, events }
  } finally {
    await b.close(true).catch(() => {})
    await a.close(true)
  }
}

async function produceThroughput (idempotent, workers = idempotent ? 1 : inflight) {
  const topic = await createTopic(6, 'tp')
  const producer = new Producer({ ...client('tp'), acks: ProduceAcks.ALL, idempotent, partitioner: compatibilityPartitioner })
  const messages = Array.from({ length: throughputCount }, (_, i) => ({ topic, key: Buffer.from(`k${i}`), value: payload }))
  try {
    await producer.send({ messages: messages.slice(0, 10) }) // connect and load metadata outside the timing
    const start = performance.now()
    let next = 0
    const worker = async () => {
      while (next < messages.length) {
        const batch = messages.slice(next, next += batchSize)
        await producer.send({ messages: batch })
      }
    }
    await Promise.all(Array.from({ length: workers }, worker))
    const produced = rate(messages.length, performance.now() - start)
    const consumed = await consumeThroughput(topic, messages.length + 10)
    return { ok: true, topic, acks: 'all', idempotent, batchSize, inflight: workers, produce: produced, consume: consumed }
  } finally {
    await producer.close()
  }
}

/** The same load through producer.asStream(), which sends one batch at a time. */
async function streamThroughput () {
  const topic = await createTopic(6, 'tps')
  const producer = new Producer({ ...client('tps'), acks: ProduceAcks.ALL, idempotent: true, partitioner: compatibilityPartitioner })
  try {
    await producer.send({ messages: [{ topic, key: Buffer.from('warm'), value: payload }] })
    const stream = producer.asStream({ batchSize, batchTime: 5, highWaterMark: batchSize * 4 })
    const start = performance.now()
    for (let i = 0; i < throughputCount; i++) {
      if (!stream.write({ topic, key: Buffer.from(`k${i}`), value: payload })) await once(stream, 'drain')
    }
    await stream.close()
    const produced = rate(throughputCount, performance.now() - start)
    const consumed = await consumeThroughput(topic, throughputCount + 1)
    return { ok: true, topic, acks: 'all', idempotent: true, api: 'asStream', batchSize, produce: produced, consume: consumed }
  } finally {
    await producer.close()
  }
}

async function consumeThroughput (topic, count) {
  const consumer = new Consumer({ ...client('tp-consumer'), groupId: fresh('tp-group'), autocommit: false })
  try {
    const start = performance.now()
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest' })
    let n = 0
    for await (const message of stream) {
      if (message.value.length !== payload.length) throw new Error('bad payload')
      if (++n === count) break
    }
    const result = rate(count, performance.now() - start)
    const ends = (await consumer.listOffsets({ topics: [topic] })).get(topic)
    await stream.close()
    return { ...result, messagesInTopic: Number(ends.reduce((a, b) => a + b, 0n)) }
  } finally {
    await consumer.close(true)
  }
}

await runScenarios('@platformatic/kafka@1.35.0', {
  roundTrip: () => roundTrip(undefined),
  roundTripCompatPartitioner: () => roundTrip(compatibilityPartitioner),
  idempotent,
  rebalanceClassic: () => rebalance(undefined),
  rebalanceClassicDefaults: () => rebalance('classic-defaults'),
  rebalanceKip848: () => rebalance('consumer'),
  throughput1: () => produceThroughput(false),
  throughput2: () => produceThroughput(false),
  throughputIdempotent: () => produceThroughput(true),
  throughputIdempotentInflight4: () => produceThroughput(true, inflight),
  throughputIdempotentStream1: streamThroughput,
  throughputIdempotentStream2: streamThroughput
})
