/**
 * Steady POST /execute traffic at a target rate until stopped, shaped to move every DB worker
 * outcome: new users (succeeded), a repeated key with the same payload (duplicate), a repeated
 * key with another payload (conflict), and a second user with a taken email (dead-lettered,
 * SQLSTATE 23505). Records every id, key and email it sent, for the cardinality checks.
 */
import { randomUUID } from 'node:crypto';

export interface Traffic {
  /** Every value that must never become a label: event ids, idempotency keys, emails, names. */
  readonly sent: Set<string>;
  readonly accepted: number;
  readonly failed: number;
  /** Stops sending and waits for the requests in flight; resume() continues at the same rate. */
  pause(): Promise<void>;
  resume(): void;
  stop(): Promise<void>;
}

export function sendTraffic(apiUrl: string, perSecond: number): Traffic {
  const sent = new Set<string>();
  let accepted = 0;
  let failed = 0;
  let stopped = false;
  let paused = false;
  let n = 0;
  let lastKey = '';
  let lastEmail = '';
  const inFlight = new Set<Promise<void>>();

  const one = async (): Promise<void> => {
    const i = n++;
    let key = `key-${randomUUID()}`;
    let email = `user-${randomUUID()}@example.com`;
    if (i % 50 === 49) key = lastKey; // same key, same payload below: duplicate
    if (i % 50 === 49) email = lastEmail;
    if (i % 97 === 96) key = lastKey; // same key, other payload: conflict
    if (i % 200 === 123) email = lastEmail; // new key, taken email: dead letter
    lastKey = key;
    lastEmail = email;
    const name = `Name ${email}`;
    sent.add(key).add(email).add(name);
    try {
      const response = await fetch(`${apiUrl}/execute`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify({ command: 'create_user', version: '1', payload: { name, email }, log: { level: 'INFO', message: `created ${email}` }, metadata: { source: 'traffic' } }),
      });
      const body = (await response.json()) as { id?: string };
      if (body.id) sent.add(body.id);
      if (response.status === 202) accepted++;
      else failed++;
    } catch {
      failed++;
    }
  };

  let started = Date.now();
  let issued = 0;
  const loop = (async () => {
    while (!stopped) {
      const due = Math.floor(((Date.now() - started) / 1000) * perSecond);
      for (; !paused && issued < due && inFlight.size < 200; issued++) {
        const request = one();
        inFlight.add(request);
        void request.finally(() => inFlight.delete(request));
      }
      await new Promise((resolveTick) => setTimeout(resolveTick, 10));
    }
    await Promise.all(inFlight);
  })();

  return {
    sent,
    get accepted() {
      return accepted;
    },
    get failed() {
      return failed;
    },
    async pause() {
      paused = true;
      await Promise.all(inFlight);
    },
    resume() {
      started = Date.now();
      issued = 0;
      paused = false;
    },
    async stop() {
      stopped = true;
      await loop;
    },
  };
}
