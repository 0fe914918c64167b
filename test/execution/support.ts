/**
 * What the batch executor's tests share: events as the DB worker receives them from db-events,
 * and a pool whose clients report every statement the executor sends.
 */
import type pg from 'pg';
import { Pipeline } from '../../src/db/pipeline.ts';
import { encodeEvent, type CommandEvent } from '../../src/events/envelope.ts';
import type { ReceivedMessage } from '../../src/transport/types.ts';

/** Turns events into partition 0's messages, at increasing offsets. */
export function messages(): (event: CommandEvent) => ReceivedMessage {
  let offset = 0n;
  return (event) => {
    offset += 1n;
    return { id: event.id, key: event.id, value: encodeEvent(event), headers: {}, topic: 'db-events', partition: 0, offset, timestamp: 0, attempt: 1 };
  };
}

/** What a client was asked to run: a simple query's text, or a pipeline's statements' texts. */
export type Sent = { kind: 'query'; text: string } | { kind: 'pipeline'; texts: string[] };

/** `pool`, as far as the executor uses it, with every client's statements passed to `onSent`. */
export function watchedPool(pool: () => pg.Pool, onSent: (sent: Sent) => void): pg.Pool {
  return {
    connect: async () => {
      const client = await pool().connect();
      return new Proxy(client, {
        get(target, property) {
          if (property === 'query') {
            return (text: unknown, values?: unknown[]) => {
              if (text instanceof Pipeline) onSent({ kind: 'pipeline', texts: text.statements.map((s) => s.text) });
              else if (typeof text === 'string') onSent({ kind: 'query', text });
              return (target.query as (t: unknown, v?: unknown[]) => unknown)(text, values);
            };
          }
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        },
      });
    },
    query: (text: string, values?: unknown[]) => pool().query(text, values),
  } as unknown as pg.Pool;
}
