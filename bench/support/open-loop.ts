/**
 * Fixed-rate (open-loop) load: request i is sent at t0 + i / rate whether or not earlier ones
 * were answered, and its latency runs from that scheduled time, so a stalled server is charged
 * for the requests it delayed (no coordinated omission). Uses node:http with keep-alive; sockets
 * are opened as concurrency needs them.
 *
 * With `e2e`, every `sampleEvery`-th accepted event is then awaited with
 * GET /events/:id?wait=<s>, and the time from its 202 to the answer with its result is recorded:
 * the end-to-end latency a client observes.
 *
 * Requests go out on a pool of keep-alive connections (http-client.ts): up to 512 for the
 * commands, up to 2,048 for the waiting GETs (each holds one until its result exists).
 */
import { performance } from 'node:perf_hooks';
import { HttpPool } from './http-client.ts';
import { latencyOf, type Latency } from './stats.ts';

export interface OpenLoopOptions {
  url: string;
  path: string;
  body: () => string;
  /** Requests per second. */
  rate: number;
  durationSeconds: number;
  e2e?: { sampleEvery: number; waitSeconds: number };
}

export interface OpenLoopResult {
  sent: number;
  /** Responses per second over the scheduled duration. */
  achievedRate: number;
  latency: Latency;
  statuses: Record<string, number>;
  errors: number;
  e2e?: { latency: Latency; sampled: number; timeouts: number; errors: number };
  /** Ids of the last accepted events, for waiting until the pipeline drained. */
  lastIds: string[];
}

/** The ids a 202 (single) or 202/207 (batch) body accepted. */
function acceptedIds(body: string): string[] {
  const parsed = JSON.parse(body) as { id?: string; results?: Array<{ id?: string; status: string }> };
  if (typeof parsed.id === 'string') return [parsed.id];
  return (parsed.results ?? []).flatMap((r) => (r.status === 'accepted' && r.id ? [r.id] : []));
}

export async function openLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  const commands = new HttpPool(options.url, 512);
  const waits = new HttpPool(options.url, 2_048);
  const times: number[] = [];
  const e2eTimes: number[] = [];
  const statuses: Record<string, number> = {};
  let inFlight = 0;
  let allSettled: () => void = () => undefined;
  const lastIds: string[] = [];
  let errors = 0;
  let e2eErrors = 0;
  let e2eTimeouts = 0;
  let accepted = 0;

  const awaitResult = async (id: string, acceptedAt: number): Promise<void> => {
    try {
      const answer = await waits.request('GET', `/events/${id}?wait=${options.e2e!.waitSeconds}`);
      const status = answer.status === 200 ? (JSON.parse(answer.body) as { status: string }).status : 'error';
      if (status === 'pending') e2eTimeouts++;
      else if (status === 'error') e2eErrors++;
      else e2eTimes.push(performance.now() - acceptedAt);
    } catch {
      e2eErrors++;
    }
  };

  // A counter, not a set raced over: racing tens of thousands of promises per completion is
  // quadratic and keeps a reaction on each of them.
  const track = (promise: Promise<void>): void => {
    inFlight++;
    void promise.finally(() => {
      if (--inFlight === 0) allSettled();
    });
  };

  const fire = (scheduledAt: number): void => {
    track(
      commands.request('POST', options.path, options.body()).then(
        (answer) => {
          const arrivedAt = performance.now();
          times.push(arrivedAt - scheduledAt);
          statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
          if (answer.status !== 202 && answer.status !== 207) return;
          for (const id of acceptedIds(answer.body)) {
            lastIds.push(id);
            if (lastIds.length > 64) lastIds.shift();
            if (options.e2e && accepted++ % options.e2e.sampleEvery === 0) track(awaitResult(id, arrivedAt));
          }
        },
        () => void errors++,
      ),
    );
  };

  const total = Math.round(options.rate * options.durationSeconds);
  const interval = 1000 / options.rate;
  const t0 = performance.now() + 5;
  let next = 0;
  await new Promise<void>((resolveSent) => {
    const tick = (): void => {
      const now = performance.now();
      while (next < total && t0 + next * interval <= now) fire(t0 + next++ * interval);
      if (next >= total) return resolveSent();
      setTimeout(tick, Math.max(0, t0 + next * interval - performance.now()));
    };
    tick();
  });
  const sentAt = performance.now();
  // Responses that arrive after the schedule ended still count; the achieved rate is over the schedule.
  if (inFlight > 0) await new Promise<void>((resolveSettled) => (allSettled = resolveSettled));
  const answered = times.length;
  commands.close();
  waits.close();
  return {
    sent: total,
    achievedRate: answered / (Math.max(sentAt, performance.now()) - t0) * 1000,
    latency: latencyOf(times),
    statuses,
    errors,
    ...(options.e2e ? { e2e: { latency: latencyOf(e2eTimes), sampled: e2eTimes.length + e2eTimeouts + e2eErrors, timeouts: e2eTimeouts, errors: e2eErrors } } : {}),
    lastIds,
  };
}

/** Waits until every id has a result (GET /events/:id?wait), or `timeoutSeconds` passed. */
export async function waitForResults(url: string, ids: readonly string[], timeoutSeconds: number): Promise<{ ms: number; pending: number }> {
  const pool = new HttpPool(url, 256);
  const started = performance.now();
  const deadline = started + timeoutSeconds * 1000;
  let pending = [...ids];
  while (pending.length > 0 && performance.now() < deadline) {
    const wait = Math.max(1, Math.min(10, Math.floor((deadline - performance.now()) / 1000)));
    const answers = await Promise.all(
      pending.map(async (id) => {
        const answer = await pool.request('GET', `/events/${id}?wait=${wait}`).catch(() => undefined);
        return answer?.status === 200 && (JSON.parse(answer.body) as { status: string }).status !== 'pending' ? undefined : id;
      }),
    );
    pending = answers.filter((id): id is string => id !== undefined);
  }
  pool.close();
  return { ms: performance.now() - started, pending: pending.length };
}
