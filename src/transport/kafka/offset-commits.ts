/**
 * The partitions of one member commit through one OffsetCommit request at a time. Each partition
 * worker commits after its batches; sent one by one, six partitions at a few batches a second
 * each make dozens of small requests a second, and the broker spends more on them than on the
 * records. While a request is in flight, later offsets wait and go together in the next one; the
 * newest offset of a partition wins, since commits are cumulative.
 */
import { toError } from '../../errors.ts';

export class OffsetCommits {
  readonly #send: (offsets: ReadonlyMap<number, bigint>) => Promise<void>;
  #waiting = new Map<number, { offset: bigint; settle: Array<(error?: Error) => void> }>();
  #sending = false;

  /** `send` commits every partition's next offset in one request. */
  constructor(send: (offsets: ReadonlyMap<number, bigint>) => Promise<void>) {
    this.#send = send;
  }

  /** Resolves once `nextOffset` (or a later offset of the partition) was committed; rejects if its request failed. */
  commit(partition: number, nextOffset: bigint): Promise<void> {
    return new Promise((resolve, reject) => {
      const entry = this.#waiting.get(partition) ?? { offset: nextOffset, settle: [] };
      if (nextOffset > entry.offset) entry.offset = nextOffset;
      entry.settle.push((error) => (error === undefined ? resolve() : reject(error)));
      this.#waiting.set(partition, entry);
      if (this.#sending) return;
      this.#sending = true;
      void this.#sendAll();
    });
  }

  async #sendAll(): Promise<void> {
    // One turn of the event loop lets partitions that finish together share the first request.
    await new Promise((resolveTick) => setImmediate(resolveTick));
    while (this.#waiting.size > 0) {
      const batch = this.#waiting;
      this.#waiting = new Map();
      let failure: Error | undefined;
      try {
        await this.#send(new Map([...batch].map(([partition, { offset }]) => [partition, offset])));
      } catch (error) {
        failure = toError(error);
      }
      for (const { settle } of batch.values()) for (const done of settle) done(failure);
    }
    // Reset in the same turn as the empty check, so a commit() arriving later starts a new round.
    this.#sending = false;
  }
}
