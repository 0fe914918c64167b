/**
 * Deletes old messages: per partition, the oldest ones older than maxAgeMs and (by default)
 * below every known group's committed offset; see RetentionOptions.onlyConsumed for the trade-off.
 * Each DELETE removes at most batchSize rows, a range of the primary key, so it holds its locks
 * briefly and never blocks appends (they lock the partition's counter row, not old messages).
 *
 * Every transport instance sweeps on its own timer; two sweeping at once only contend on the
 * same rows, and one of them deletes nothing. The timer is unref'd: retention alone does not
 * keep a process alive.
 */
import type { LogContext } from './context.ts';
import type { RetentionOptions } from './options.ts';

export class RetentionSweeper {
  readonly #context: LogContext;
  readonly #options: Required<RetentionOptions>;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<number> | undefined;
  #stopped = false;

  constructor(context: LogContext, options: Required<RetentionOptions>) {
    this.#context = context;
    this.#options = options;
  }

  /** Sweeps every intervalMs from now on. Idempotent. */
  start(): void {
    if (this.#timer || this.#stopped) return;
    this.#timer = setInterval(() => {
      if (this.#running) return;
      this.sweep().catch((error: unknown) => this.#context.report(error, 'retention'));
    }, this.#options.intervalMs);
    this.#timer.unref();
  }

  /** One sweep over every partition; resolves with the number of messages deleted. */
  sweep(): Promise<number> {
    this.#running ??= this.#sweep().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#running?.catch(() => undefined);
  }

  async #sweep(): Promise<number> {
    const { pool, sql } = this.#context;
    const { maxAgeMs, onlyConsumed, batchSize } = this.#options;
    const { rows } = await pool.query<{ topic: string; partition: number }>(sql.PartitionList);
    let deleted = 0;
    for (const { topic, partition } of rows) {
      for (;;) {
        if (this.#stopped) return deleted;
        const { rowCount } = await pool.query(sql.MessageDeleteExpired, [topic, partition, maxAgeMs, onlyConsumed, batchSize]);
        deleted += rowCount ?? 0;
        if ((rowCount ?? 0) < batchSize) break;
      }
    }
    return deleted;
  }
}
