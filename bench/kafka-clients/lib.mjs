// Shared helpers for the Kafka client benchmarks. Each client script runs the same
// scenarios and prints one JSON report; nothing here depends on a particular client.
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'

export const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(',').map(s => s.trim())
export const throughputCount = Number(process.env.BENCH_MESSAGES ?? 100_000)
export const messageSize = 1024

/** A fresh name for every run, so reruns never see old data or old group offsets. */
export function fresh (prefix) {
  return `bench-${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`
}

/** Partitions the Java client (kafka-clients 4.1.1) picks for key-0..key-99 on 3 and 6 partitions. */
export const javaPartitions = JSON.parse(readFileSync(new URL('./java-partitions.json', import.meta.url), 'utf8')).keys

/** The 100 keyed messages with headers used by the round-trip scenario. */
export function roundTripMessages (runId) {
  return Array.from({ length: 100 }, (_, i) => ({
    key: `key-${i}`,
    value: JSON.stringify({ i, runId, body: 'x'.repeat(i) }),
    headers: { 'x-index': String(i), 'x-run': runId, 'x-bin': Buffer.from([0, 255, i]).toString('base64') }
  }))
}

/**
 * Checks that every sent message arrived once with key, value and headers intact, and
 * whether its partition is the one the Java client would have chosen.
 * received: [{ key, value, headers: Record<string,string>, partition }]
 */
export function verifyRoundTrip (sent, received, partitions) {
  const byKey = new Map(received.map(m => [m.key, m]))
  let intact = 0
  let javaPartitionMatches = 0
  const problems = []
  for (const s of sent) {
    const r = byKey.get(s.key)
    if (!r) { problems.push(`missing ${s.key}`); continue }
    const headersOk = Object.entries(s.headers).every(([k, v]) => r.headers[k] === v)
    if (r.value === s.value && headersOk) intact++
    else problems.push(`corrupt ${s.key}`)
    const expected = javaPartitions[s.key][partitions === 6 ? 'p6' : 'p3']
    if (r.partition === expected) javaPartitionMatches++
  }
  return {
    sent: sent.length,
    received: received.length,
    distinctKeys: byKey.size,
    intact,
    javaPartitionMatches,
    ok: intact === sent.length && received.length === sent.length,
    problems: problems.slice(0, 5)
  }
}

export const payload = randomBytes(messageSize)

export function rate (count, ms) {
  const perSec = count / (ms / 1000)
  return { count, ms: Math.round(ms), msgPerSec: Math.round(perSec), mbPerSec: +(perSec * messageSize / 1024 / 1024).toFixed(1) }
}

export const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

/** Polls until check() is true; returns the elapsed ms, or throws after timeoutMs. */
export async function waitFor (check, timeoutMs, what) {
  const start = performance.now()
  while (!(await check())) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(10)
  }
  return Math.round(performance.now() - start)
}

/** Runs each scenario, records its result or its error, and prints the whole report as JSON. */
export async function runScenarios (client, scenarios) {
  const only = process.argv.slice(2)
  const report = { client, node: process.version, brokers, at: new Date().toISOString(), results: {} }
  for (const [name, fn] of Object.entries(scenarios)) {
    if (only.length && !only.includes(name)) continue
    const start = performance.now()
    try {
      report.results[name] = await fn()
    } catch (error) {
      report.results[name] = { ok: false, error: `${error.code ?? error.name}: ${error.message}`, cause: error.cause?.message, errors: error.errors?.map(e => e.message) }
    }
    report.results[name].elapsedMs = Math.round(performance.now() - start)
    console.error(`[${client}] ${name}: ${JSON.stringify(report.results[name])}`)
  }
  console.log(JSON.stringify(report, null, 2))
}
