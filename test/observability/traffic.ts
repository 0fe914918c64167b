/**
 * Steady traffic at a target rate until stopped, shaped to move every DB worker outcome: new
 * users (succeeded), a repeated key with the same payload (duplicate), a repeated key with another
 * payload (conflict), and a second user with a taken email (dead-lettered, SQLSTATE 23505). Each
 * user has its own email, the entity key, so the commands spread over every db-events partition;
 * each carries a log line for the log worker. Records every id, key and email it sent, for the
 * cardinality checks.
 *
 * Open loop: command i is due at i / rate seconds after the start. The due commands leave in
 * POST /execute/batch requests of up to `batchSize` (every 25th alone as a POST /execute, so both
 * routes carry traffic), so 1,000 commands/s cost about 40 requests/s rather than 1,000 and the
 * generator is not what limits the rate on a busy machine. With `maxInFlight` requests
 * unanswered it waits, and the commands due meanwhile leave in the next, larger batches: the
 * average rate holds unless the API cannot keep up, and `accepted` shows what it achieved.
 */
import { randomUUID } from 'node:crypto';

export interface Traffic {
  /** Every value that must never become a label: event ids, idempotency keys, emails, names. */
  readonly sent: Set<string>;
  /** Commands the API accepted (202, or accepted inside a 207). */
  readonly accepted: number;
  /** Commands rejected or not answered. */
  readonly failed: number;
  /** Stops sending and waits for the requests in flight; resume() continues at the same rate. */
  pause(): Promise<void>;
  resume(): void;
  stop(): Promise<void>;
}

export interface TrafficOptions {
  /** Most commands in one POST /execute/batch. (Default: 100) */
  batchSize?: number;
  /** Requests awaiting an answer before the generator waits. (Default: 16) */
  maxInFlight?: number;
}

type Command = Record<string, unknown>;

export function sendTraffic(apiUrl: string, perSecond: number, options: TrafficOptions = {}): Traffic {
  const batchSize = options.batchSize ?? 100;
  const maxInFlight = options.maxInFlight ?? 16;
  const sent = new Set<string>();
  let accepted = 0;
  let failed = 0;
  let stopped = false;
  let paused = false;
  let n = 0;
  let lastKey = '';
  let lastEmail = '';
  const inFlight = new Set<Promise<void>>();

  const next = (): Command => {
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
    return {
      command: 'create_user',
      version: '1',
      payload: { name, email },
      log: { level: 'INFO', message: `created ${email}` },
      metadata: { source: 'traffic', idempotency_key: key },
    };
  };

  const post = async (path: string, body: unknown, commands: number, count: (answer: unknown, status: number) => void): Promise<void> => {
    try {
      const response = await fetch(`${apiUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      count(await response.json(), response.status);
    } catch {
      failed += commands;
    }
  };

  const single = (command: Command): Promise<void> =>
    post('/execute', command, 1, (answer, status) => {
      const { id } = answer as { id?: string };
      if (id) sent.add(id);
      if (status === 202) accepted++;
      else failed++;
    });

  const batch = (commands: Command[]): Promise<void> =>
    post('/execute/batch', { commands }, commands.length, (answer, status) => {
      const { results } = answer as { results?: Array<{ status: string; id?: string }> };
      if ((status !== 202 && status !== 207) || !results) {
        failed += commands.length;
        return;
      }
      for (const result of results) {
        if (result.id) sent.add(result.id);
        if (result.status === 'accepted') accepted++;
        else failed++;
      }
    });

  const track = (request: Promise<void>): void => {
    inFlight.add(request);
    void request.finally(() => inFlight.delete(request));
  };

  let started = Date.now();
  let issued = 0;
  const loop = (async () => {
    while (!stopped) {
      const due = Math.floor(((Date.now() - started) / 1000) * perSecond);
      while (!paused && issued < due && inFlight.size < maxInFlight) {
        const commands: Command[] = [];
        for (; issued < due && commands.length < batchSize; issued++) {
          const command = next();
          if (n % 25 === 0) track(single(command));
          else commands.push(command);
        }
        if (commands.length > 0) track(batch(commands));
      }
      await new Promise((resolveTick) => setTimeout(resolveTick, 20));
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
