/**
 * Topic metadata: partition counts, created on demand and cached for the life of the transport
 * (a topic's partition count never changes, so the cache cannot go stale).
 */
import type { TopicSpec } from '../types.ts';
import type { LogContext } from './context.ts';
import { ErrorCodes, KitsuneError } from '../../errors.ts';

/** The most partitions a topic may have; a typo of 10_000_000 should not create that many rows. */
const maxPartitions = 10_000;

export class TopicRegistry {
  readonly #context: LogContext;
  readonly #partitions = new Map<string, Promise<number>>();

  constructor(context: LogContext) {
    this.#context = context;
  }

  /** Creates missing topics; existing ones keep their partition count. */
  async ensure(specs: readonly TopicSpec[]): Promise<void> {
    for (const spec of specs) {
      if (!Number.isSafeInteger(spec.partitions) || spec.partitions < 1 || spec.partitions > maxPartitions) {
        throw new KitsuneError(
          ErrorCodes.INVALID_CONFIG,
          `topic ${spec.name}: partitions must be an integer from 1 to ${maxPartitions}, got ${spec.partitions}`,
          { retryable: false },
        );
      }
    }
    await Promise.all(specs.map((spec) => this.#cached(spec.name, spec.partitions)));
  }

  /** The topic's partition count, creating it with the default count if it does not exist. */
  partitions(topic: string): Promise<number> {
    return this.#cached(topic, this.#context.settings.partitionsDefault);
  }

  #cached(topic: string, partitionsIfNew: number): Promise<number> {
    let known = this.#partitions.get(topic);
    if (!known) {
      known = this.#load(topic, partitionsIfNew);
      this.#partitions.set(topic, known);
      // A failure (database down) must not be cached.
      known.catch(() => this.#partitions.delete(topic));
    }
    return known;
  }

  async #load(topic: string, partitionsIfNew: number): Promise<number> {
    if (topic.length === 0 || topic.includes('\u0000')) {
      throw new KitsuneError(ErrorCodes.INVALID_CONFIG, `invalid topic name ${JSON.stringify(topic)}`, { retryable: false });
    }
    const { pool, sql } = this.#context;
    await pool.query(sql.TopicCreate, [topic, partitionsIfNew]);
    const { rows } = await pool.query<{ partitions: number }>(sql.TopicGet, [topic]);
    const partitions = rows[0]?.partitions;
    if (partitions === undefined) throw new Error(`topic ${topic} vanished right after it was created`);
    return partitions;
  }
}
