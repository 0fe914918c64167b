/**
 * fast-check generators of what any producer could write to db-events or app-logs: arbitrary
 * bytes, arbitrary JSON, and valid events with one field mutated (U+0000, lone surrogates, huge
 * strings, deep nesting, numbers where strings belong, `__proto__`). Each record says what each
 * worker must do with it: run it (`ok`) or dead-letter it (`dead`).
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { encodeEvent, type CommandEvent } from '../../src/events/envelope.ts';
import { newEventId } from '../../src/events/ids.ts';

export type Expected = 'ok' | 'dead';

export interface RawRecord {
  /** The record's id (the `kitsune-id` header), unique per record: how the DLQ is matched. */
  id: string;
  value: Buffer;
  /** What the event says its id is, when it is a valid event (the DB worker's result row). */
  eventId: string | undefined;
  /** create_user's email, when the DB worker must run it. */
  email: string | undefined;
  db: Expected;
  log: Expected;
  /** For a failure message. */
  description: string;
  [fc.toStringMethod]: () => string;
}

/** A valid create_user event with a unique email. */
export function goodEvent(): CommandEvent {
  const id = newEventId();
  return {
    id,
    command: 'create_user',
    version: '1',
    payload: { name: `User ${id}`, email: `${id}@example.com` },
    log: { level: 'INFO', message: 'User created' },
    metadata: { idempotency_key: id, timestamp: new Date().toISOString(), source: 'poison-test' },
  };
}

/** fast-check prints a failing run's records by their description, not as kilobytes of Buffer. */
const shown = (record: Omit<RawRecord, typeof fc.toStringMethod>): RawRecord =>
  Object.assign(record, { [fc.toStringMethod]: () => `${record.db}/${record.log} ${record.description.slice(0, 160)}` });

const fromEvent = (event: CommandEvent, db: Expected, log: Expected, description: string): RawRecord =>
  shown({ id: `rec-${newEventId()}`, value: encodeEvent(event), eventId: event.id, email: db === 'ok' ? String(event.payload.email) : undefined, db, log, description });

/** A string with U+0000 or a lone surrogate somewhere in it. */
const unstorable: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(fc.string(), fc.string()).map(([a, b]) => `${a}\u0000${b}`),
  fc.tuple(fc.string(), fc.integer({ min: 0xd800, max: 0xdfff }), fc.string()).map(([a, unit, b]) => `${a}${String.fromCharCode(unit)}${b}`),
);

/** Random, so PostgreSQL cannot compress it under the 2.7 kB an index entry may hold. */
const huge = (): string => randomBytes(256 * 1024).toString('base64');

const notAString: fc.Arbitrary<unknown> = fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }), fc.constant({}));

type Path = readonly string[];
const envelopeStrings: Path[] = [['id'], ['command'], ['version'], ['log', 'message'], ['metadata', 'idempotency_key'], ['metadata', 'source'], ['metadata', 'timestamp']];
const payloadStrings: Path[] = [['payload', 'name'], ['payload', 'email']];
const objects: Path[] = [['payload'], ['log'], ['metadata']];

function set(event: CommandEvent, path: Path, value: unknown): CommandEvent {
  const copy = JSON.parse(JSON.stringify(event)) as Record<string, unknown>;
  let at = copy;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string, unknown>;
  if (value === undefined) delete at[path.at(-1)!];
  else at[path.at(-1)!] = value;
  return copy as unknown as CommandEvent;
}

/** payload.name nested `levels` deep, written as text: building it as an object would exhaust the stack. */
function deeplyNested(levels: number): RawRecord {
  const record = fromEvent(set(goodEvent(), ['payload', 'name'], 'DEEP'), 'dead', 'dead', `payload nested ${levels} deep`);
  return shown({ ...record, value: Buffer.from(record.value.toString().replace('"DEEP"', `${'['.repeat(levels)}${']'.repeat(levels)}`)) });
}

/** One mutated event; `db`/`log` say what each worker must do with it. */
const mutated: fc.Arbitrary<RawRecord> = fc.oneof(
  {
    // The kind of record that once stalled a partition: weighted so a few runs meet several.
    weight: 5,
    arbitrary: fc.tuple(fc.constantFrom(...envelopeStrings, ...payloadStrings), unstorable).map(([path, value]) =>
      fromEvent(set(goodEvent(), path, value), 'dead', 'dead', `${path.join('.')} = ${JSON.stringify(value)}`),
    ),
  },
  fc.tuple(fc.constantFrom(...envelopeStrings, ...objects), notAString).map(([path, value]) => {
    // An empty payload is still an object: the log worker stores its line, the DB worker's schema refuses it.
    const emptyPayload = path[0] === 'payload' && typeof value === 'object' && value !== null && !Array.isArray(value);
    return fromEvent(set(goodEvent(), path, value), 'dead', emptyPayload ? 'ok' : 'dead', `${path.join('.')} = ${JSON.stringify(value)}`);
  }),
  fc.constantFrom(...envelopeStrings, ...objects).map((path) => fromEvent(set(goodEvent(), path, undefined), 'dead', 'dead', `${path.join('.')} missing`)),
  fc.integer({ min: 257, max: 100_000 }).map(deeplyNested),
  // Valid envelopes the DB worker must refuse and the log worker must store.
  fc.constant(null).map(() => fromEvent(set(goodEvent(), ['payload', 'name'], huge()), 'dead', 'ok', 'payload.name of 256 KiB')),
  fc.constant(null).map(() => fromEvent(set(goodEvent(), ['metadata', 'idempotency_key'], huge()), 'dead', 'ok', 'metadata.idempotency_key of 256 KiB')),
  // Too large for any index entry: PostgreSQL refuses them (54000) in the idempotency key and log tables.
  fc.constant(null).map(() => fromEvent(set(goodEvent(), ['metadata', 'source'], huge()), 'dead', 'dead', 'metadata.source of 256 KiB')),
  fc.constant(null).map(() => fromEvent(set(goodEvent(), ['id'], huge()), 'dead', 'dead', 'id of 256 KiB')),
  fc.string({ minLength: 1 }).map((name) => fromEvent(set(goodEvent(), ['command'], `no_such_${name}`), 'dead', 'ok', `command no_such_${name}`)),
  fc.constant(null).map(() => fromEvent(set(goodEvent(), ['version'], '999'), 'dead', 'ok', 'version 999')),
  fc.constant(null).map(() => {
    const event = goodEvent();
    const value = Buffer.from(encodeEvent(event).toString().replace('"payload":{', '"payload":{"__proto__":{"admin":true},'));
    return shown({ ...fromEvent(event, 'dead', 'ok', 'payload.__proto__'), value });
  }),
  // Valid for the DB worker, which never reads the timestamp; the log worker needs a date.
  fc.string().map((text) => fromEvent(set(goodEvent(), ['metadata', 'timestamp'], `not a date ${text}`), 'ok', 'dead', `metadata.timestamp 'not a date ${text}'`)),
);

const raw = (value: Buffer, description: string): RawRecord =>
  shown({ id: `rec-${newEventId()}`, value, eventId: undefined, email: undefined, db: 'dead', log: 'dead', description });

/** Anything a producer could write: bytes, JSON, a `__proto__` envelope, or a mutated event. */
export const poisonRecord: fc.Arbitrary<RawRecord> = fc.oneof(
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 256 }).map((bytes) => raw(Buffer.from(bytes), `bytes ${Buffer.from(bytes).toString('hex')}`)) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((json) => raw(Buffer.from(JSON.stringify(json) ?? 'null'), `JSON ${JSON.stringify(json)}`)) },
  {
    weight: 1,
    arbitrary: fc.constant(null).map(() => {
      const event = goodEvent();
      return raw(Buffer.from(`{"__proto__":${encodeEvent(event).toString()}}`), 'the envelope under __proto__');
    }),
  },
  { weight: 10, arbitrary: mutated },
);

/** A valid event both workers must handle. */
export const goodRecord: fc.Arbitrary<RawRecord> = fc.constant(null).map(() => fromEvent(goodEvent(), 'ok', 'ok', 'a good event'));

/** Good and bad records interleaved, at least one good one last so the partition is seen to move on. */
export const recordSequence: fc.Arbitrary<RawRecord[]> = fc
  .tuple(fc.array(fc.oneof({ weight: 1, arbitrary: goodRecord }, { weight: 3, arbitrary: poisonRecord }), { minLength: 1, maxLength: 12 }), goodRecord)
  .map(([records, last]) => [...records, last]);
