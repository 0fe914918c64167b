/**
 * The dead-letter queue over HTTP, for the console and for scripts: the same code as
 * `kitsune dlq` (src/dlq/), so a dry run runs the DB worker's own executor in a rolled-back
 * transaction and a replay republishes the original events under the replay lock.
 *
 *   GET  /dlq?command=&reason=&sqlstate=&state=&from=&to=&all=true   letters after the bookmark, counts
 *   POST /dlq/dry-run  { ids }               would each succeed or fail, and why; changes nothing
 *   POST /dlq/replay   { ids, force? }       republish them to db-events; outcomes via GET /events?ids=
 *                                            (those with completed_at >= the answer's `since`)
 *   POST /dlq/purge    { before?, dry_run? } move the bookmark past the pending letters (or those before a time)
 *
 * `ids` are event ids or `partition:offset` positions, as `kitsune dlq replay --id` takes them.
 * With API keys on, every route needs a key with `admin: true`: letters carry any source's payloads.
 */
import type { FastifyInstance } from 'fastify';
import { inspectDeadLetters, type DlqDeps } from '../../../dlq/inspect.ts';
import { LetterStates, type Planned } from '../../../dlq/plan.ts';
import { purgeDeadLetters } from '../../../dlq/purge.ts';
import { replayDeadLetters, replayDefaults } from '../../../dlq/replay.ts';
import { databaseNow } from '../../../dlq/state.ts';
import { ErrorCodes, KitsuneError } from '../../../errors.ts';
import type { Publisher } from '../../../transport/types.ts';
import { ApiError, problem } from '../problems.ts';
import type { Guard } from './scope.ts';

export interface DlqAccess {
  deps: DlqDeps;
  /** Where replays are published: the transport the API publishes with. */
  publisher: Publisher;
  /** The DLQ's source topic, db-events. */
  targetTopic: string;
}

export const dlqLimits = { maxIds: 1_000, listLimit: 500, maxFilterLength: 256 } as const;

/** One dead letter as the console lists it. */
export function letterView(p: Planned): Record<string, unknown> {
  const { letter } = p;
  return {
    position: letter.position,
    event_id: letter.eventId,
    state: p.state,
    detail: p.detail ?? null,
    command: letter.event?.command ?? null,
    version: letter.event?.version ?? null,
    source: letter.event?.metadata.source ?? null,
    idempotency_key: letter.event?.metadata.idempotency_key ?? null,
    payload: letter.event?.payload ?? null,
    reason: letter.reason,
    code: letter.code ?? null,
    sqlstate: letter.sqlstate ?? null,
    attempts: letter.attempts ?? null,
    failed_at: letter.failedAt ?? new Date(letter.message.timestamp).toISOString(),
    replay_count: letter.replayCount,
    from: letter.source ?? null,
  };
}

interface ListQuery {
  command?: string;
  reason?: string;
  sqlstate?: string;
  state?: string;
  from?: string;
  to?: string;
  all?: string;
}

function time(value: string | undefined, field: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const at = Date.parse(value);
  if (Number.isNaN(at)) throw problem('invalid_request', `${field} must be an ISO 8601 time such as 2026-01-31T12:00:00Z`, `/${field}`);
  return at;
}

const failedAt = (p: Planned): number => {
  const at = p.letter.failedAt === undefined ? Number.NaN : Date.parse(p.letter.failedAt);
  return Number.isNaN(at) ? p.letter.message.timestamp : at;
};

/** `[value, count]` pairs, most frequent first. */
function countBy(planned: readonly Planned[], keyOf: (p: Planned) => string | undefined): Array<{ value: string; count: number }> {
  const counts = new Map<string, number>();
  for (const p of planned) {
    const key = keyOf(p) ?? '(none)';
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([value, count]) => ({ value, count })).sort((a, b) => b.count - a.count || a.value.localeCompare(b.value));
}

function ids(body: unknown): Set<string> {
  const list = (body as { ids?: unknown } | null)?.ids;
  if (!Array.isArray(list) || list.length === 0 || list.length > dlqLimits.maxIds || list.some((id) => typeof id !== 'string' || id === '' || id.length > 64)) {
    throw problem('invalid_request', `ids must list 1 to ${dlqLimits.maxIds} event ids or partition:offset positions`, '/ids');
  }
  return new Set(list as string[]);
}

/** The replay lock is taken: another replay or purge (console or CLI) is running. */
function busy(error: unknown): never {
  if (error instanceof KitsuneError && error.code === ErrorCodes.UNAVAILABLE) throw new ApiError({ code: 'dlq_busy', message: error.message }, { retryAfterSeconds: 2, cause: error });
  throw error;
}

export function registerDlqRoutes(app: FastifyInstance, dlq: DlqAccess, guard: Guard): void {
  app.addHook('onClose', () => dlq.deps.log.close());
  const inspectOptions = { maxReplays: replayDefaults.maxReplays, force: false };

  app.get<{ Querystring: ListQuery }>('/dlq', { onRequest: guard }, async (request) => {
    const q = request.query;
    for (const name of ['command', 'reason', 'sqlstate', 'state'] as const) {
      if ((q[name]?.length ?? 0) > dlqLimits.maxFilterLength) throw problem('invalid_request', `${name} is longer than ${dlqLimits.maxFilterLength} characters`, `/${name}`);
    }
    if (q.state !== undefined && q.state !== '' && !Object.values(LetterStates).includes(q.state as never)) {
      throw problem('invalid_request', `state must be one of ${Object.values(LetterStates).join(', ')}`, '/state');
    }
    const from = time(q.from, 'from');
    const to = time(q.to, 'to');
    const { loaded, planned } = await inspectDeadLetters(dlq.deps, { ...inspectOptions, all: q.all === 'true' });
    const reason = q.reason?.toLowerCase();
    const matched = planned.filter(
      (p) =>
        (!q.command || p.letter.event?.command === q.command) &&
        (!reason || p.letter.reason.toLowerCase().includes(reason)) &&
        (!q.sqlstate || p.letter.sqlstate === q.sqlstate) &&
        (!q.state || p.state === q.state) &&
        (from === undefined || failedAt(p) >= from) &&
        (to === undefined || failedAt(p) < to),
    );
    const open = planned.filter((p) => p.state !== LetterStates.handled);
    return {
      topic: dlq.deps.dlqTopic,
      exists: loaded.snapshot.exists,
      total: open.length,
      matched: matched.length,
      truncated: matched.length > dlqLimits.listLimit,
      letters: matched.slice(0, dlqLimits.listLimit).map(letterView),
      counts: {
        by_reason: countBy(open, (p) => p.letter.reason),
        by_sqlstate: countBy(open, (p) => p.letter.sqlstate),
        by_command: countBy(open, (p) => p.letter.event?.command),
        by_state: countBy(open, (p) => p.state),
      },
    };
  });

  app.post('/dlq/dry-run', { onRequest: guard }, async (request) => {
    const select = ids(request.body);
    const report = await replayDeadLetters({ ...dlq.deps, publisher: dlq.publisher, targetTopic: dlq.targetTopic }, {
      ...replayDefaults,
      dryRun: true,
      all: false,
      select,
      force: false,
      waitMs: 0,
    });
    const predicted = new Map((report.predictions ?? []).map((o) => [o.letter, o]));
    const chosen = report.planned.filter((p) => select.has(p.letter.eventId) || select.has(p.letter.position));
    return {
      outcomes: chosen.map((p) => {
        const outcome = predicted.get(p.letter);
        const would = outcome ? (outcome.status === 'succeeded' || outcome.status === 'duplicate' ? 'succeed' : 'fail') : 'skip';
        return {
          ...letterView(p),
          would,
          status: outcome?.status ?? null,
          error: outcome?.reason ?? (outcome ? null : (p.detail ?? `not replayable: ${p.state}`)),
          error_sqlstate: outcome?.sqlstate ?? null,
          transient: outcome?.transient ?? false,
        };
      }),
    };
  });

  app.post('/dlq/replay', { onRequest: guard }, async (request) => {
    const select = ids(request.body);
    const force = (request.body as { force?: unknown }).force === true;
    // The database's clock before anything is republished: outcomes stamped at or after it are the replay's.
    const since = await databaseNow(dlq.deps.pool);
    const report = await replayDeadLetters({ ...dlq.deps, publisher: dlq.publisher, targetTopic: dlq.targetTopic }, {
      ...replayDefaults,
      dryRun: false,
      all: false,
      select,
      force,
      waitMs: 0,
    }).catch(busy);
    const replayed = new Set(report.replayed);
    const held = report.planned.filter((p) => (select.has(p.letter.eventId) || select.has(p.letter.position)) && !replayed.has(p.letter));
    return {
      since: since.toISOString(),
      replayed: report.replayed.map((l) => ({ event_id: l.eventId, position: l.position })),
      duplicates: report.duplicates.map((l) => l.eventId),
      held: held.map(letterView),
      bookmark: Object.fromEntries([...report.bookmark].map(([partition, offset]) => [partition, String(offset)])),
    };
  });

  app.post('/dlq/purge', { onRequest: guard }, async (request) => {
    const body = (request.body ?? {}) as { before?: unknown; dry_run?: unknown };
    if (body.before !== undefined && typeof body.before !== 'string') throw problem('invalid_request', 'before must be an ISO 8601 time', '/before');
    const before = time(body.before, 'before');
    const report = await purgeDeadLetters(dlq.deps, { before: before === undefined ? undefined : new Date(before), execute: body.dry_run !== true }).catch(busy);
    return {
      executed: body.dry_run !== true,
      dropped: report.dropped.length,
      kept: report.kept.length,
      letters: report.dropped.slice(0, dlqLimits.listLimit).map(letterView),
      bookmark: Object.fromEntries([...report.bookmark].map(([partition, offset]) => [partition, String(offset)])),
    };
  });
}
