/**
 * Places messages on partitions (murmur2 of the key, as Kafka does; unkeyed ones round robin
 * per topic) and hands them to the writer. Rejects, before anything is written, what PostgreSQL
 * could not store as given: text columns and jsonb strings cannot hold U+0000.
 */
import { ErrorCodes, KitsuneError } from '../../errors.ts';
import { partitionForKey } from '../partitioner.ts';
import type { OutgoingMessage } from '../types.ts';
import { isTransient } from './pg-errors.ts';
import type { TopicRegistry } from './topics.ts';
import type { AppendRow, LogWriter } from './writer.ts';

function invalid(topic: string, index: number, field: string, problem: string): KitsuneError {
  return new KitsuneError(ErrorCodes.INVALID_MESSAGE, `publish to ${topic}: message ${index}: ${field} ${problem}`, { retryable: false });
}

function validate(topic: string, message: OutgoingMessage, index: number): void {
  if (typeof message.id !== 'string' || message.id.length === 0) throw invalid(topic, index, 'id', 'must be a non-empty string');
  if (message.id.includes('\u0000')) throw invalid(topic, index, 'id', 'contains U+0000');
  if (message.key?.includes('\u0000')) throw invalid(topic, index, 'key', 'contains U+0000');
  if (!Buffer.isBuffer(message.value)) throw invalid(topic, index, 'value', 'must be a Buffer');
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    if (typeof value !== 'string') throw invalid(topic, index, `header ${name}`, 'must be a string');
    if (name.includes('\u0000') || value.includes('\u0000')) throw invalid(topic, index, `header ${name}`, 'contains U+0000');
  }
}

export class PostgresPublisher {
  readonly #topics: TopicRegistry;
  readonly #writer: LogWriter;
  readonly #roundRobin = new Map<string, number>();

  constructor(topics: TopicRegistry, writer: LogWriter) {
    this.#topics = topics;
    this.#writer = writer;
  }

  /** Resolves when every message is committed; all of one call go in one transaction. */
  async publish(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    messages.forEach((message, index) => validate(topic, message, index));
    if (messages.length === 0) return;
    try {
      const partitions = await this.#topics.partitions(topic);
      await this.#writer.write(messages.map((message) => this.#row(topic, partitions, message)));
    } catch (error) {
      if (error instanceof KitsuneError) throw error;
      // A failure during COMMIT leaves the outcome unknown: a retry may store the messages twice
      // (at-least-once; consumers deduplicate by id).
      throw new KitsuneError(ErrorCodes.PUBLISH_FAILED, `publish to ${topic} failed`, { retryable: isTransient(error), cause: error });
    }
  }

  #row(topic: string, partitions: number, message: OutgoingMessage): AppendRow {
    let partition: number;
    if (message.key === undefined) {
      const turn = this.#roundRobin.get(topic) ?? 0;
      this.#roundRobin.set(topic, (turn + 1) % partitions);
      partition = turn % partitions;
    } else {
      partition = partitionForKey(message.key, partitions);
    }
    return {
      topic,
      partition,
      id: message.id,
      key: message.key ?? null,
      value: message.value,
      headers: JSON.stringify(message.headers ?? {}),
    };
  }
}
