/**
 * The entries of one stream waiting to be pushed, in arrival order, and the submissions they
 * belong to. The batcher owns one per stream that has entries pending or a push in flight.
 */
import type { EntryOutcome, LokiEntry, LokiLabels } from './types.ts';
import { entryBytes } from './types.ts';

/** One caller's `submit()`: settles when every one of its entries has an outcome. */
export class Submission {
  readonly #outcomes: Array<EntryOutcome | undefined>;
  #remaining: number;
  #settled = false;
  readonly promise: Promise<EntryOutcome[]>;
  #resolve!: (outcomes: EntryOutcome[]) => void;
  #reject!: (error: Error) => void;

  constructor(size: number) {
    this.#outcomes = new Array<EntryOutcome | undefined>(size);
    this.#remaining = size;
    this.promise = new Promise<EntryOutcome[]>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  settle(index: number, outcome: EntryOutcome): void {
    if (this.#settled || this.#outcomes[index] !== undefined) return;
    this.#outcomes[index] = outcome;
    this.#remaining -= 1;
    if (this.#remaining === 0) {
      this.#settled = true;
      this.#resolve(this.#outcomes as EntryOutcome[]);
    }
  }

  /** Fails the whole submission (the batcher is closing); later outcomes are ignored. */
  fail(error: Error): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#reject(error);
  }
}

export interface Pending {
  readonly entry: LokiEntry;
  readonly bytes: number;
  readonly submission: Submission;
  /** The entry's position in its submission. */
  readonly index: number;
}

export class StreamQueue {
  readonly labels: LokiLabels;
  readonly #pending: Pending[] = [];
  #bytes = 0;
  /** The batch wait ran out (or a flush was asked for): push without waiting for more bytes. */
  due = false;
  timer: NodeJS.Timeout | undefined;
  /** A push of this stream is in flight; the next waits for it, so the stream's order holds. */
  pushing = false;

  constructor(labels: LokiLabels) {
    this.labels = labels;
  }

  get size(): number {
    return this.#pending.length;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Appends; true if the queue was empty (the caller then starts the batch-wait timer). */
  add(entry: LokiEntry, submission: Submission, index: number): boolean {
    const bytes = entryBytes(entry);
    this.#pending.push({ entry, bytes, submission, index });
    this.#bytes += bytes;
    return this.#pending.length === 1;
  }

  /**
   * Removes the oldest entries, up to `maxBytes` (always at least one, so an entry larger than a
   * batch still goes, alone), and returns them sorted by timestamp. The sort is stable, so entries
   * with equal timestamps keep their arrival order.
   */
  take(maxBytes: number): Pending[] {
    let bytes = 0;
    let count = 0;
    for (const pending of this.#pending) {
      if (count > 0 && bytes + pending.bytes > maxBytes) break;
      bytes += pending.bytes;
      count += 1;
    }
    const chunk = this.#pending.splice(0, count);
    this.#bytes -= bytes;
    if (this.#pending.length === 0) this.due = false;
    // Lines of one partition mostly arrive in time order already: checking costs less than sorting.
    for (let i = 1; i < chunk.length; i++) {
      if (chunk[i]!.entry.ts < chunk[i - 1]!.entry.ts) return chunk.sort((a, b) => (a.entry.ts < b.entry.ts ? -1 : a.entry.ts > b.entry.ts ? 1 : 0));
    }
    return chunk;
  }

  /** Empties the queue, for close(). */
  drop(): Pending[] {
    this.#bytes = 0;
    this.due = false;
    return this.#pending.splice(0);
  }
}
