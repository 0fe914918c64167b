/**
 * Where one owned partition's delivery stands, and what to do with each record the client's
 * fetch stream hands over for it.
 *
 * The pinned client (@platformatic/kafka 1.35) keeps one fetch position per partition and can
 * move it past records this member never delivered: a fetch sent before a rebalance that answers
 * after it sets the position from its stale request, records pushed into the stream's buffer
 * before the partition was revoked come out after it is granted again, and a partition with no
 * committed offset keeps whatever position it had the last time it was owned. Delivering from
 * there and committing would skip the records in between for good. So delivery is contiguous:
 * a record past the expected offset is not delivered, and the subscription moves the fetch
 * position back to the expected offset (docs/decisions/0047-contiguous-delivery.md).
 *
 * Kafka offsets of a plain topic are contiguous, but not every offset holds a data record:
 * transaction markers (filtered by the client) and compacted records leave real holes. A hole
 * answers every refetch from the expected offset with the same first record; a stale position
 * does not repeat. After `holeConfirmations` identical answers the hole is taken as real.
 */

export type CursorVerdict =
  /** The expected record: deliver it. */
  | 'deliver'
  /** Already delivered (a refetch from an older position): drop it. */
  | 'behind'
  /** Past the expected offset: drop it and fetch again from `next`. */
  | 'ahead'
  /** Refetches kept answering with this record: the offsets before it hold no data; deliver it. */
  | 'deliver-after-hole';

export class DeliveryCursor {
  /** The offset the next delivered record must have. */
  #next: bigint;
  /** The first record seen past `next` since the last delivery, and how many fetches returned it first. */
  #aheadAt: bigint | undefined;
  #seen = 0;
  readonly #holeConfirmations: number;

  constructor(next: bigint, holeConfirmations = 3) {
    this.#next = next;
    this.#holeConfirmations = holeConfirmations;
  }

  get next(): bigint {
    return this.#next;
  }

  check(offset: bigint): CursorVerdict {
    if (offset < this.#next) return 'behind';
    if (offset === this.#next) return this.#advance(offset, 'deliver');
    if (this.#aheadAt === undefined || offset < this.#aheadAt) {
      this.#aheadAt = offset;
      this.#seen = 1;
      return 'ahead';
    }
    // Later records of a response that started at #aheadAt do not count as another answer.
    if (offset > this.#aheadAt) return 'ahead';
    this.#seen += 1;
    return this.#seen >= this.#holeConfirmations ? this.#advance(offset, 'deliver-after-hole') : 'ahead';
  }

  #advance(offset: bigint, verdict: 'deliver' | 'deliver-after-hole'): CursorVerdict {
    this.#next = offset + 1n;
    this.#aheadAt = undefined;
    this.#seen = 0;
    return verdict;
  }
}
