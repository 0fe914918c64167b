/**
 * Batches entries per stream and pushes them until Loki has taken each one or refused it for good.
 *
 * - A stream's entries go out when they reach `batchBytes`, when the oldest has waited
 *   `batchWaitMs`, or at flush(). One push per stream request (see client.ts for why).
 * - One push per stream in flight: a stream's later batch waits for the earlier one, retries
 *   included, so entries reach Loki in order per stream. Streams are pushed concurrently.
 * - 429, 5xx, timeouts, network errors and unexpected statuses are retried with full-jitter
 *   backoff, at least Retry-After, for as long as it takes. Nothing is given up on: the caller
 *   holds its offsets meanwhile, and close() is the way out.
 * - 400 (and 413) splits the batch in halves and pushes each, down to single entries; an entry
 *   refused on its own is reported with Loki's reason. The good part of a refused push was already
 *   stored by Loki (partial rejection), so pushing it again relies on Loki dropping identical
 *   entries, which holds because a redelivered entry is byte-identical. Cost: about 2·log2(n)
 *   extra pushes per bad entry in a batch of n.
 */
import { ErrorCodes, KitsuneError } from '../errors.ts';
import { backoffMs, wait, type BackoffPolicy } from '../backoff.ts';
import type { LokiPusher } from './client.ts';
import { LokiPushError, type LokiFailure } from './errors.ts';
import { StreamQueue, Submission, type Pending } from './stream-queue.ts';
import { acceptedOutcome, streamKey, type EntryOutcome, type LokiEntry, type LokiLabels } from './types.ts';
import { checkNumber, runHook } from '../checks.ts';

/** One entry and the stream it belongs to. */
export interface StreamEntry {
  readonly labels: LokiLabels;
  readonly entry: LokiEntry;
}

export interface PushInfo {
  readonly entries: number;
  readonly durationMs: number;
  /** 'accepted', or why the push failed. */
  readonly outcome: 'accepted' | LokiFailure;
}

export interface PushRetryInfo {
  readonly failure: LokiFailure;
  /** The try that just failed, from 1. */
  readonly attempt: number;
  readonly delayMs: number;
  readonly entries: number;
  readonly error: LokiPushError;
}

export interface LokiBatcherOptions {
  pusher: LokiPusher;
  /** KITSUNE_LOKI_BATCH_BYTES: most line+metadata bytes in one push. (Default: 1_048_576) */
  batchBytes?: number;
  /** KITSUNE_LOKI_BATCH_WAIT_MS: longest an entry waits for its batch to fill. (Default: 1_000 ms) */
  batchWaitMs?: number;
  /** Pushes in flight at once, each for a different stream. (Default: 8) */
  maxConcurrentPushes?: number;
  /** Between tries of a push, never sooner than Loki's Retry-After. (Default: 250 ms doubling to 10 s) */
  backoff?: Partial<BackoffPolicy>;
  /** After every push attempt, for latency metrics; must not throw. (Default: none) */
  onPush?: (info: PushInfo) => void;
  /** Before each wait between tries; must not throw. (Default: none) */
  onRetry?: (info: PushRetryInfo) => void;
}

export const batcherDefaults = {
  batchBytes: 1_048_576,
  batchWaitMs: 1_000,
  maxConcurrentPushes: 8,
  backoff: { baseMs: 250, maxMs: 10_000 },
} as const satisfies Required<Omit<LokiBatcherOptions, 'pusher' | 'onPush' | 'onRetry'>>;

function closedError(cause?: unknown): KitsuneError {
  return new KitsuneError(ErrorCodes.UNAVAILABLE, 'the Loki batcher was closed before these entries were accepted', {
    retryable: true,
    cause,
  });
}

export class LokiBatcher {
  readonly #pusher: LokiPusher;
  readonly #batchBytes: number;
  readonly #batchWaitMs: number;
  readonly #maxConcurrent: number;
  readonly #backoff: BackoffPolicy;
  readonly #onPush: LokiBatcherOptions['onPush'];
  readonly #onRetry: LokiBatcherOptions['onRetry'];
  readonly #streams = new Map<string, StreamQueue>();
  readonly #abort = new AbortController();
  #active = 0;
  #idle: Array<() => void> = [];
  #closing: Promise<void> | undefined;

  constructor(options: LokiBatcherOptions) {
    this.#pusher = options.pusher;
    this.#batchBytes = checkNumber('loki batcher', 'batchBytes', options.batchBytes ?? batcherDefaults.batchBytes, { min: 1, integer: true });
    this.#batchWaitMs = checkNumber('loki batcher', 'batchWaitMs', options.batchWaitMs ?? batcherDefaults.batchWaitMs, { min: 0 });
    this.#maxConcurrent = checkNumber('loki batcher', 'maxConcurrentPushes', options.maxConcurrentPushes ?? batcherDefaults.maxConcurrentPushes, {
      min: 1,
      integer: true,
    });
    const baseMs = checkNumber('loki batcher', 'backoff.baseMs', options.backoff?.baseMs ?? batcherDefaults.backoff.baseMs, { min: 0 });
    const maxMs = checkNumber('loki batcher', 'backoff.maxMs', options.backoff?.maxMs ?? batcherDefaults.backoff.maxMs, { min: baseMs });
    this.#backoff = { baseMs, maxMs, ...(options.backoff?.random ? { random: options.backoff.random } : {}) };
    this.#onPush = options.onPush;
    this.#onRetry = options.onRetry;
  }

  /** Entries waiting for a push (not those in flight). */
  get pendingEntries(): number {
    let count = 0;
    for (const stream of this.#streams.values()) count += stream.size;
    return count;
  }

  /**
   * Queues `items` and resolves with one outcome per item, in the same order, once Loki accepted
   * each or refused it on its own. Rejects with a retryable error if close() comes first: then
   * any of them may or may not have reached Loki, and sending them again is safe.
   */
  submit(items: readonly StreamEntry[]): Promise<EntryOutcome[]> {
    if (this.#closing) return Promise.reject(closedError());
    if (items.length === 0) return Promise.resolve([]);
    const submission = new Submission(items.length);
    items.forEach(({ labels, entry }, index) => {
      const key = streamKey(labels);
      let stream = this.#streams.get(key);
      if (stream === undefined) {
        stream = new StreamQueue(labels);
        this.#streams.set(key, stream);
      }
      if (stream.add(entry, submission, index)) this.#startTimer(stream);
    });
    this.#schedule();
    return submission.promise;
  }

  /** Pushes everything pending now instead of waiting for batches to fill. */
  flush(): void {
    for (const stream of this.#streams.values()) if (stream.size > 0) stream.due = true;
    this.#schedule();
  }

  /**
   * Stops: aborts pushes in flight and waits between tries, and rejects every submission not yet
   * settled with a retryable error. Resolves once no push is in flight. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#abort.abort();
      const error = closedError();
      for (const stream of this.#streams.values()) {
        clearTimeout(stream.timer);
        for (const pending of stream.drop()) pending.submission.fail(error);
      }
      if (this.#active > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
      this.#streams.clear();
    })();
    return this.#closing;
  }

  #startTimer(stream: StreamQueue): void {
    clearTimeout(stream.timer);
    stream.timer = setTimeout(() => {
      stream.timer = undefined;
      stream.due = true;
      this.#schedule();
    }, this.#batchWaitMs);
  }

  #schedule(): void {
    if (this.#closing) return;
    for (const [key, stream] of this.#streams) {
      if (this.#active >= this.#maxConcurrent) return;
      if (stream.pushing) continue;
      if (stream.size === 0) {
        // Idle: forget it, so a stream seen once does not stay in the map for good.
        clearTimeout(stream.timer);
        this.#streams.delete(key);
        continue;
      }
      if (stream.due || stream.bytes >= this.#batchBytes) {
        // To the back of the line: with more ready streams than push slots, each gets its turn.
        this.#streams.delete(key);
        this.#streams.set(key, stream);
        void this.#pushNext(stream);
      }
    }
  }

  async #pushNext(stream: StreamQueue): Promise<void> {
    stream.pushing = true;
    this.#active += 1;
    const chunk = stream.take(this.#batchBytes);
    if (stream.size === 0) {
      clearTimeout(stream.timer);
      stream.timer = undefined;
    } else if (stream.timer === undefined && !stream.due) {
      this.#startTimer(stream);
    }
    try {
      const outcomes = await this.#deliver(stream.labels, chunk);
      chunk.forEach((pending, i) => {
        const outcome = outcomes[i];
        // Cannot happen (#deliver answers for each entry); failing beats counting a line as stored.
        if (outcome === undefined) pending.submission.fail(new Error(`loki batcher: no outcome for entry ${i} of ${chunk.length}`));
        else pending.submission.settle(pending.index, outcome);
      });
    } catch (thrown) {
      const error = thrown instanceof Error ? thrown : closedError(thrown);
      for (const pending of chunk) pending.submission.fail(error);
    } finally {
      stream.pushing = false;
      this.#active -= 1;
      if (this.#active === 0) for (const resolve of this.#idle.splice(0)) resolve();
      this.#schedule();
    }
  }

  /** Outcomes for `chunk`, in its order: pushes it, and bisects it while Loki refuses it. */
  async #deliver(labels: LokiLabels, chunk: readonly Pending[]): Promise<EntryOutcome[]> {
    const refused = await this.#pushUntilAnswered(
      labels,
      chunk.map((pending) => pending.entry),
    );
    if (refused === undefined) return chunk.map(() => acceptedOutcome);
    if (chunk.length === 1) return [{ accepted: false, error: refused }];
    const middle = Math.ceil(chunk.length / 2);
    // In sequence, not in parallel: the stream's order holds within a bisection too.
    const left = await this.#deliver(labels, chunk.slice(0, middle));
    const right = await this.#deliver(labels, chunk.slice(middle));
    return [...left, ...right];
  }

  /** Undefined once Loki accepted the push; the error when Loki refused it for its entries. */
  async #pushUntilAnswered(labels: LokiLabels, entries: readonly LokiEntry[]): Promise<LokiPushError | undefined> {
    const signal = this.#abort.signal;
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) throw closedError();
      const started = performance.now();
      try {
        await this.#pusher.push(labels, entries, signal);
        this.#report({ entries: entries.length, durationMs: performance.now() - started, outcome: 'accepted' });
        return undefined;
      } catch (thrown) {
        if (signal.aborted) throw closedError(thrown);
        if (!(thrown instanceof LokiPushError)) throw thrown;
        this.#report({ entries: entries.length, durationMs: performance.now() - started, outcome: thrown.failure });
        if (!thrown.retryable) return thrown;
        const delayMs = Math.max(backoffMs(attempt, this.#backoff), thrown.retryAfterMs ?? 0);
        const onRetry = this.#onRetry;
        if (onRetry) {
          runHook('onRetry', () => onRetry({ failure: thrown.failure, attempt, delayMs, entries: entries.length, error: thrown }));
        }
        await wait(delayMs, signal);
      }
    }
  }

  #report(info: PushInfo): void {
    const onPush = this.#onPush;
    if (onPush) runHook('onPush', () => onPush(info));
  }
}
