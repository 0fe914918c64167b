/**
 * Appends messages to the log. Offsets come from each partition's counter row, locked in the
 * writing transaction (see PartitionLockForAppend): writers of one partition take turns, so the
 * offsets they get are dense and every row becomes visible before any row with a higher offset.
 * A reader can therefore read "offset >= n" and never skip a row whose writer commits late, the
 * failure of a bigserial/sequence design (sequence values are handed out at insert, committed in
 * any order).
 *
 * Cost: one transaction per partition at a time, including its commit flush. To keep throughput
 * up, concurrent publish() calls in one process are coalesced: while `concurrentWrites`
 * transactions are in flight the next calls queue and go together in the following transaction
 * (up to maxMessagesPerWrite). More than one is in flight so that a write waiting on a busy
 * partition does not hold up writes to the others. A failed transaction fails every publish()
 * in it; none of its messages were written.
 */
import type pg from 'pg';
import { encodeNotice, inTransaction, type LogContext } from './context.ts';

/** One message, placed: the columns of a messages row but the offset. */
export interface AppendRow {
  topic: string;
  partition: number;
  id: string;
  key: string | null;
  value: Buffer;
  /** The headers as a JSON object text. */
  headers: string;
}

const slotOf = (row: { topic: string; partition: number }): string => `${row.partition}\u0000${row.topic}`;

/**
 * Appends `rows` inside the caller's open transaction on `client`, and queues the notification
 * that wakes consumers when it commits. Rows of one partition keep their order.
 */
export async function appendInTransaction(client: pg.ClientBase, context: LogContext, rows: readonly AppendRow[]): Promise<void> {
  if (rows.length === 0) return;
  const { sql } = context;
  // Every (topic, partition) written, with its next offset once locked (-1 until then).
  const slots = new Map<string, { topic: string; partition: number; next: bigint }>();
  for (const row of rows) slots.set(slotOf(row), { topic: row.topic, partition: row.partition, next: -1n });
  const written = [...slots.values()];
  const locked = await client.query<{ topic: string; partition: number; next_offset: string }>(sql.PartitionLockForAppend, [
    written.map((slot) => slot.topic),
    written.map((slot) => slot.partition),
  ]);
  for (const row of locked.rows) slots.get(slotOf(row))!.next = BigInt(row.next_offset);
  const offsets = rows.map((row) => {
    const slot = slots.get(slotOf(row))!;
    if (slot.next < 0n) throw new Error(`topic ${row.topic} has no partition ${row.partition}`);
    return (slot.next++).toString();
  });
  await client.query(sql.MessageAppend, [
    written.map((slot) => slot.topic),
    written.map((slot) => slot.partition),
    written.map((slot) => slot.next.toString()),
    rows.map((row) => row.topic),
    rows.map((row) => row.partition),
    offsets,
    rows.map((row) => row.id),
    rows.map((row) => row.key),
    rows.map((row) => row.value),
    rows.map((row) => row.headers),
  ]);
  const topics = [...new Set(rows.map((row) => row.topic))];
  await client.query(sql.ChannelNotify, [context.channel, topics.map((topic) => encodeNotice({ kind: 'messages', topic }))]);
}

interface PendingWrite {
  rows: readonly AppendRow[];
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** Transactions one process has in flight at once; beyond that, publishes coalesce. */
const concurrentWrites = 4;

export class LogWriter {
  readonly #context: LogContext;
  #queue: PendingWrite[] = [];
  readonly #flushing = new Set<Promise<void>>();

  constructor(context: LogContext) {
    this.#context = context;
  }

  /** Resolves once `rows` are committed. */
  write(rows: readonly AppendRow[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ rows, resolve, reject });
      if (this.#flushing.size >= concurrentWrites) return;
      const flushing: Promise<void> = this.#flush().finally(() => this.#flushing.delete(flushing));
      this.#flushing.add(flushing);
    });
  }

  /** Resolves when every write accepted so far has finished. */
  async idle(): Promise<void> {
    while (this.#flushing.size > 0) await Promise.all(this.#flushing);
  }

  async #flush(): Promise<void> {
    const limit = this.#context.settings.maxMessagesPerWrite;
    while (this.#queue.length > 0) {
      // Always take the first write whatever its size; add more while they fit.
      let count = this.#queue[0]!.rows.length;
      let taken = 1;
      while (taken < this.#queue.length && count + this.#queue[taken]!.rows.length <= limit) {
        count += this.#queue[taken]!.rows.length;
        taken++;
      }
      const writes = this.#queue.splice(0, taken);
      try {
        await inTransaction(this.#context, (client) => appendInTransaction(client, this.#context, writes.flatMap((write) => write.rows)));
        for (const write of writes) write.resolve();
      } catch (error) {
        for (const write of writes) write.reject(error);
      }
    }
  }
}
