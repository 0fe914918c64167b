/**
 * Scripted faults for push requests (queries and /ready are never faulted). Faults are consumed
 * in order: only the first one in the queue applies; when it is used up, the next one takes over,
 * and with the queue empty pushes are handled normally.
 *
 * A fault lasts `count` pushes, or `forMs` milliseconds counted from the first push it answers
 * (not from when it was queued, so a fault waiting behind another keeps its full length), or
 * whichever ends first when both are given; with neither it lasts one push. The pushes a fault
 * answers are read in full (and counted as received) but nothing of them is stored.
 */
import { STATUS_CODES } from 'node:http';

export const FaultKinds = { STATUS: 'status', HANG: 'hang', REJECT: 'reject' } as const;

interface FaultSpan {
  /** The fault answers at most this many pushes. (Default: 1, or unlimited when forMs is set) */
  readonly count?: number;
  /** The fault lasts this long from the first push it answers. (Default: no time limit) */
  readonly forMs?: number;
}

/** Answer with `status` (e.g. 429 with Retry-After, or 500/503), like an overloaded Loki. */
export interface StatusFault extends FaultSpan {
  readonly kind: typeof FaultKinds.STATUS;
  readonly status: number;
  /** Sent as `Retry-After: <seconds>`. Loki itself does not send it. (Default: not sent) */
  readonly retryAfterSeconds?: number;
  /** (Default: `scripted fault: <status> <reason phrase>`) */
  readonly body?: string;
}

/**
 * Read the push and do not answer. A hung push is answered normally (stored, 204 or error) when
 * the fault's `forMs` ends, if the client is still waiting; without `forMs` it waits until the
 * client gives up or the server closes.
 */
export interface HangFault extends FaultSpan {
  readonly kind: typeof FaultKinds.HANG;
}

/** Reject the push with a scripted 4xx and body, e.g. a 400 naming lines; nothing is stored. */
export interface RejectFault extends FaultSpan {
  readonly kind: typeof FaultKinds.REJECT;
  /** (Default: 400) */
  readonly status?: number;
  /** (Default: `scripted rejection`) */
  readonly body?: string;
}

export type LokiFault = StatusFault | HangFault | RejectFault;

export type AppliedFault =
  | { readonly kind: 'answer'; readonly status: number; readonly body: string; readonly headers: Readonly<Record<string, string>> }
  | { readonly kind: 'hang'; readonly releaseAtMs: number | undefined };

interface Queued {
  readonly fault: LokiFault;
  remaining: number;
  startedAtMs: number | undefined;
}

function checkFault(fault: LokiFault): void {
  const bad = (why: string): never => {
    throw new RangeError(`loki test server: fault ${JSON.stringify(fault)}: ${why}`);
  };
  if (fault.count !== undefined && !(Number.isInteger(fault.count) && fault.count >= 1)) bad('count must be an integer >= 1');
  if (fault.forMs !== undefined && !(Number.isFinite(fault.forMs) && fault.forMs > 0)) bad('forMs must be > 0');
  if (fault.kind === FaultKinds.HANG) return;
  const status = fault.status ?? 400;
  if (!(Number.isInteger(status) && status >= 200 && status <= 599)) bad('status must be an HTTP status');
  if (fault.kind === FaultKinds.REJECT && (status < 400 || status > 499)) bad('a reject fault answers with a 4xx status');
  if (fault.kind === FaultKinds.STATUS && fault.retryAfterSeconds !== undefined && !(fault.retryAfterSeconds >= 0)) {
    bad('retryAfterSeconds must be >= 0');
  }
}

export class LokiFaults {
  readonly #queue: Queued[] = [];
  #applied = 0;

  /** Queues faults behind those already queued; returns how many are queued. */
  push(...faults: LokiFault[]): number {
    for (const fault of faults) {
      checkFault(fault);
      const remaining = fault.count ?? (fault.forMs === undefined ? 1 : Number.POSITIVE_INFINITY);
      this.#queue.push({ fault, remaining, startedAtMs: undefined });
    }
    return this.#queue.length;
  }

  clear(): void {
    this.#queue.length = 0;
  }

  /** Faults not used up yet, the active one included. */
  get pending(): number {
    return this.#queue.length;
  }

  /** Pushes answered by a fault so far. */
  get applied(): number {
    return this.#applied;
  }

  resetCount(): void {
    this.#applied = 0;
  }

  /** The fault for a push arriving now, if any; using it counts against its span. */
  take(nowMs: number): AppliedFault | undefined {
    let head = this.#queue[0];
    while (head !== undefined && head.startedAtMs !== undefined && head.fault.forMs !== undefined && nowMs >= head.startedAtMs + head.fault.forMs) {
      this.#queue.shift();
      head = this.#queue[0];
    }
    if (head === undefined) return undefined;
    head.startedAtMs ??= nowMs;
    head.remaining -= 1;
    if (head.remaining <= 0) this.#queue.shift();
    this.#applied += 1;
    const { fault } = head;
    switch (fault.kind) {
      case FaultKinds.HANG:
        return { kind: 'hang', releaseAtMs: fault.forMs === undefined ? undefined : head.startedAtMs + fault.forMs };
      case FaultKinds.STATUS:
        return {
          kind: 'answer',
          status: fault.status,
          body: fault.body ?? `scripted fault: ${fault.status} ${STATUS_CODES[fault.status] ?? ''}`.trim(),
          headers: fault.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(fault.retryAfterSeconds) },
        };
      case FaultKinds.REJECT:
        return { kind: 'answer', status: fault.status ?? 400, body: fault.body ?? 'scripted rejection', headers: {} };
    }
  }
}
