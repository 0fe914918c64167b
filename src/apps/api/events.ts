/**
 * GET /events/:id[?wait=<seconds>]: the outcome the DB worker stored with the command's effect.
 * Results live in PostgreSQL, so they survive API restarts and any API replica can answer.
 *
 * Waiting requests share one poller: one query fetches the results of every awaited id, so a
 * thousand waiters cost one query, not a thousand. It runs when the DB worker announces committed
 * results (NOTIFY kitsune_results, sent with each batch's commit) and, in case a notification is
 * missed, every `pollMs` while anyone waits.
 * An id with no result yet is `pending`: the broker, not a table, is the record of accepted
 * events, so the API cannot tell an unknown id from one still in flight.
 */
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { EventFailure, EventView } from '../../contract/http.ts';
import { NotificationListener } from '../../db/listener.ts';
import { loadQueries } from '../../db/queries.ts';
import { eventIdSchema, eventViewSchema } from '../../contract/schemas.ts';
import type { RouteKit } from './execute.ts';
import { readableSource } from './console/scope.ts';
import { keyRequired } from './openapi.ts';
import { problem } from './problems.ts';
import { errorResponses } from './responses.ts';

const queries = loadQueries(new URL('./sql/results.sql', import.meta.url), ['ResultsGet', 'ResultsListen']);

interface Row {
  event_id: string;
  status: 'succeeded' | 'dead_lettered';
  command: string;
  version: string;
  source: string;
  idempotency_key: string;
  result_rows: Array<Record<string, unknown>> | null;
  rows_affected: number | null;
  error: EventFailure | null;
  attempts: number;
  completed_at: Date;
  conflicts: number;
}

const view = (row: Row): EventView => ({
  id: row.event_id,
  status: row.status,
  command: row.command,
  version: row.version,
  source: row.source,
  idempotency_key: row.idempotency_key,
  result: row.status === 'succeeded' ? { rows: row.result_rows ?? [], rows_affected: row.rows_affected ?? 0 } : null,
  error: row.error,
  attempts: row.attempts,
  conflicts: row.conflicts,
  completed_at: row.completed_at.toISOString(),
});

export interface ResultWaiterOptions {
  /**
   * Listen for the DB worker's announcements of committed results, on a connection of its own.
   * (Default: true)
   */
  listen?: boolean;
  /** Poll while anyone waits: the fallback for missed announcements. (Default: 250 ms listening, 20 ms not) */
  pollMs?: number;
  /** A failed or dropped listening connection; it is retried. (Default: ignored) */
  onListenerError?: (error: Error) => void;
}

export class ResultWaiter {
  readonly #pool: pg.Pool;
  readonly #pollMs: number;
  readonly #listener: NotificationListener | undefined;
  readonly #waiting = new Map<string, Set<(view: EventView) => void>>();
  #timer: NodeJS.Timeout | undefined;
  #polling = false;
  /** An announcement came while a poll ran: the poll may have read before that commit, so poll again. */
  #pollAgain = false;

  constructor(pool: pg.Pool, options: ResultWaiterOptions = {}) {
    this.#pool = pool;
    const listen = options.listen ?? true;
    this.#pollMs = options.pollMs ?? (listen ? 250 : 20);
    if (listen) {
      this.#listener = new NotificationListener({
        clientConfig: pool.options,
        channel: 'kitsune_results',
        listen: queries.ResultsListen,
        onNotification: () => this.#pollNow(),
        onListening: () => this.#pollNow(),
        onError: options.onListenerError ?? (() => undefined),
      });
      this.#listener.start();
    }
  }

  async get(id: string): Promise<EventView> {
    const { rows } = await this.#pool.query<Row>(queries.ResultsGet, [[id]]);
    return rows[0] ? view(rows[0]) : { id, status: 'pending' };
  }

  /** The outcomes of many ids in one query, in the order asked; unknown ids are pending. */
  async getMany(ids: readonly string[]): Promise<EventView[]> {
    const { rows } = await this.#pool.query<Row>(queries.ResultsGet, [ids]);
    const found = new Map(rows.map((row) => [row.event_id, view(row)]));
    return ids.map((id) => found.get(id) ?? { id, status: 'pending' });
  }

  /** Resolves with the result as soon as it exists, or `pending` after `waitMs`. */
  async wait(id: string, waitMs: number): Promise<EventView> {
    if (waitMs <= 0) return this.get(id);
    // Registered before the first lookup, so an announcement that arrives while the lookup runs
    // still finds this waiter, rather than leaving it to the fallback poll.
    let done!: (found: EventView) => void;
    const answered = new Promise<EventView>((resolveView) => {
      const listeners = this.#waiting.get(id) ?? new Set();
      done = (found: EventView): void => {
        clearTimeout(deadline);
        listeners.delete(done);
        if (listeners.size === 0) this.#waiting.delete(id);
        resolveView(found);
      };
      const deadline = setTimeout(() => done({ id, status: 'pending' }), waitMs);
      listeners.add(done);
      this.#waiting.set(id, listeners);
      this.#schedule();
    });
    try {
      const now = await this.get(id);
      if (now.status !== 'pending') done(now);
    } catch (error) {
      done({ id, status: 'pending' });
      throw error;
    }
    return answered;
  }

  #schedule(): void {
    if (this.#timer || this.#polling || this.#waiting.size === 0) return;
    this.#timer = setTimeout(() => void this.#poll(), this.#pollMs);
  }

  #pollNow(): void {
    if (this.#waiting.size === 0) return;
    if (this.#polling) {
      this.#pollAgain = true;
      return;
    }
    clearTimeout(this.#timer);
    this.#timer = undefined;
    void this.#poll();
  }

  async #poll(): Promise<void> {
    this.#timer = undefined;
    if (this.#waiting.size === 0) return;
    this.#polling = true;
    this.#pollAgain = false;
    try {
      const ids = [...this.#waiting.keys()];
      const { rows } = await this.#pool.query<Row>(queries.ResultsGet, [ids]);
      for (const row of rows) for (const done of [...(this.#waiting.get(row.event_id) ?? [])]) done(view(row));
    } catch {
      // The database blinked; the next tick tries again and waiters time out as promised.
    } finally {
      this.#polling = false;
      if (this.#pollAgain) this.#pollNow();
      else this.#schedule();
    }
  }

  async close(): Promise<void> {
    clearTimeout(this.#timer);
    for (const [id, listeners] of this.#waiting) for (const done of [...listeners]) done({ id, status: 'pending' });
    await this.#listener?.close();
  }
}

export function registerEventRoutes(app: FastifyInstance, waiter: ResultWaiter, kit: RouteKit, maxWaitSeconds = 30): void {
  app.addHook('onClose', () => waiter.close());
  app.get<{ Params: { id: string }; Querystring: { wait?: number } }>('/events/:id', {
    onRequest: kit.authenticate,
    schema: {
      operationId: 'getEvent',
      summary: "The command's outcome; with `wait`, answers as soon as there is one",
      description: '`pending` until the DB worker stored an outcome (an id it never saw reads the same). With API keys on, a key reads only the events of its own source: any other id is 404.',
      tags: ['commands'],
      ...(kit.keysOn ? { security: keyRequired } : {}),
      params: { type: 'object', required: ['id'], properties: { id: eventIdSchema } },
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { wait: { type: 'number', minimum: 0, maximum: maxWaitSeconds, description: `Seconds to wait for an outcome (at most ${maxWaitSeconds}); answers as soon as it exists` } },
      },
      response: {
        200: { description: 'The outcome, or pending', content: { 'application/json': { schema: eventViewSchema } } },
        ...errorResponses(400, ...(kit.keysOn ? [401, 404] : [])),
      },
    },
  }, async (request) => {
    const id = request.params.id.toLowerCase();
    const scope = readableSource(request);
    // With keys on, the id itself says whose it is: another source's id, an id this installation
    // never issued and a made-up one all read alike, so existence does not leak. An admin key
    // reads every source's events.
    if (scope !== undefined && !kit.ids.issuedTo(id, scope)) throw problem('not_found', `no event ${request.params.id} for this key`, '/id', undefined, 'path');
    return waiter.wait(id, (request.query.wait ?? 0) * 1_000);
  });
}
