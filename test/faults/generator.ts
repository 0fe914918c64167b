/**
 * The load: `clients` concurrent clients, each sending its share of the planned operations one at
 * a time through Kitsune's typed client (src/client), so an unknown outcome is retried with the
 * same Idempotency-Key exactly as a real caller's would be. A client owns its entities, so each
 * entity's steps go out in order, the next only after the last was answered. Attempts are spread
 * over the APIs like a load balancer would, and each is recorded in the history.
 */
import { Producer, ProduceAcks, stringSerializers } from '@platformatic/kafka';
import { createClient, type KitsuneClient } from '../../src/client/index.ts';
import type { History, Op } from './history.ts';
import type { Random } from './random.ts';

export interface LoadPlan {
  ops: Op[];
  clients: number;
}

export interface PlanOptions {
  events: number;
  clients: number;
  entities: number;
  /** Share of operations whose payload the API must refuse (400). */
  invalidShare: number;
  /** Share of operations that fail in PostgreSQL with a permanent error (dead-lettered). */
  poisonShare: number;
  /**
   * Every n-th operation that would be a step is instead a raw poison record produced straight to
   * db-events (0: none). A fixed stride, not a draw, so a seed's faults stay where they were.
   */
  rawEvery: number;
}

/** The operations, from the seed: which entity, which step, which kind. */
export function planLoad(random: Random, options: PlanOptions): LoadPlan {
  const nextSeq = new Array<number>(options.entities).fill(1);
  const ops: Op[] = [];
  for (let i = 0; i < options.events; i++) {
    const client = i % options.clients;
    // A client's entities are those congruent to it: no two clients ever touch one entity.
    const owned = Math.ceil((options.entities - client) / options.clients);
    const index = client + options.clients * random.int(0, owned - 1);
    const drawn = random.chance(options.invalidShare) ? 'invalid' : random.chance(options.poisonShare) ? 'poison' : 'step';
    const kind = drawn === 'step' && options.rawEvery > 0 && i % options.rawEvery === options.rawEvery - 1 ? 'raw' : drawn;
    const seq = nextSeq[index]!;
    if (kind !== 'invalid') nextSeq[index] = seq + 1;
    ops.push({ key: `op-${i}`, client, entity: `entity-${index}`, seq, kind });
  }
  return { ops, clients: options.clients };
}

export interface RunLoadOptions {
  apis: () => readonly string[];
  history: History;
  /** Target operations per second over all clients (pacing, not a limit the system must meet). */
  rate: number;
  /** Resolves once the operation at this plan index may start (the nemesis's barrier). */
  gate?: (index: number) => Promise<void>;
  /** Writes a raw op's malformed record to db-events, as a producer other than Kitsune's API would. */
  produceRaw?: (op: Op) => Promise<void>;
  /** Called after each operation ends, with how many ended so far. */
  onProgress?: (done: number, accepted: number) => void;
  signal?: AbortSignal;
}

const source = 'faults';

/** Runs every operation; resolves when each ended as ok, fail or (retries exhausted) unknown. */
export async function runLoad(plan: LoadPlan, options: RunLoadOptions): Promise<void> {
  const started = Date.now();
  let done = 0;
  let accepted = 0;
  const perClient = Array.from({ length: plan.clients }, (_, c) => plan.ops.filter((op) => op.client === c));
  await Promise.all(
    perClient.map(async (ops, c) => {
      for (const op of ops) {
        if (options.signal?.aborted) return;
        const index = Number(op.key.slice(3));
        await options.gate?.(index);
        const due = started + (index / options.rate) * 1_000;
        if (due > Date.now()) await new Promise((resolveDue) => setTimeout(resolveDue, due - Date.now()));
        const ok = op.kind === 'raw' ? await runRaw(op, options) : await runOp(clientFor(c, op, options), op);
        done++;
        if (ok) accepted++;
        options.onProgress?.(done, accepted);
      }
    }),
  );
}

/** A typed client whose attempts go to API after API and are written to the history. */
function clientFor(client: number, op: Op, options: RunLoadOptions): KitsuneClient {
  let attempt = 0;
  const recordingFetch: typeof fetch = async (input, init) => {
    attempt++;
    const apis = options.apis();
    const api = apis[(client + attempt) % apis.length]!;
    const url = new URL(String(input instanceof Request ? input.url : input));
    const target = new URL(api);
    url.host = target.host;
    options.history.add({ type: 'invoke', t: Date.now(), key: op.key, attempt, api: target.host, ...(attempt === 1 ? { op } : {}) });
    try {
      const response = await fetch(url, init);
      const type = response.status === 202 ? 'ok' : response.status >= 400 && response.status < 500 && response.status !== 429 ? 'fail' : 'unknown';
      options.history.add({ type, t: Date.now(), key: op.key, attempt, api: target.host, status: response.status });
      return response;
    } catch (error) {
      options.history.add({ type: 'unknown', t: Date.now(), key: op.key, attempt, api: target.host, error: error instanceof Error ? error.name : String(error) });
      throw error;
    }
  };
  // A client that must not give up while a fault lasts: many retries, each backoff at most 2 s.
  return createClient({ baseUrl: 'http://kitsune.invalid/', source, fetch: recordingFetch, retries: 60, backoff: { baseMs: 100, maxMs: 2_000 }, timeoutMs: 10_000 });
}

/**
 * The malformed records a raw op writes, in turn: each keeps its idempotency key readable, so its
 * dead letter can be matched to it, and is keyed by its entity, so it sits in the entity's
 * partition between good events. None carries Kitsune's headers.
 */
export function rawRecord(op: Op, index: number): { key: string; value: string } {
  const event = {
    id: `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`,
    command: 'record_step',
    version: '1',
    payload: { entity: op.entity, seq: op.seq, op: op.key },
    log: { level: 'INFO', message: `raw step ${op.seq} of ${op.entity} (${op.key})` },
    metadata: { idempotency_key: op.key, timestamp: new Date().toISOString(), source: 'faults' },
  };
  const variants: Array<() => unknown> = [
    () => ({ ...event, metadata: { ...event.metadata, source: 'fau\u0000lts' } }),
    () => ({ ...event, version: '1\u0000' }),
    () => ({ ...event, metadata: { ...event.metadata, source: 'fau\ud800lts' } }),
    () => ({ ...event, command: 42 }),
  ];
  return { key: op.entity, value: JSON.stringify(variants[index % variants.length]!()) };
}

/** A producer outside Kitsune writing raw ops' records to `topic`, acks=all, retrying through faults. */
export function rawProducer(brokers: readonly string[], topic: string): { produce: (op: Op) => Promise<void>; close: () => Promise<void> } {
  const producer = new Producer({
    clientId: 'kitsune-faults-raw',
    bootstrapBrokers: [...brokers],
    serializers: stringSerializers,
    acks: ProduceAcks.ALL,
    retries: 30,
    retryDelay: 500,
  });
  let index = 0;
  return {
    produce: async (op) => {
      const record = rawRecord(op, index++);
      await producer.send({ messages: [{ topic, key: record.key, value: record.value }] });
    },
    close: () => producer.close(),
  };
}

async function runRaw(op: Op, options: RunLoadOptions): Promise<boolean> {
  if (!options.produceRaw) throw new Error('a raw op needs produceRaw');
  options.history.add({ type: 'invoke', t: Date.now(), key: op.key, attempt: 1, api: 'kafka', op });
  try {
    await options.produceRaw(op);
    options.history.add({ type: 'ok', t: Date.now(), key: op.key, attempt: 1, api: 'kafka' });
    return true;
  } catch (error) {
    options.history.add({ type: 'unknown', t: Date.now(), key: op.key, attempt: 1, api: 'kafka', error: error instanceof Error ? error.message : String(error) });
    return false;
  }
}

async function runOp(client: KitsuneClient, op: Op): Promise<boolean> {
  const payload = {
    entity: op.entity,
    // 0 is below the schema's minimum: the API must answer 400.
    seq: op.kind === 'invalid' ? 0 : op.seq,
    op: op.key,
    ...(op.kind === 'poison' ? { fail: true } : {}),
  };
  try {
    await client.execute('record_step', payload, { idempotencyKey: op.key, log: { level: 'INFO', message: `step ${op.seq} of ${op.entity} (${op.key})` } });
    return true;
  } catch {
    return false;
  }
}
