/**
 * Runs one partition's messages through a handler, one batch at a time and in offset order, and
 * commits only what the handler acknowledged. Every transport feeds fetched messages into one of
 * these per owned partition, so ordering, redelivery and commit rules live in one place.
 *
 * Redelivery on throw happens here, in memory: the message stays uncommitted, so a crash during
 * the redelivery loop still gets it redelivered by the broker to the next owner.
 *
 * Commits run beside the work, not in its path: the next batch starts while the broker answers
 * the last commit. One commit is in flight at a time and a newer offset replaces a waiting one
 * (commits are cumulative), so a crash redelivers at most what was handled since the last
 * commit landed, and the handler's idempotency absorbs that as it absorbs any redelivery.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { PartialBatchError } from './partial-batch.ts';
import type { BatchHandler, Handler, ReceivedMessage } from './types.ts';

export type Delivery =
  | { kind: 'message'; handler: Handler }
  | { kind: 'batch'; handler: BatchHandler };

export interface PartitionWorkerOptions {
  delivery: Delivery;
  /** Persists "everything before `nextOffset` is done" for the group. */
  commit: (nextOffset: bigint) => Promise<void>;
  maxBatchSize: number;
  redeliveryDelayMs: number;
  /** Reports handler errors (they are redelivered, so this is for logs and metrics). */
  onError?: (error: unknown, messages: readonly ReceivedMessage[]) => void;
}

export class PartitionWorker {
  readonly #options: PartitionWorkerOptions;
  readonly #queue: ReceivedMessage[] = [];
  readonly #stopAbort = new AbortController();
  #running: Promise<void> | undefined;
  #stopping = false;
  #commitOnStop = true;
  #committed: bigint | undefined;
  /** The newest acknowledged offset waiting for the commit in flight to finish. */
  #pendingCommit: bigint | undefined;
  #committing: Promise<void> | undefined;

  constructor(options: PartitionWorkerOptions) {
    this.#options = options;
  }

  /** Messages fetched and not yet handled (for fetch backpressure). */
  get queued(): number {
    return this.#queue.length;
  }

  /** The offset after the last committed message, once something was committed. */
  get committedOffset(): bigint | undefined {
    return this.#committed;
  }

  enqueue(messages: readonly ReceivedMessage[]): void {
    if (this.#stopping) return;
    this.#queue.push(...messages);
    if (this.#running || this.#queue.length === 0) return;
    this.#running = this.#run()
      .catch((error: unknown) => this.#options.onError?.(error, []))
      .finally(() => {
        this.#running = undefined;
        if (this.#queue.length > 0 && !this.#stopping) this.enqueue([]);
      });
  }

  /**
   * Lets the handler in flight finish, commits what was acknowledged when `commit` is true, drops
   * what was fetched but not started, and stops. A message stuck in redelivery is abandoned
   * uncommitted. With `commit: false` (partition lost to another member) nothing more is committed.
   */
  async stop(options: { commit: boolean }): Promise<void> {
    this.#stopping = true;
    this.#commitOnStop = options.commit;
    this.#stopAbort.abort();
    this.#queue.length = 0;
    await this.#running;
    await this.#committing;
  }

  async #run(): Promise<void> {
    // Let a fetch response that arrives message by message fill the queue before the first batch.
    await new Promise((resolveTick) => setImmediate(resolveTick));
    while (this.#queue.length > 0 && !this.#stopping) {
      const batch = this.#queue.splice(0, this.#options.maxBatchSize);
      const acknowledged = await this.#handle(batch);
      if (acknowledged === undefined) return;
      if (this.#stopping && !this.#commitOnStop) return;
      this.#commitInBackground(acknowledged.offset + 1n);
    }
  }

  #commitInBackground(nextOffset: bigint): void {
    this.#pendingCommit = nextOffset;
    this.#committing ??= this.#commitPending().finally(() => (this.#committing = undefined));
  }

  async #commitPending(): Promise<void> {
    while (this.#pendingCommit !== undefined) {
      const nextOffset = this.#pendingCommit;
      this.#pendingCommit = undefined;
      if (this.#stopping && !this.#commitOnStop) return;
      try {
        await this.#commit(nextOffset);
      } catch (error) {
        // The next acknowledged batch commits past this offset anyway; if none comes, the
        // messages since the last landed commit are redelivered to the next owner.
        this.#options.onError?.(error, []);
      }
    }
  }

  /**
   * Commits are cumulative, so a failed one is usually covered by the next batch's; but the last
   * commit before stop() has no next one, so a failure is retried a few times before giving up
   * (the cost of giving up is redelivery, never loss).
   */
  async #commit(nextOffset: bigint): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#options.commit(nextOffset);
        this.#committed = nextOffset;
        return;
      } catch (error) {
        if (attempt >= 3) throw error;
        await sleep(100 * attempt);
      }
    }
  }

  /** The last message of `batch` that was acknowledged, if any. */
  async #handle(batch: ReceivedMessage[]): Promise<ReceivedMessage | undefined> {
    const { delivery } = this.#options;
    if (delivery.kind === 'batch') {
      return (await this.#untilAcknowledged(batch, delivery.handler)) ? batch[batch.length - 1] : undefined;
    }
    let last: ReceivedMessage | undefined;
    for (const message of batch) {
      if (this.#stopping) break;
      if (!(await this.#untilAcknowledged([message], ([m]) => delivery.handler(m as ReceivedMessage)))) break;
      last = message;
    }
    return last;
  }

  /** True once the handler resolved; false if stop() interrupted the redelivery loop. */
  async #untilAcknowledged(batch: ReceivedMessage[], handle: BatchHandler): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      const delivery = attempt === 1 ? batch : batch.map((message) => ({ ...message, attempt }));
      try {
        await handle(delivery);
        return true;
      } catch (error) {
        this.#options.onError?.(error, delivery);
        if (error instanceof PartialBatchError && error.acknowledged > 0 && error.acknowledged < batch.length) {
          // The finished prefix is committed now and never handed back; the rest is redelivered.
          const done = batch[error.acknowledged - 1]!;
          if (!this.#stopping || this.#commitOnStop) this.#commitInBackground(done.offset + 1n);
          batch = batch.slice(error.acknowledged);
        }
        if (this.#stopping) return false;
        try {
          await sleep(this.#options.redeliveryDelayMs, undefined, { signal: this.#stopAbort.signal });
        } catch {
          return false;
        }
      }
    }
  }
}
